//! Our three events' JSON, written by hand. The producer encodes every event it sends, and
//! serde_json's derived path escaped every key and every value byte by byte: that was the
//! largest part of generating and encoding an event. Here keys are literals, and a value is
//! copied whole unless it holds a byte JSON must escape (a control character, `"` or `\`),
//! which then goes through serde_json. Numbers are formatted by serde_json's own formatter.
//! The bytes are serde_json's, field for field: a property test holds every event, strange
//! strings and non-finite numbers included, to `serde_json::to_vec` of the derived form.

use serde_json::ser::{CompactFormatter, Formatter};

use super::{LogEntry, SensorReading, Timestamp, Transaction};
use crate::named::Named;

/// One JSON object being written into `out`.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// `key` is one of our field names: nothing in it to escape.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, key: &str, value: &str) -> &mut Self {
        string(self.key(key), value);
        self
    }

    fn f64(&mut self, key: &str, value: f64) -> &mut Self {
        let out = self.key(key);
        // As serde_json: a number that JSON cannot hold is `null`.
        if value.is_finite() {
            let _ = CompactFormatter.write_f64(out, value);
        } else {
            out.extend_from_slice(b"null");
        }
        self
    }

    fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        let _ = CompactFormatter.write_u64(self.key(key), value);
        self
    }

    fn time(&mut self, key: &str, t: Timestamp) -> &mut Self {
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(&t.to_rfc3339());
        out.push(b'"');
        self
    }

    /// The fields every event ends with: `seq` (when known), `producer_id`, `label` (when
    /// known); then the object is closed.
    fn close(&mut self, seq: Option<u64>, producer_id: &str, label: Option<&str>) {
        if let Some(seq) = seq {
            self.u64("seq", seq);
        }
        self.str("producer_id", producer_id);
        if let Some(label) = label {
            self.str("label", label);
        }
        self.out.push(b'}');
    }
}

/// A JSON string: copied as it is when nothing in it needs escaping.
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        let _ = serde_json::to_writer(out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

pub(super) fn sensor(e: &SensorReading, out: &mut Vec<u8>) {
    Object::open(out)
        .str("sensor_id", &e.sensor_id)
        .str("location", &e.location)
        .f64("temperature", e.temperature)
        .f64("humidity", e.humidity)
        .f64("pressure", e.pressure)
        .str("status", e.status.name())
        .time("timestamp", e.timestamp)
        .close(e.seq, &e.producer_id, e.label.map(Named::name));
}

pub(super) fn transaction(e: &Transaction, out: &mut Vec<u8>) {
    Object::open(out)
        .str("transaction_id", &e.transaction_id)
        .str("customer_id", &e.customer_id)
        .f64("amount", e.amount)
        .str("currency", &e.currency)
        .str("merchant", &e.merchant)
        .str("category", &e.category)
        .str("payment_method", &e.payment_method)
        .str("location", &e.location)
        .time("timestamp", e.timestamp)
        .close(e.seq, &e.producer_id, e.label.map(Named::name));
}

pub(super) fn log(e: &LogEntry, out: &mut Vec<u8>) {
    Object::open(out)
        .time("timestamp", e.timestamp)
        .str("service", &e.service)
        .str("endpoint", &e.endpoint)
        .str("level", e.level.name())
        .u64("status_code", u64::from(e.status_code))
        .f64("response_time_ms", e.response_time_ms)
        .str("message", &e.message)
        .close(e.seq, &e.producer_id, e.label.map(Named::name));
}
