use std::time::{Duration, Instant};

use super::harness::{Broker, Tansu, stderr, stdout, streamwatch};

const TOPICS: [&str; 3] = ["sensor-data", "transaction-data", "log-data"];

#[test]
fn setup_against_tansu_creates_lists_is_idempotent_and_deletes() {
    let tansu = Tansu::start();
    let b = tansu.addr.as_str();
    let out = streamwatch(&["-b", b, "setup", "--partitions", "2"]);
    assert!(out.status.success(), "setup failed: {}", stderr(&out));
    for t in TOPICS {
        assert!(
            stdout(&out).contains(&format!("{t}: created (2 partitions")),
            "{}",
            stdout(&out)
        );
    }
    let again = streamwatch(&["-b", b, "setup", "--partitions", "2"]);
    assert!(again.status.success(), "{}", stderr(&again));
    for t in TOPICS {
        assert!(
            stdout(&again).contains(&format!("{t}: exists (2 partitions)")),
            "{}",
            stdout(&again)
        );
    }
    let list = streamwatch(&["-b", b, "setup", "--list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    for t in TOPICS {
        assert!(
            text.contains(&format!("{t}: 2 partitions, 0 messages")),
            "{text}"
        );
    }
    assert_eq!(text.matches("  partition ").count(), 6, "{text}");
    let del = streamwatch(&["-b", b, "setup", "--delete"]);
    assert!(del.status.success(), "{}", stderr(&del));
    assert!(
        stdout(&del).contains("sensor-data: deleted"),
        "{}",
        stdout(&del)
    );
}

#[test]
fn setup_with_prefix_against_tansu() {
    let tansu = Tansu::start();
    let out = streamwatch(&[
        "-b",
        &tansu.addr,
        "--topic-prefix",
        "dev.",
        "setup",
        "--partitions",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("dev.sensor-data: created"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn setup_on_embedded_broker_reports_its_topics_as_existing() {
    let broker = Broker::start(3);
    let out = streamwatch(&["-b", &broker.addr, "setup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for t in TOPICS {
        assert!(
            stdout(&out).contains(&format!("{t}: exists (3 partitions)")),
            "{}",
            stdout(&out)
        );
    }
    let list = streamwatch(&["-b", &broker.addr, "setup", "--list"]);
    assert!(
        stdout(&list).contains("log-data: 3 partitions, 0 messages"),
        "{}",
        stdout(&list)
    );
}

#[test]
fn unreachable_broker_fails_fast_with_one_clear_line() {
    let start = Instant::now();
    let out = streamwatch(&["-b", "127.0.0.1:1", "--timeout", "2", "setup"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("127.0.0.1:1") && err.contains("bootstrap.servers"),
        "{err}"
    );
}

#[test]
fn unknown_librdkafka_property_shows_librdkafkas_error() {
    let out = streamwatch(&["-b", "127.0.0.1:1", "-X", "no.such.property=1", "setup"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no.such.property"), "{err}");
}
