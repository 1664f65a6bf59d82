//! The real binary in tmux: start, look, press keys, quit.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

struct Tmux {
    name: String,
}

impl Tmux {
    fn start(cmd: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sw-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &name])
            .status();
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-x",
                "140",
                "-y",
                "45",
                "-s",
                &name,
                cmd,
            ])
            .status()
            .expect("tmux is installed (make test installs it)");
        assert!(ok.success());
        Self { name }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(
            Command::new("tmux")
                .args(["send-keys", "-t", &self.name, keys])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits until `pred` holds for the screen; the last screen either way.
    fn wait_for(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> (bool, String) {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if pred(&s) {
                return (true, s);
            }
            if Instant::now() > deadline {
                return (false, s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

fn has_sparkline(s: &str) -> bool {
    s.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c))
}

#[test]
fn tui_runs_in_tmux_switches_views_stops_a_stream_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tui.log");
    let cmd = format!(
        "STREAMWATCH_LOG_FILE={} {} ; echo STREAMWATCH-EXIT=$? ; sleep 30",
        log.display(),
        super::harness::bin()
    );
    let t = Tmux::start(&cmd);
    let (ok, s) = t.wait_for(Duration::from_secs(10), |s| {
        s.contains("Sensor")
            && s.contains("Transaction")
            && s.contains("Log")
            && has_sparkline(s)
            && (s.contains("confidence 0.") || s.contains("confidence 1."))
    });
    assert!(
        ok,
        "overview within 10 s with three streams, sparklines and a confidence:\n{s}"
    );

    t.keys("2");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| {
        s.contains("Random forest") && s.contains("transaction alerts")
    });
    assert!(ok, "transaction view:\n{s}");

    t.keys("s");
    let (ok, s) = t.wait_for(Duration::from_secs(5), |s| {
        s.contains("Transaction ■ stopped  produced 0.00 ev/s")
    });
    assert!(ok, "stopped with a produced rate of 0:\n{s}");

    t.keys("s");
    let (ok, s) = t.wait_for(Duration::from_secs(5), |s| {
        s.contains("Transaction ● running") && !s.contains("produced 0.00 ev/s")
    });
    assert!(ok, "running again:\n{s}");

    t.keys("?");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| s.contains("Help — keys"));
    assert!(ok, "help:\n{s}");

    t.keys("q");
    let (ok, s) = t.wait_for(Duration::from_secs(15), |s| s.contains("STREAMWATCH-EXIT="));
    assert!(ok, "quit:\n{s}");
    assert!(s.contains("STREAMWATCH-EXIT=0"), "exit status 0:\n{s}");
    assert!(
        !s.contains("Help — keys"),
        "the terminal is restored (alternate screen left):\n{s}"
    );
}

/// The TUI's command line in tmux, run so that its pid lands in `pidfile` and its exit status
/// is printed when it ends.
fn tui_command(dir: &std::path::Path, args: &str) -> (String, std::path::PathBuf) {
    let pidfile = dir.join("tui.pid");
    let cmd = format!(
        "STREAMWATCH_LOG_FILE={log} sh -c 'echo $$ > {pid}; exec {bin} {args}' ; echo STREAMWATCH-EXIT=$? ; sleep 30",
        log = dir.join("tui.log").display(),
        pid = pidfile.display(),
        bin = super::harness::bin(),
    );
    (cmd, pidfile)
}

fn kill(sig: &str, pid: &str) {
    assert!(
        Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .unwrap()
            .success()
    );
}

/// Through a broker outage the header says since when it is down, then up again, and data
/// flows again; SIGTERM then ends the TUI with status 0 and the terminal restored.
#[test]
fn tui_shows_an_outage_recovers_and_ends_on_sigterm() {
    let broker = super::harness::Broker::start(3);
    let dir = tempfile::tempdir().unwrap();
    let (cmd, pidfile) = tui_command(dir.path(), &format!("-b {} --rate 200", broker.addr));
    let t = Tmux::start(&cmd);
    let (ok, s) = t.wait_for(Duration::from_secs(20), |s| {
        s.contains("● up") && has_sparkline(s)
    });
    assert!(ok, "up with data:\n{s}");
    let broker_pid = broker.child.id().to_string();
    kill("-USR1", &broker_pid);
    let (ok, s) = t.wait_for(Duration::from_secs(15), |s| s.contains("down since"));
    assert!(ok, "the header shows the outage:\n{s}");
    std::thread::sleep(Duration::from_secs(3));
    kill("-USR2", &broker_pid);
    let (ok, s) = t.wait_for(Duration::from_secs(30), |s| {
        s.contains("● up, rtt") && !s.contains("down since") && !s.contains("consumed 0.00 ev/s")
    });
    assert!(ok, "up again and consuming:\n{s}");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    kill("-TERM", &pid);
    let (ok, s) = t.wait_for(Duration::from_secs(15), |s| s.contains("STREAMWATCH-EXIT="));
    assert!(
        ok && s.contains("STREAMWATCH-EXIT=0"),
        "exit 0 on SIGTERM:\n{s}"
    );
    assert!(!s.contains("● up"), "the terminal is restored:\n{s}");
}

