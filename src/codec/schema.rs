//! The wire schema of each stream, in one `schema!` list per stream: every field's name, what
//! it means for the analysis (the entity key, a metric, the event time, optional), how a JSON
//! value is stored into the event (with the field's type and range check) and what the field
//! holds when a message leaves it out. The fast path, the general reader, the range checks and
//! the field mapping all read these lists; the event structs' serde `Serialize` writes the same
//! names in the same order, and a test holds the two together.
//!
//! The setters read what other producers write, not only what ours write: numbers written as
//! strings ("21.5"), ids written as numbers, statuses and levels outside our list.

use crate::streams::log::LogLevel;
use crate::streams::sensor::SensorStatus;
use crate::streams::{Label, LogEntry, SensorReading, Timestamp, Transaction};

/// Numeric fields beyond this magnitude are rejected as implausible.
pub const MAX_MAGNITUDE: f64 = 1e12;

/// A JSON value as a field sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    /// The literal text of a JSON number.
    Num(&'a str),
    Bool(bool),
    Null,
    /// An array or an object.
    Nested,
}

impl Value<'_> {
    /// What the value is, for an error message.
    pub fn describe(self) -> String {
        match self {
            Value::Str(s) => format!("the string {s:?}"),
            Value::Num(n) => format!("the number {n}"),
            Value::Bool(b) => format!("{b}"),
            Value::Null => "null".into(),
            Value::Nested => "an array or object".into(),
        }
    }
}

/// Why a value could not be stored. One byte, so that the setters on the fast path return
/// in a register; the general reader words it with the value it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Not of the field's type; the type expected.
    Type(Expected),
    /// Of the right type, but not a plausible value.
    Range(Implausible),
}

/// What a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Text,
    Number,
    Count,
    StatusCode,
    Time,
    Label,
    Field,
}

impl Expected {
    pub fn words(self) -> &'static str {
        match self {
            Expected::Text => "a string",
            Expected::Number => "a number",
            Expected::Count => "a whole number of 0 or more",
            Expected::StatusCode => "an HTTP status code",
            Expected::Time => "a time (RFC 3339, ISO 8601, or epoch seconds or milliseconds)",
            Expected::Label => "one of the stream's labels",
            Expected::Field => "a field of the schema",
        }
    }
}

/// Why a value of the right type is not plausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implausible {
    NotFinite,
    TooLarge,
    Negative,
}

impl Implausible {
    pub fn words(self) -> String {
        match self {
            Implausible::NotFinite => "is not a finite number".into(),
            Implausible::TooLarge => format!("is out of range (|x| ≤ {MAX_MAGNITUDE:e})"),
            Implausible::Negative => "is negative".into(),
        }
    }
}

/// What a field means for the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The entity the event belongs to (the Kafka message key): a message without it is
    /// rejected.
    Key,
    /// A measurement the stream's statistics are about: a message needs at least one, and
    /// one of the wrong type, not finite or absurd is rejected.
    Metric,
    /// The event time; when a message leaves it out, the Kafka message's timestamp.
    Time,
    /// Anything else: read when it is there and readable, left out otherwise.
    Optional,
}

/// One field of a stream's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub role: Role,
}

