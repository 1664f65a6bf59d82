//! The general reader: any JSON a message may hold, read through the stream's schema.
//! serde_json parses (and words every syntax error); the schema decides what each field
//! means, which fields a message must carry, and words every other reject.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::RejectReason;
use super::schema::{Problem, Schema, Value};

/// Why the reader turned a message down: a reason and its wording.
pub(super) type Refusal = (RejectReason, String);

/// Reads `bytes` into `out` through `fields`; on `Err` `out` is a mix of old and new fields.
pub(super) fn read<T: Schema>(bytes: &[u8], out: &mut T) -> Result<(), Refusal> {
    let mut reader = Reader {
        out,
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
        Category::Data => RejectReason::WrongType,
    }
}

struct Reader<'a, T> {
    out: &'a mut T,
    /// Bit i: field i was present.
    seen: u64,
    /// The first problem met; the parse is abandoned with it.
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

    /// Stores one field's value.
    fn field<E: de::Error>(&mut self, key: &str, value: &serde_json::Value) -> Result<(), E> {
        let Some(i) = T::FIELDS.iter().position(|f| f.name == key) else {
            return Err(self.refuse(RejectReason::UnknownField, format!("unknown field `{key}`")));
        };
        if self.seen & (1 << i) != 0 {
            return Err(self.refuse(RejectReason::WrongType, format!("duplicate field `{key}`")));
        }
        self.seen |= 1 << i;
        let v = value_of(value, &mut self.number);
        let Err(p) = self.out.set(i, v) else {
            return Ok(());
        };
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

    /// Checks that every required field came and clears the optional ones that did not.
    fn finish(self) -> Result<(), Refusal> {
        for (i, f) in T::FIELDS.iter().enumerate() {
            if self.seen & (1 << i) != 0 {
                continue;
            }
            if f.required() {
                let detail = format!("missing field `{}`", f.name);
                return Err((RejectReason::MissingField, detail));
            }
            self.out.clear(i);
        }
        Ok(())
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
            let value: serde_json::Value = map.next_value()?;
            self.field(&key, &value)?;
        }
        Ok(())
    }
}
