//! `streamwatch consume`: the consumer task headless. JSON lines on stdout: an `alert` line
//! per alert, an `event` line per analysed event with `--events`, a `stats` line per stream
//! per second and once more at the end, then a `summary` line (also after SIGINT/SIGTERM,
//! once offsets are committed).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::{check_reachable, shutdown_signal};
use crate::cli::ConsumeArgs;
use crate::config::Settings;
use crate::kafka::consumer::{
    ConsumerEvent, ConsumerHandle, ConsumerPlan, ConsumerSnapshot, Order,
};
use crate::sinks::{SinkPlan, Sinks};
use streamwatch::analytics::{AlertState, StreamSnapshot};
use streamwatch::ml::ModelSnapshot;

/// How long the end waits for the consumer to close after its summary: leaving the group
/// takes milliseconds with a broker; without one it would take the session timeout.
const CLOSE: Duration = Duration::from_secs(5);

pub async fn run(settings: &Settings, args: &ConsumeArgs) -> Result<ExitCode> {
    let brokers = settings.external_brokers();
    let mut sinks = Sinks::spawn(SinkPlan::new(settings, &args.sinks, &brokers)?)?;
    check_reachable(settings, &brokers).await?;
    let plan = consumer_plan(settings, args);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = ConsumerHandle::spawn(settings, &brokers, plan, tx)?;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut handle = Some(handle);
    // The thread that closes the consumer after a signal: joined before the process ends,
    // so that the group hears this member leave (else the others wait out its session).
    let mut closing = None;
    let mut out = std::io::stdout().lock();
    let mut alerts = 0u64;
    let mut problems = 0u64;
    loop {
        let event = tokio::select! {
            _ = &mut signal, if handle.is_some() => {
                // Ask for a commit and the summary; keep printing until it arrives.
                if let Some(h) = handle.take() {
                    closing = Some(std::thread::spawn(move || h.shutdown_within(CLOSE)));
                }
                continue;
            }
            e = rx.recv() => e,
        };
        match event {
            None => break,
            Some(ConsumerEvent::Alert(a)) => {
                alerts += u64::from(a.state == AlertState::Firing);
                if let Some(s) = &sinks {
                    s.offer(&a);
                }
                writeln!(
                    out,
                    "{}",
                    json!({"type": "alert", "status": a.state.name(), "stream": a.stream.name(), "alert": a})
                )?;
            }
            Some(ConsumerEvent::Analysed(e)) => {
                writeln!(out, "{}", json!({"type": "event", "event": e}))?;
            }
            Some(ConsumerEvent::Snapshot(s)) => {
                for line in stats_lines(&s) {
                    writeln!(out, "{line}")?;
                }
            }
            Some(ConsumerEvent::Problem(p)) => {
                problems += 1;
                eprintln!("streamwatch: {p}");
            }
            Some(ConsumerEvent::Finished(s)) => {
                // The state at the end, which a run shorter than a second would not show.
                for line in stats_lines(&s) {
                    writeln!(out, "{line}")?;
                }
                // What waits for a sink gets a few seconds to leave before the summary.
                let sink_status = match sinks.take() {
                    Some(k) => Some(k.close(SINK_FLUSH).await),
                    None => None,
                };
                let mut line = summary_line(&s, alerts);
                line["sinks"] = json!(sink_status);
                writeln!(out, "{line}")?;
                out.flush()?;
                break;
            }
        }
        out.flush()?;
    }
    drop(handle);
    if let Some(c) = closing {
        let _ = c.join();
    }
    tracing::info!(alerts, problems, "consume finished");
    Ok(ExitCode::SUCCESS)
}

fn consumer_plan(settings: &Settings, args: &ConsumeArgs) -> ConsumerPlan {
    ConsumerPlan {
        streams: args.stream.kinds(),
        group: args
            .group
            .clone()
            .unwrap_or_else(|| "streamwatch-consume".into()),
        from_beginning: args.from_beginning,
        count: args.count,
        duration: (args.duration > 0.0).then(|| Duration::from_secs_f64(args.duration)),
        tick: Duration::from_secs(1),
        // One line per alert.
        forward_alerts: true,
        forward_events: args.events,
        until_end: args.until_end,
        gate: None,
        model_store: Some(crate::kafka::consumer::ModelStore::of(settings)),
        order: Order::for_fit(settings.ml.fit),
        only_producer: None,
    }
}

/// How long a sink may take to deliver what waits when `consume` ends.
const SINK_FLUSH: Duration = Duration::from_secs(5);

