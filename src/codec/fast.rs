//! A fast path for decoding the flat JSON objects our producers write. One pass over the
//! bytes, straight into a reused event: string buffers are refilled, not reallocated, so a
//! consumer that decodes into the same event allocates nothing. Keys are matched against the
//! stream's field list in the order our producers write them (one comparison per key when the
//! order holds), strings are scanned eight bytes at a time, numbers are checked against the
//! JSON grammar and parsed by the standard library.
//!
//! Fields, their order and how each value is stored come from the stream's schema
//! (`schema.rs`), their names from the topic's field mapping. It accepts only what it fully
//! understands (known fields once each, the key and a metric, strings without escapes, JSON
//! numbers, values the schema takes) and declines anything else, so that the general reader
//! decides, notes and words every other input. For inputs it accepts it builds exactly what
//! the general reader would (a property test holds it to that).

use super::schema::{Schema, Value};

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

    /// The index in `names` of the next key, trying `guess` first.
    fn key(&mut self, names: &[Box<str>], guess: usize) -> Option<usize> {
        if let Some(name) = names.get(guess)
            && self.eat_key(name)
        {
            return Some(guess);
        }
        let k = self.string()?;
        names.iter().position(|n| **n == *k)
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

    // Inlined so that the value stays in registers: returned through memory, it is written
    // in pieces and read back whole, which stalls (a visible share of a decode).
    #[inline(always)]
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

/// Walks `{"k": v, ...}` with keys from `names`, calling `f` with each key's index; false if
/// the text is anything else or `f` declines.
fn object<'a>(
    text: &'a str,
    names: &[Box<str>],
    mut f: impl FnMut(usize, Value<'a>) -> bool,
) -> bool {
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
            let Some(field) = c.key(names, guess) else {
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

/// Decodes `b` into `out` through its schema, field `i` named `names[i]`, reusing its string
/// buffers. Which fields the message carried (bit i: field i), or `None` if `b` is anything
/// but our flat form; `out` then holds a mix of old and new fields and must be decoded again.
pub fn decode<T: Schema>(b: &[u8], names: &[Box<str>], out: &mut T) -> Option<u64> {
    let text = std::str::from_utf8(b).ok()?;
    let mut seen = 0u64;
    let ok = object(text, names, |i, v| {
        let fresh = seen & (1 << i) == 0;
        seen |= 1 << i;
        fresh && out.set(i, v).is_ok()
    });
    let (key, metrics) = T::MASKS;
    if !ok || seen & key != key || seen & metrics == 0 {
        return None;
    }
    for i in 0..T::FIELDS.len() {
        if seen & (1 << i) == 0 {
            out.clear(i);
        }
    }
    Some(seen)
}
