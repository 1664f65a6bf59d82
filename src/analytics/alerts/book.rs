//! The alert book: every detector firing is filed as evidence into its entity's open alert,
//! which fires when the policy says the evidence is enough, resolves after a quiet period,
//! and is held firing when it flaps. Entities that reported steadily and fall silent get a
//! no-data alert. Time is the stream's event time, so a backlog read at full speed lives
//! through the same incidents as the live stream did; when no event comes at all, wall time
//! moves the clock on (`idle`).
//!
//! During an incident most firings repeat evidence already held, so filing one costs a hash
//! lookup by borrowed name: a message is only written for evidence it changes.

use std::collections::VecDeque;

use compact_str::CompactString;
use hashbrown::HashMap;

use super::policy::{AlertPolicy, RuleClass};
use super::{Alert, AlertContext, AlertState, Evidence, Firing, Mark, Reason, Scope, Severity};
use crate::streams::{StreamKind, Timestamp};

/// The rule of a no-data alert.
pub const NODATA: &str = "no_data";
/// The key of a whole stream's no-data alert (no entity is named so).
const STREAM_KEY: &str = "";
/// Rules whose findings are about the stream, not an entity.
const STREAM_RULES: &[&str] = &["drift"];
/// Firings an alert's timeline keeps.
const TIMELINE: usize = 24;
/// How often (event time) open alerts are checked for quiet...
const SWEEP_MS: i64 = 250;
/// ...and steady entities for silence.
const SILENCE_CHECK_MS: i64 = 1_000;
/// Wall time without events after which wall time moves the clock (`idle`): longer than a
/// pause between a consumer's fetches, short against `resolve_after`.
const IDLE_AFTER_MS: i64 = 1_000;
/// Entities watched for silence, at most: the steady reporters, not every customer.
const STEADY_CAP: usize = 4096;

/// When an entity was last heard from, and how often it reports.
#[derive(Debug, Clone, Copy)]
struct Seen {
    last: i64,
    mean_gap: f64,
    reports: u32,
    steady: bool,
}

#[derive(Debug, Clone)]
pub struct AlertBook {
    stream: StreamKind,
    policy: AlertPolicy,
    /// Each rule's class, as met.
    classes: Vec<(&'static str, RuleClass)>,
    /// Pending and firing alerts, by entity.
    open: HashMap<CompactString, Alert>,
    /// No-data alerts, by entity.
    silent: HashMap<CompactString, Alert>,
    /// Resolved alerts, newest first.
    closed: VecDeque<Alert>,
    cap: usize,
    next_id: u64,
    fired: u64,
    /// The latest event time seen, in ms.
    clock: i64,
    next_sweep: i64,
    next_silence_check: i64,
    /// Entities are not watched for silence: many were seen and none reports steadily (a
    /// stream of 10,000 customers), so the per-event bookkeeping would buy nothing.
    presence_off: bool,
    /// Since when (wall time) and from which clock no event has come, by `idle`'s calls,
    /// and whether events came since the last call.
    quiet_since: Option<(i64, i64)>,
    /// The latest event time, apart from what `idle` added to the clock.
    events_clock: i64,
    /// `idle` moved the clock past the events: the next event takes it back.
    idled: bool,
    heard_since_idle: bool,
    /// Alerts that fired or resolved since the last `drain_changes`.
    changed: Vec<Alert>,
    /// Per entity, when its recent alerts resolved (for flapping).
    resolves: HashMap<CompactString, VecDeque<i64>>,
    seen: HashMap<CompactString, Seen>,
    steady: Vec<CompactString>,
}

impl AlertBook {
    pub fn new(stream: StreamKind, policy: AlertPolicy, cap: usize) -> Self {
        Self {
            stream,
            policy,
            classes: Vec::new(),
            open: HashMap::new(),
            silent: HashMap::new(),
            closed: VecDeque::new(),
            cap: cap.max(1),
            next_id: 0,
            fired: 0,
            clock: i64::MIN,
            next_sweep: i64::MIN,
            next_silence_check: i64::MIN,
            presence_off: false,
            quiet_since: None,
            events_clock: i64::MIN,
            idled: false,
            heard_since_idle: false,
            changed: Vec::new(),
            resolves: HashMap::new(),
            seen: HashMap::new(),
            steady: Vec::new(),
        }
    }

