//! Scratch: prequential F1 of forest vs z-score on the default generators.
use std::time::Instant;
use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::ml::{MlConfig, StreamModel};
use streamwatch::streams::*;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(60_000);
    for kind in StreamKind::ALL {
        let t0 = Instant::now();
        let mut g = Generator::new(kind, &GeneratorConfig::default());
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let ff: f64 = std::env::var("FF")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.5);
        let cfg = MlConfig {
            background: false,
            feature_fraction: ff,
            score_window: 20000,
            ..MlConfig::default()
        };
        let mut m = StreamModel::new(kind, &cfg);
        for i in 0..n {
            let e = g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5), i);
            let o = a.observe(&e);
            m.observe(&o);
        }
        let s = m.snapshot();
        println!(
            "{kind:?}: v{} forest P {:.2} R {:.2} F1 {:.3} | zscore P {:.2} R {:.2} F1 {:.3} | fit {:.0} ms | reg {:?} | {:.1}s",
            s.version,
            s.forest.precision,
            s.forest.recall,
            s.forest.f1,
            s.zscore.precision,
            s.zscore.recall,
            s.zscore.f1,
            s.fit_ms,
            s.regression.as_ref().map(|r| (
                r.model,
                r.mae,
                r.r2,
                r.holdout_mae_linear,
                r.holdout_mae_forest
            )),
            t0.elapsed().as_secs_f64()
        );
        for r in a.scorecard() {
            print!("{}:{:.2} ", r.rule, r.f1());
        }
        println!();
    }
}
