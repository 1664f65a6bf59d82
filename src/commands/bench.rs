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
use crate::kafka::broker::Target;
use crate::kafka::consumer::{ConsumerEvent, ConsumerHandle, ConsumerPlan, ConsumerSnapshot};
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
    }
    eprintln!(
        "bench: {} events into {} ({})",
        args.count,
        brokers,
        if embedded {
            "embedded broker"
        } else {
            "cluster"
        }
    );

    let (produce, consumed) = tokio::select! {
        done = pipeline(settings, &brokers, &streams, args.count) => done?,
        stopped = super::shutdown_signal() => {
            stopped?;
            // Dropping the pipeline stops the producer (a bounded flush) and the consumer.
            eprintln!("bench: interrupted; nothing measured");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let active = consumed.active_s.max(1e-9);
    let consume_rate = consumed.ingest.consumed as f64 / active;
    eprintln!(
        "  consume  {consume_rate:>10.0} events/s  (decode + analytics + models, {} events in {active:.2} s)",
        consumed.ingest.consumed
    );
    let seed = settings.producer.seed;
    let core = tokio::task::spawn_blocking(move || core_costs(&streams, seed)).await?;
    for (name, ns) in &core {
        eprintln!("  {name:<28} {ns:>8.0} ns/event");
    }
    let report = json!({
        "count": args.count,
        "broker": if embedded { "embedded" } else { "external" },
        "produce_events_per_s": produce.1,
        "consume_events_per_s": consume_rate,
        "consumed": consumed.ingest.consumed,
        "lost": consumed.ingest.lost,
        "duplicates": consumed.ingest.duplicates,
        "core_ns_per_event": core.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    writeln!(std::io::stdout().lock(), "{report}")?;
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

/// Producer and consumer at once, the producer held to a window ahead of the consumer: the
/// pipeline's sustained pace, with nothing left for retention to delete.
async fn pipeline(
    settings: &Settings,
    brokers: &str,
    streams: &[StreamKind],
    count: u64,
) -> Result<((u64, f64), ConsumerSnapshot)> {
    let gate = Arc::new(LagGate::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = ConsumerHandle::spawn(
        settings,
        brokers,
        consume_plan(streams, count, gate.clone()),
        tx,
    )?;
    let produce = produce(settings, brokers, streams, count, gate).await?;
    eprintln!(
        "  produce  {:>10.0} events/s  ({} acked in {:.2} s)",
        produce.1,
        produce.0,
        count as f64 / produce.1.max(1e-9)
    );
    Ok((produce, finish_consume(consumer, rx).await?))
}

async fn produce(
    settings: &Settings,
    brokers: &str,
    streams: &[StreamKind],
    count: u64,
    gate: Arc<LagGate>,
) -> Result<(u64, f64)> {
    let plan = ProducerPlan {
        start: None,
        streams: streams.to_vec(),
        rate: 0.0,
        count,
        duration: None,
        generator: settings.generator("bench".into()),
        gate: Some(gate),
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

fn consume_plan(streams: &[StreamKind], count: u64, gate: Arc<LagGate>) -> ConsumerPlan {
    ConsumerPlan {
        streams: streams.to_vec(),
        group: format!("streamwatch-bench-{}", std::process::id()),
        from_beginning: true,
        count,
        duration: Some(Duration::from_secs(600)),
        tick: Duration::from_secs(1),
        // As the TUI runs it.
        forward_alerts: false,
        forward_events: false,
        until_end: false,
        gate: Some(gate),
        model_store: None,
        ordered: false,
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

/// Per-event costs of the core, in-process, without Kafka.
fn core_costs(streams: &[StreamKind], seed: u64) -> Vec<(String, f64)> {
    const N: u64 = 200_000;
    let mut out = Vec::new();
    for &kind in streams {
        let mut g = Generator::new(
            kind,
            &GeneratorConfig {
                seed,
                ..GeneratorConfig::default()
            },
        );
        let mut encoded = Vec::with_capacity(N as usize);
        let t = Instant::now();
        for i in 0..N {
            encoded.push(codec::encode(
                &g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5)),
            ));
        }
        out.push((format!("{}/generate+encode", kind.name()), per_event(t, N)));
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let mut obs = Vec::with_capacity(N as usize);
        let mut e = Event::empty(kind);
        let t = Instant::now();
        for bytes in &encoded {
            if codec::decode_into(kind, Some(bytes), &mut e).is_ok() {
                obs.push(a.observe(&e));
            }
        }
        out.push((format!("{}/decode+observe", kind.name()), per_event(t, N)));
        let ml = MlConfig {
            seed,
            background: false,
            refit_every: usize::MAX,
            ..MlConfig::default()
        };
        let mut m = StreamModel::new(kind, &ml);
        let warm = obs.len().min(20_000);
        for o in &obs[..warm] {
            m.observe(o);
        }
        let t = Instant::now();
        for o in &obs[warm..] {
            m.observe(o);
        }
        out.push((
            format!("{}/model observe", kind.name()),
            per_event(t, (obs.len() - warm) as u64),
        ));
    }
    out
}

fn per_event(t: Instant, n: u64) -> f64 {
    t.elapsed().as_nanos() as f64 / n.max(1) as f64
}
