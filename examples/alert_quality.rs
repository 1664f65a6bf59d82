//! Alert quality of the default detectors and alert policy on the generators, in process:
//! precision, incident recall and alerts per incident per stream (the consumer's own
//! `alert_quality` figures), recall per incident kind, and per rule how often the alerts it
//! fired were right.
//!
//! `cargo run --release --example alert_quality [EVENTS] [RATE] [SEED]`: EVENTS per stream,
//! stamped RATE per second apart (the TUI's 200 by default). `SHOW_WRONG=1` prints the
//! alerts that matched no incident; `ALERT_RULES="forest=alert,log.zscore=alert"` tries
//! other classes for rules (`page`, `alert`, `evidence`).

use std::collections::BTreeMap;

use streamwatch::analytics::alerts::QualityBook;
use streamwatch::analytics::{AlertState, AnalyzerConfig, RuleClass};
use streamwatch::ml::replay::Replay;
use streamwatch::streams::StreamKind;

fn main() {
    let arg = |i: usize, d: f64| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let replay = Replay {
        events: arg(1, 60_000.0) as u64,
        rate: arg(2, 200.0),
        seed: arg(3, 42.0) as u64,
        start_ms: 1_796_000_000_000,
    };
    let show_wrong = std::env::var_os("SHOW_WRONG").is_some();
    for kind in StreamKind::ALL {
        // A second judge, to tell each alert right or wrong as it resolves.
        let mut judge = QualityBook::new(kind.label_names());
        let mut by_rule: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        let q = replay.run(kind, &config(), |e, changed| {
            if let Some(c) = e
                .label_name()
                .and_then(|l| kind.label_names().iter().position(|n| *n == l))
            {
                judge.observe(e.key(), e.timestamp().millis(), c, |_| None);
            }
            for al in changed.iter().filter(|a| a.state == AlertState::Resolved) {
                let Some(hit) = judge.judge(al) else { continue };
                let r = by_rule.entry(al.fired_by.unwrap_or("?")).or_default();
                if hit {
                    r.0 += 1;
                } else {
                    r.1 += 1;
                    if show_wrong {
                        eprintln!("  wrong {} {}: {}", kind.name(), al.entity, al.message);
                    }
                }
            }
        });
        let Some(q) = q else { continue };
        println!(
            "{:<11} alerts {:>5}  precision {:.3}  incidents {:>4}  recall {:.3}  per incident {:.2}  other {}",
            kind.name(),
            q.alerts,
            q.precision.unwrap_or(f64::NAN),
            q.incidents,
            q.recall.unwrap_or(f64::NAN),
            q.alerts_per_incident.unwrap_or(f64::NAN),
            q.other_alerts
        );
        for k in &q.by_kind {
            println!("    {:<22} {:>4} of {:>4}", k.kind, k.detected, k.incidents);
        }
        for (rule, (t, f)) in by_rule {
            println!("    fired by {rule:<14} right {t:>4}  wrong {f:>4}");
        }
    }
}

/// The default analyzer with the rule classes `ALERT_RULES` names.
fn config() -> AnalyzerConfig {
    let mut cfg = AnalyzerConfig::default();
    for kv in std::env::var("ALERT_RULES").unwrap_or_default().split(',') {
        if let Some((rule, class)) = kv.split_once('=') {
            let class = match class {
                "page" => RuleClass::Page,
                "evidence" => RuleClass::Evidence,
                _ => RuleClass::Alert,
            };
            cfg.alerts.rules.insert(rule.to_string(), class);
        }
    }
    cfg
}