    /// An event of `entity` at `t` arrived: moves the clock, resolves what has been quiet
    /// long enough, and ends the entity's silence.
    pub fn heard(&mut self, entity: &str, t: Timestamp) {
        self.heard_since_idle = true;
        self.events_clock = self.events_clock.max(t.millis());
        if std::mem::take(&mut self.idled) {
            // Events again after a silence (an outage, then its backlog): time is theirs
            // again, not the wall's, or every alert of the backlog would be over at once.
            self.clock = self.events_clock;
            self.next_sweep = self.clock;
            self.next_silence_check = self.clock;
        }
        self.advance(t.millis());
        self.note_seen(entity, self.clock.max(t.millis()));
    }

    /// Files one detector firing as evidence. `message` is called only when the evidence is
    /// new to the alert or worse than what it held. Returns whether the evidence is new.
    pub fn file(&mut self, f: Firing<'_>, message: impl FnOnce() -> String) -> bool {
        self.advance(f.time.millis());
        let class = self.class(f.rule);
        if !self.open.contains_key(f.entity) {
            let scope = if STREAM_RULES.contains(&f.rule) {
                Scope::Stream
            } else {
                Scope::Entity
            };
            let alert = self.new_alert(&f, scope);
            self.open.insert(CompactString::new(f.entity), alert);
        }
        let Some(a) = self.open.get_mut(f.entity) else {
            return false;
        };
        let context = class == RuleClass::Evidence;
        let new = add_evidence(a, &f, message, (self.policy.run_gap_ms, context));
        if a.state == AlertState::Pending && fires(a, &f, class, &self.policy) {
            a.state = AlertState::Firing;
            a.fired_at = Some(f.time);
            a.fired_by = Some(f.rule);
            self.fired += 1;
            self.changed.push(a.clone());
        }
        new
    }

    /// A rule's class, looked up in the policy once per rule (firings are frequent, rules
    /// few).
    fn class(&mut self, rule: &'static str) -> RuleClass {
        if let Some((_, c)) = self.classes.iter().find(|(r, _)| *r == rule) {
            return *c;
        }
        let c = self.policy.class(self.stream, rule);
        self.classes.push((rule, c));
        c
    }

    /// Gives an entity's open alert the reasons of a model's evidence.
    pub fn set_reasons(&mut self, entity: &str, reasons: Vec<Reason>) {
        if let Some(a) = self.open.get_mut(entity) {
            a.reasons = reasons;
        }
    }

    /// Called now and then with the wall time: once no event has come for `IDLE_AFTER_MS`,
    /// the wall time that passes moves the clock on, so that alerts resolve and silence
    /// shows even when nothing arrives.
    pub fn idle(&mut self, wall_ms: i64) {
        let heard = std::mem::take(&mut self.heard_since_idle);
        let (since, clock) = match self.quiet_since {
            Some(q) if !heard => q,
            _ => {
                self.quiet_since = Some((wall_ms, self.clock));
                return;
            }
        };
        let quiet = wall_ms - since;
        if quiet >= IDLE_AFTER_MS && clock != i64::MIN {
            self.idled = true;
            self.advance(clock + quiet);
        }
    }

    fn advance(&mut self, t: i64) {
        if t <= self.clock {
            return;
        }
        self.clock = t;
        if t >= self.next_sweep {
            self.next_sweep = t + SWEEP_MS;
            self.sweep();
        }
        if t >= self.next_silence_check {
            self.next_silence_check = t + SILENCE_CHECK_MS;
            self.watch_silence(t);
        }
    }

