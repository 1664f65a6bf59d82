use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{Broker, kcat, stdout};

#[test]
fn embedded_broker_serves_topics_to_kcat_and_stops_on_sigterm() {
    let broker = Broker::start(4);
    let out = kcat(&["-b", &broker.addr, "-L", "-m", "10"]);
    assert!(
        out.status.success(),
        "kcat -L failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = stdout(&out);
    for topic in ["sensor-data", "transaction-data", "log-data"] {
        let line = listing
            .lines()
            .find(|l| l.contains(&format!("topic \"{topic}\"")))
            .unwrap_or_else(|| panic!("{topic} missing from:\n{listing}"));
        assert!(line.contains("with 4 partitions"), "{line}");
    }
    assert_eq!(broker.stop(), Some(0));
}

#[test]
fn busy_listen_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = super::harness::streamwatch(&["broker", "--listen", &addr]);
    assert!(!out.status.success());
    let err = super::harness::stderr(&out);
    assert!(err.contains(&addr) && err.contains("--listen"), "{err}");
}

/// A fetch that finds nothing waits up to its `fetch.wait.max.ms` for data, and a Kafka broker
/// answers it as soon as data arrives. librdkafka's mock cluster held it for the whole wait
/// (10 s here), so the message below reached the consumer only when the hold ran out; the
/// patched embedded broker releases the hold on the write. kcat waits at the partition's end
/// while its fetch is held, then one message is written.
#[test]
fn a_waiting_fetch_is_answered_when_data_arrives_not_when_the_wait_ends() {
    let broker = Broker::start(1);
    let partition = ["-b", &broker.addr, "-t", "sensor-data", "-p", "0"];
    let mut reader = Command::new("kcat")
        .arg("-C")
        .args(partition)
        .args([
            "-o",
            "end",
            "-c",
            "1",
            "-q",
            "-X",
            "fetch.wait.max.ms=10000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kcat is installed (make test installs it)");
    // Its first fetches (offsets, then data) are answered and the next one is held.
    std::thread::sleep(Duration::from_millis(2500));
    let written = Instant::now();
    let mut writer = Command::new("kcat")
        .arg("-P")
        .args(partition)
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat");
    let mut stdin = writer.stdin.take().expect("stdin");
    stdin.write_all(b"{\"ping\":1}\n").expect("write");
    drop(stdin);
    assert!(writer.wait().expect("kcat -P").success());
    let status = loop {
        if let Some(status) = reader.try_wait().expect("kcat -C") {
            break status;
        }
        if written.elapsed() > Duration::from_secs(20) {
            let _ = reader.kill();
            panic!("the message was never read");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let after = written.elapsed();
    assert!(status.success());
    // Held to the end of its wait, the answer comes 7.5 s or more after the write.
    assert!(
        after < Duration::from_secs(4),
        "read {after:?} after the write"
    );
    let mut out = String::new();
    let mut stdout = reader.stdout.take().expect("stdout");
    stdout.read_to_string(&mut out).expect("read");
    assert_eq!(out.trim(), "{\"ping\":1}");
}
