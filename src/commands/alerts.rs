//! `streamwatch alerts`: what is firing now, read from an alerts topic that consumers and
//! TUIs write with `--alerts-topic` — the alerts of every member of a group, from any
//! machine. The topic holds each alert's state changes keyed by fingerprint; the latest
//! state of each is the answer.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;

use crate::cli::AlertsArgs;
use crate::config::Settings;
use crate::sinks::DEFAULT_TOPIC;

pub async fn run(settings: &Settings, args: &AlertsArgs) -> Result<ExitCode> {
    let brokers = settings.external_brokers();
    let topic = args
        .topic
        .clone()
        .unwrap_or_else(|| format!("{}{DEFAULT_TOPIC}", settings.kafka.topic_prefix));
    let (settings, json, follow) = (settings.clone(), args.json, args.follow);
    tokio::task::spawn_blocking(move || follow_topic(&settings, &brokers, &topic, json, follow))
        .await??;
    Ok(ExitCode::SUCCESS)
}

fn follow_topic(
    settings: &Settings,
    brokers: &str,
    topic: &str,
    json: bool,
    follow: bool,
) -> Result<()> {
    let consumer: BaseConsumer = crate::kafka::client_config(settings, brokers, |c| {
        c.set(
            "group.id",
            format!("streamwatch-alerts-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    })
    .create()?;
    let ends = assign_from_start(&consumer, topic, settings.timeout())?;
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    read_to_end(&consumer, &ends, &mut latest, settings.timeout());
    let mut out = std::io::stdout().lock();
    print_firing(&mut out, &latest, json)?;
    if !follow {
        return Ok(());
    }
    out.flush()?;
    // Until stopped (SIGINT/SIGTERM end the process).
    loop {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        if let Some(v) = m
            .payload()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
        {
            print_change(&mut out, &v, json)?;
            out.flush()?;
        }
    }
}

/// Assigns every partition of `topic` from its start; each partition's end now.
fn assign_from_start(c: &BaseConsumer, topic: &str, timeout: Duration) -> Result<Vec<i64>> {
    let md = c.fetch_metadata(Some(topic), timeout)?;
    let Some(t) = md
        .topics()
        .first()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
    else {
        bail!("no alerts topic {topic:?}: start `consume` or the TUI with --alerts-topic");
    };
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in t.partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
        ends.push(c.fetch_watermarks(topic, p.id(), timeout)?.1);
    }
    c.assign(&tpl)?;
    Ok(ends)
}

/// Reads until every partition reached the end it had when the command started.
fn read_to_end(
    c: &BaseConsumer,
    ends: &[i64],
    latest: &mut BTreeMap<String, Value>,
    timeout: Duration,
) {
    let mut left: i64 = ends.iter().map(|e| (*e).max(0)).sum();
    let deadline = Instant::now() + timeout.max(Duration::from_secs(10));
    while left > 0 && Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let end = usize::try_from(m.partition())
            .ok()
            .and_then(|p| ends.get(p))
            .copied()
            .unwrap_or(0);
        if m.offset() < end {
            left -= 1;
        }
        let v = m
            .payload()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok());
        if let (Some(v), Some(fp)) = (v, m.key().map(|k| String::from_utf8_lossy(k).into_owned())) {
            latest.insert(fp, v);
        }
    }
}

fn print_firing(out: &mut impl Write, latest: &BTreeMap<String, Value>, json: bool) -> Result<()> {
    let firing: Vec<&Value> = latest
        .values()
        .filter(|v| v["status"] == "firing")
        .collect();
    if json {
        writeln!(out, "{}", serde_json::to_string(&firing)?)?;
        return Ok(());
    }
    if firing.is_empty() {
        writeln!(out, "nothing firing ({} alerts on the topic)", latest.len())?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24}  {:<11}  {:<14}  {:<14}  {:<8}  SUMMARY",
        "SINCE", "STREAM", "ENTITY", "ALERT", "SEVERITY"
    )?;
    for v in firing {
        print_line(out, v)?;
    }
    Ok(())
}

fn print_change(out: &mut impl Write, v: &Value, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{v}")?;
        return Ok(());
    }
    write!(out, "{:<9} ", v["status"].as_str().unwrap_or("?"))?;
    print_line(out, v)
}

fn print_line(out: &mut impl Write, v: &Value) -> Result<()> {
    let l = &v["labels"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    writeln!(
        out,
        "{:<24}  {:<11}  {:<14}  {:<14}  {:<8}  {}",
        s(&v["startsAt"]),
        s(&l["stream"]),
        s(&l["entity"]),
        s(&l["alertname"]),
        s(&l["severity"]),
        s(&v["annotations"]["summary"])
    )?;
    Ok(())
}
