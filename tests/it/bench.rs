//! `bench --json` from the real binary: the object's shape, and nothing lost.

use std::time::Duration;

use super::harness::{Background, json_lines, stderr, stdout, streamwatch};

#[test]
fn bench_json_reports_throughput_latency_and_no_loss() {
    let o = streamwatch(&["bench", "--count", "20000", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let last = text.lines().last().unwrap_or_default();
    let r = json_lines(last)
        .pop()
        .unwrap_or_else(|| panic!("no JSON last line:\n{text}"));
    assert_eq!(r["events"], 20000, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["duplicates"], 0, "{r}");
    assert_eq!(r["broker"], "embedded", "{r}");
    for key in [
        "seconds",
        "produced_per_s",
        "consumed_per_s",
        "analysis_ns_per_event",
        "peak_rss_mb",
    ] {
        let v = r[key].as_f64().unwrap_or(-1.0);
        assert!(v > 0.0 && v.is_finite(), "{key}: {r}");
    }
    let e2e = &r["e2e_latency_ms"];
    let (p50, p99, max) = (
        e2e["p50"].as_f64().unwrap_or(-1.0),
        e2e["p99"].as_f64().unwrap_or(-1.0),
        e2e["max"].as_f64().unwrap_or(-1.0),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{e2e}");
    // The table went to stderr, so stdout is the object alone.
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(stderr(&o).contains("e2e"), "{}", stderr(&o));
}

#[test]
fn bench_at_a_rate_offers_that_load() {
    let o = streamwatch(&[
        "bench", "--count", "6000", "--rate", "3000", "--type", "sensor", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let r = json_lines(&text).pop().unwrap_or_default();
    assert_eq!(r["rate"], 3000.0, "{r}");
    assert_eq!(r["streams"], serde_json::json!(["sensor"]), "{r}");
    let produced = r["produced_per_s"].as_f64().unwrap_or(0.0);
    // Paced: about the rate asked for (the last batch's acknowledgement ends the clock).
    assert!((2000.0..=3300.0).contains(&produced), "{r}");
    assert!(
        r["seconds"].as_f64().unwrap_or(0.0) >= 1.9,
        "6,000 events at 3,000/s: {r}"
    );
}

/// Against a cluster: the topics it lacks are created, and a second run on the same topics
/// counts only what it wrote (it starts past the first run's messages: none read as another
/// producer's, none taken for duplicates of its own).
#[test]
fn bench_against_a_cluster_creates_its_topics_and_reads_only_its_own_run() {
    let tansu = super::harness::Tansu::start();
    let t = tansu.addr.as_str();
    for run in 1..=2 {
        let o = streamwatch(&[
            "-b", t, "bench", "--count", "3000", "--type", "sensor", "--json",
        ]);
        assert!(o.status.success(), "run {run}: {}", stderr(&o));
        let r = json_lines(&stdout(&o)).pop().unwrap_or_default();
        assert_eq!(r["broker"], "external", "run {run}: {r}");
        assert_eq!(r["events"], 3000, "run {run}: {r}");
        assert_eq!(r["lost"], 0, "run {run}: {r}");
        assert_eq!(r["duplicates"], 0, "run {run}: {r}");
        assert_eq!(r["foreign"], 0, "run {run}: {r}");
        let created = stderr(&o).contains("created   sensor-data");
        assert_eq!(created, run == 1, "run {run}: {}", stderr(&o));
    }
}

/// On a topic another program writes while the bench runs: the bench's figures are of its
/// own run only, and the other producer's events it read are counted apart.
#[test]
fn bench_on_a_topic_another_producer_writes_counts_only_its_own_events() {
    let tansu = super::harness::Tansu::start();
    let t = tansu.addr.as_str();
    let setup = streamwatch(&["-b", t, "setup"]);
    assert!(setup.status.success(), "{}", stderr(&setup));
    let other = Background::start(&[
        "-b", t, "produce", "--type", "sensor", "--rate", "2000", "--seed", "3",
    ]);
    // The other producer is writing before the bench starts, and all through it.
    std::thread::sleep(Duration::from_secs(2));
    let o = streamwatch(&[
        "-b", t, "bench", "--count", "3000", "--type", "sensor", "--json",
    ]);
    other.stop();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json_lines(&stdout(&o)).pop().unwrap_or_default();
    assert_eq!(r["events"], 3000, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["duplicates"], 0, "{r}");
    let foreign = r["foreign"].as_u64().unwrap_or(0);
    assert!(
        foreign > 0,
        "the other producer's events were not told apart: {r}"
    );
}