    /// Resolves (or drops, if pending) the alerts quiet long enough.
    fn sweep(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let now = self.clock;
        let p = &self.policy;
        let quiet_for = |a: &Alert| {
            let (since, hold) = match (a.state, a.flapping) {
                (AlertState::Pending, _) => (a.first_seen, p.resolve_after_ms),
                (_, true) => (a.last_seen, p.flap_hold_ms),
                (_, false) => (a.last_seen, p.resolve_after_ms),
            };
            now - since.millis() > hold
        };
        if !self.open.values().any(quiet_for) {
            return;
        }
        let quiet: Vec<CompactString> = self
            .open
            .iter()
            .filter(|(_, a)| quiet_for(a))
            .map(|(k, _)| k.clone())
            .collect();
        for key in quiet {
            self.end(key, now);
        }
    }

    /// An open alert has been quiet: a pending one is dropped, a firing one resolves unless
    /// it flaps, in which case it is held.
    fn end(&mut self, key: CompactString, now: i64) {
        let Some(mut a) = self.open.remove(&key) else {
            return;
        };
        if a.state == AlertState::Pending {
            return;
        }
        if !a.flapping && self.flaps(&key, now) {
            a.flapping = true;
            self.open.insert(key, a);
            return;
        }
        a.state = AlertState::Resolved;
        a.resolved_at = Some(Timestamp(now));
        self.changed.push(a.clone());
        self.closed.push_front(a);
        self.closed.truncate(self.cap);
    }

    /// Records a resolve of `key`'s alert; true when it makes the entity flap.
    fn flaps(&mut self, key: &CompactString, now: i64) -> bool {
        let p = &self.policy;
        let times = self.resolves.entry(key.clone()).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now - t > p.flap_window_ms) {
            times.pop_front();
        }
        let flapping = times.len() >= p.flap_count;
        if self.resolves.len() > self.cap * 8 {
            let horizon = now - p.flap_window_ms;
            self.resolves
                .retain(|_, t| t.back().is_some_and(|&x| x >= horizon));
        }
        flapping
    }

    fn note_seen(&mut self, entity: &str, t: i64) {
        if self.presence_off {
            return;
        }
        if self.seen.len() >= STEADY_CAP && self.steady.is_empty() {
            self.presence_off = true;
            self.seen = HashMap::new();
            return;
        }
        let p = &self.policy;
        if !self.seen.contains_key(entity) {
            let first = Seen {
                last: t,
                mean_gap: 0.0,
                reports: 0,
                steady: false,
            };
            self.seen.insert(CompactString::new(entity), first);
        }
        let Some(s) = self.seen.get_mut(entity) else {
            return;
        };
        let gap = (t - s.last).max(0) as f64;
        s.last = t.max(s.last);
        s.reports = s.reports.saturating_add(1);
        s.mean_gap += (gap - s.mean_gap) / f64::from(s.reports.min(64));
        if !s.steady
            && s.reports >= p.steady_reports
            && s.mean_gap <= p.steady_interval_ms
            && self.steady.len() < STEADY_CAP
        {
            s.steady = true;
            self.steady.push(CompactString::new(entity));
        }
        if self.silent.is_empty() {
            return;
        }
        for key in [entity, STREAM_KEY] {
            if let Some(mut a) = self.silent.remove(key) {
                if key == STREAM_KEY {
                    // The stream is back: every entity has its usual time to report again.
                    for e in &self.steady {
                        if let Some(s) = self.seen.get_mut(e) {
                            s.last = s.last.max(t);
                        }
                    }
                }
                a.state = AlertState::Resolved;
                a.resolved_at = Some(Timestamp(t));
                self.changed.push(a.clone());
                self.closed.push_front(a);
                self.closed.truncate(self.cap);
            }
        }
    }

