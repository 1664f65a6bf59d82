//! A fast path for decoding the flat JSON objects our producers write. One pass over the
//! bytes, straight into a reused event: string buffers are refilled, not reallocated, so a
//! consumer that decodes into the same event allocates nothing. Keys are matched against the
//! stream's field list in the order our producers write them (one comparison per key when the
//! order holds), strings are scanned eight bytes at a time, numbers are checked against the
//! JSON grammar and parsed by the standard library.
//!
//! It accepts only what it fully understands (known fields once each, strings without
//! escapes, JSON numbers) and declines anything else, so that serde_json decides, and words
//! the error for, every other input. For inputs it accepts it builds exactly what serde would
//! (a property test holds it to that).

use crate::streams::log::LogLevel;
use crate::streams::sensor::SensorStatus;
use crate::streams::{Event, Label, LogEntry, SensorReading, Timestamp, Transaction};

/// A value of a flat JSON object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Str(&'a str),
    /// The literal text of a JSON number.
    Num(&'a str),
}

/// Fields of each stream in the order serde writes them; the required ones come first, the
/// last two (`producer_id`, `label`) may be left out.
const SENSOR: &[&str] = &[
    "sensor_id",
    "location",
    "temperature",
    "humidity",
    "pressure",
    "status",
    "timestamp",
    "seq",
    "producer_id",
    "label",
];
const TRANSACTION: &[&str] = &[
    "transaction_id",
    "customer_id",
    "amount",
    "currency",
    "merchant",
    "category",
    "payment_method",
    "location",
    "timestamp",
    "seq",
    "producer_id",
    "label",
];
const LOG: &[&str] = &[
    "timestamp",
    "service",
    "endpoint",
    "level",
    "status_code",
    "response_time_ms",
    "message",
    "seq",
    "producer_id",
    "label",
];

/// A position in the message (valid UTF-8, checked once up front).
struct Cursor<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        // Our producers write no whitespace: one comparison settles the usual case.
        while let Some(&c) = self.b.get(self.i)
            && c <= b' '
            && matches!(c, b' ' | b'\n' | b'\r' | b'\t')
        {
            self.i += 1;
        }
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    /// Consumes `"name"` if it is next.
    fn eat_key(&mut self, name: &str) -> bool {
        let n = name.len();
        let hit = self.b.get(self.i) == Some(&b'"')
            && self.b.get(self.i + 1 + n) == Some(&b'"')
            && same(&self.b[self.i + 1..self.i + 1 + n], name.as_bytes());
        if hit {
            self.i += n + 2;
        }
        hit
    }

    /// The index in `fields` of the next key, trying `guess` first.
    fn key(&mut self, fields: &[&str], guess: usize) -> Option<usize> {
        if let Some(name) = fields.get(guess)
            && self.eat_key(name)
        {
            return Some(guess);
        }
        let k = self.string()?;
        fields.iter().position(|f| *f == k)
    }

    /// A string without escapes or control characters: the text between the quotes.
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let end = start + special_at(&self.b[start..])?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        self.text.get(start..end)
    }

    /// The text of a JSON number, checked against the JSON grammar.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.eat(b'-');
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits()?;
        }
        self.text.get(start..self.i)
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    fn value(&mut self) -> Option<Value<'a>> {
        match self.b.get(self.i)? {
            b'"' => self.string().map(Value::Str),
            b'-' | b'0'..=b'9' => self.number().map(Value::Num),
            _ => None,
        }
    }
}

/// Byte equality of two equally long short slices, inline (a `memcmp` call costs more than
/// the comparison for field names).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Offset of the first `"`, `\` or control character in `b`, eight bytes at a time.
fn special_at(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte below `n` (exact for the lowest such byte, which is all that
    // is used: borrows only disturb the bytes above it).
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let mut chunks = b.chunks_exact(8);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if hits != 0 {
            return Some(k * 8 + hits.trailing_zeros() as usize / 8);
        }
    }
    let tail = b.len() - chunks.remainder().len();
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| tail + p)
}

/// Walks `{"k": v, ...}` with keys from `fields`, calling `f` with each key's index; false if
/// the text is anything else or `f` declines.
fn object<'a>(text: &'a str, fields: &[&str], mut f: impl FnMut(usize, Value<'a>) -> bool) -> bool {
    let b = text.as_bytes();
    let mut c = Cursor { text, b, i: 0 };
    let mut guess = 0;
    c.ws();
    if !c.eat(b'{') {
        return false;
    }
    c.ws();
    if !c.eat(b'}') {
        loop {
            let Some(field) = c.key(fields, guess) else {
                return false;
            };
            guess = field + 1;
            c.ws();
            if !c.eat(b':') {
                return false;
            }
            c.ws();
            match c.value() {
                Some(v) if f(field, v) => {}
                _ => return false,
            }
            c.ws();
            if c.eat(b'}') {
                break;
            }
            if !c.eat(b',') {
                return false;
            }
            c.ws();
        }
    }
    c.ws();
    c.i == b.len()
}

fn float(v: Value<'_>) -> Option<f64> {
    match v {
        Value::Num(n) => n.parse().ok().filter(|x: &f64| x.is_finite()),
        Value::Str(_) => None,
    }
}

fn uint(v: Value<'_>) -> Option<u64> {
    match v {
        Value::Num(n) => n.parse().ok(),
        Value::Str(_) => None,
    }
}

fn text(v: Value<'_>) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s),
        Value::Num(_) => None,
    }
}

