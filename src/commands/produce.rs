//! `streamwatch produce`: the producer task headless, with a progress line per second on
//! stderr and a JSON summary on stdout.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{check_reachable, shutdown_signal};
use crate::cli::ProduceArgs;
use crate::config::Settings;
use crate::kafka::producer::{ProducerHandle, ProducerPlan, summary};
use streamwatch::streams::Timestamp;

pub async fn run(settings: &Settings, args: &ProduceArgs) -> Result<ExitCode> {
    let plan = plan(settings, args)?;
    let brokers = settings.external_brokers();
    check_reachable(settings, &brokers).await?;
    let handle = ProducerHandle::spawn(settings, &brokers, plan)?;
    let book = handle.book();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut last_acked = 0;
    let interrupted = loop {
        tokio::select! {
            _ = &mut signal => break true,
            _ = tick.tick() => {
                let s = summary(&book, started.elapsed().as_secs_f64());
                eprintln!(
                    "produce: {:>9} sent {:>9} acked {:>5} failed {:>7} in flight {:>9.0} ev/s",
                    s.sent, s.acked, s.failed, s.in_flight, (s.acked - last_acked) as f64
                );
                last_acked = s.acked;
                if handle.is_finished() {
                    break false;
                }
            }
        }
    };
    let summary = tokio::task::spawn_blocking(move || {
        if interrupted {
            handle.shutdown()
        } else {
            handle.wait()
        }
    })
    .await?
    .ok_or_else(|| anyhow::anyhow!("the producer thread panicked; see the log file"))?;
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string(&summary)?
    )?;
    let ok = summary.failed == 0 && summary.acked == summary.sent;
    if !ok {
        eprintln!(
            "streamwatch: {} of {} messages were not acknowledged: {:?}",
            summary.sent - summary.acked,
            summary.sent,
            summary.failures
        );
    }
    // Stopped by a signal, the run ends as asked: status 0, with what could not be
    // delivered in the summary and on stderr. A run that ends on its own fails if it could
    // not deliver everything.
    Ok(if ok || interrupted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn plan(settings: &Settings, args: &ProduceArgs) -> Result<ProducerPlan> {
    let start = match &args.start_time {
        Some(t) => Some(Timestamp::parse(t).ok_or_else(|| {
            anyhow::anyhow!(
                "--start-time {t:?} is not an RFC 3339 time (example: 2026-01-01T00:00:00Z)"
            )
        })?),
        None => None,
    };
    let seed = settings.producer.seed;
    // A reproducible run names its producer after what makes it reproducible.
    let producer_id = start.map_or_else(producer_id, |t| format!("s{seed:x}t{:x}", t.millis()));
    Ok(ProducerPlan {
        start,
        streams: args.stream.kinds(),
        rate: settings.producer.rate,
        stamp_rate: settings.producer.stamp_rate,
        count: args.count,
        duration: (args.duration > 0.0).then(|| Duration::from_secs_f64(args.duration)),
        generator: settings.generator(producer_id),
        gate: None,
        ready_first: false,
    })
}

/// A short id unique to this producer run, written into every event for loss accounting.
fn producer_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) as u32
    )
}
