//! When evidence is enough to fire an alert, and when an alert is over. The defaults were
//! chosen by scoring the alerts against the generators' incidents (see BENCHMARKS.md, alert
//! quality); each can be set in the config file's `[alerts]` table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::streams::StreamKind;

/// How much one detector's firing counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleClass {
    /// Fires the alert at once.
    Page,
    /// Fires at once when critical; else with another detector agreeing, or lasting `for`.
    Alert,
    /// Joins an alert as context; never fires one, nor counts as agreement.
    Evidence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    /// Evidence of one detector lasting this long (event time) fires the alert...
    pub for_ms: i64,
    /// ...when it fired at least this often, never more than `run_gap_ms` apart.
    pub for_count: u32,
    pub run_gap_ms: i64,
    /// Distinct detectors whose evidence together fires the alert.
    pub agree: usize,
    /// The forest's vote share at or above which its evidence fires the alert.
    pub forest_confidence: f64,
    /// Quiet (no evidence) after which an alert resolves; a pending alert is dropped this
    /// long after its first evidence.
    pub resolve_after_ms: i64,
    /// An entity whose alerts resolved this often within `flap_window_ms` is flapping: its
    /// alert is held firing until quiet for `flap_hold_ms`.
    pub flap_count: usize,
    pub flap_window_ms: i64,
    pub flap_hold_ms: i64,
    /// No data: an entity that reported at least `steady_reports` times, at most
    /// `steady_interval_ms` apart on average, is missing after `silence_factor` of its mean
    /// interval (and at least `silence_min_ms`).
    pub steady_reports: u32,
    pub steady_interval_ms: f64,
    pub silence_factor: f64,
    pub silence_min_ms: i64,
    /// Per rule, by name (`zscore`) or stream and name (`log.zscore`, which wins), where a
    /// rule's default class is not wanted.
    pub rules: BTreeMap<String, RuleClass>,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            for_ms: 3_000,
            for_count: 5,
            run_gap_ms: 1_000,
            agree: 2,
            forest_confidence: 0.9,
            resolve_after_ms: 5_000,
            flap_count: 3,
            flap_window_ms: 300_000,
            flap_hold_ms: 30_000,
            steady_reports: 20,
            steady_interval_ms: 5_000.0,
            silence_factor: 40.0,
            silence_min_ms: 3_000,
            rules: BTreeMap::new(),
        }
    }
}

/// Each rule's class where the config file does not say (a stream's entry wins over the
/// rule's): the detectors that lowered precision without adding recall are evidence
/// (BENCHMARKS.md, alert quality).
const DEFAULT_CLASSES: &[(&str, RuleClass)] = &[
    ("offline", RuleClass::Page),
    ("threshold", RuleClass::Page),
    ("stuck", RuleClass::Page),
    // A single slow request, however slow, is the services' tail, not an incident.
    ("log.threshold", RuleClass::Evidence),
    ("log.zscore", RuleClass::Evidence),
    ("forest", RuleClass::Evidence),
    ("half_space", RuleClass::Evidence),
    ("residual", RuleClass::Evidence),
    ("consecutive", RuleClass::Evidence),
];

impl AlertPolicy {
    /// The class of `stream`'s `rule`: the config file's, else its default.
    pub fn class(&self, stream: StreamKind, rule: &str) -> RuleClass {
        let scoped = |r: &str| {
            r.split_once('.')
                .is_some_and(|(s, r)| s == stream.name() && r == rule)
        };
        let configured = || {
            let mut hits = self.rules.iter().filter(|(r, _)| scoped(r));
            hits.next().or_else(|| self.rules.get_key_value(rule))
        };
        if let Some((_, c)) = configured() {
            return *c;
        }
        let defaults = || DEFAULT_CLASSES.iter();
        defaults()
            .find(|(r, _)| scoped(r))
            .or_else(|| defaults().find(|(r, _)| *r == rule))
            .map_or(RuleClass::Alert, |(_, c)| *c)
    }
}
