//! The rule set of each stream: per-entity state (per sensor, per customer, per service),
//! the detectors wired to it, the alert each rule raises, and the feature row the models
//! learn from. Each stream's rules are an enum (`SensorRule`, …) whose order is their bit in
//! the mask an event fires; firing a rule derives its bit and its name from it. The label is
//! never read here except to report its class.

mod log;
mod sensor;
mod transaction;

use compact_str::CompactString;

pub use log::LogRule;
pub use sensor::SensorRule;
pub use transaction::TransactionRule;

use super::alerts::{AlertBook, Firing, Severity};
use super::anomaly::ZOutcome;
use super::config::AnalyzerConfig;
use super::features::{FeatureVector, LogFeature, SensorFeature, TransactionFeature};
use crate::named::Named;
use crate::streams::{Event, StreamKind, Timestamp};

/// Per-entity state by entity name. Names up to 24 bytes (every generated id) sit inline in
/// the table, so a lookup among 10,000 customers touches the table and not a string elsewhere,
/// and making the lookup key allocates nothing.
type EntityMap<V> = hashbrown::HashMap<CompactString, V>;

/// Where firings go: the alert book, as evidence.
pub(crate) struct Sink<'a> {
    pub book: &'a mut AlertBook,
}

/// Stream-wide metric values of one event, in the order of the stream's `METRICS` (NaN:
/// the event has no value for that metric).
pub(crate) type MetricValues = [f64; MAX_METRICS];

/// The most stream-wide metrics a stream has (the sensor's three readings); a stream with
/// more does not compile until this grows.
pub(crate) const MAX_METRICS: usize = 3;
const _: () = assert!(
    sensor::METRICS.len() <= MAX_METRICS
        && transaction::METRICS.len() <= MAX_METRICS
        && log::METRICS.len() <= MAX_METRICS
);

pub(crate) enum Rules {
    Sensor(sensor::SensorRules),
    Transaction(Box<transaction::TransactionRules>),
    Log(log::LogRules),
}

impl Rules {
    pub fn new(kind: StreamKind, cfg: &AnalyzerConfig) -> Self {
        match kind {
            StreamKind::Sensor => Rules::Sensor(sensor::SensorRules::new(cfg)),
            StreamKind::Transaction => {
                Rules::Transaction(Box::new(transaction::TransactionRules::new(cfg)))
            }
            StreamKind::Log => Rules::Log(log::LogRules::new(cfg)),
        }
    }

    /// Rule names in bit order.
    pub fn names(&self) -> &'static [&'static str] {
        match self {
            Rules::Sensor(_) => SensorRule::NAMES,
            Rules::Transaction(_) => TransactionRule::NAMES,
            Rules::Log(_) => LogRule::NAMES,
        }
    }

    /// The bit of the stream's z-score rule, the reference app's detector.
    pub fn zscore_bit(&self) -> u32 {
        match self {
            Rules::Sensor(_) => SensorRule::ZScore.bit(),
            Rules::Transaction(_) => TransactionRule::ZScore.bit(),
            Rules::Log(_) => LogRule::ZScore.bit(),
        }
    }

    /// The stream-wide metrics, name and unit, in the order of `MetricValues`.
    pub fn metrics(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Rules::Sensor(_) => sensor::METRICS,
            Rules::Transaction(_) => transaction::METRICS,
            Rules::Log(_) => log::METRICS,
        }
    }

    /// Names of the feature columns, in column order.
    pub fn feature_names(&self) -> &'static [&'static str] {
        match self {
            Rules::Sensor(_) => SensorFeature::NAMES,
            Rules::Transaction(_) => TransactionFeature::NAMES,
            Rules::Log(_) => LogFeature::NAMES,
        }
    }

    pub fn entities(&self) -> usize {
        match self {
            Rules::Sensor(r) => r.entities(),
            Rules::Transaction(r) => r.entities(),
            Rules::Log(r) => r.entities(),
        }
    }

    pub fn label_class(&self, e: &Event) -> Option<usize> {
        match e {
            Event::Sensor(s) => s.label.map(Named::index),
            Event::Transaction(t) => t.label.map(Named::index),
            Event::Log(l) => l.label.map(Named::index),
        }
    }

    /// Applies the rules to one event: files what fired into `sink`, fills `features` and the
    /// stream-wide metric `values`, and returns the bit mask of the rules that fired.
    pub fn apply(
        &mut self,
        e: &Event,
        sink: &mut Sink<'_>,
        features: &mut FeatureVector,
        values: &mut MetricValues,
    ) -> u32 {
        match (self, e) {
            (Rules::Sensor(r), Event::Sensor(s)) => r.apply(s, sink, features, values),
            (Rules::Transaction(r), Event::Transaction(t)) => r.apply(t, sink, features, values),
            (Rules::Log(r), Event::Log(l)) => r.apply(l, sink, features, values),
            _ => 0,
        }
    }
}

/// Files the firings of one event and collects its rule mask.
struct Fire<'a, 'b> {
    stream: StreamKind,
    entity: &'a str,
    time: Timestamp,
    mask: u32,
    sink: &'a mut Sink<'b>,
}

/// How a rule fired: how bad, the value that fired it and the range that would have been
/// normal.
struct Reading {
    severity: Severity,
    value: f64,
    expected: (f64, f64),
}

impl<'a, 'b> Fire<'a, 'b> {
    fn new(stream: StreamKind, entity: &'a str, time: Timestamp, sink: &'a mut Sink<'b>) -> Self {
        Self {
            stream,
            entity,
            time,
            mask: 0,
            sink,
        }
    }

    /// `rule` fired; `message` words the alert if the book needs one.
    fn fire(&mut self, rule: impl Named, r: Reading, message: impl FnOnce() -> String) {
        self.mask |= rule.bit();
        let firing = Firing {
            stream: self.stream,
            entity: self.entity,
            rule: rule.name(),
            severity: r.severity,
            value: r.value,
            expected: r.expected,
            time: self.time,
        };
        self.sink.book.file(firing, message);
    }

    /// Whether `rule` has fired on this event so far.
    fn fired(&self, rule: impl Named) -> bool {
        self.mask & rule.bit() != 0
    }
}

/// Fires `rule` when `value` is above `max`, a configured limit.
fn above(
    fire: &mut Fire<'_, '_>,
    rule: impl Named,
    severity: Severity,
    (value, max): (f64, f64),
    message: impl FnOnce() -> String,
) {
    if value > max {
        let r = Reading {
            severity,
            value,
            expected: (0.0, max),
        };
        fire.fire(rule, r, message);
    }
}

fn z_severity(z: f64) -> Severity {
    if z.abs() >= 6.0 {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// The range `k` standard deviations either side of the baseline's mean.
fn band(o: &ZOutcome, k: f64) -> (f64, f64) {
    (o.mean - k * o.std, o.mean + k * o.std)
}

/// 1.0 for true, 0.0 for false: a flag as a feature value.
fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
