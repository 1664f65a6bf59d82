use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::ml::{MlConfig, StreamModel};
use streamwatch::streams::*;
fn main() {
    let kind = StreamKind::Sensor;
    let mut g = Generator::new(kind, &GeneratorConfig::default());
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    let mut m = StreamModel::new(
        kind,
        &MlConfig {
            background: false,
            ..MlConfig::default()
        },
    );
    let (mut tp, mut fp, mut fnn) = (0, 0, 0);
    for i in 0..60000u64 {
        let e = g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5), i);
        let o = a.observe(&e);
        m.observe(&o);
        let inc = o.incident.unwrap();
        if i >= 55000 {
            match (o.zscore_flagged(), inc) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fnn += 1,
                _ => {}
            }
        }
    }
    let s = m.snapshot();
    println!("direct tp {tp} fp {fp} fn {fnn}; model z {:?}", s.zscore);
}