/// The figures of the header's second line: consumed ev/s and lost.
fn consumed_and_lost(screen: &str) -> Option<(String, u64)> {
    let line = screen.lines().find(|l| l.contains("consumed"))?;
    let consumed = line
        .split("consumed ")
        .nth(1)?
        .split(' ')
        .next()?
        .to_string();
    let lost = line
        .split("lost ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some((consumed, lost))
}

/// "max" for a minute: the producer is held to what the consumer keeps up with, so events
/// are consumed throughout and retention never deletes one.
#[test]
fn tui_at_max_for_a_minute_consumes_throughout_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cmd, _) = tui_command(dir.path(), "--rate 0");
    let t = Tmux::start(&cmd);
    let (ok, s) = t.wait_for(Duration::from_secs(20), |s| {
        consumed_and_lost(s).is_some_and(|(c, _)| c != "0.00")
    });
    assert!(ok, "consuming:\n{s}");
    for _ in 0..12 {
        std::thread::sleep(Duration::from_secs(5));
        let s = t.screen();
        let (consumed, lost) = consumed_and_lost(&s).unwrap_or_else(|| panic!("header:\n{s}"));
        assert_ne!(consumed, "0.00", "consumed throughout:\n{s}");
        assert_eq!(lost, 0, "nothing lost:\n{s}");
    }
    t.keys("q");
    let (ok, s) = t.wait_for(Duration::from_secs(20), |s| s.contains("STREAMWATCH-EXIT="));
    assert!(ok && s.contains("STREAMWATCH-EXIT=0"), "quit:\n{s}");
}

/// The alert desk in the real binary: Enter opens an alert, `a` acknowledges it, `x`
/// silences it (it leaves the firing list; the silence is written beside the models), `/`
/// filters, Esc backs out of each; ctrl-s saves the screen and the history.
#[test]
fn tui_alert_desk_opens_acknowledges_silences_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let cmd = format!(
        "cd {} && STREAMWATCH_LOG_FILE={} {} --model-dir {} ; echo STREAMWATCH-EXIT=$? ; sleep 30",
        dir.path().display(),
        dir.path().join("tui.log").display(),
        super::harness::bin(),
        models.display()
    );
    let t = Tmux::start(&cmd);
    let firing = |s: &str| s.lines().any(|l| l.contains("│FIRING "));
    let (ok, s) = t.wait_for(Duration::from_secs(60), firing);
    assert!(ok, "an alert firing within a minute:\n{s}");
    // Frozen, so that the list under the cursor holds still.
    t.keys("Space");
    t.wait_for(Duration::from_secs(3), |s| s.contains("FROZEN"));

    t.keys("Enter");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| {
        s.contains("Evidence") && s.contains("Latest event") && s.contains("Rolling context")
    });
    assert!(ok, "the alert's detail:\n{s}");
    t.keys("a");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| s.contains("(acknowledged)"));
    assert!(ok, "acknowledged:\n{s}");
    t.keys("Escape");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| {
        !s.contains("Latest event") && s.contains("ACKED")
    });
    assert!(ok, "Esc closed the detail; the alert is marked:\n{s}");

    t.keys("x");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| s.contains("for 15m00s"));
    assert!(ok, "the silence menu:\n{s}");
    t.keys("Enter");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| s.contains("1 silenced"));
    assert!(ok, "the silenced alert left the firing list:\n{s}");
    assert!(models.join("silences.json").exists(), "the silence is kept");

    t.keys("/");
    t.keys("log");
    t.keys("Enter");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| s.contains("filter: log"));
    assert!(ok, "filtered:\n{s}");
    let others = s
        .lines()
        .filter(|l| l.contains("│FIRING ") || l.contains("│resolved "))
        .filter(|l| !l.contains(" log "))
        .count();
    assert_eq!(others, 0, "only the log stream's alerts:\n{s}");
    t.keys("Escape");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| !s.contains("filter: log"));
    assert!(ok, "Esc cleared the filter:\n{s}");

    t.keys("C-s");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| {
        s.contains("saved ./streamwatch-")
    });
    assert!(ok, "ctrl-s saved, the footer says where:\n{s}");
    let saved: Vec<String> = std::fs::read_dir(dir.path())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(saved.iter().any(|f| f.ends_with(".txt")), "{saved:?}");
    assert!(saved.iter().any(|f| f.ends_with(".csv")), "{saved:?}");

    t.keys("q");
    let (ok, s) = t.wait_for(Duration::from_secs(15), |s| s.contains("STREAMWATCH-EXIT="));
    assert!(ok && s.contains("STREAMWATCH-EXIT=0"), "quit:\n{s}");
}