/// An event type's wire schema: its fields in the order our producers write them, and how a
/// value is stored into each. Implemented by `schema!`, which writes the fields once.
pub trait Schema {
    const FIELDS: &'static [Field];
    /// The key's and the metrics' bits among the field positions (see `masks`).
    const MASKS: (u64, u64) = masks(Self::FIELDS);
    /// The bit of the event-time field.
    const TIME: u64 = time_bit(Self::FIELDS);
    /// Stores a value into field `i`, checking its type and range.
    fn set(&mut self, i: usize, v: Value<'_>) -> Result<(), Problem>;
    /// Gives field `i` its value for a message that leaves it out.
    fn clear(&mut self, i: usize);
    /// Sets the event time (for a message without one).
    fn set_time(&mut self, t: Timestamp);
}

/// The field called `name` in `fields`, and its position.
pub fn find(fields: &[Field], name: &str) -> Option<(usize, Field)> {
    fields
        .iter()
        .copied()
        .enumerate()
        .find(|(_, f)| f.name == name)
}

/// Which of `fields` a message must carry, as masks over field positions: the key, and the
/// metrics (at least one of them).
pub const fn masks(fields: &[Field]) -> (u64, u64) {
    let (mut key, mut metrics) = (0u64, 0u64);
    let mut i = 0;
    while i < fields.len() {
        match fields[i].role {
            Role::Key => key |= 1 << i,
            Role::Metric => metrics |= 1 << i,
            Role::Time | Role::Optional => {}
        }
        i += 1;
    }
    (key, metrics)
}

/// The bit of the `Role::Time` field among the field positions (0 if there is none).
pub const fn time_bit(fields: &[Field]) -> u64 {
    let mut i = 0;
    while i < fields.len() {
        if matches!(fields[i].role, Role::Time) {
            return 1 << i;
        }
        i += 1;
    }
    0
}

/// Implements `Schema` from one list of `"name": Role => slot, setter;` where the setter is
/// called as `setter(&mut event.slot, value)`. Positions follow the list.
macro_rules! schema {
    ($t:ty { $($name:literal: $role:ident => $slot:ident, $put:expr;)+ }) => {
        impl Schema for $t {
            const FIELDS: &'static [Field] = &[$(Field { name: $name, role: Role::$role }),+];

            // Inlined into the fast path's loop: a call per field costs more than the field.
            #[inline(always)]
            fn set(&mut self, i: usize, v: Value<'_>) -> Result<(), Problem> {
                schema!(@set self, i, v, 0usize, $($slot $put;)+)
            }

            fn clear(&mut self, i: usize) {
                schema!(@clear self, i, 0usize, $($slot)+)
            }

            fn set_time(&mut self, t: Timestamp) {
                self.timestamp = t;
            }
        }
    };
    (@set $e:ident, $i:ident, $v:ident, $n:expr, $slot:ident $put:expr; $($rest:tt)*) => {
        if $i == $n {
            $put(&mut $e.$slot, $v)
        } else {
            schema!(@set $e, $i, $v, $n + 1, $($rest)*)
        }
    };
    (@set $e:ident, $i:ident, $v:ident, $n:expr,) => {
        Err(Problem::Type(Expected::Field))
    };
    (@clear $e:ident, $i:ident, $n:expr, $slot:ident $($rest:ident)*) => {
        if $i == $n {
            Absent::clear(&mut $e.$slot)
        } else {
            schema!(@clear $e, $i, $n + 1, $($rest)*)
        }
    };
    (@clear $e:ident, $i:ident, $n:expr,) => {
        ()
    };
}

schema!(SensorReading {
    "sensor_id": Key => sensor_id, text;
    "location": Optional => location, text;
    "temperature": Metric => temperature, measurement;
    "humidity": Metric => humidity, measurement;
    "pressure": Metric => pressure, measurement;
    "status": Optional => status, sensor_status;
    "timestamp": Time => timestamp, time;
    "seq": Optional => seq, count;
    "producer_id": Optional => producer_id, text;
    "label": Optional => label, label;
});

schema!(Transaction {
    "transaction_id": Optional => transaction_id, text;
    "customer_id": Key => customer_id, text;
    "amount": Metric => amount, amount;
    "currency": Optional => currency, text;
    "merchant": Optional => merchant, text;
    "category": Optional => category, text;
    "payment_method": Optional => payment_method, text;
    "location": Optional => location, text;
    "timestamp": Time => timestamp, time;
    "seq": Optional => seq, count;
    "producer_id": Optional => producer_id, text;
    "label": Optional => label, label;
});

schema!(LogEntry {
    "timestamp": Time => timestamp, time;
    "service": Key => service, text;
    "endpoint": Optional => endpoint, text;
    "level": Optional => level, log_level;
    "status_code": Metric => status_code, status_code;
    "response_time_ms": Metric => response_time_ms, measurement;
    "message": Optional => message, text;
    "seq": Optional => seq, count;
    "producer_id": Optional => producer_id, text;
    "label": Optional => label, label;
});

/// What a field holds when a message leaves it out.
trait Absent {
    fn clear(&mut self);
}

impl Absent for String {
    fn clear(&mut self) {
        String::clear(self);
    }
}

impl<T> Absent for Option<T> {
    fn clear(&mut self) {
        *self = None;
    }
}

/// A measurement that is not there: no value, not zero.
impl Absent for f64 {
    fn clear(&mut self) {
        *self = f64::NAN;
    }
}

/// A status code that is not there: 0, which no response has.
impl Absent for u16 {
    fn clear(&mut self) {
        *self = 0;
    }
}

macro_rules! absent_is_default {
    ($($t:ty),*) => {
        $(impl Absent for $t {
            fn clear(&mut self) {
                *self = <$t>::default();
            }
        })*
    };
}
absent_is_default!(Timestamp, SensorStatus, LogLevel);

/// Text: a string, or a number kept as written (ids are often numbers).
fn text(slot: &mut String, v: Value<'_>) -> Result<(), Problem> {
    let (Value::Str(s) | Value::Num(s)) = v else {
        return Err(Problem::Type(Expected::Text));
    };
    slot.clear();
    slot.push_str(s);
    Ok(())
}

/// A number, or a string holding one.
fn finite(v: Value<'_>) -> Result<f64, Problem> {
    let n = match v {
        Value::Num(n) => n,
        Value::Str(s) => s.trim(),
        _ => return Err(Problem::Type(Expected::Number)),
    };
    match n.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        // "inf" and "NaN" parse as floats; "1e400" overflows: a number, not a finite one.
        Ok(_) => Err(Problem::Range(Implausible::NotFinite)),
        Err(_) => Err(Problem::Type(Expected::Number)),
    }
}

