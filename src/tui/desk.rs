//! Acting on alerts: the feed's cursor, an alert's detail, acknowledgements, silences and the
//! text filter. The desk holds what the person at the screen decided; the alerts themselves
//! come from the consumer's snapshots. Silences are kept in a file beside the models, so
//! that they outlive a restart.

use std::collections::HashSet;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

use streamwatch::analytics::{Alert, AlertState};
use streamwatch::streams::StreamKind;

/// The silences' file, in the models' directory.
pub const SILENCES_FILE: &str = "silences.json";

/// What a silence matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matcher {
    /// This entity's alerts named by this rule.
    EntityRule,
    /// The rule's alerts on the whole stream.
    StreamRule,
}

/// The silence menu's choices, in order: matcher and minutes.
pub const SILENCE_CHOICES: [(Matcher, i64); 6] = [
    (Matcher::EntityRule, 15),
    (Matcher::EntityRule, 60),
    (Matcher::EntityRule, 240),
    (Matcher::StreamRule, 15),
    (Matcher::StreamRule, 60),
    (Matcher::StreamRule, 240),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub stream: StreamKind,
    pub rule: String,
    /// `None`: every entity of the stream.
    pub entity: Option<String>,
    /// Wall time the silence ends, ms since the epoch.
    pub until_ms: i64,
}

impl Silence {
    fn new(a: &Alert, matcher: Matcher, minutes: i64, now_ms: i64) -> Self {
        Self {
            stream: a.stream,
            rule: a.rule.to_string(),
            entity: (matcher == Matcher::EntityRule).then(|| a.entity.clone()),
            until_ms: now_ms + minutes * 60_000,
        }
    }

    pub fn matches(&self, a: &Alert, now_ms: i64) -> bool {
        now_ms < self.until_ms
            && self.stream == a.stream
            && self.rule == a.rule
            && self.entity.as_deref().is_none_or(|e| e == a.entity)
    }

    /// `rule=zscore stream=sensor entity=sensor-007`.
    pub fn describe(&self) -> String {
        let entity = self
            .entity
            .as_deref()
            .map_or_else(String::new, |e| format!(" entity={e}"));
        format!("rule={} stream={}{entity}", self.rule, self.stream.name())
    }
}

/// An alert as the desk names it: its stream and fingerprint (ids are per consumer run).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertKey {
    pub stream: StreamKind,
    pub fingerprint: String,
}

impl AlertKey {
    pub fn of(a: &Alert) -> Self {
        Self {
            stream: a.stream,
            fingerprint: a.fingerprint(),
        }
    }
}

/// What the desk shows over the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    None,
    Detail(AlertKey),
    /// The silence menu for an alert, with the choice under the cursor.
    Silence(AlertKey, usize),
    /// The silences list, with the one under the cursor.
    Silences(usize),
    /// The filter's text is being typed.
    Filter,
}

/// What a key did on the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskKey {
    /// Not the desk's: the normal bindings apply.
    Pass,
    Used,
}

pub struct Desk {
    pub modal: Modal,
    /// The feed line under the cursor.
    pub cursor: usize,
    pub filter: String,
    pub acked: HashSet<AlertKey>,
    pub silences: Vec<Silence>,
    /// Where silences are kept (`None`: not kept).
    store: Option<PathBuf>,
    /// Why the silences could not be read or written, for the alerts panel.
    pub store_error: Option<String>,
}

impl Desk {
    pub fn new(store: Option<PathBuf>) -> Self {
        let mut d = Self {
            modal: Modal::None,
            cursor: 0,
            filter: String::new(),
            acked: HashSet::new(),
            silences: Vec::new(),
            store,
            store_error: None,
        };
        d.load();
        d
    }

