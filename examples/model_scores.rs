//! Prequential F1 of the random forest against the z-score detector on the default
//! generators (BENCHMARKS.md records its output).
//!
//! `cargo run --release --example model_scores [EVENTS]`

use std::time::Instant;

use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::ml::{MlConfig, StreamModel};
use streamwatch::streams::{Generator, GeneratorConfig, StreamKind, Timestamp};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(60_000);
    println!(
        "| stream | events | forest P / R / F1 | z-score P / R / F1 | residual P / R / F1 | no-label (half-space) P / R / F1 | regressor (target): MAE, R² | fit ms | version |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for kind in StreamKind::ALL {
        let t0 = Instant::now();
        let mut g = Generator::new(kind, &GeneratorConfig::default());
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let cfg = MlConfig {
            background: false,
            score_window: usize::MAX,
            ..MlConfig::default()
        };
        let mut m = StreamModel::new(kind, &cfg);
        for i in 0..n {
            let e = g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5));
            m.observe(&a.observe(&e));
        }
        let s = m.snapshot();
        let reg = s.regression.as_ref().map_or("–".to_string(), |r| {
            format!(
                "{} ({}): {:.2}, {:.2} (held-out MAE linear {:.2}, forest {:.2})",
                r.model, r.target, r.mae, r.r2, r.holdout_mae_linear, r.holdout_mae_forest
            )
        });
        println!(
            "| {} | {n} | {:.2} / {:.2} / **{:.3}** | {:.2} / {:.2} / {:.3} | {:.2} / {:.2} / {:.3} | {:.2} / {:.2} / {:.3} | {reg} | {:.0} | {} |",
            kind.name(),
            s.forest.precision,
            s.forest.recall,
            s.forest.f1,
            s.zscore.precision,
            s.zscore.recall,
            s.zscore.f1,
            s.residual.precision,
            s.residual.recall,
            s.residual.f1,
            s.anomaly.precision,
            s.anomaly.recall,
            s.anomaly.f1,
            s.fit_ms,
            s.version
        );
        eprintln!(
            "{} done in {:.1} s",
            kind.name(),
            t0.elapsed().as_secs_f64()
        );
    }
}