/// A measurement: finite and of plausible magnitude.
fn measurement(slot: &mut f64, v: Value<'_>) -> Result<(), Problem> {
    let x = finite(v)?;
    if x.abs() > MAX_MAGNITUDE {
        return Err(Problem::Range(Implausible::TooLarge));
    }
    *slot = x;
    Ok(())
}

/// An amount of money: a measurement that is not negative.
fn amount(slot: &mut f64, v: Value<'_>) -> Result<(), Problem> {
    let mut x = 0.0;
    measurement(&mut x, v)?;
    if x < 0.0 {
        return Err(Problem::Range(Implausible::Negative));
    }
    *slot = x;
    Ok(())
}

/// A whole number of 0 or more, or a string holding one.
fn whole(v: Value<'_>, expected: Expected) -> Result<u64, Problem> {
    let n = match v {
        Value::Num(n) => n,
        Value::Str(s) => s.trim(),
        _ => return Err(Problem::Type(expected)),
    };
    n.parse().map_err(|_| Problem::Type(expected))
}

/// The largest `seq` taken: JSON integers beyond 2^53 are not portable, and the loss
/// accounting's arithmetic stays far from overflow below it.
pub const MAX_SEQ: u64 = 1 << 53;

fn count(slot: &mut Option<u64>, v: Value<'_>) -> Result<(), Problem> {
    let n = whole(v, Expected::Count)?;
    if n > MAX_SEQ {
        return Err(Problem::Range(Implausible::TooLarge));
    }
    *slot = Some(n);
    Ok(())
}

fn status_code(slot: &mut u16, v: Value<'_>) -> Result<(), Problem> {
    let x = whole(v, Expected::StatusCode)?;
    *slot = u16::try_from(x).map_err(|_| Problem::Type(Expected::StatusCode))?;
    Ok(())
}

/// A time: RFC 3339 (what ours write), ISO 8601 without a zone, or epoch seconds or
/// milliseconds as a number or as text.
fn time(slot: &mut Timestamp, v: Value<'_>) -> Result<(), Problem> {
    let t = match v {
        Value::Str(s) => Timestamp::parse_any(s),
        Value::Num(n) => n.parse().ok().and_then(Timestamp::from_epoch),
        _ => None,
    };
    *slot = t.ok_or(Problem::Type(Expected::Time))?;
    Ok(())
}

/// The ground-truth label by its name; null is the same as no label.
fn label<L: Label>(slot: &mut Option<L>, v: Value<'_>) -> Result<(), Problem> {
    match v {
        Value::Null => *slot = None,
        Value::Str(s) => match L::ALL.iter().copied().find(|l| l.name() == s) {
            Some(l) => *slot = Some(l),
            None => return Err(Problem::Type(Expected::Label)),
        },
        _ => return Err(Problem::Type(Expected::Label)),
    }
    Ok(())
}

fn sensor_status(slot: &mut SensorStatus, v: Value<'_>) -> Result<(), Problem> {
    let (Value::Str(s) | Value::Num(s)) = v else {
        return Err(Problem::Type(Expected::Text));
    };
    *slot = SensorStatus::parse(s);
    Ok(())
}