/// Stores a parsed value; false when it did not parse.
fn put<T>(slot: &mut T, v: Option<T>) -> bool {
    v.map(|v| *slot = v).is_some()
}

/// Copies a string value into `slot`, reusing its buffer.
fn put_str(slot: &mut String, v: Value<'_>) -> bool {
    text(v)
        .map(|s| {
            slot.clear();
            slot.push_str(s);
        })
        .is_some()
}

fn put_time(slot: &mut Timestamp, v: Value<'_>) -> bool {
    put(slot, text(v).and_then(Timestamp::parse))
}

fn put_label<L: Label>(slot: &mut Option<L>, v: Value<'_>) -> bool {
    put(slot, text(v).and_then(label_named).map(Some))
}

/// Runs `object` over `fields`, requiring every field but the last two, each at most once.
/// `None` if the message is not ours to decode; else which optional fields were absent.
fn decode_fields<'a>(
    b: &'a str,
    fields: &[&str],
    mut f: impl FnMut(usize, Value<'a>) -> bool,
) -> Option<Absent> {
    let mut seen = 0u32;
    let ok = object(b, fields, |i, v| {
        let fresh = seen & (1 << i) == 0;
        seen |= 1 << i;
        fresh && f(i, v)
    });
    let n = fields.len();
    let required = (1u32 << (n - 2)) - 1;
    (ok && seen & required == required).then_some(Absent {
        producer: seen & (1 << (n - 2)) == 0,
        label: seen & (1 << (n - 1)) == 0,
    })
}

/// Optional fields a message left out: serde's defaults apply (empty, none).
struct Absent {
    producer: bool,
    label: bool,
}

impl Absent {
    fn apply<L>(self, producer: &mut String, label: &mut Option<L>) {
        if self.producer {
            producer.clear();
        }
        if self.label {
            *label = None;
        }
    }
}

/// Decodes `b` into `out`, reusing its string buffers. False if `b` is anything but our flat
/// form; `out` then holds a mix of old and new fields and must be decoded again.
pub fn decode(b: &[u8], out: &mut Event) -> bool {
    let Ok(b) = std::str::from_utf8(b) else {
        return false;
    };
    match out {
        Event::Sensor(s) => sensor(b, s),
        Event::Transaction(x) => transaction(b, x),
        Event::Log(l) => log(b, l),
    }
}

fn sensor(b: &str, out: &mut SensorReading) -> bool {
    let absent = decode_fields(b, SENSOR, |i, v| match i {
        0 => put_str(&mut out.sensor_id, v),
        1 => put_str(&mut out.location, v),
        2 => put(&mut out.temperature, float(v)),
        3 => put(&mut out.humidity, float(v)),
        4 => put(&mut out.pressure, float(v)),
        5 => put(&mut out.status, text(v).and_then(sensor_status)),
        6 => put_time(&mut out.timestamp, v),
        7 => put(&mut out.seq, uint(v)),
        8 => put_str(&mut out.producer_id, v),
        _ => put_label(&mut out.label, v),
    });
    absent
        .map(|a| a.apply(&mut out.producer_id, &mut out.label))
        .is_some()
}

fn transaction(b: &str, out: &mut Transaction) -> bool {
    let absent = decode_fields(b, TRANSACTION, |i, v| match i {
        0 => put_str(&mut out.transaction_id, v),
        1 => put_str(&mut out.customer_id, v),
        2 => put(&mut out.amount, float(v)),
        3 => put_str(&mut out.currency, v),
        4 => put_str(&mut out.merchant, v),
        5 => put_str(&mut out.category, v),
        6 => put_str(&mut out.payment_method, v),
        7 => put_str(&mut out.location, v),
        8 => put_time(&mut out.timestamp, v),
        9 => put(&mut out.seq, uint(v)),
        10 => put_str(&mut out.producer_id, v),
        _ => put_label(&mut out.label, v),
    });
    absent
        .map(|a| a.apply(&mut out.producer_id, &mut out.label))
        .is_some()
}

fn log(b: &str, out: &mut LogEntry) -> bool {
    let absent = decode_fields(b, LOG, |i, v| match i {
        0 => put_time(&mut out.timestamp, v),
        1 => put_str(&mut out.service, v),
        2 => put_str(&mut out.endpoint, v),
        3 => put(&mut out.level, text(v).and_then(log_level)),
        4 => put(
            &mut out.status_code,
            uint(v).and_then(|c| u16::try_from(c).ok()),
        ),
        5 => put(&mut out.response_time_ms, float(v)),
        6 => put_str(&mut out.message, v),
        7 => put(&mut out.seq, uint(v)),
        8 => put_str(&mut out.producer_id, v),
        _ => put_label(&mut out.label, v),
    });
    absent
        .map(|a| a.apply(&mut out.producer_id, &mut out.label))
        .is_some()
}

fn sensor_status(s: &str) -> Option<SensorStatus> {
    Some(match s {
        "ok" => SensorStatus::Ok,
        "warning" => SensorStatus::Warning,
        "offline" => SensorStatus::Offline,
        _ => return None,
    })
}

/// A label by its wire name.
fn label_named<L: Label>(s: &str) -> Option<L> {
    L::ALL.iter().copied().find(|l| l.name() == s)
}

fn log_level(s: &str) -> Option<LogLevel> {
    Some(match s {
        "DEBUG" => LogLevel::Debug,
        "INFO" => LogLevel::Info,
        "WARN" => LogLevel::Warn,
        "ERROR" => LogLevel::Error,
        _ => return None,
    })
}