    /// Steady entities past their silence limit get a no-data alert each; when most of
    /// them fall silent together, the stream has stopped: one alert says so.
    fn watch_silence(&mut self, now: i64) {
        if self.steady.is_empty() {
            return;
        }
        let p = &self.policy;
        let silent: Vec<(CompactString, Seen, f64)> = self
            .steady
            .iter()
            .filter_map(|e| {
                let s = self.seen.get(e)?;
                let limit = (p.silence_factor * s.mean_gap).max(p.silence_min_ms as f64);
                ((now - s.last) as f64 > limit).then(|| (e.clone(), *s, limit))
            })
            .collect();
        if silent.len() > 1 && silent.len() * 2 > self.steady.len() {
            if !self.silent.contains_key(STREAM_KEY) {
                let last = silent.iter().map(|(_, s, _)| s.last).max().unwrap_or(now);
                let limit = silent.iter().map(|(_, _, l)| *l).fold(0.0, f64::max);
                self.raise_silence(STREAM_KEY, Scope::Stream, last, limit, now);
            }
            return;
        }
        for (e, s, limit) in silent {
            if !self.silent.contains_key(&e) {
                self.raise_silence(&e, Scope::Entity, s.last, limit, now);
            }
        }
    }

    fn raise_silence(&mut self, entity: &str, scope: Scope, last: i64, limit: f64, now: i64) {
        let silent_s = (now - last) as f64 / 1000.0;
        let f = Firing {
            stream: self.stream,
            entity,
            rule: NODATA,
            severity: Severity::Critical,
            value: silent_s,
            expected: (0.0, limit / 1000.0),
            time: Timestamp(now),
        };
        let mut a = new_alert(&mut self.next_id, &f, scope);
        let who = match scope {
            Scope::Stream => format!("the {} stream", self.stream.name()),
            Scope::Entity => entity.to_string(),
        };
        let message = || format!("{who} has sent nothing for {silent_s:.0} s");
        add_evidence(&mut a, &f, message, (i64::MAX, false));
        a.first_seen = Timestamp(last);
        a.state = AlertState::Firing;
        a.fired_at = Some(Timestamp(now));
        a.fired_by = Some(NODATA);
        self.fired += 1;
        self.changed.push(a.clone());
        self.silent.insert(CompactString::new(entity), a);
    }

    fn new_alert(&mut self, f: &Firing<'_>, scope: Scope) -> Alert {
        new_alert(&mut self.next_id, f, scope)
    }

    /// Alerts that fired or resolved since the last call, oldest first.
    pub fn drain_changes(&mut self) -> std::vec::Drain<'_, Alert> {
        self.changed.drain(..)
    }

    /// Firing alerts first, then pending, then resolved (newest first within each).
    pub fn listing(&self, n: usize) -> Vec<Alert> {
        let mut live: Vec<&Alert> = self.open.values().chain(self.silent.values()).collect();
        live.sort_by(|a, b| {
            (b.state == AlertState::Firing)
                .cmp(&(a.state == AlertState::Firing))
                .then(b.last_seen.cmp(&a.last_seen))
                .then(b.id.cmp(&a.id))
        });
        live.into_iter()
            .chain(self.closed.iter())
            .take(n)
            .cloned()
            .collect()
    }

    /// Every alert held: open ones (any order), then resolved ones newest first.
    pub fn history(&self) -> impl Iterator<Item = &Alert> {
        self.open
            .values()
            .chain(self.silent.values())
            .chain(self.closed.iter())
    }

    /// The entity's alert, if one is open.
    pub fn open_alert(&self, entity: &str) -> Option<&Alert> {
        self.open.get(entity)
    }

    /// The entity's open alert, to note what the models or the event say about it.
    pub fn open_alert_mut(&mut self, entity: &str) -> Option<&mut Alert> {
        if self.open.is_empty() {
            return None;
        }
        self.open.get_mut(entity)
    }

    /// Alerts that reached firing since the start.
    pub fn total(&self) -> u64 {
        self.fired
    }

    /// Alerts firing now.
    pub fn firing(&self) -> usize {
        self.open
            .values()
            .filter(|a| a.state == AlertState::Firing)
            .count()
            + self.silent.len()
    }

    pub fn clear(&mut self) {
        self.open.clear();
        self.silent.clear();
        self.closed.clear();
        self.changed.clear();
    }
}

