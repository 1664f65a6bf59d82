//! Alerts and the alert book. Repeats of one rule on one entity within a cooldown merge into
//! the alert already open, so an incident is one line with a repeat count, not a flood.
//! During an incident most firings are such repeats, so filing one costs a hash lookup by
//! borrowed name and nothing else: the message is only written for an alert it changes.

use std::collections::VecDeque;

use hashbrown::{Equivalent, HashMap};

use serde::Serialize;

use crate::streams::{StreamKind, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert, possibly standing for several merged repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: u64,
    pub stream: StreamKind,
    pub entity: String,
    pub rule: &'static str,
    pub severity: Severity,
    /// The value that fired the rule (the worst one when repeats merged).
    pub value: f64,
    /// The range that would have been normal.
    pub expected: (f64, f64),
    pub message: String,
    pub event_time: Timestamp,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u32,
    /// For a model's alert, the features that drove it, strongest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
}

/// One feature's part in a model's alert (see `ml::forest::FlatForest::explain`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reason {
    pub feature: &'static str,
    pub contribution: f64,
}

/// A rule firing, before the book decides whether it is new or a repeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing<'a> {
    pub stream: StreamKind,
    pub entity: &'a str,
    pub rule: &'static str,
    pub severity: Severity,
    pub value: f64,
    pub expected: (f64, f64),
    pub time: Timestamp,
}

/// An open alert's key: rule and entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OpenKey {
    rule: &'static str,
    entity: String,
}

/// `OpenKey` borrowed, for lookups without allocating. Hashes as `OpenKey` does: field by
/// field, and a `String` hashes as its `str`.
#[derive(Hash)]
struct OpenRef<'a> {
    rule: &'static str,
    entity: &'a str,
}

impl Equivalent<OpenKey> for OpenRef<'_> {
    fn equivalent(&self, key: &OpenKey) -> bool {
        self.rule == key.rule && self.entity == key.entity
    }
}

/// What the book did with a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    New(u64),
    Merged(u64),
}

/// A bounded history of alerts, newest first, with cooldown merging.
#[derive(Debug, Clone)]
pub struct AlertBook {
    history: VecDeque<Alert>,
    /// Open alerts: id and time of the latest firing.
    open: HashMap<OpenKey, (u64, i64)>,
    cap: usize,
    cooldown_ms: i64,
    next_id: u64,
    total: u64,
}

impl AlertBook {
    pub fn new(cap: usize, cooldown_ms: i64) -> Self {
        Self {
            history: VecDeque::new(),
            open: HashMap::new(),
            cap: cap.max(1),
            cooldown_ms,
            next_id: 0,
            total: 0,
        }
    }

