//! Event time: milliseconds since the Unix epoch, written as RFC 3339 UTC on the wire.
//!
//! Formatting is done by hand (days-to-civil) because it runs once per produced event; parsing
//! takes the same shape on a fast path and falls back to a full RFC 3339 parser. Other
//! producers' times are read too: ISO 8601 without a zone (as UTC), and epoch seconds or
//! milliseconds.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Hour of day (0..24, fractional) in UTC shifted by `offset_hours`.
    pub fn hour_of_day(self, offset_hours: f64) -> f64 {
        // Integer milliseconds: exact, and no floating-point remainder per event.
        let offset_ms = (offset_hours * 3_600_000.0) as i64;
        let ms = self.0.saturating_add(offset_ms).rem_euclid(86_400_000);
        ms as f64 / 3_600_000.0
    }

    /// The time of day in UTC, `HH:MM:SS`.
    pub fn clock(self) -> String {
        let sod = self.0.div_euclid(1000).rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` into a fixed buffer.
    pub fn to_rfc3339(self) -> [u8; 24] {
        let ms = self.0.rem_euclid(1000) as u32;
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        let mut b = *b"0000-00-00T00:00:00.000Z";
        put(&mut b[0..4], y.clamp(0, 9999) as u32);
        put(&mut b[5..7], m);
        put(&mut b[8..10], d);
        put(&mut b[11..13], sod / 3600);
        put(&mut b[14..16], sod / 60 % 60);
        put(&mut b[17..19], sod % 60);
        put(&mut b[20..23], ms);
        b
    }

    /// Parses RFC 3339 (any offset, any fraction); `None` if it is not a valid time.
    pub fn parse(s: &str) -> Option<Self> {
        fast_parse(s.as_bytes()).or_else(|| {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()?;
            Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
        })
    }

    /// Parses a time as other producers write it: RFC 3339, ISO 8601 without a zone (read as
    /// UTC, `T` or a space between date and time), or epoch seconds or milliseconds as text.
    pub fn parse_any(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some(t) = Self::parse(s) {
            return Some(t);
        }
        if let Ok(x) = s.parse::<f64>() {
            return Self::from_epoch(x);
        }
        let format = time::macros::format_description!(
            "[year]-[month]-[day][first [T][ ]][hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
        );
        let t = time::PrimitiveDateTime::parse(s, format).ok()?.assume_utc();
        Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// An epoch number: seconds when below 10^11 (until the year 5138), else milliseconds.
    /// `None` beyond year 9999 or not finite.
    pub fn from_epoch(x: f64) -> Option<Self> {
        const MAX_MS: f64 = 253_402_300_799_999.0;
        let ms = if x.abs() < 1e11 { x * 1000.0 } else { x };
        (ms.is_finite() && ms.abs() <= MAX_MS).then(|| Timestamp(ms.round() as i64))
    }
}

fn put(dst: &mut [u8], mut v: u32) {
    for slot in dst.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn fast_parse(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 24 || b[4] != b'-' || b[10] != b'T' || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    Some(Timestamp(secs * 1000 + i64::from(ms)))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_rfc3339();
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.to_rfc3339();
        s.serialize_str(std::str::from_utf8(&b).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).ok_or_else(|| E::custom(format!("invalid timestamp {v:?}")))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_known_instant() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_796_000_000_123).to_string(),
            "2026-11-30T00:53:20.123Z"
        );
    }

    #[test]
    fn clock_is_the_utc_time_of_day() {
        assert_eq!(Timestamp(1_796_000_000_123).clock(), "00:53:20");
        assert_eq!(Timestamp(-1).clock(), "23:59:59");
    }

    #[test]
    fn reads_other_producers_times() {
        let t = Timestamp(1_796_000_000_123);
        for s in [
            "2026-11-30T00:53:20.123Z",
            "2026-11-30T01:53:20.123+01:00",
            "2026-11-30T00:53:20.123",
            "2026-11-30 00:53:20.123",
            "1796000000.123",
            "1796000000123",
        ] {
            assert_eq!(Timestamp::parse_any(s), Some(t), "{s}");
        }
        assert_eq!(
            Timestamp::parse_any("2026-11-30T00:53"),
            Some(Timestamp(1_796_000_000_000 - 20_000))
        );
        assert_eq!(
            Timestamp::from_epoch(1_796_000_000.0),
            Some(Timestamp(1_796_000_000_000))
        );
        assert_eq!(Timestamp::from_epoch(1e300), None);
        assert_eq!(Timestamp::parse_any("yesterday"), None);
    }

    #[test]
    fn parses_other_offsets() {
        let t = Timestamp::parse("2026-11-30T01:53:20.123+01:00").unwrap();
        assert_eq!(t, Timestamp(1_796_000_000_123));
        assert_eq!(Timestamp::parse("not a time"), None);
        assert_eq!(Timestamp::parse("2026-13-30T04:53:20.123Z"), None);
    }

    proptest! {
        #[test]
        fn round_trips_and_agrees_with_time_crate(ms in 0i64..253_402_300_799_000) {
            let t = Timestamp(ms);
            let s = t.to_string();
            prop_assert_eq!(Timestamp::parse(&s), Some(t));
            let reference = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).unwrap();
            prop_assert_eq!((reference.unix_timestamp_nanos() / 1_000_000) as i64, ms);
        }
    }
}