fn new_alert(next_id: &mut u64, f: &Firing<'_>, scope: Scope) -> Alert {
    let id = *next_id;
    *next_id += 1;
    Alert {
        id,
        stream: f.stream,
        scope,
        entity: f.entity.to_string(),
        state: AlertState::Pending,
        flapping: false,
        rule: f.rule,
        severity: f.severity,
        value: f.value,
        expected: f.expected,
        message: String::new(),
        first_seen: f.time,
        last_seen: f.time,
        fired_at: None,
        fired_by: None,
        resolved_at: None,
        count: 0,
        evidence: Vec::new(),
        timeline: VecDeque::new(),
        reasons: Vec::new(),
        context: AlertContext::default(),
    }
}

/// Adds a firing to its detector's evidence (`context`: of a rule that is evidence only);
/// the worst evidence words the alert. Returns whether the detector is new to the alert.
fn add_evidence(
    a: &mut Alert,
    f: &Firing<'_>,
    message: impl FnOnce() -> String,
    (run_gap_ms, context): (i64, bool),
) -> bool {
    a.count += 1;
    a.first_seen = a.first_seen.min(f.time);
    a.last_seen = a.last_seen.max(f.time);
    if a.timeline.len() == TIMELINE {
        a.timeline.pop_front();
    }
    a.timeline.push_back(Mark {
        rule: f.rule,
        time: f.time,
        value: f.value,
        expected: f.expected,
    });
    let new = match a.evidence.iter_mut().find(|e| e.rule == f.rule) {
        Some(e) => {
            e.count += 1;
            if f.time.millis() - e.last.millis() > run_gap_ms {
                (e.run_start, e.run_count) = (f.time, 0);
            }
            e.run_count += 1;
            e.last = e.last.max(f.time);
            if (f.severity, f.value.abs()) > (e.severity, e.value.abs()) {
                (e.severity, e.value, e.expected) = (f.severity, f.value, f.expected);
                e.message = message();
            }
            false
        }
        None => {
            a.evidence.push(Evidence {
                rule: f.rule,
                severity: f.severity,
                count: 1,
                first: f.time,
                last: f.time,
                value: f.value,
                expected: f.expected,
                message: message(),
                context,
                run_start: f.time,
                run_count: 1,
            });
            true
        }
    };
    headline(a);
    new
}

/// The alert's headline: its worst evidence, the earliest among equals; a rule that is
/// evidence only (a model's) words it only when no other rule gave evidence.
fn headline(a: &mut Alert) {
    let rank = |e: &Evidence| (!e.context, e.severity);
    let Some(w) = a
        .evidence
        .iter()
        .reduce(|w, e| if rank(e) > rank(w) { e } else { w })
    else {
        return;
    };
    let same =
        a.rule == w.rule && a.severity == w.severity && a.value.to_bits() == w.value.to_bits();
    if !same || a.message.is_empty() {
        a.rule = w.rule;
        a.severity = w.severity;
        a.value = w.value;
        a.expected = w.expected;
        a.message.clone_from(&w.message);
    }
}

/// Whether a pending alert fires on this firing: a paging rule, a critical firing of an
/// alerting rule, the forest sure enough, detectors agreeing, or evidence lasting `for`.
fn fires(a: &Alert, f: &Firing<'_>, class: RuleClass, p: &AlertPolicy) -> bool {
    match class {
        RuleClass::Page => return true,
        RuleClass::Evidence => return false,
        RuleClass::Alert => {}
    }
    if f.rule == "forest" {
        return f.value >= p.forest_confidence;
    }
    if f.severity == Severity::Critical {
        return true;
    }
    let counted = a.evidence.iter().filter(|e| !e.context);
    // Detectors agree when they fired on more than one event: two readings of one odd
    // value (a z-score and a limit on the same request) are one piece of evidence.
    let several = a.timeline.iter().any(|m| m.time != f.time);
    if several && counted.clone().count() >= p.agree {
        return true;
    }
    counted
        .filter(|e| e.rule == f.rule)
        .any(|e| e.run_count >= p.for_count && e.last.millis() - e.run_start.millis() >= p.for_ms)
}
