//! A fast path for decoding the flat JSON objects our producers write: one pass over the
//! bytes, string values borrowed, numbers parsed by the standard library. It accepts only
//! what it fully understands (known fields once each, plain strings, JSON numbers) and
//! returns `None` for anything else, so that serde_json decides, and words the error for,
//! every other input. For inputs it accepts it builds exactly what serde would.

use crate::streams::log::LogLevel;
use crate::streams::sensor::SensorStatus;
use crate::streams::{Label, LogEntry, SensorReading, Timestamp, Transaction};

/// A value of a flat JSON object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Str(&'a str),
    /// The literal text of a JSON number.
    Num(&'a str),
}

/// Walks `{"k": v, ...}`, calling `f` for each pair; false if the text is anything else.
fn pairs<'a>(text: &'a str, mut f: impl FnMut(&'a str, Value<'a>) -> bool) -> bool {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return skip_ws(b, i + 1) == b.len();
    }
    loop {
        let Some((key, next)) = string(text, i) else {
            return false;
        };
        i = skip_ws(b, next);
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = skip_ws(b, i + 1);
        let (value, next) = match b.get(i) {
            Some(b'"') => match string(text, i) {
                Some((s, n)) => (Value::Str(s), n),
                None => return false,
            },
            Some(c) if *c == b'-' || c.is_ascii_digit() => match number(b, i) {
                Some(n) => (Value::Num(&text[i..n]), n),
                None => return false,
            },
            _ => return false,
        };
        if !f(key, value) {
            return false;
        }
        i = skip_ws(b, next);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return skip_ws(b, i + 1) == b.len(),
            _ => return false,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// A string without escapes or control characters starting at `i` (the quote); the text
/// between the quotes and the index after the closing quote.
fn string(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    loop {
        match *b.get(j)? {
            b'"' => return Some((text.get(start..j)?, j + 1)),
            b'\\' => return None,
            c if c < 0x20 => return None,
            _ => j += 1,
        }
    }
}

/// The end of a JSON number starting at `i`, checked against the JSON grammar.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let s = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > s).then_some(i)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i)?,
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
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

/// Sets a slot once; false on a repeat (serde rejects duplicate fields).
fn set<T>(slot: &mut Option<T>, v: Option<T>) -> bool {
    match (slot.is_none(), v) {
        (true, Some(v)) => {
            *slot = Some(v);
            true
        }
        _ => false,
    }
}

pub fn sensor(t: &str) -> Option<SensorReading> {
    let (
        mut id,
        mut loc,
        mut temp,
        mut hum,
        mut pres,
        mut status,
        mut ts,
        mut seq,
        mut pid,
        mut label,
    ) = (None, None, None, None, None, None, None, None, None, None);
    let ok = pairs(t, |k, v| match k {
        "sensor_id" => set(&mut id, text(v)),
        "location" => set(&mut loc, text(v)),
        "temperature" => set(&mut temp, float(v)),
        "humidity" => set(&mut hum, float(v)),
        "pressure" => set(&mut pres, float(v)),
        "status" => set(&mut status, text(v).and_then(sensor_status)),
        "timestamp" => set(&mut ts, text(v).and_then(Timestamp::parse)),
        "seq" => set(&mut seq, uint(v)),
        "producer_id" => set(&mut pid, text(v)),
        "label" => set(&mut label, text(v).and_then(label_named)),
        _ => false,
    });
    ok.then_some(())?;
    Some(SensorReading {
        sensor_id: id?.to_string(),
        location: loc?.to_string(),
        temperature: temp?,
        humidity: hum?,
        pressure: pres?,
        status: status?,
        timestamp: ts?,
        seq: seq?,
        producer_id: pid.unwrap_or_default().to_string(),
        label,
    })
}

pub fn transaction(t: &str) -> Option<Transaction> {
    let mut f: [Option<&str>; 8] = [None; 8];
    let (mut amount, mut ts, mut seq, mut label) = (None, None, None, None);
    const NAMES: [&str; 8] = [
        "transaction_id",
        "customer_id",
        "currency",
        "merchant",
        "category",
        "payment_method",
        "location",
        "producer_id",
    ];
    let ok = pairs(t, |k, v| match k {
        "amount" => set(&mut amount, float(v)),
        "timestamp" => set(&mut ts, text(v).and_then(Timestamp::parse)),
        "seq" => set(&mut seq, uint(v)),
        "label" => set(&mut label, text(v).and_then(label_named)),
        _ => match NAMES.iter().position(|n| *n == k) {
            Some(i) => set(&mut f[i], text(v)),
            None => false,
        },
    });
    ok.then_some(())?;
    let s = |i: usize| f[i].map(str::to_string);
    Some(Transaction {
        transaction_id: s(0)?,
        customer_id: s(1)?,
        amount: amount?,
        currency: s(2)?,
        merchant: s(3)?,
        category: s(4)?,
        payment_method: s(5)?,
        location: s(6)?,
        timestamp: ts?,
        seq: seq?,
        producer_id: s(7).unwrap_or_default(),
        label,
    })
}

pub fn log(t: &str) -> Option<LogEntry> {
    let (
        mut ts,
        mut service,
        mut endpoint,
        mut level,
        mut status,
        mut rt,
        mut msg,
        mut seq,
        mut pid,
        mut label,
    ) = (None, None, None, None, None, None, None, None, None, None);
    let ok = pairs(t, |k, v| match k {
        "timestamp" => set(&mut ts, text(v).and_then(Timestamp::parse)),
        "service" => set(&mut service, text(v)),
        "endpoint" => set(&mut endpoint, text(v)),
        "level" => set(&mut level, text(v).and_then(log_level)),
        "status_code" => set(&mut status, uint(v).and_then(|c| u16::try_from(c).ok())),
        "response_time_ms" => set(&mut rt, float(v)),
        "message" => set(&mut msg, text(v)),
        "seq" => set(&mut seq, uint(v)),
        "producer_id" => set(&mut pid, text(v)),
        "label" => set(&mut label, text(v).and_then(label_named)),
        _ => false,
    });
    ok.then_some(())?;
    Some(LogEntry {
        timestamp: ts?,
        service: service?.to_string(),
        endpoint: endpoint?.to_string(),
        level: level?,
        status_code: status?,
        response_time_ms: rt?,
        message: msg?.to_string(),
        seq: seq?,
        producer_id: pid.unwrap_or_default().to_string(),
        label,
    })
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
