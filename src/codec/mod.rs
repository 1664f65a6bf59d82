//! Bytes on a topic to events and back. Anything that is not a well-formed event of the
//! topic's stream becomes a `Reject` with a reason and a short sample, never a panic:
//! consumers count rejects and go on.
//!
//! Each stream's fields are defined once, in `schema`. Two readers use that definition: a
//! fast path for the flat JSON our producers write, and a general reader for anything else,
//! which words every reject.

mod fast;
mod reader;
pub mod schema;

use serde::Serialize;

use crate::streams::{Event, StreamKind};

pub use schema::MAX_MAGNITUDE;

/// Messages larger than this are rejected without parsing.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Empty,
    TooLarge,
    Binary,
    NotJson,
    MissingField,
    UnknownField,
    WrongType,
    OutOfRange,
}

impl RejectReason {
    pub const ALL: [RejectReason; 8] = [
        Self::Empty,
        Self::TooLarge,
        Self::Binary,
        Self::NotJson,
        Self::MissingField,
        Self::UnknownField,
        Self::WrongType,
        Self::OutOfRange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLarge => "too_large",
            Self::Binary => "binary",
            Self::NotJson => "not_json",
            Self::MissingField => "missing_field",
            Self::UnknownField => "unknown_field",
            Self::WrongType => "wrong_type",
            Self::OutOfRange => "out_of_range",
        }
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

/// Decodes one message of `kind`'s topic.
pub fn decode(kind: StreamKind, payload: Option<&[u8]>) -> Result<Event, Reject> {
    let mut event = Event::empty(kind);
    decode_into(kind, payload, &mut event).map(|()| event)
}

/// Decodes one message of `kind`'s topic into `out`, reusing its string buffers: a consumer
/// that keeps one event per stream and decodes into it allocates nothing per message. On
/// `Err` the contents of `out` are unspecified (still a valid event of `kind`).
pub fn decode_into(
    kind: StreamKind,
    payload: Option<&[u8]>,
    out: &mut Event,
) -> Result<(), Reject> {
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
    if out.kind() != kind {
        *out = Event::empty(kind);
    }
    if fast_decode(bytes, out) {
        return Ok(());
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(reject(RejectReason::Binary, "not UTF-8 text".into()));
    }
    let read = match out {
        Event::Sensor(e) => reader::read(bytes, e),
        Event::Transaction(e) => reader::read(bytes, e),
        Event::Log(e) => reader::read(bytes, e),
    };
    read.map_err(|(reason, detail)| reject(reason, detail))
}

/// The fast path for the event's stream.
fn fast_decode(bytes: &[u8], out: &mut Event) -> bool {
    match out {
        Event::Sensor(e) => fast::decode(bytes, e),
        Event::Transaction(e) => fast::decode(bytes, e),
        Event::Log(e) => fast::decode(bytes, e),
    }
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
    // Serialising these plain structs cannot fail: no maps with non-string keys, no I/O.
    let _ = e.encode_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::{Generator, GeneratorConfig, Timestamp};

    fn reason(kind: StreamKind, bytes: &[u8]) -> RejectReason {
        decode(kind, Some(bytes)).unwrap_err().reason
    }

    #[test]
    fn generated_events_decode() {
        for kind in StreamKind::ALL {
            let mut g = Generator::new(kind, &GeneratorConfig::default());
            for i in 0..3000 {
                let e = g.next_event(Timestamp(1_700_000_000_000 + i), i as u64);
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
        assert_eq!(reason(k, b"[1,2,3]"), RejectReason::WrongType);
        assert_eq!(reason(k, b"{\"temperature\": NaN}"), RejectReason::NotJson);
        let ok = r#"{"sensor_id":"s","location":"l","temperature":1e300,"humidity":1,"pressure":1,"status":"ok","timestamp":"2026-01-01T00:00:00.000Z","seq":1}"#;
        assert_eq!(reason(k, ok.as_bytes()), RejectReason::OutOfRange);
        let typed = ok.replace("1e300", "\"hot\"");
        assert_eq!(reason(k, typed.as_bytes()), RejectReason::WrongType);
        let extra = ok
            .replace("1e300", "20")
            .replace("\"seq\":1", "\"seq\":1,\"x\":2");
        assert_eq!(reason(k, extra.as_bytes()), RejectReason::UnknownField);
        assert!(
            decode(k, Some(ok.replace("1e300", "20").as_bytes())).is_ok(),
            "label and producer_id are optional"
        );
    }

    /// The fast path's event, decoded into a fresh event.
    fn fast(kind: StreamKind, text: &str) -> Option<Event> {
        let mut e = Event::empty(kind);
        fast_decode(text.as_bytes(), &mut e).then_some(e)
    }

    /// The general reader's event, decoded into a fresh event.
    fn general(kind: StreamKind, text: &str) -> Result<Event, reader::Refusal> {
        let mut e = Event::empty(kind);
        match &mut e {
            Event::Sensor(s) => reader::read(text.as_bytes(), s),
            Event::Transaction(t) => reader::read(text.as_bytes(), t),
            Event::Log(l) => reader::read(text.as_bytes(), l),
        }
        .map(|()| e)
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
        .next_event(Timestamp(0), 7);
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
                let text = String::from_utf8(encode(
                    &g.next_event(Timestamp(1_700_000_000_000 + i), i as u64),
                ))
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
            let mut bytes = encode(&g.next_event(Timestamp(1_700_000_000_000), seed));
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

    #[test]
    fn sample_is_short_and_printable() {
        let r = decode(StreamKind::Log, Some(&[0xc3, 0x28, b'\n', b'a'])).unwrap_err();
        assert!(r.sample.chars().all(|c| !c.is_control()), "{:?}", r.sample);
        let long = decode(StreamKind::Log, Some(&vec![b'a'; 5000])).unwrap_err();
        assert!(long.sample.chars().count() <= 81);
    }
}
