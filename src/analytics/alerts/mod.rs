//! Alerts as an on-call person reads them: one alert per stream and entity while an incident
//! lasts, not one line per detector firing. Every detector's firing is *evidence*; the book
//! (`book.rs`) gathers an entity's evidence into its open alert and moves it through its
//! lifecycle (pending → firing → resolved, flapping held firing, no data), by the policy in
//! `policy.rs`. `quality.rs` scores the alerts against the generators' labels.

mod book;
mod policy;
mod quality;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use serde::Serialize;

use crate::streams::{StreamKind, Timestamp};

pub use book::{AlertBook, NODATA};
pub use policy::{AlertPolicy, RuleClass};
pub use quality::{AlertQuality, KindRecall, QualityBook};

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

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Evidence, not yet enough: shown in the stream view, sent nowhere.
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// What an alert is about: one entity's incident, or the stream as a whole (drift, silence),
/// which the generators' labels say nothing about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Entity,
    Stream,
}

/// One detector's part in an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub rule: &'static str,
    pub severity: Severity,
    pub count: u32,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The worst value this detector saw, and the range that would have been normal then.
    pub value: f64,
    pub expected: (f64, f64),
    pub message: String,
    /// Of a rule that is evidence only: context, never the alert's name while another rule
    /// gave evidence.
    pub context: bool,
    /// The current run of firings without a gap longer than the policy's `run_gap_ms`:
    /// when it began and how many it holds (for `for`).
    #[serde(skip)]
    pub run_start: Timestamp,
    #[serde(skip)]
    pub run_count: u32,
}

/// One firing in an alert's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mark {
    pub rule: &'static str,
    pub time: Timestamp,
    pub value: f64,
    pub expected: (f64, f64),
}

/// An alert: one entity's incident (or a stream-wide finding) with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: u64,
    pub stream: StreamKind,
    pub scope: Scope,
    pub entity: String,
    pub state: AlertState,
    /// Fired and resolved again and again: held firing until it has been quiet longer.
    pub flapping: bool,
    /// The worst evidence's rule, which names the alert (`alertname`).
    pub rule: &'static str,
    pub severity: Severity,
    /// The worst evidence's value and normal range.
    pub value: f64,
    pub expected: (f64, f64),
    /// One line: the worst evidence's message.
    pub message: String,
    /// The first and latest evidence (event time).
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub fired_at: Option<Timestamp>,
    /// The rule whose evidence fired it.
    pub fired_by: Option<&'static str>,
    pub resolved_at: Option<Timestamp>,
    /// Firings of every detector together.
    pub count: u32,
    /// Per detector, in the order they first fired.
    pub evidence: Vec<Evidence>,
    /// The latest firings, oldest first (bounded).
    #[serde(skip)]
    pub timeline: VecDeque<Mark>,
    /// For a model's evidence, the features that drove it, strongest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// What the models and the stream said about the entity's latest evidence.
    #[serde(skip)]
    pub context: AlertContext,
}

/// The models' view of an alert's entity at its latest evidence, and that event, for the
/// TUI's alert detail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertContext {
    /// The latest event that gave evidence, as JSON, and its time.
    pub event: String,
    pub event_time: Option<Timestamp>,
    /// The forest's class and vote share for the entity's latest event.
    pub forest: Option<(&'static str, f64)>,
    /// The regressor's target, its expectation and the actual value.
    pub regression: Option<(&'static str, f64, f64)>,
}

impl Alert {
    /// How long the incident has lasted so far, or lasted: first to latest evidence (event
    /// time).
    pub fn duration_ms(&self) -> i64 {
        self.last_seen.millis() - self.first_seen.millis()
    }

    /// The distinct detectors that gave evidence.
    pub fn detectors(&self) -> usize {
        self.evidence.len()
    }

    /// A stable identity for sinks (Alertmanager's fingerprint, a topic's key): the stream,
    /// entity and first evidence, hashed (FNV-1a, the same on every machine).
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let parts = [
            self.stream.name().as_bytes(),
            self.entity.as_bytes(),
            &self.first_seen.millis().to_le_bytes(),
        ];
        for b in parts.into_iter().flatten() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

/// One feature's part in a model's alert (see `ml::forest::FlatForest::explain`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reason {
    pub feature: &'static str,
    pub contribution: f64,
}

/// A detector firing: evidence for its entity's alert.
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