fn log_level(slot: &mut LogLevel, v: Value<'_>) -> Result<(), Problem> {
    let (Value::Str(s) | Value::Num(s)) = v else {
        return Err(Problem::Type(Expected::Text));
    };
    *slot = LogLevel::parse(s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::{Event, Generator, GeneratorConfig, StreamKind};

    /// The keys our producers write, in order.
    fn keys_written(kind: StreamKind) -> Vec<String> {
        let cfg = GeneratorConfig::default();
        let e = Generator::new(kind, &cfg).next_event(Timestamp(1_796_000_000_000));
        let mut bytes = Vec::new();
        e.encode_into(&mut bytes);
        serde_json::from_slice::<KeysInOrder>(&bytes).unwrap().0
    }

    /// The keys of a JSON object in the order they stand.
    struct KeysInOrder(Vec<String>);

    impl<'de> serde::Deserialize<'de> for KeysInOrder {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = KeysInOrder;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<KeysInOrder, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(KeysInOrder(keys))
                }
            }
            d.deserialize_map(V)
        }
    }

    fn names<T: Schema>() -> Vec<String> {
        T::FIELDS.iter().map(|f| f.name.to_string()).collect()
    }

    /// The schema tables and the structs' `Serialize` name the same fields in the same order
    /// (the fast path relies on the order), and each stream has one key and a metric.
    #[test]
    fn schema_and_serialize_agree() {
        assert_eq!(keys_written(StreamKind::Sensor), names::<SensorReading>());
        assert_eq!(
            keys_written(StreamKind::Transaction),
            names::<Transaction>()
        );
        assert_eq!(keys_written(StreamKind::Log), names::<LogEntry>());
        let roles = |r: &[Role]| {
            (
                r.iter().filter(|x| **x == Role::Key).count(),
                r.iter().filter(|x| **x == Role::Metric).count(),
            )
        };
        let of = |fields: &[Field]| fields.iter().map(|f| f.role).collect::<Vec<_>>();
        assert_eq!(roles(&of(SensorReading::FIELDS)), (1, 3));
        assert_eq!(roles(&of(Transaction::FIELDS)), (1, 1));
        assert_eq!(roles(&of(LogEntry::FIELDS)), (1, 2));
        for fields in [SensorReading::FIELDS, Transaction::FIELDS, LogEntry::FIELDS] {
            assert_eq!(fields.iter().filter(|f| f.role == Role::Time).count(), 1);
        }
        assert!(Event::empty(StreamKind::Log).key().is_empty());
    }

    fn set<T: Schema>(e: &mut T, name: &str, v: Value<'_>) -> Result<(), Problem> {
        let (i, _) = find(T::FIELDS, name).unwrap();
        e.set(i, v)
    }

    #[test]
    fn setters_check_type_and_range() {
        let mut s = SensorReading::default();
        assert!(set(&mut s, "temperature", Value::Num("21.5")).is_ok());
        assert_eq!(s.temperature, 21.5);
        assert!(matches!(
            set(&mut s, "temperature", Value::Num("1e300")),
            Err(Problem::Range(_))
        ));
        assert!(matches!(
            set(&mut s, "temperature", Value::Str("hot")),
            Err(Problem::Type(_))
        ));
        assert!(matches!(
            set(&mut s, "temperature", Value::Str("NaN")),
            Err(Problem::Range(_))
        ));
        assert!(set(&mut s, "temperature", Value::Bool(true)).is_err());
        let mut t = Transaction::default();
        assert!(matches!(
            set(&mut t, "amount", Value::Num("-3")),
            Err(Problem::Range(_))
        ));
        let mut l = LogEntry::default();
        assert!(set(&mut l, "status_code", Value::Num("70000")).is_err());
        assert!(set(&mut l, "status_code", Value::Num("5.5")).is_err());
        assert!(set(&mut l, "label", Value::Null).is_ok());
        assert_eq!(l.label, None);
    }

    #[test]
    fn setters_read_what_other_producers_write() {
        let mut s = SensorReading::default();
        set(&mut s, "temperature", Value::Str(" 21.5 ")).unwrap();
        assert_eq!(s.temperature, 21.5, "a number written as a string");
        set(&mut s, "sensor_id", Value::Num("17")).unwrap();
        assert_eq!(s.sensor_id, "17", "an id written as a number");
        set(&mut s, "status", Value::Str("degraded")).unwrap();
        assert_eq!(
            s.status,
            SensorStatus::Other("degraded".into()),
            "kept as written"
        );
        set(&mut s, "status", Value::Str("OFFLINE")).unwrap();
        assert_eq!(s.status, SensorStatus::Offline);
        set(&mut s, "timestamp", Value::Num("1796000000")).unwrap();
        assert_eq!(s.timestamp, Timestamp(1_796_000_000_000), "epoch seconds");
        set(&mut s, "seq", Value::Str("41")).unwrap();
        assert_eq!(s.seq, Some(41));
        assert!(set(&mut s, "seq", Value::Num("18446744073709551615")).is_err());
        let mut l = LogEntry::default();
        set(&mut l, "level", Value::Str("WARNING")).unwrap();
        assert_eq!(l.level, LogLevel::Warn, "Python's logging level");
        set(&mut l, "level", Value::Str("CRITICAL")).unwrap();
        assert_eq!(l.level, LogLevel::Other("CRITICAL".into()));
        set(&mut l, "status_code", Value::Str("503")).unwrap();
        assert_eq!(l.status_code, 503);
    }

    #[test]
    fn a_missing_metric_is_no_value_not_zero() {
        let mut s = SensorReading {
            humidity: 40.0,
            ..SensorReading::default()
        };
        let (i, _) = find(SensorReading::FIELDS, "humidity").unwrap();
        s.clear(i);
        assert!(s.humidity.is_nan());
    }
}
