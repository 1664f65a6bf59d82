//! The three data types the producer generates and the consumer analyses: their wire
//! structs, a seeded generator for each, and the ground-truth label of every event.
//!
//! Generators are deterministic: the same seed and the same event times give byte-identical
//! events. Event time is passed in by the caller (the producer's pacing schedule, or a
//! synthetic clock in tests), so the data stays reproducible and still looks live.

mod json;
pub mod log;
mod per_stream;
pub mod sensor;
pub mod timestamp;
pub mod transaction;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::named::Named;

pub use log::{LogEntry, LogGenerator, LogLabel};
pub use per_stream::PerStream;
pub use sensor::{SensorGenerator, SensorLabel, SensorReading};
pub use timestamp::Timestamp;
pub use transaction::{Transaction, TransactionGenerator, TransactionLabel};

crate::named_enum! {
    /// Which of the three streams. The registry of streams: a new stream is a member here,
    /// with its topic, labels and types in the matches below, which the compiler points at.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum StreamKind {
        Sensor = "sensor",
        Transaction = "transaction",
        Log = "log",
    }
}

impl StreamKind {
    /// The topic name without prefix.
    pub fn topic(self) -> &'static str {
        match self {
            StreamKind::Sensor => "sensor-data",
            StreamKind::Transaction => "transaction-data",
            StreamKind::Log => "log-data",
        }
    }

    /// The names of the stream's labels, `normal` first (a model's classes).
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            StreamKind::Sensor => SensorLabel::NAMES,
            StreamKind::Transaction => TransactionLabel::NAMES,
            StreamKind::Log => LogLabel::NAMES,
        }
    }
}

/// Declares a stream's labels, `normal` first: a `named_enum!` whose wire name (in JSON, on
/// screen, a model's class) is its one name, and the `Label` it is.
macro_rules! label_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        crate::named_enum! { $(#[$meta])* $vis enum $name { $($variant = $text),+ } }

        impl $crate::streams::Label for $name {}

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
pub(crate) use label_enum;

/// A ground-truth label: `normal` (always the first member) or the kind of incident the
/// generator injected.
pub trait Label: Named {
    fn is_incident(self) -> bool {
        self.index() != 0
    }
}

/// One event of any stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Sensor(SensorReading),
    Transaction(Transaction),
    Log(LogEntry),
}

impl Event {
    /// An event of `kind` with empty fields: a buffer for `codec::decode_into`.
    pub fn empty(kind: StreamKind) -> Self {
        match kind {
            StreamKind::Sensor => Event::Sensor(SensorReading::default()),
            StreamKind::Transaction => Event::Transaction(Transaction::default()),
            StreamKind::Log => Event::Log(LogEntry::default()),
        }
    }

    pub fn kind(&self) -> StreamKind {
        match self {
            Event::Sensor(_) => StreamKind::Sensor,
            Event::Transaction(_) => StreamKind::Transaction,
            Event::Log(_) => StreamKind::Log,
        }
    }

    /// The entity the event belongs to; also the Kafka message key.
    pub fn key(&self) -> &str {
        match self {
            Event::Sensor(e) => &e.sensor_id,
            Event::Transaction(e) => &e.customer_id,
            Event::Log(e) => &e.service,
        }
    }

    /// The event's place among its producer's events of its entity, if it says.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Event::Sensor(e) => e.seq,
            Event::Transaction(e) => e.seq,
            Event::Log(e) => e.seq,
        }
    }

    pub fn producer_id(&self) -> &str {
        match self {
            Event::Sensor(e) => &e.producer_id,
            Event::Transaction(e) => &e.producer_id,
            Event::Log(e) => &e.producer_id,
        }
    }

    pub fn timestamp(&self) -> Timestamp {
        match self {
            Event::Sensor(e) => e.timestamp,
            Event::Transaction(e) => e.timestamp,
            Event::Log(e) => e.timestamp,
        }
    }

    /// Moves the event in time (benchmarks replaying a pool keep event time monotonic).
    pub fn set_timestamp(&mut self, t: Timestamp) {
        match self {
            Event::Sensor(e) => e.timestamp = t,
            Event::Transaction(e) => e.timestamp = t,
            Event::Log(e) => e.timestamp = t,
        }
    }

    /// Whether the event is a labelled incident; `None` when it carries no label.
    pub fn is_incident(&self) -> Option<bool> {
        match self {
            Event::Sensor(e) => e.label.map(Label::is_incident),
            Event::Transaction(e) => e.label.map(Label::is_incident),
            Event::Log(e) => e.label.map(Label::is_incident),
        }
    }

    pub fn label_name(&self) -> Option<&'static str> {
        match self {
            Event::Sensor(e) => e.label.map(Named::name),
            Event::Transaction(e) => e.label.map(Named::name),
            Event::Log(e) => e.label.map(Named::name),
        }
    }

    /// Appends the event's JSON to `out` (the bytes serde_json writes for its derived form).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Event::Sensor(e) => json::sensor(e, out),
            Event::Transaction(e) => json::transaction(e, out),
            Event::Log(e) => json::log(e, out),
        }
    }
}

/// What every generator is configured with.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Share of events that belong to an injected incident, 0..1.
    pub incident_rate: f64,
    /// Written into every event so that consumers can account for loss per producer.
    pub producer_id: String,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            incident_rate: 0.02,
            producer_id: "p0".into(),
        }
    }
}

/// The seeded generator of one stream.
pub enum Generator {
    Sensor(SensorGenerator),
    Transaction(TransactionGenerator),
    Log(LogGenerator),
}

impl Generator {
    pub fn new(kind: StreamKind, cfg: &GeneratorConfig) -> Self {
        match kind {
            StreamKind::Sensor => Generator::Sensor(SensorGenerator::new(cfg)),
            StreamKind::Transaction => Generator::Transaction(TransactionGenerator::new(cfg)),
            StreamKind::Log => Generator::Log(LogGenerator::new(cfg)),
        }
    }

    /// The next event, stamped with `at`. Its `seq` counts the events of its entity (the
    /// message key) from 0, so that a consumer that owns only some partitions, and so only
    /// some entities, sees every entity's sequence whole.
    pub fn next_event(&mut self, at: Timestamp) -> Event {
        match self {
            Generator::Sensor(g) => Event::Sensor(g.next_at(at)),
            Generator::Transaction(g) => Event::Transaction(g.next_at(at)),
            Generator::Log(g) => Event::Log(g.next_at(at)),
        }
    }
}

/// A ChaCha RNG per stream, so that the streams of one seed do not share a sequence.
pub(crate) fn stream_rng(seed: u64, kind: StreamKind) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(kind as u64 + 1);
    rng
}

/// Probability of starting an incident on an idle entity so that, in the long run, the share
/// of incident events equals `rate` when incidents last `mean_len` events on average
/// (renewal: share = p·L / (1 + p·L)).
pub(crate) fn start_probability(rate: f64, mean_len: f64) -> f64 {
    if rate <= 0.0 {
        0.0
    } else if rate >= 1.0 {
        1.0
    } else {
        (rate / (mean_len * (1.0 - rate))).min(1.0)
    }
}

/// The next sequence number of entity `i`, counting from 0.
pub(crate) fn next_seq(seqs: &mut [u64], i: usize) -> u64 {
    let seq = seqs[i];
    seqs[i] += 1;
    seq
}

/// Standard normal sample (Box–Muller; one draw, cheap enough at these rates).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Rounds to `places` decimals, as a device or a ledger would report.
pub(crate) fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Uniform pick from a non-empty slice.
pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

#[cfg(test)]
mod tests;
