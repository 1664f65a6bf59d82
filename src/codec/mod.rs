//! Bytes on a topic to events and back. Anything that cannot be analysed becomes a `Reject`
//! with a reason and a short sample, never a panic: consumers count rejects and go on.
//!
//! Each stream's fields are defined once, in `schema`. A `Codec` reads one topic: the
//! stream's schema under the topic's field names (a field mapping from the config, or ours).
//! Two readers use it: a fast path for the flat JSON our producers write, and a tolerant
//! general reader for anything else, which notes what it does not use and words every reject.

mod fast;
mod reader;
pub mod schema;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;
use thiserror::Error;

use crate::named_enum;
use crate::streams::{
    Event, LogEntry, PerStream, SensorReading, StreamKind, Timestamp, Transaction,
};
pub use reader::Notes;
pub use schema::MAX_MAGNITUDE;
use schema::{Field, Schema};

/// Messages larger than this are rejected without parsing.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

named_enum! {
    /// Why a message could not be analysed.
    pub enum RejectReason {
        Empty = "empty",
        TooLarge = "too_large",
        Binary = "binary",
        NotJson = "not_json",
        NotObject = "not_object",
        MissingField = "missing_field",
        WrongType = "wrong_type",
        OutOfRange = "out_of_range",
    }
}

impl Serialize for RejectReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Why a message was not an event, with the parser's words and the first bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub reason: RejectReason,
    pub detail: String,
    pub sample: String,
    pub bytes: usize,
}

/// A field mapping that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    #[error("the {stream} stream has no field {field} (its fields: {fields})")]
    UnknownField {
        stream: &'static str,
        field: String,
        fields: String,
    },
    #[error("the {stream} field {field} is mapped to an empty name")]
    Empty { stream: &'static str, field: String },
    #[error("the {stream} fields {a} and {b} would both read `{name}`")]
    Clash {
        stream: &'static str,
        a: &'static str,
        b: &'static str,
        name: String,
    },
}

/// How one topic is read and written: its stream's schema, with the topic's name for each
/// field.
#[derive(Debug, Clone, PartialEq)]
pub struct Codec {
    kind: StreamKind,
    /// Per schema field, in schema order: the name on this topic.
    names: Box<[Box<str>]>,
    renamed: bool,
}

/// The schema's fields of a stream.
pub fn fields(kind: StreamKind) -> &'static [Field] {
    match kind {
        StreamKind::Sensor => SensorReading::FIELDS,
        StreamKind::Transaction => Transaction::FIELDS,
        StreamKind::Log => LogEntry::FIELDS,
    }
}

/// Our own topics' codecs, for callers that read what our producers write.
static OURS: LazyLock<PerStream<Codec>> = LazyLock::new(|| PerStream::from_fn(Codec::new));

impl Codec {
    /// The topic of `kind` with our field names.
    pub fn new(kind: StreamKind) -> Self {
        let names = fields(kind).iter().map(|f| f.name.into()).collect();
        Self {
            kind,
            names,
            renamed: false,
        }
    }

    /// The topic of `kind` whose messages name our field `k` as `mapping[k]` (fields not in
    /// the mapping keep our names).
    pub fn with_fields(
        kind: StreamKind,
        mapping: &BTreeMap<String, String>,
    ) -> Result<Self, MappingError> {
        let schema = fields(kind);
        let stream = kind.name();
        let mut codec = Self::new(kind);
        for (ours, theirs) in mapping {
            let Some((i, _)) = schema::find(schema, ours) else {
                let fields = schema.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
                let field = ours.clone();
                return Err(MappingError::UnknownField {
                    stream,
                    field,
                    fields,
                });
            };
            if theirs.trim().is_empty() {
                let field = ours.clone();
                return Err(MappingError::Empty { stream, field });
            }
            codec.names[i] = theirs.as_str().into();
        }
        codec.check_clashes()?;
        codec.renamed = mapping.iter().any(|(k, v)| k != v);
        Ok(codec)
    }

