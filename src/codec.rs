//! Bytes on a topic to events and back. Anything that is not a well-formed event of the
//! topic's stream becomes a `Reject` with a reason and a short sample, never a panic:
//! consumers count rejects and go on.

use serde::Serialize;

use crate::streams::{Event, StreamKind};

/// Messages larger than this are rejected without parsing.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Numeric fields beyond this magnitude are rejected as implausible.
pub const MAX_MAGNITUDE: f64 = 1e12;

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
    if std::str::from_utf8(bytes).is_err() {
        return Err(reject(RejectReason::Binary, "not UTF-8 text".into()));
    }
    let parsed = match kind {
        StreamKind::Sensor => serde_json::from_slice(bytes).map(Event::Sensor),
        StreamKind::Transaction => serde_json::from_slice(bytes).map(Event::Transaction),
        StreamKind::Log => serde_json::from_slice(bytes).map(Event::Log),
    };
    let event = parsed.map_err(|e| reject(classify(&e), e.to_string()))?;
    check_ranges(&event).map_err(|d| reject(RejectReason::OutOfRange, d))?;
    Ok(event)
}

fn classify(e: &serde_json::Error) -> RejectReason {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => RejectReason::NotJson,
        Category::Data => {
            let m = e.to_string();
            if m.starts_with("missing field") {
                RejectReason::MissingField
            } else if m.starts_with("unknown field") {
                RejectReason::UnknownField
            } else {
                RejectReason::WrongType
            }
        }
    }
}

fn check_ranges(e: &Event) -> Result<(), String> {
    let fields: &[(&str, f64)] = match e {
        Event::Sensor(s) => &[
            ("temperature", s.temperature),
            ("humidity", s.humidity),
            ("pressure", s.pressure),
        ],
        Event::Transaction(t) => &[("amount", t.amount)],
        Event::Log(l) => &[("response_time_ms", l.response_time_ms)],
    };
    for (name, v) in fields {
        if !v.is_finite() || v.abs() > MAX_MAGNITUDE {
            return Err(format!(
                "{name} = {v} is out of range (|x| ≤ {MAX_MAGNITUDE:e})"
            ));
        }
    }
    if let Event::Transaction(t) = e
        && t.amount < 0.0
    {
        return Err(format!("amount = {} is negative", t.amount));
    }
    Ok(())
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
            for i in 0..200 {
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

    #[test]
    fn sample_is_short_and_printable() {
        let r = decode(StreamKind::Log, Some(&[0xc3, 0x28, b'\n', b'a'])).unwrap_err();
        assert!(r.sample.chars().all(|c| !c.is_control()), "{:?}", r.sample);
        let long = decode(StreamKind::Log, Some(&vec![b'a'; 5000])).unwrap_err();
        assert!(long.sample.chars().count() <= 81);
    }
}