    fn load(&mut self) {
        let Some(path) = &self.store else { return };
        match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(s) => self.silences = s,
                Err(e) => self.store_error = Some(format!("{}: {e}", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self.store_error = Some(format!("{}: {e}", path.display())),
        }
    }

    fn save(&mut self) {
        let Some(path) = &self.store else { return };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&self.silences)?)?;
            std::fs::rename(&tmp, path)
        };
        self.store_error = write().err().map(|e| format!("{}: {e}", path.display()));
    }

    /// Drops silences that have ended.
    pub fn expire(&mut self, now_ms: i64) {
        let before = self.silences.len();
        self.silences.retain(|s| s.until_ms > now_ms);
        if self.silences.len() != before {
            self.save();
        }
    }

    pub fn silenced(&self, a: &Alert, now_ms: i64) -> bool {
        self.silences.iter().any(|s| s.matches(a, now_ms))
    }

    pub fn is_acked(&self, a: &Alert) -> bool {
        self.acked.contains(&AlertKey::of(a))
    }

    /// Whether the filter's text is in the alert's stream, rule, entity, severity or state.
    pub fn passes(&self, a: &Alert) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        [
            a.stream.name(),
            a.rule,
            a.entity.as_str(),
            a.severity.name(),
            a.state.name(),
        ]
        .iter()
        .any(|f| f.to_lowercase().contains(&needle))
    }

    /// A key while a modal is open (or the filter typed); `feed` is the alerts under the
    /// cursor's lines, `now_ms` the wall time.
    pub fn key(&mut self, key: &KeyEvent, feed: &[&Alert], now_ms: i64) -> DeskKey {
        match self.modal.clone() {
            Modal::None => DeskKey::Pass,
            Modal::Filter => {
                self.filter_key(key);
                DeskKey::Used
            }
            Modal::Detail(k) => {
                match key.code {
                    KeyCode::Esc | KeyCode::Enter => self.modal = Modal::None,
                    KeyCode::Char('a') => {
                        self.acked.insert(k);
                    }
                    KeyCode::Char('x') => self.modal = Modal::Silence(k, 0),
                    KeyCode::Char('q') => return DeskKey::Pass,
                    _ => {}
                }
                DeskKey::Used
            }
            Modal::Silence(k, choice) => {
                match key.code {
                    KeyCode::Esc => self.modal = Modal::None,
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.modal = Modal::Silence(k, (choice + 1).min(SILENCE_CHOICES.len() - 1))
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.modal = Modal::Silence(k, choice.saturating_sub(1))
                    }
                    KeyCode::Enter => {
                        if let Some(a) = feed.iter().find(|a| AlertKey::of(a) == k) {
                            let (matcher, minutes) = SILENCE_CHOICES[choice];
                            self.silences
                                .push(Silence::new(a, matcher, minutes, now_ms));
                            self.save();
                        }
                        self.modal = Modal::None;
                    }
                    _ => {}
                }
                DeskKey::Used
            }
            Modal::Silences(at) => {
                match key.code {
                    KeyCode::Esc => self.modal = Modal::None,
                    KeyCode::Down | KeyCode::Char('j') => {
                        let last = self.silences.len().saturating_sub(1);
                        self.modal = Modal::Silences((at + 1).min(last));
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.modal = Modal::Silences(at.saturating_sub(1))
                    }
                    KeyCode::Enter | KeyCode::Char('d') | KeyCode::Delete => {
                        if at < self.silences.len() {
                            self.silences.remove(at);
                            self.save();
                        }
                        let last = self.silences.len().saturating_sub(1);
                        self.modal = Modal::Silences(at.min(last));
                    }
                    _ => {}
                }
                DeskKey::Used
            }
        }
    }

    fn filter_key(&mut self, key: &KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.filter.clear();
                self.modal = Modal::None;
            }
            KeyCode::Enter => self.modal = Modal::None,
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c);
            }
            _ => {}
        }
        self.cursor = 0;
    }

    /// Opens the alert under the cursor.
    pub fn open(&mut self, feed: &[&Alert]) {
        if let Some(a) = feed.get(self.cursor) {
            self.modal = Modal::Detail(AlertKey::of(a));
        }
    }

    /// Acknowledges the alert under the cursor (kept and marked; a sink does not send it
    /// again).
    pub fn ack(&mut self, feed: &[&Alert]) {
        if let Some(a) = feed.get(self.cursor) {
            self.acked.insert(AlertKey::of(a));
        }
    }

    /// The silence menu for the alert under the cursor.
    pub fn silence(&mut self, feed: &[&Alert]) {
        if let Some(a) = feed.get(self.cursor) {
            self.modal = Modal::Silence(AlertKey::of(a), 0);
        }
    }

    /// Esc on the desk with no modal: clears the filter.
    pub fn back(&mut self) {
        self.filter.clear();
        self.cursor = 0;
    }

    /// The alert a modal is about, from the current feed.
    pub fn target<'a>(&self, feed: &[&'a Alert]) -> Option<&'a Alert> {
        let k = match &self.modal {
            Modal::Detail(k) | Modal::Silence(k, _) => k,
            _ => return None,
        };
        feed.iter().find(|a| AlertKey::of(a) == *k).copied()
    }
}

/// The feed's order: firing, then pending, then resolved; newest first within each.
pub fn feed_order(a: &Alert, b: &Alert) -> std::cmp::Ordering {
    let rank = |a: &Alert| match a.state {
        AlertState::Firing => 0,
        AlertState::Pending => 1,
        AlertState::Resolved => 2,
    };
    rank(a)
        .cmp(&rank(b))
        .then(b.last_seen.cmp(&a.last_seen))
        .then(b.id.cmp(&a.id))
}