    fn check_clashes(&self) -> Result<(), MappingError> {
        let schema = fields(self.kind);
        for (i, name) in self.names.iter().enumerate() {
            if let Some(j) = self.names[..i].iter().position(|n| n == name) {
                return Err(MappingError::Clash {
                    stream: self.kind.name(),
                    a: schema[j].name,
                    b: schema[i].name,
                    name: name.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Our codec of `kind`'s topic, shared.
    pub fn ours(kind: StreamKind) -> &'static Codec {
        &OURS[kind]
    }

    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// The topic's name of our field `field`.
    pub fn name_of(&self, field: &str) -> Option<&str> {
        schema::find(fields(self.kind), field).map(|(i, _)| &*self.names[i])
    }

    /// Decodes one message into `out`, reusing its string buffers: a consumer that keeps one
    /// event per topic and decodes into it allocates nothing per message of our own. A message
    /// without an event time takes `message_time` (the Kafka timestamp), else now. What the
    /// message carried that the analysis does not use goes into `notes` (cleared first). On
    /// `Err` the contents of `out` are unspecified (still a valid event of the stream).
    pub fn decode_into(
        &self,
        payload: Option<&[u8]>,
        message_time: Option<Timestamp>,
        out: &mut Event,
        notes: &mut Notes,
    ) -> Result<(), Reject> {
        notes.clear();
        let bytes = payload.unwrap_or_default();
        let reject = |reason, detail: String| Reject {
            reason,
            detail,
            sample: sample(bytes),
            bytes: bytes.len(),
        };
        if bytes.is_empty() {
            return Err(reject(RejectReason::Empty, "empty message".into()));
        }
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(reject(
                RejectReason::TooLarge,
                format!("{} bytes, limit {MAX_MESSAGE_BYTES}", bytes.len()),
            ));
        }
        if out.kind() != self.kind {
            *out = Event::empty(self.kind);
        }
        let read = match out {
            Event::Sensor(e) => self.decode_as(bytes, message_time, e, notes),
            Event::Transaction(e) => self.decode_as(bytes, message_time, e, notes),
            Event::Log(e) => self.decode_as(bytes, message_time, e, notes),
        };
        read.map_err(|(reason, detail)| reject(reason, detail))
    }

    fn decode_as<T: Schema>(
        &self,
        bytes: &[u8],
        message_time: Option<Timestamp>,
        out: &mut T,
        notes: &mut Notes,
    ) -> Result<(), reader::Refusal> {
        let seen = match fast::decode(bytes, &self.names, out) {
            Some(seen) => seen,
            None if std::str::from_utf8(bytes).is_err() => {
                return Err((RejectReason::Binary, "not UTF-8 text".into()));
            }
            None => reader::read(bytes, &self.names, out, notes)?,
        };
        if seen & T::TIME == 0 {
            out.set_time(message_time.unwrap_or_else(Timestamp::now));
        }
        Ok(())
    }

    /// Appends the event's JSON under this topic's field names.
    pub fn encode_into(&self, e: &Event, out: &mut Vec<u8>) {
        if !self.renamed {
            e.encode_into(out);
            return;
        }
        // Serialising these plain structs cannot fail: no maps with non-string keys, no I/O.
        let value = match e {
            Event::Sensor(x) => serde_json::to_value(x),
            Event::Transaction(x) => serde_json::to_value(x),
            Event::Log(x) => serde_json::to_value(x),
        };
        let Ok(serde_json::Value::Object(map)) = value else {
            return;
        };
        let fields = fields(self.kind).iter().zip(self.names.iter());
        let renamed: serde_json::Map<String, serde_json::Value> = fields
            .filter_map(|(f, name)| Some((name.to_string(), map.get(f.name)?.clone())))
            .collect();
        let _ = serde_json::to_writer(out, &renamed);
    }
}

/// Decodes one message of `kind`'s topic as our producers write it.
pub fn decode(kind: StreamKind, payload: Option<&[u8]>) -> Result<Event, Reject> {
    let mut event = Event::empty(kind);
    decode_into(kind, payload, &mut event).map(|()| event)
}

/// Decodes one message of `kind`'s topic, with our field names, into `out` (see
/// `Codec::decode_into`; a message without a time takes now).
pub fn decode_into(
    kind: StreamKind,
    payload: Option<&[u8]>,
    out: &mut Event,
) -> Result<(), Reject> {
    Codec::ours(kind).decode_into(payload, None, out, &mut Notes::default())
}

/// The first 80 characters, with control and non-text bytes escaped.
fn sample(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]);
    let mut out: String = text
        .chars()
        .flat_map(char::escape_default)
        .take(80)
        .collect();
    if bytes.len() > 120 || out.len() >= 80 {
        out.push('…');
    }
    out
}

/// Encodes an event as its JSON bytes.
pub fn encode(e: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    e.encode_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::sensor::SensorStatus;
    use crate::streams::{Generator, GeneratorConfig, Timestamp};

    fn reason(kind: StreamKind, bytes: &[u8]) -> RejectReason {
        decode(kind, Some(bytes)).unwrap_err().reason
    }

    #[test]
    fn generated_events_decode() {
        for kind in StreamKind::ALL {
            let mut g = Generator::new(kind, &GeneratorConfig::default());
            for i in 0..3000 {
                let e = g.next_event(Timestamp(1_700_000_000_000 + i));
                assert_eq!(decode(kind, Some(&encode(&e))).unwrap(), e);
            }
        }
    }

    #[test]
    fn garbage_is_classified() {
        let k = StreamKind::Sensor;
        assert_eq!(decode(k, None).unwrap_err().reason, RejectReason::Empty);
        assert_eq!(reason(k, b"hello world"), RejectReason::NotJson);
        assert_eq!(
            reason(k, b"{\"sensor_id\": \"s1\", \"temp"),
            RejectReason::NotJson
        );
        assert_eq!(reason(k, &[0xff, 0xfe, 0x00, 0x01]), RejectReason::Binary);
        assert_eq!(
            reason(k, &vec![b'x'; MAX_MESSAGE_BYTES + 1]),
            RejectReason::TooLarge
        );
        assert_eq!(
            reason(k, b"{\"sensor_id\": \"s1\"}"),
            RejectReason::MissingField
        );
        assert_eq!(reason(k, b"[1,2,3]"), RejectReason::NotObject);
        assert_eq!(reason(k, b"\"just a string\""), RejectReason::NotObject);
        assert_eq!(reason(k, b"{\"temperature\": NaN}"), RejectReason::NotJson);
        let ok = r#"{"sensor_id":"s","location":"l","temperature":1e300,"humidity":1,"pressure":1,"status":"ok","timestamp":"2026-01-01T00:00:00.000Z","seq":1}"#;
        assert_eq!(reason(k, ok.as_bytes()), RejectReason::OutOfRange);
        let typed = ok.replace("1e300", "\"hot\"");
        assert_eq!(reason(k, typed.as_bytes()), RejectReason::WrongType);
        assert_eq!(
            reason(k, br#"{"temperature": 20}"#),
            RejectReason::MissingField,
            "no entity"
        );
        assert_eq!(
            reason(k, br#"{"sensor_id": true, "temperature": 20}"#),
            RejectReason::WrongType,
            "an entity that is not text"
        );
        assert!(
            decode(k, Some(ok.replace("1e300", "20").as_bytes())).is_ok(),
            "label and producer_id are optional"
        );
    }

    /// The fast path into `e`, with our names.
    fn fast_decode(bytes: &[u8], e: &mut Event) -> bool {
        let names = &Codec::ours(e.kind()).names;
        match e {
            Event::Sensor(s) => fast::decode(bytes, names, s).is_some(),
            Event::Transaction(t) => fast::decode(bytes, names, t).is_some(),
            Event::Log(l) => fast::decode(bytes, names, l).is_some(),
        }
    }

    /// The fast path's event, decoded into a fresh event.
    fn fast(kind: StreamKind, text: &str) -> Option<Event> {
        let mut e = Event::empty(kind);
        fast_decode(text.as_bytes(), &mut e).then_some(e)
    }

    /// The general reader's event, decoded into a fresh event.
    fn general(kind: StreamKind, text: &str) -> Result<Event, reader::Refusal> {
        let mut e = Event::empty(kind);
        let names = &Codec::ours(kind).names;
        let notes = &mut Notes::default();
        match &mut e {
            Event::Sensor(s) => reader::read(text.as_bytes(), names, s, notes),
            Event::Transaction(t) => reader::read(text.as_bytes(), names, t, notes),
            Event::Log(l) => reader::read(text.as_bytes(), names, l, notes),
        }
        .map(|_| e)
    }

    /// Whatever the fast path accepts, the general reader accepts and decodes to the same
    /// event, and decoding into an event that held another message gives the same event again.
    fn agrees_with_reader(kind: StreamKind, text: &str) -> Result<(), String> {
        let fast = fast(kind, text);
        let mut reused = Generator::new(
            kind,
            &GeneratorConfig {
                seed: 99,
                incident_rate: 1.0,
                ..Default::default()
            },
        )
        .next_event(Timestamp(0));
        if fast.is_some()
            && (!fast_decode(text.as_bytes(), &mut reused) || fast.as_ref() != Some(&reused))
        {
            return Err(format!(
                "reused event decodes to {reused:?}, fresh one to {fast:?}"
            ));
        }
        match (fast, general(kind, text)) {
            (Some(f), Ok(s)) if f == s => Ok(()),
            (None, _) => Ok(()),
            (f, s) => Err(format!("fast {f:?} vs general {s:?} for {text}")),
        }
    }

    #[test]
    fn fast_path_takes_our_messages() {
        for kind in StreamKind::ALL {
            let mut g = Generator::new(kind, &GeneratorConfig::default());
            for i in 0..2000 {
                let text =
                    String::from_utf8(encode(&g.next_event(Timestamp(1_700_000_000_000 + i))))
                        .unwrap();
                assert!(fast(kind, &text).is_some(), "fast path declined {text}");
                agrees_with_reader(kind, &text).unwrap();
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        #[test]
        fn fast_path_agrees_with_reader_on_mutated_messages(
            kind in proptest::sample::select(StreamKind::ALL.to_vec()),
            seed in 0u64..50,
            cut in 0usize..400,
            byte in proptest::prelude::any::<u8>(),
            op in 0u8..4,
        ) {
            let mut g = Generator::new(kind, &GeneratorConfig { seed, ..Default::default() });
            let mut bytes = encode(&g.next_event(Timestamp(1_700_000_000_000)));
            let at = cut % bytes.len();
            match op {
                0 => bytes[at] = byte,
                1 => { bytes.insert(at, byte); }
                2 => { bytes.remove(at); }
                _ => bytes.truncate(at),
            }
            match std::str::from_utf8(&bytes) {
                Ok(text) => proptest::prop_assert!(agrees_with_reader(kind, text).is_ok(), "{}", agrees_with_reader(kind, text).unwrap_err()),
                Err(_) => proptest::prop_assert!(!fast_decode(&bytes, &mut Event::empty(kind)), "fast path took bytes that are not UTF-8"),
            }
        }
    }

    #[test]
    fn fast_path_declines_what_it_does_not_understand() {
        let ok = r#"{"sensor_id":"s","location":"l","temperature":20,"humidity":1,"pressure":1,"status":"ok","timestamp":"2026-01-01T00:00:00.000Z","seq":1}"#;
        assert!(fast(StreamKind::Sensor, ok).is_some());
        for bad in [
            ok.replace("\"seq\":1", "\"seq\":1,\"seq\":2"),
            ok.replace("\"s\"", "\"s\\u0041\""),
            ok.replace("20", "2e"),
            ok.replace("20", "NaN"),
            ok.replace("20", "true"),
            ok.replace("\"seq\":1", "\"seq\":1.5"),
            ok.replace("\"seq\":1", "\"seq\":-1"),
            ok.replace("}", "} x"),
        ] {
            assert!(fast(StreamKind::Sensor, &bad).is_none(), "accepted {bad}");
            agrees_with_reader(StreamKind::Sensor, &bad).unwrap();
        }
        // Leaving out the optional fields clears them in a reused event.
        agrees_with_reader(StreamKind::Sensor, ok).unwrap();
    }

    fn sensor(e: Event) -> SensorReading {
        match e {
            Event::Sensor(s) => s,
            other => panic!("not a sensor reading: {other:?}"),
        }
    }

    /// A message the way a typical Python producer writes it: no `seq`, `producer_id`,
    /// `label`, `location` or `status`, a field of its own, and each style of time.
    #[test]
    fn other_producers_messages_are_analysed_and_their_extras_noted() {
        let codec = Codec::ours(StreamKind::Sensor);
        let kafka = Timestamp(1_796_000_000_000);
        let kafka_time = Some(kafka);
        let t = Timestamp(1_796_000_000_000 + 3_600_000);
        for (time, expected) in [
            (r#""2026-11-30T02:53:20+01:00""#, t),
            (r#""2026-11-30T01:53:20""#, t),
            ("1796003600", t),
            ("1796003600000", t),
            ("null", kafka),
        ] {
            let msg = format!(
                r#"{{"sensor_id": "dev-7", "temperature": 21.5, "humidity": "40", "timestamp": {time}, "firmware": "1.2"}}"#
            );
            let (mut e, mut notes) = (Event::empty(StreamKind::Sensor), Notes::default());
            codec
                .decode_into(Some(msg.as_bytes()), kafka_time, &mut e, &mut notes)
                .unwrap();
            assert_eq!(notes.unknown, ["firmware"]);
            let s = sensor(e);
            assert_eq!(s.timestamp, expected, "{time}");
            assert_eq!((s.temperature, s.humidity), (21.5, 40.0));
            assert!(s.pressure.is_nan(), "a metric left out has no value");
            assert_eq!((s.seq, s.label, s.producer_id.as_str()), (None, None, ""));
        }
        let msg = br#"{"sensor_id": 17, "temperature": 20, "seq": "x", "status": "degraded"}"#;
        let (mut e, mut notes) = (Event::empty(StreamKind::Sensor), Notes::default());
        codec
            .decode_into(Some(msg), None, &mut e, &mut notes)
            .unwrap();
        assert_eq!(
            notes.unreadable,
            ["seq"],
            "an unreadable optional field is left out"
        );
        let s = sensor(e);
        assert_eq!(s.sensor_id, "17");
        assert_eq!(s.status, SensorStatus::Other("degraded".into()));
    }

    #[test]
    fn a_field_mapping_reads_and_writes_other_names() {
        let mapping: BTreeMap<String, String> =
            [("temperature", "temp_c"), ("sensor_id", "device")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        let codec = Codec::with_fields(StreamKind::Sensor, &mapping).unwrap();
        assert_eq!(codec.name_of("temperature"), Some("temp_c"));
        let (mut e, mut notes) = (Event::empty(StreamKind::Sensor), Notes::default());
        let msg = br#"{"device": "d1", "temp_c": "19.5", "temperature": 99}"#;
        codec
            .decode_into(Some(msg), None, &mut e, &mut notes)
            .unwrap();
        assert_eq!(notes.unknown, ["temperature"], "our name is not theirs");
        let s = sensor(e.clone());
        assert_eq!((s.sensor_id.as_str(), s.temperature), ("d1", 19.5));
        let mut bytes = Vec::new();
        codec.encode_into(&e, &mut bytes);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""temp_c":19.5"#) && text.contains(r#""device":"d1""#),
            "{text}"
        );
        let mut back = Event::empty(StreamKind::Sensor);
        codec
            .decode_into(Some(&bytes), None, &mut back, &mut notes)
            .unwrap();
        assert_eq!(sensor(back).temperature, 19.5);
        let bad = |k: &str, v: &str| {
            let m = BTreeMap::from([(k.to_string(), v.to_string())]);
            Codec::with_fields(StreamKind::Sensor, &m)
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad("temp", "t").contains("no field temp"),
            "{}",
            bad("temp", "t")
        );
        assert!(bad("temperature", " ").contains("empty"));
        assert!(bad("sensor_id", "location").contains("both read `location`"));
    }

    #[test]
    fn sample_is_short_and_printable() {
        let r = decode(StreamKind::Log, Some(&[0xc3, 0x28, b'\n', b'a'])).unwrap_err();
        assert!(r.sample.chars().all(|c| !c.is_control()), "{:?}", r.sample);
        let long = decode(StreamKind::Log, Some(&vec![b'a'; 5000])).unwrap_err();
        assert!(long.sample.chars().count() <= 81);
    }
}
