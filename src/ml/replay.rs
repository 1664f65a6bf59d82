//! A generated stream analysed in process, as the consumer would: the rules, the rolling
//! statistics, the models and the alert book on every event, with event times stamped at a
//! given rate. For figures that need no broker: the alert quality of the defaults (tests,
//! `examples/alert_quality.rs`).

use crate::analytics::{Alert, AlertQuality, AnalyzerConfig, StreamAnalyzer};
use crate::ml::findings::{self, Subject};
use crate::ml::{MlConfig, StreamModel};
use crate::streams::{Event, Generator, GeneratorConfig, StreamKind, Timestamp};

/// What to generate: how many events, stamped how many per second apart, from which seed.
#[derive(Debug, Clone, Copy)]
pub struct Replay {
    pub events: u64,
    pub rate: f64,
    pub seed: u64,
    /// Event time of the first event (ms since the epoch).
    pub start_ms: i64,
}

impl Replay {
    /// Runs `kind`'s generator through the analyzer and the models (fitted inline, so that a
    /// seed repeats); `each` sees every event with the alerts it fired or resolved.
    pub fn run(
        &self,
        kind: StreamKind,
        cfg: &AnalyzerConfig,
        mut each: impl FnMut(&Event, &[Alert]),
    ) -> Option<AlertQuality> {
        let gen_cfg = GeneratorConfig {
            seed: self.seed,
            ..GeneratorConfig::default()
        };
        let mut g = Generator::new(kind, &gen_cfg);
        let mut a = StreamAnalyzer::new(kind, cfg);
        let ml = MlConfig {
            background: false,
            seed: self.seed,
            ..MlConfig::default()
        };
        let mut m = StreamModel::new(kind, &ml);
        for i in 0..self.events {
            let t = Timestamp(self.start_ms + (i as f64 * 1000.0 / self.rate) as i64);
            let e = g.next_event(t);
            let mut obs = a.observe(&e);
            let verdict = m.observe(&obs);
            let at = Subject {
                entity: e.key(),
                time: t,
            };
            findings::file(&m, &mut a, &mut obs, &verdict, at);
            each(&e, &obs.changed);
        }
        a.alert_quality()
    }
}