/// One `stats` line per stream.
pub fn stats_lines(s: &ConsumerSnapshot) -> Vec<Value> {
    s.streams
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let model = s.models.iter().find(|m| m.stream == st.stream);
            let lags = s.health.lag.iter().filter(|l| l.stream == st.stream);
            let lag: i64 = lags.clone().map(|l| l.lag).sum();
            let lag_s = lags.map(|l| l.lag_s).fold(0.0, f64::max);
            let ingest = s.ingest.streams[st.stream];
            json!({
                "type": "stats",
                "stream": st.stream.name(),
                "events": st.events,
                "events_per_s": st.event_rate,
                "metrics": metrics_json(st),
                "latency": st.latency,
                "alerts": st.alerts_total,
                "alerts_firing": st.alerts_firing,
                "alert_quality": st.alert_quality,
                "lag": lag,
                "lag_s": lag_s,
                "lost": ingest.lost,
                "duplicates": ingest.duplicates,
                "e2e_ms": s.e2e.streams.get(i).copied().flatten(),
                "labelled": st.labelled,
                "scorecard": scorecard_json(st),
                "model": model.map(model_json),
            })
        })
        .collect()
}

/// Each rule against the labels; without labelled events the figures would mean nothing, so
/// they are null.
fn scorecard_json(st: &StreamSnapshot) -> Value {
    let known = st.labelled > 0;
    st.scorecard
        .iter()
        .map(|r| {
            json!({
                "rule": r.rule, "tp": r.tp, "fp": r.fp, "fn": r.fn_, "tn": r.tn,
                "precision": known.then(|| r.precision()),
                "recall": known.then(|| r.recall()),
                "f1": known.then(|| r.f1()),
            })
        })
        .collect()
}

fn metrics_json(st: &StreamSnapshot) -> Value {
    st.metrics
        .iter()
        .map(|m| {
            (
                m.name.to_string(),
                json!({
                    "mean": m.rolling.mean, "std": m.rolling.std, "min": m.rolling.min,
                    "max": m.rolling.max, "sum": m.rolling.sum, "count": m.rolling.count,
                    "last": m.last, "window_60s": m.timed,
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The model card; scores against labels are null until labelled events were scored.
pub fn model_json(m: &ModelSnapshot) -> Value {
    let scored = |n: u64, v: f64| (n > 0).then_some(v);
    json!({
        "status": m.status,
        "version": m.version,
        "labelled": m.labelled,
        "training_size": m.training_size,
        "fit_ms": m.fit_ms,
        "confidence_mean": (m.version > 0).then_some(m.confidence_mean),
        "precision": scored(m.forest.n, m.forest.precision),
        "recall": scored(m.forest.n, m.forest.recall),
        "f1": scored(m.forest.n, m.forest.f1),
        "zscore_f1": scored(m.zscore.n, m.zscore.f1),
        "residual_f1": scored(m.residual.n, m.residual.f1),
        "anomaly_f1": scored(m.anomaly.n, m.anomaly.f1),
        "anomaly_flags": m.anomaly_flags,
        "anomaly_last": m.anomaly_last,
        "drifts": m.drifts,
        "last_drift": m.last_drift,
        "mae": m.regression.as_ref().map(|r| r.mae),
        "r2": m.regression.as_ref().map(|r| r.r2),
        "regressor": m.regression.as_ref().map(|r| r.model),
        "regressor_fits": m.regression.as_ref().map(|r| r.fits),
    })
}

fn summary_line(s: &ConsumerSnapshot, alerts_printed: u64) -> Value {
    let alerts: u64 = s.streams.iter().map(|st| st.alerts_total).sum();
    json!({
        "type": "summary",
        "consumed": s.ingest.consumed,
        "analysed": s.ingest.analysed,
        "rejected": s.ingest.rejected,
        "rejects": s.ingest.rejects,
        "alerts": alerts,
        "alerts_printed": alerts_printed,
        "lost": s.ingest.lost,
        "expired": s.ingest.expired,
        "rewinds": s.ingest.rewinds,
        "duplicates": s.ingest.duplicates,
        "unconsumed": s.unconsumed,
        "unsequenced": s.ingest.unsequenced,
        "unknown_fields": s.ingest.unknown_fields,
        "unreadable_fields": s.ingest.unreadable_fields,
        "group": s.membership.group,
        "partitions": s.membership.owned,
        "events_per_s": s.events_per_s,
        "e2e_ms": s.e2e.total,
        "elapsed_s": s.elapsed_s,
        "streams": s.streams.iter().map(|st| (st.stream.name().to_string(), json!({
            "events": st.events, "alerts": st.alerts_total, "alerts_firing": st.alerts_firing,
            "labelled": st.labelled, "incidents": st.incidents,
        }))).collect::<serde_json::Map<_, _>>(),
        "alert_quality": s.streams.iter().filter_map(|st| {
            st.alert_quality.as_ref().map(|q| (st.stream.name().to_string(), json!(q)))
        }).collect::<serde_json::Map<_, _>>(),
        "models": s.models.iter().map(|m| (m.stream.name().to_string(), model_json(m))).collect::<serde_json::Map<_, _>>(),
    })
}
