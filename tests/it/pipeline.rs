//! Producer and consumer against the embedded broker process, checked with kcat.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::harness::{Broker, json_lines, kcat, stderr, stdout, streamwatch};

fn watermark_total(list: &str) -> u64 {
    list.lines()
        .filter(|l| l.trim_start().starts_with("partition "))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let low: u64 = w.get(3)?.parse().ok()?;
            let high: u64 = w.get(5)?.parse().ok()?;
            Some(high - low)
        })
        .sum()
}

#[test]
fn produce_30000_is_acked_and_lands_then_consume_accounts_for_every_event() {
    let broker = Broker::start(3);
    let b = broker.addr.as_str();
    let out = streamwatch(&[
        "-b", b, "produce", "--type", "all", "--count", "30000", "--rate", "0", "--seed", "7",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON summary");
    assert_eq!(summary["acked"], 30000, "{summary}");
    assert_eq!(summary["sent"], 30000);
    assert_eq!(summary["failed"], 0);
    assert!(summary["events_per_s"].as_f64().unwrap() > 0.0);
    assert!(stderr(&out).contains("acked"), "progress line on stderr");

    let list = stdout(&streamwatch(&["-b", b, "setup", "--list"]));
    assert_eq!(watermark_total(&list), 30000, "{list}");
    let kcat_total: u64 = ["sensor-data", "transaction-data", "log-data"]
        .iter()
        .map(|t| {
            let o = kcat(&["-b", b, "-C", "-t", t, "-e", "-q", "-f", "%p\n"]);
            stdout(&o).lines().count() as u64
        })
        .sum();
    assert_eq!(kcat_total, 30000);

    let consumed = streamwatch(&[
        "-b",
        b,
        "consume",
        "--from-beginning",
        "--count",
        "30000",
        "--seed",
        "7",
    ]);
    assert!(consumed.status.success(), "{}", stderr(&consumed));
    let lines = json_lines(&stdout(&consumed));
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("summary line");
    assert_eq!(summary["consumed"], 30000, "{summary}");
    assert_eq!(summary["lost"], 0);
    assert_eq!(summary["duplicates"], 0);
    assert_eq!(summary["rejected"], 0);
    for s in ["sensor", "transaction", "log"] {
        assert!(
            summary["streams"][s]["alerts"].as_u64().unwrap() > 0,
            "no alerts for {s}: {summary}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l["type"] == "alert" && l["stream"] == s),
            "no alert line for {s}"
        );
    }
    let fired = |status: &str| {
        lines
            .iter()
            .filter(|l| l["type"] == "alert" && l["status"] == status)
            .count() as u64
    };
    assert_eq!(
        Some(fired("firing")),
        summary["alerts"].as_u64(),
        "one line per alert as it fires: {summary}"
    );
    assert!(fired("resolved") <= fired("firing"), "{summary}");
    for s in ["sensor", "transaction", "log"] {
        let q = &summary["alert_quality"][s];
        assert!(
            q["precision"].as_f64().is_some_and(|p| p >= 0.8),
            "{s}: {q}"
        );
        assert!(q["recall"].as_f64().is_some_and(|r| r >= 0.8), "{s}: {q}");
    }
    assert_eq!(summary["alerts_printed"], summary["alerts"]);
    let stats = lines
        .iter()
        .find(|l| l["type"] == "stats")
        .expect("a stats line");
    for key in [
        "stream",
        "metrics",
        "scorecard",
        "lag",
        "events_per_s",
        "model",
    ] {
        assert!(stats.get(key).is_some(), "stats lacks {key}: {stats}");
    }
    // The last stats line of each stream, printed with the summary, is the end state.
    for s in ["sensor", "transaction", "log"] {
        let last = lines
            .iter()
            .rfind(|l| l["type"] == "stats" && l["stream"] == s)
            .expect("a stats line per stream");
        assert_eq!(last["events"], summary["streams"][s]["events"], "{last}");
        let metric = last["metrics"].as_object().and_then(|m| m.values().next());
        let timed = metric.map(|m| &m["window_60s"]);
        assert!(
            timed.is_some_and(|t| t["count"].as_u64() > Some(0)),
            "empty 60 s window in {last}"
        );
    }
}

#[test]
fn entity_keys_stay_on_one_partition() {
    let broker = Broker::start(3);
    let b = broker.addr.as_str();
    let out = streamwatch(&[
        "-b", b, "produce", "--type", "sensor", "--count", "3000", "--rate", "0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let o = kcat(&[
        "-b",
        b,
        "-C",
        "-t",
        "sensor-data",
        "-e",
        "-q",
        "-f",
        "%k %p\n",
    ]);
    let mut seen: HashMap<String, String> = HashMap::new();
    for line in stdout(&o).lines() {
        let (k, p) = line.split_once(' ').unwrap();
        let prev = seen.entry(k.to_string()).or_insert_with(|| p.to_string());
        assert_eq!(prev, p, "key {k} on two partitions");
    }
    assert!(seen.len() > 10);
    let partitions: std::collections::HashSet<&String> = seen.values().collect();
    assert_eq!(partitions.len(), 3, "keys spread over the partitions");
}

#[test]
fn messages_read_back_with_kcat_are_well_typed_json() {
    let broker = Broker::start(1);
    let b = broker.addr.as_str();
    assert!(
        streamwatch(&["-b", b, "produce", "--count", "300", "--rate", "0"])
            .status
            .success()
    );
    for (topic, fields) in [
        (
            "sensor-data",
            &[
                "sensor_id",
                "location",
                "temperature",
                "humidity",
                "pressure",
                "status",
                "timestamp",
                "seq",
            ][..],
        ),
        (
            "transaction-data",
            &[
                "transaction_id",
                "customer_id",
                "amount",
                "currency",
                "merchant",
                "category",
                "payment_method",
                "location",
                "timestamp",
                "seq",
            ][..],
        ),
        (
            "log-data",
            &[
                "timestamp",
                "service",
                "endpoint",
                "level",
                "status_code",
                "response_time_ms",
                "message",
                "seq",
            ][..],
        ),
    ] {
        let o = kcat(&["-b", b, "-C", "-t", topic, "-e", "-q"]);
        let msgs = json_lines(&stdout(&o));
        assert_eq!(msgs.len(), 100, "{topic}");
        for m in msgs {
            for f in fields {
                assert!(m.get(*f).is_some(), "{topic} message lacks {f}: {m}");
            }
            assert!(m["seq"].is_u64() && m["timestamp"].as_str().unwrap().ends_with('Z'));
        }
    }
}

#[test]
fn garbage_on_a_topic_is_rejected_and_consumption_goes_on() {
    let broker = Broker::start(1);
    let b = broker.addr.as_str();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'{'; 1_000_000]).unwrap();
    let binary = dir.path().join("bin.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 255, 1, 2, 3]).unwrap();
    let mut p = Command::new("kcat")
        .args(["-b", b, "-P", "-t", "sensor-data"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all(b"plain text, not json\n{\"sensor_id\": \"s-1\", \"temperat\n")
        .unwrap();
    assert!(p.wait().unwrap().success());
    for f in [&big, &binary] {
        let o = kcat(&[
            "-b",
            b,
            "-P",
            "-t",
            "sensor-data",
            "-X",
            "message.max.bytes=2000000",
            f.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(
        streamwatch(&[
            "-b", b, "produce", "--type", "sensor", "--count", "500", "--rate", "0"
        ])
        .status
        .success()
    );
    let out = streamwatch(&[
        "-b",
        b,
        "consume",
        "--type",
        "sensor",
        "--from-beginning",
        "--count",
        "504",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json_lines(&stdout(&out))
        .into_iter()
        .find(|l| l["type"] == "summary")
        .unwrap();
    assert_eq!(summary["consumed"], 504, "{summary}");
    assert_eq!(summary["rejected"], 4, "{summary}");
    assert_eq!(summary["analysed"], 500);
    let rejects = &summary["rejects"];
    for reason in ["not_json", "too_large", "binary"] {
        assert!(
            rejects.get(reason).is_some(),
            "no {reason} reject: {rejects}"
        );
    }
}

#[test]
fn consume_stops_on_sigterm_with_a_summary() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(super::harness::bin())
        .args(["-b", &broker.addr, "consume", "--from-beginning"])
        .env("STREAMWATCH_LOG_FILE", dir.path().join("c.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        json_lines(&String::from_utf8_lossy(&out.stdout))
            .iter()
            .any(|l| l["type"] == "summary")
    );
}

/// Every message of the three topics, sorted (partitions interleave differently per run).
fn all_messages(addr: &str) -> Vec<String> {
    let mut v: Vec<String> = ["sensor-data", "transaction-data", "log-data"]
        .iter()
        .flat_map(|t| {
            let o = kcat(&["-b", addr, "-C", "-t", t, "-e", "-q", "-f", "%k %s\n"]);
            stdout(&o).lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_seed_and_start_time_give_byte_identical_messages() {
    let run = |seed: &str| {
        let broker = Broker::start(3);
        let out = streamwatch(&[
            "-b",
            &broker.addr,
            "produce",
            "--count",
            "900",
            "--rate",
            "0",
            "--seed",
            seed,
            "--start-time",
            "2026-01-01T00:00:00Z",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        all_messages(&broker.addr)
    };
    let (a, b) = (run("7"), run("7"));
    assert_eq!(a.len(), 900);
    assert!(a[0].contains("2026-01-01T00:00:00"), "{}", a[0]);
    assert_eq!(a, b);
    assert_ne!(a, run("8"));
    let bad = streamwatch(&["-b", "127.0.0.1:1", "produce", "--start-time", "yesterday"]);
    assert!(!bad.status.success());
}

/// `streamwatch consume | head -1`: a reader that goes away is not an error. The consumer
/// stops at its next write and exits 0, without a word on stderr.
#[test]
fn consume_into_a_closed_pipe_exits_0_quietly() {
    use std::io::{BufRead, BufReader};
    let broker = Broker::start(1);
    let b = broker.addr.as_str();
    assert!(
        streamwatch(&["-b", b, "produce", "--count", "300", "--rate", "0"])
            .status
            .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(super::harness::bin())
        .args(["-b", b, "consume", "--from-beginning"])
        .env("STREAMWATCH_LOG_FILE", dir.path().join("c.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first}");
    // The reader is gone (the pipe dropped with it); the next line ends the run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(err.is_empty(), "quiet: {err}");
}
