//! Processes the tests start: the streamwatch binary, its embedded broker, and tansu.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_streamwatch")
}

/// A scratch directory that lives as long as the value.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// `streamwatch ARGS` with its log in a scratch file; the output once it exits.
pub fn streamwatch(args: &[&str]) -> Output {
    let dir = scratch();
    Command::new(bin())
        .args(args)
        .env("STREAMWATCH_LOG_FILE", dir.path().join("test.log"))
        .env_remove("STREAMWATCH_BROKERS")
        .output()
        .expect("run streamwatch")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sends SIGTERM and waits; the exit status code.
pub fn terminate(child: &mut Child) -> Option<i32> {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `streamwatch broker` on a free loopback port, stopped with SIGTERM on drop.
pub struct Broker {
    pub addr: String,
    pub child: Child,
    _dir: tempfile::TempDir,
}

impl Broker {
    pub fn start(partitions: u32) -> Self {
        Self::start_with(partitions, &[])
    }

    /// A broker with global options before the command (`--config FILE`).
    pub fn start_with(partitions: u32, global: &[&str]) -> Self {
        Self::start_on("127.0.0.1:0", partitions, global)
    }

    /// A broker listening on `listen` (another on an address a stopped one had: a broker
    /// restarted without its data).
    pub fn start_on(listen: &str, partitions: u32, global: &[&str]) -> Self {
        let dir = scratch();
        let mut child = Command::new(bin())
            .args(global)
            .args([
                "broker",
                "--listen",
                listen,
                "--partitions",
                &partitions.to_string(),
            ])
            .env("STREAMWATCH_LOG_FILE", dir.path().join("broker.log"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn broker");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let addr = line.trim().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "first line was {line:?}");
        Self {
            addr,
            child,
            _dir: dir,
        }
    }

    /// Stops the broker; its exit code.
    pub fn stop(mut self) -> Option<i32> {
        terminate(&mut self.child)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            terminate(&mut self.child);
        }
    }
}

/// A tansu server (Kafka-compatible, memory storage) on a free loopback port.
pub struct Tansu {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/streamwatch/tansu/bin/tansu")
}

/// A free loopback port (bound, then released for the program under test).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn wait_for_port(addr: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Tansu {
    pub fn start() -> Self {
        Self::start_on(&format!("127.0.0.1:{}", free_port()))
    }

    /// A tansu listening on `addr` (another on the address a stopped one had: a broker
    /// restarted without its data, memory storage).
    pub fn start_on(addr: &str) -> Self {
        let bin = tansu_bin();
        assert!(
            Path::new(&bin).exists(),
            "tansu is not installed at {} (run `make test`, which installs it, or set TANSU_BIN)",
            bin.display()
        );
        let dir = scratch();
        let url = format!("tcp://{addr}");
        let log = std::fs::File::create(dir.path().join("tansu.log")).expect("log");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tansu");
        let mut t = Self {
            addr: addr.to_string(),
            child,
            _dir: dir,
        };
        assert!(
            wait_for_port(&t.addr, Duration::from_secs(20)),
            "tansu did not listen on {}",
            t.addr
        );
        assert!(t.child.try_wait().ok().flatten().is_none(), "tansu exited");
        t
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON objects among the lines of `text`.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `summary` line of a `consume` run.
pub fn summary(text: &str) -> serde_json::Value {
    json_lines(text)
        .into_iter()
        .find(|l| l["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"))
}

/// `streamwatch ARGS` in the background with stdout in a scratch file, stopped with SIGTERM.
pub struct Background {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    pub fn start(args: &[&str]) -> Self {
        let dir = scratch();
        let out = dir.path().join("stdout");
        let child = Command::new(bin())
            .args(args)
            .env("STREAMWATCH_LOG_FILE", dir.path().join("test.log"))
            .env_remove("STREAMWATCH_BROKERS")
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn streamwatch");
        Self {
            child,
            out,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("test.log")).unwrap_or_default()
    }

    /// Stops the process (SIGTERM) and returns what it printed.
    pub fn stop(mut self) -> String {
        assert_eq!(terminate(&mut self.child), Some(0), "clean exit on SIGTERM");
        std::fs::read_to_string(&self.out).expect("stdout")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

/// Runs a Python script with arguments (kafka-python is installed by `make test`).
pub fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3")
}

/// Runs kcat with arguments and `input` on its stdin; its output.
pub fn kcat_with(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed (make test installs it)");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("kcat's stdin");
    }
    child.wait_with_output().expect("kcat")
}

/// Runs kcat with arguments; its output.
pub fn kcat(args: &[&str]) -> Output {
    Command::new("kcat")
        .args(args)
        .output()
        .expect("kcat is installed (make test installs it)")
}

/// `GET path` from `addr` over plain HTTP/1.0: the body, or `None` while nothing answers.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_string())
}

/// Debian's `prometheus-alertmanager` on a free loopback port with a config of its own
/// (one receiver that sends nowhere), stopped on drop.
pub struct Alertmanager {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    pub fn start() -> Self {
        let dir = scratch();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n",
        )
        .expect("config");
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager is installed (make test installs it)");
        let am = Self {
            addr,
            child,
            _dir: dir,
        };
        let ready = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            http_get(&am.addr, "/api/v2/status").is_some()
        });
        assert!(ready, "alertmanager did not answer on {}", am.addr);
        am
    }

    /// The alerts Alertmanager lists now (`GET /api/v2/alerts`).
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        http_get(&self.addr, "/api/v2/alerts")
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}