    /// Files a firing: a repeat within the cooldown merges, anything else opens a new alert.
    /// `message` is called only when the firing opens an alert or becomes the merged alert's
    /// worst case.
    pub fn file(&mut self, f: Firing<'_>, message: impl FnOnce() -> String) -> Filed {
        let t = f.time.millis();
        let key = OpenRef {
            rule: f.rule,
            entity: f.entity,
        };
        if let Some((id, last)) = self.open.get_mut(&key)
            && t - *last <= self.cooldown_ms
        {
            *last = t;
            let id = *id;
            if let Some(a) = self.get_mut(id) {
                merge(a, &f, message);
                return Filed::Merged(id);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.total += 1;
        self.history.push_front(Alert {
            id,
            stream: f.stream,
            entity: f.entity.to_string(),
            rule: f.rule,
            severity: f.severity,
            value: f.value,
            expected: f.expected,
            message: message(),
            event_time: f.time,
            first_seen: f.time,
            last_seen: f.time,
            count: 1,
            reasons: Vec::new(),
        });
        self.history.truncate(self.cap);
        self.open.insert(
            OpenKey {
                rule: f.rule,
                entity: f.entity.to_string(),
            },
            (id, t),
        );
        if self.open.len() > self.cap * 4 {
            let horizon = t - self.cooldown_ms;
            self.open.retain(|_, (_, last)| *last >= horizon);
        }
        Filed::New(id)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Alert> {
        let newest = self.next_id.checked_sub(1)?;
        let pos = usize::try_from(newest.checked_sub(id)?).ok()?;
        self.history.get_mut(pos).filter(|a| a.id == id)
    }

    /// Gives a new alert its reasons.
    pub fn set_reasons(&mut self, id: u64, reasons: Vec<Reason>) {
        if let Some(a) = self.get_mut(id) {
            a.reasons = reasons;
        }
    }

    pub fn get(&self, id: u64) -> Option<&Alert> {
        let newest = self.next_id.checked_sub(1)?;
        let pos = usize::try_from(newest.checked_sub(id)?).ok()?;
        self.history.get(pos).filter(|a| a.id == id)
    }

    /// Alerts, newest first.
    pub fn history(&self) -> impl Iterator<Item = &Alert> {
        self.history.iter()
    }

    /// Alerts opened since the start (merged repeats not counted).
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn clear(&mut self) {
        self.history.clear();
        self.open.clear();
    }
}

/// Counts a repeat into its open alert; the worst firing (by severity, then magnitude) gives
/// the alert its value and message.
fn merge(a: &mut Alert, f: &Firing<'_>, message: impl FnOnce() -> String) {
    a.count += 1;
    a.last_seen = f.time;
    if f.severity > a.severity || (f.severity == a.severity && f.value.abs() > a.value.abs()) {
        a.severity = f.severity;
        a.value = f.value;
        a.message = message();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files a warning of `rule` on `entity`; the message names the value.
    fn file(book: &mut AlertBook, entity: &str, rule: &'static str, t: i64, value: f64) -> Filed {
        let f = Firing {
            stream: StreamKind::Sensor,
            entity,
            rule,
            severity: Severity::Warning,
            value,
            expected: (0.0, 1.0),
            time: Timestamp(t),
        };
        book.file(f, || format!("{rule} on {entity}: {value}"))
    }

    #[test]
    fn repeats_within_cooldown_merge_into_one_alert() {
        let mut book = AlertBook::new(10, 30_000);
        assert_eq!(file(&mut book, "s1", "zscore", 0, 5.0), Filed::New(0));
        for i in 1..20 {
            assert_eq!(
                file(&mut book, "s1", "zscore", i * 1000, 6.0),
                Filed::Merged(0)
            );
        }
        let a = book.get(0).unwrap();
        assert_eq!(
            (a.count, a.value, a.last_seen),
            (20, 6.0, Timestamp(19_000))
        );
        assert_eq!(
            a.message, "zscore on s1: 6",
            "the worst firing words the alert"
        );
        assert_eq!(book.total(), 1);
    }

    #[test]
    fn repeats_that_change_nothing_write_no_message() {
        let mut book = AlertBook::new(10, 30_000);
        let f = |value| Firing {
            stream: StreamKind::Log,
            entity: "api",
            rule: "error_rate",
            severity: Severity::Critical,
            value,
            expected: (0.0, 1.0),
            time: Timestamp(0),
        };
        let mut written = 0;
        for v in [5.0, 4.0, 5.0, 3.0, 7.0, 1.0] {
            book.file(f(v), || {
                written += 1;
                format!("{v}")
            });
        }
        assert_eq!(written, 2, "the first firing and the worse one at 7");
        assert_eq!(book.get(0).map(|a| a.message.as_str()), Some("7"));
    }

    #[test]
    fn other_entity_rule_or_after_cooldown_is_new() {
        let mut book = AlertBook::new(10, 1000);
        file(&mut book, "s1", "zscore", 0, 5.0);
        assert_eq!(file(&mut book, "s2", "zscore", 10, 5.0), Filed::New(1));
        assert_eq!(file(&mut book, "s1", "stuck", 10, 5.0), Filed::New(2));
        assert_eq!(file(&mut book, "s1", "zscore", 5000, 5.0), Filed::New(3));
        let ids: Vec<u64> = book.history().map(|a| a.id).collect();
        assert_eq!(ids, vec![3, 2, 1, 0]);
    }

    #[test]
    fn history_is_bounded_and_merging_survives_eviction() {
        let mut book = AlertBook::new(3, 1000);
        for i in 0..10 {
            file(&mut book, &format!("s{i}"), "zscore", i, 1.0);
        }
        assert_eq!(book.history().count(), 3);
        // s0's alert fell out of the history: a repeat opens a new one instead of panicking.
        assert_eq!(file(&mut book, "s0", "zscore", 20, 1.0), Filed::New(10));
    }
}
