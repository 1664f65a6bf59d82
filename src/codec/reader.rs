//! The general reader: any JSON a message may hold, read through the stream's schema under
//! the topic's field names. serde_json parses (and words every syntax error); the schema
//! decides what each field means. It is a tolerant reader: a message is refused only when it
//! cannot be analysed (not JSON, not an object, no entity key, no metric, a metric of the
//! wrong type or implausible); fields it does not know are noted by name and skipped, and an
//! optional field it cannot read is noted and left out.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::RejectReason;
use super::schema::{Problem, Role, Schema, Value};

/// Why the reader turned a message down: a reason and its wording.
pub(super) type Refusal = (RejectReason, String);

/// What a message carried that the analysis does not use, by field name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// Fields the stream's schema does not know (as the message names them).
    pub unknown: Vec<String>,
    /// Fields of the schema whose value could not be read, and were left out.
    pub unreadable: Vec<&'static str>,
}

impl Notes {
    pub fn clear(&mut self) {
        self.unknown.clear();
        self.unreadable.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.unreadable.is_empty()
    }
}

/// Reads `bytes` into `out` through `T`'s schema, field `i` named `names[i]` on this topic.
/// Returns which fields the message carried (bit i: field i); on `Err` `out` is a mix of old
/// and new fields.
pub(super) fn read<T: Schema>(
    bytes: &[u8],
    names: &[Box<str>],
    out: &mut T,
    notes: &mut Notes,
) -> Result<u64, Refusal> {
    let mut reader = Reader {
        names,
        out,
        notes,
        seen: 0,
        refusal: None,
        number: String::new(),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = (&mut reader).deserialize(&mut de).and_then(|()| de.end());
    if let Some(r) = reader.refusal.take() {
        return Err(r);
    }
    parsed.map_err(|e| (classify(&e), e.to_string()))?;
    reader.finish()
}

fn classify(e: &serde_json::Error) -> RejectReason {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => RejectReason::NotJson,
        Category::Data => RejectReason::NotObject,
    }
}

struct Reader<'a, T> {
    names: &'a [Box<str>],
    out: &'a mut T,
    notes: &'a mut Notes,
    /// Bit i: field i was present and read.
    seen: u64,
    /// The problem that refuses the message; the parse is abandoned with it.
    refusal: Option<Refusal>,
    /// The text of the last number read (serde_json hands numbers over parsed).
    number: String,
}

impl<T: Schema> Reader<'_, T> {
    /// Records why the message is refused and returns the error that stops the parse.
    fn refuse<E: de::Error>(&mut self, reason: RejectReason, detail: String) -> E {
        let e = E::custom(&detail);
        self.refusal.get_or_insert((reason, detail));
        e
    }

    /// Stores one field's value; a null is a field left out.
    fn field<E: de::Error>(&mut self, i: usize, value: &serde_json::Value) -> Result<(), E> {
        let v = value_of(value, &mut self.number);
        if v == Value::Null {
            return Ok(());
        }
        let Err(p) = self.out.set(i, v) else {
            self.seen |= 1 << i;
            return Ok(());
        };
        let field = T::FIELDS[i];
        if matches!(field.role, Role::Time | Role::Optional) {
            self.notes.unreadable.push(field.name);
            return Ok(());
        }
        let key = &self.names[i];
        let (reason, detail) = match p {
            Problem::Type(expected) => (
                RejectReason::WrongType,
                format!("{key}: expected {}, got {}", expected.words(), v.describe()),
            ),
            Problem::Range(why) => (
                RejectReason::OutOfRange,
                format!("{key} = {} {}", v.describe(), why.words()),
            ),
        };
        Err(self.refuse(reason, detail))
    }

    /// Checks that the key and a metric came, and clears the fields that did not.
    fn finish(self) -> Result<u64, Refusal> {
        let (key, metrics) = T::MASKS;
        if self.seen & key != key {
            let missing = self.wire_names(key & !self.seen);
            return Err((
                RejectReason::MissingField,
                format!("missing field {missing}"),
            ));
        }
        if self.seen & metrics == 0 {
            let all = self.wire_names(metrics);
            return Err((
                RejectReason::MissingField,
                format!("none of the metrics {all}"),
            ));
        }
        for i in 0..T::FIELDS.len() {
            if self.seen & (1 << i) == 0 {
                self.out.clear(i);
            }
        }
        Ok(self.seen)
    }

    /// The topic's names of the fields in `mask`, for a message.
    fn wire_names(&self, mask: u64) -> String {
        let names: Vec<String> = (0..self.names.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| format!("`{}`", self.names[i]))
            .collect();
        names.join(", ")
    }
}

/// A parsed JSON value as a field sees it; numbers as their text, kept in `number`.
fn value_of<'v>(v: &'v serde_json::Value, number: &'v mut String) -> Value<'v> {
    use serde_json::Value as J;
    match v {
        J::String(s) => Value::Str(s),
        J::Number(n) => {
            number.clear();
            fmt::Write::write_fmt(number, format_args!("{n}")).ok();
            Value::Num(number)
        }
        J::Bool(b) => Value::Bool(*b),
        J::Null => Value::Null,
        J::Array(_) | J::Object(_) => Value::Nested,
    }
}

impl<'de, T: Schema> DeserializeSeed<'de> for &mut Reader<'_, T> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Schema> Visitor<'de> for &mut Reader<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match self.names.iter().position(|n| **n == *key) {
                Some(i) => {
                    let value: serde_json::Value = map.next_value()?;
                    self.field(i, &value)?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    self.notes.unknown.push(key);
                }
            }
        }
        Ok(())
    }
}
