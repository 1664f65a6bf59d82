//! `streamwatch bench`: end-to-end throughput on the embedded broker (or `--brokers`):
//! produce N events unpaced, consume and analyse them all, and time the in-process core
//! (generate+encode, decode+observe, model inference) per event. A table on stderr, one
//! JSON object on stdout.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use super::check_reachable;
use crate::cli::BenchArgs;
use crate::config::Settings;
use crate::kafka::admin::{Admin, Created};
use crate::kafka::broker::Target;
use crate::kafka::consumer::{
    ConsumerEvent, ConsumerHandle, ConsumerPlan, ConsumerSnapshot, Order,
};
use crate::kafka::gate::LagGate;
use crate::kafka::producer::{ProducerHandle, ProducerPlan};
use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::codec;
use streamwatch::ml::{MlConfig, StreamModel};
use streamwatch::streams::{Event, Generator, GeneratorConfig, StreamKind, Timestamp};

pub async fn run(settings: &Settings, args: &BenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    let streams = args.stream.kinds();
    let broker = Target::start(settings)?;
    let (brokers, embedded) = (broker.bootstrap().to_string(), broker.is_embedded());
    if !embedded {
        check_reachable(settings, &brokers).await?;
        ensure_topics(settings, &brokers, &streams).await?;
    }
    let load = match args.rate {
        Some(r) => format!("offered at {r:.0} events/s"),
        None => "as fast as the pipeline holds".into(),
    };
    eprintln!(
        "bench: {} events into {} ({}), {load}",
        args.count,
        brokers,
        if embedded {
            "embedded broker"
        } else {
            "cluster"
        }
    );
    let started = Instant::now();
    let (produce, consumed) = tokio::select! {
        done = pipeline(settings, &brokers, &streams, args) => done?,
        stopped = super::shutdown_signal() => {
            stopped?;
            // Dropping the pipeline stops the producer (a bounded flush) and the consumer.
            eprintln!("bench: interrupted; nothing measured");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    // The pipeline's peak (the in-process timings below hold a chunk of events at a time).
    let rss = peak_rss_mb();
    let seed = settings.producer.seed;
    let core_streams = streams.clone();
    let core = tokio::task::spawn_blocking(move || core_costs(&core_streams, seed)).await?;
    let report = Report::new(
        args,
        &streams,
        embedded,
        (seconds, rss),
        produce,
        &consumed,
        &core,
    );
    report.print(args.json)?;
    drop(broker);
    if consumed.ingest.consumed < args.count || consumed.ingest.lost > 0 {
        bail!(
            "consumed {} of {} events, {} lost",
            consumed.ingest.consumed,
            args.count,
            consumed.ingest.lost
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates the benchmarked streams' topics on a cluster that lacks them (as `setup` does):
/// a consumer subscribed to a topic that does not exist is never given a partition.
async fn ensure_topics(settings: &Settings, brokers: &str, streams: &[StreamKind]) -> Result<()> {
    let topics = crate::kafka::topics(settings, streams);
    let (settings, brokers) = (settings.clone(), brokers.to_string());
    let (partitions, rf) = (settings.kafka.partitions, settings.kafka.replication_factor);
    let admin = tokio::task::spawn_blocking(move || Admin::connect(&settings, &brokers)).await??;
    for c in admin.create(&topics, partitions, rf).await? {
        if let Created::New(name) = c {
            eprintln!("  created   {name} ({partitions} partitions, replication {rf})");
        }
    }
    Ok(())
}

/// What a run measured.
struct Report {
    json: serde_json::Value,
    table: Vec<String>,
}

impl Report {
    fn new(
        args: &BenchArgs,
        streams: &[StreamKind],
        embedded: bool,
        (seconds, rss): (f64, f64),
        produce: (u64, f64),
        consumed: &ConsumerSnapshot,
        core: &[(String, f64)],
    ) -> Self {
        let active = consumed.active_s.max(1e-9);
        let consume_rate = consumed.ingest.consumed as f64 / active;
        // Decode + rules + models per event, averaged over the streams run.
        let analysis_ns = core
            .iter()
            .filter(|(k, _)| k.ends_with("/decode+observe") || k.ends_with("/model observe"))
            .map(|(_, v)| v)
            .sum::<f64>()
            / streams.len().max(1) as f64;
        let e2e = consumed.e2e.total.unwrap_or_default();
        let json = json!({
            "events": consumed.ingest.consumed,
            "seconds": seconds,
            "produced_per_s": produce.1,
            "consumed_per_s": consume_rate,
            "e2e_latency_ms": { "p50": e2e.p50, "p99": e2e.p99, "max": e2e.max },
            "analysis_ns_per_event": analysis_ns,
            "peak_rss_mb": rss,
            "lost": consumed.ingest.lost,
            "duplicates": consumed.ingest.duplicates,
            "foreign": consumed.ingest.foreign,
            "broker": if embedded { "embedded" } else { "external" },
            "rate": args.rate,
            "streams": streams.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "core_ns_per_event": core.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        });
        let mut table = vec![
            format!(
                "  produce   {:>10.0} events/s  ({} acked)",
                produce.1, produce.0
            ),
            format!(
                "  consume   {consume_rate:>10.0} events/s  (decode + analytics + models, {} events in {active:.2} s)",
                consumed.ingest.consumed
            ),
            format!(
                "  e2e       p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (written to analysed)",
                e2e.p50, e2e.p99, e2e.max
            ),
            format!(
                "  analysis  {analysis_ns:>10.0} ns/event  (decode + rules + models, in-process)"
            ),
            format!(
                "  lost {}  duplicates {}  other producers' {}  peak RSS {rss:.0} MB  {seconds:.2} s in all",
                consumed.ingest.lost, consumed.ingest.duplicates, consumed.ingest.foreign
            ),
        ];
        table.extend(
            core.iter()
                .map(|(name, ns)| format!("  {name:<28} {ns:>8.0} ns/event")),
        );
        Self { json, table }
    }

    /// The table on stdout; with `json`, on stderr, and the object as stdout's last line.
    fn print(&self, json: bool) -> Result<()> {
        let mut out = std::io::stdout().lock();
        for line in &self.table {
            if json {
                eprintln!("{line}");
            } else {
                writeln!(out, "{line}")?;
            }
        }
        if json {
            writeln!(out, "{}", self.json)?;
        }
        Ok(())
    }
}

/// The process's peak resident memory in MB (`VmHWM`; 0 where /proc is not there).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Producer and consumer at once. Unpaced, the producer is held to a window ahead of the
/// consumer: the pipeline's sustained pace, with nothing left for retention to delete. At
/// `--rate`, the producer offers that load and the latency is the figure to read.
async fn pipeline(
    settings: &Settings,
    brokers: &str,
    streams: &[StreamKind],
    args: &BenchArgs,
) -> Result<((u64, f64), ConsumerSnapshot)> {
    let gate = Arc::new(LagGate::default());
    // A producer id of this run's own: its events are told from earlier runs' and from
    // other programs' on the same topics.
    let producer = format!("bench-{}", std::process::id());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = ConsumerHandle::spawn(
        settings,
        brokers,
        consume_plan(streams, args.count, gate.clone(), &producer),
        tx,
    )?;
    // Events written before the consumer has its partitions and knows where it is in each
    // would wait for it: a latency of the start, not of the pipeline.
    let joined = Instant::now();
    while !gate.ready(streams) && joined.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("  joined    {:>10.2} s", joined.elapsed().as_secs_f64());
    let per_stream = args.rate.map(|r| r / streams.len().max(1) as f64);
    let gate = per_stream.is_none().then_some(gate);
    let produce = produce(
        settings, brokers, streams, args.count, per_stream, gate, producer,
    )
    .await?;
    Ok((produce, finish_consume(consumer, rx).await?))
}

async fn produce(
    settings: &Settings,
    brokers: &str,
    streams: &[StreamKind],
    count: u64,
    per_stream: Option<f64>,
    gate: Option<Arc<LagGate>>,
    producer: String,
) -> Result<(u64, f64)> {
    let plan = ProducerPlan {
        start: None,
        streams: streams.to_vec(),
        rate: per_stream.unwrap_or(0.0),
        stamp_rate: settings.producer.stamp_rate,
        count,
        duration: None,
        generator: settings.generator(producer),
        gate,
        // At a fixed rate the latency is the figure, and the producer's start is not part of
        // it. Unpaced, the start does not matter, and against tansu a first batch sent
        // after the wait came back to the consumer over a thousand times (duplicates).
        ready_first: per_stream.is_some(),
    };
    let handle = ProducerHandle::spawn(settings, brokers, plan)?;
    let started = Instant::now();
    // Polled rather than waited on a blocking thread, so that dropping this future (on a
    // signal) drops the handle, which stops the producer.
    while !handle.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let summary = tokio::task::spawn_blocking(move || handle.wait())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the producer thread failed; see the log file"))?;
    let secs = started.elapsed().as_secs_f64();
    if summary.acked != count {
        bail!(
            "only {} of {count} events were acknowledged: {:?}",
            summary.acked,
            summary.failures
        );
    }
    Ok((summary.acked, summary.acked as f64 / secs))
}

fn consume_plan(
    streams: &[StreamKind],
    count: u64,
    gate: Arc<LagGate>,
    producer: &str,
) -> ConsumerPlan {
    ConsumerPlan {
        streams: streams.to_vec(),
        group: format!("streamwatch-bench-{}", std::process::id()),
        // From the end: a cluster's topics may hold any amount of earlier data, which is not
        // this run's to read. The producer starts once the positions are known.
        from_beginning: false,
        count,
        duration: Some(Duration::from_secs(600)),
        tick: Duration::from_secs(1),
        // As the TUI runs it.
        forward_alerts: false,
        forward_events: false,
        until_end: false,
        gate: Some(gate),
        model_store: None,
        order: Order::Arrival,
        // This run's events only: what other producers write meanwhile is counted apart.
        only_producer: Some(producer.to_string()),
    }
}

/// Waits for the consumer's final snapshot (its count reached, or its time up).
async fn finish_consume(
    handle: ConsumerHandle,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<ConsumerEvent>,
) -> Result<ConsumerSnapshot> {
    let mut last = None;
    while let Some(e) = rx.recv().await {
        if let ConsumerEvent::Finished(s) = e {
            last = Some(*s);
            break;
        }
    }
    tokio::task::spawn_blocking(move || handle.shutdown()).await?;
    last.ok_or_else(|| anyhow::anyhow!("the consumer stopped without a summary"))
}

/// Per-event costs of the core, in-process, without Kafka: each stage timed over the same
/// events, a chunk at a time, so that what they hold stays small (the whole process's peak
/// is the pipeline's, not these timings').
fn core_costs(streams: &[StreamKind], seed: u64) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for &kind in streams {
        let [encode, observe, model] = core_costs_of(kind, seed);
        out.push((format!("{}/generate+encode", kind.name()), encode));
        out.push((format!("{}/decode+observe", kind.name()), observe));
        out.push((format!("{}/model observe", kind.name()), model));
    }
    out
}

/// One stream's generate+encode, decode+observe and model-observe costs in ns per event,
/// over `CORE_EVENTS` events; the model's are timed after its first `CORE_WARM_UP`.
fn core_costs_of(kind: StreamKind, seed: u64) -> [f64; 3] {
    const CHUNK: usize = 1024;
    let cfg = GeneratorConfig {
        seed,
        ..GeneratorConfig::default()
    };
    let mut g = Generator::new(kind, &cfg);
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    let ml = MlConfig {
        seed,
        background: false,
        refit_every: usize::MAX,
        ..MlConfig::default()
    };
    let mut m = StreamModel::new(kind, &ml);
    let (mut bytes, mut ends, mut obs) = (Vec::new(), Vec::new(), Vec::with_capacity(CHUNK));
    let mut e = Event::empty(kind);
    let mut spent = [Duration::ZERO; 3];
    let mut timed_model = 0u64;
    let mut i = 0u64;
    while i < CORE_EVENTS {
        let n = CHUNK.min((CORE_EVENTS - i) as usize);
        bytes.clear();
        ends.clear();
        obs.clear();
        let t = Instant::now();
        for k in 0..n as i64 {
            let at = Timestamp(1_796_000_000_000 + (i as i64 + k) * 5);
            g.next_event(at).encode_into(&mut bytes);
            ends.push(bytes.len());
        }
        spent[0] += t.elapsed();
        let t = Instant::now();
        let mut from = 0;
        for &end in &ends {
            if codec::decode_into(kind, Some(&bytes[from..end]), &mut e).is_ok() {
                obs.push(a.observe(&e));
            }
            from = end;
        }
        spent[1] += t.elapsed();
        let t = Instant::now();
        for o in &obs {
            m.observe(o);
        }
        if i >= CORE_WARM_UP {
            spent[2] += t.elapsed();
            timed_model += obs.len() as u64;
        }
        i += n as u64;
    }
    [
        per_event(spent[0], CORE_EVENTS),
        per_event(spent[1], CORE_EVENTS),
        per_event(spent[2], timed_model),
    ]
}

/// Events each stream's core costs are timed over.
const CORE_EVENTS: u64 = 200_000;

/// Events a model learns from before its costs are timed (it has fitted a few times).
const CORE_WARM_UP: u64 = 20_000;

fn per_event(spent: Duration, n: u64) -> f64 {
    spent.as_nanos() as f64 / n.max(1) as f64
}
