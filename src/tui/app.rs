//! The TUI's state. It changes only in `update`, which takes every event the loop reads
//! (ticks, keys, the consumer's messages) and returns the effects the loop must carry out
//! (control messages to the producer and consumer, quitting); the app also says when what it
//! shows has changed (`needs_redraw`). So the state logic is testable without a terminal.

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::KeyEvent;

use super::desk::{Desk, DeskKey, feed_order};
use super::event::{Event, Tick};
use super::keys::{Action, action_for};
use crate::kafka::consumer::{ConsumerControl, ConsumerEvent, ConsumerSnapshot};
use crate::kafka::producer::{Control, RunState, StreamDelivery};
use streamwatch::analytics::{Alert, AlertState, Severity};
use streamwatch::streams::Timestamp;
use streamwatch::streams::{PerStream, StreamKind};

/// Problems of the app itself kept for the alerts panel.
pub const PROBLEM_HISTORY: usize = 50;
/// Rate steps for `+`/`-`, in events per second per stream; 0 = unpaced.
pub const RATE_STEPS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0,
    20_000.0, 50_000.0, 0.0,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Stream(StreamKind),
}

/// What `update` asks the loop to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    Producer(Control),
    Consumer(ConsumerControl),
    /// Write the screen and the view's history to files (`ctrl-s`).
    Save,
    Quit,
}

/// A line in the alerts panel: a stream alert (from the consumer's alert books, so repeat
/// counts stay current) or a problem the app itself met (pinned on top).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlertLine<'a> {
    Stream(&'a Alert),
    System(&'a Problem),
}

/// A problem reported by a task (broker gone, send failed, commit failed).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub message: String,
    pub severity: Severity,
    pub uptime: Duration,
}

pub struct App {
    pub view: View,
    /// The stream `s`, `p`, `+`, `-` act on in the overview.
    pub selected: StreamKind,
    pub broker: String,
    pub embedded: bool,
    pub uptime: Duration,
    /// The snapshot on screen (held while frozen).
    pub shown: Option<Box<ConsumerSnapshot>>,
    latest: Option<Box<ConsumerSnapshot>>,
    pub frozen: bool,
    pub delivery: PerStream<StreamDelivery>,
    pub produced_rate: PerStream<f64>,
    last_acked: PerStream<u64>,
    last_tick: Duration,
    pub rates: PerStream<f64>,
    pub problems: VecDeque<Problem>,
    /// The alerts the person at the screen acts on: cursor, detail, acks, silences, filter.
    pub desk: Desk,
    /// Alerts the sinks were told to forget (acknowledged or silenced here).
    told_quiet: std::collections::HashSet<String>,
    /// What the last `ctrl-s` wrote (or why it could not), for the footer, and when.
    pub saved_note: Option<(String, Duration)>,
    /// Sinks that are down, for the header (`alertmanager down since …, N queued`).
    pub sink_trouble: Option<String>,
    /// Wall time, ms since the epoch, as of the latest tick (silences end by it).
    pub wall_ms: i64,
    pub help: bool,
    /// Draw without colour (`NO_COLOR`).
    pub no_colour: bool,
    pub quitting: bool,
    pub producer_error: Option<String>,
    /// What is on screen no longer matches the state: draw now.
    dirty: bool,
    /// Something arrived that the screen does not show yet: draw on the next tick (so that
    /// a flood of snapshots costs one frame per tick, not one each).
    stale: bool,
}

impl App {
    pub fn new(broker: String, embedded: bool, rate: f64, running: &[StreamKind]) -> Self {
        let delivery = PerStream::from_fn(|k| {
            let state = if running.contains(&k) {
                RunState::Running
            } else {
                RunState::Stopped
            };
            StreamDelivery::idle(state, rate)
        });
        Self {
            view: View::Overview,
            selected: StreamKind::Sensor,
            broker,
            embedded,
            uptime: Duration::ZERO,
            shown: None,
            latest: None,
            frozen: false,
            delivery,
            produced_rate: PerStream::default(),
            last_acked: PerStream::default(),
            last_tick: Duration::ZERO,
            rates: PerStream::splat(rate),
            problems: VecDeque::new(),
            desk: Desk::new(None),
            told_quiet: std::collections::HashSet::new(),
            sink_trouble: None,
            saved_note: None,
            wall_ms: 0,
            help: false,
            no_colour: false,
            quitting: false,
            producer_error: None,
            dirty: true,
            stale: false,
        }
    }

    /// Whether the screen must be drawn again.
    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    /// The screen now shows the state.
    pub fn drawn(&mut self) {
        self.dirty = false;
    }

    /// The stream the current view is about (the selected one in the overview).
    pub fn focus(&self) -> StreamKind {
        match self.view {
            View::Stream(k) => k,
            View::Overview => self.selected,
        }
    }

    /// Takes one event; returns what the loop must do.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Tick(t) => self.tick(*t),
            Event::Key(k) => {
                self.dirty = true;
                return self.handle_key(k);
            }
            Event::Scroll { down } => {
                self.dirty = true;
                self.apply(if down {
                    Action::ScrollDown
                } else {
                    Action::ScrollUp
                });
            }
            Event::Resize => self.dirty = true,
            Event::Consumer(c) => self.consumer(c),
            Event::InputClosed(why) => {
                tracing::warn!(%why, "terminal input closed");
                self.quitting = true;
                return vec![Effect::Quit];
            }
            Event::Signal(name) => {
                tracing::info!(signal = name, "stopping");
                self.quitting = true;
                return vec![Effect::Quit];
            }
        }
        Vec::new()
    }

    fn consumer(&mut self, event: ConsumerEvent) {
        match event {
            ConsumerEvent::Snapshot(s) => {
                if !self.frozen {
                    self.shown = Some(s.clone());
                }
                self.latest = Some(s);
                self.stale = true;
            }
            // The screen reads alerts from the books in the snapshots; events are not sent to it.
            ConsumerEvent::Alert(_) | ConsumerEvent::Analysed(_) => {}
            ConsumerEvent::Problem(p) => {
                self.push_problem(p);
                self.stale = true;
            }
            ConsumerEvent::Finished(_) => {
                self.push_problem("the consumer stopped".into());
                self.dirty = true;
            }
        }
    }

    /// An idle screen redraws only when its clock or its counters move.
    fn tick(&mut self, t: Tick) {
        let changed = self.stale
            || t.delivery != self.delivery
            || t.uptime.as_secs() != self.uptime.as_secs();
        if changed {
            self.dirty = true;
            self.stale = false;
        }
        let Tick {
            uptime,
            delivery,
            producer_error,
        } = t;
        let dt = (uptime.saturating_sub(self.last_tick)).as_secs_f64();
        // Over a second or more: a producer paced by its consumer sends in bursts.
        if dt >= 1.0 {
            for (k, d) in delivery.iter() {
                self.produced_rate[k] = d.acked.saturating_sub(self.last_acked[k]) as f64 / dt;
                self.last_acked[k] = d.acked;
            }
            self.last_tick = uptime;
        }
        if producer_error.is_some()
            && producer_error != self.producer_error
            && let Some(e) = &producer_error
        {
            self.push_problem(format!("producer: {e}"));
        }
        self.producer_error = producer_error;
        self.delivery = delivery;
        self.uptime = uptime;
        self.wall_ms = Timestamp::now().millis();
        self.desk.expire(self.wall_ms);
    }

    fn push_problem(&mut self, message: String) {
        self.problems.push_front(Problem {
            message,
            severity: Severity::Critical,
            uptime: self.uptime,
        });
        self.problems.truncate(PROBLEM_HISTORY);
    }

    /// A key: its action. While help is open, any key closes it and is not lost: it then
    /// does what it does (but `?` and Esc only close).
    fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if !self.help {
            let feed = self.feed();
            // The desk's modals (detail, silence menu, silences, filter) take keys first.
            let used = {
                let feed: Vec<Alert> = feed.into_iter().cloned().collect();
                let refs: Vec<&Alert> = feed.iter().collect();
                let now = self.wall_ms;
                self.desk.key(&key, &refs, now)
            };
            if used == DeskKey::Used {
                return Vec::new();
            }
        }
        let action = action_for(&key);
        if self.help {
            self.help = false;
            if matches!(action, None | Some(Action::Help | Action::Back)) {
                return Vec::new();
            }
        }
        action.map_or_else(Vec::new, |a| self.apply(a))
    }

    fn apply(&mut self, action: Action) -> Vec<Effect> {
        let k = self.focus();
        match action {
            Action::Overview => self.view = View::Overview,
            Action::Show(k) => self.show(k),
            Action::NextView => self.cycle(1),
            Action::PrevView => self.cycle(StreamKind::COUNT),
            Action::ToggleStream => return vec![self.toggle(k)],
            Action::ToggleAll => return self.toggle_all(),
            Action::TogglePause => return vec![self.toggle_pause(k)],
            Action::RateUp => return vec![self.step_rate(k, true)],
            Action::RateDown => return vec![self.step_rate(k, false)],
            Action::Freeze => {
                self.frozen = !self.frozen;
                if !self.frozen {
                    self.shown = self.latest.clone();
                }
            }
            Action::ScrollDown => {
                let n = self.feed().len();
                self.desk.cursor = (self.desk.cursor + 1).min(n.saturating_sub(1));
            }
            Action::ScrollUp => self.desk.cursor = self.desk.cursor.saturating_sub(1),
            Action::OpenAlert => self.with_feed(Desk::open),
            Action::Ack => self.with_feed(Desk::ack),
            Action::Silence => self.with_feed(Desk::silence),
            Action::Silences => self.desk.modal = super::desk::Modal::Silences(0),
            Action::Filter => self.desk.modal = super::desk::Modal::Filter,
            Action::ClearAlerts => {
                self.problems.clear();
                self.desk.cursor = 0;
                return vec![Effect::Consumer(ConsumerControl::ClearAlerts)];
            }
            Action::Save => return vec![Effect::Save],
            Action::Help => self.help = !self.help,
            Action::Back => {
                if !std::mem::take(&mut self.help) {
                    self.desk.back();
                }
            }
            Action::Quit => {
                self.quitting = true;
                return vec![Effect::Quit];
            }
        }
        Vec::new()
    }

    fn show(&mut self, k: StreamKind) {
        self.view = View::Stream(k);
        self.selected = k;
    }

    fn cycle(&mut self, step: usize) {
        let mut order = vec![View::Overview];
        order.extend(StreamKind::ALL.map(View::Stream));
        let at = order.iter().position(|v| *v == self.view).unwrap_or(0);
        self.view = order[(at + step) % order.len()];
        if let View::Stream(k) = self.view {
            self.selected = k;
        }
    }

    fn state(&self, k: StreamKind) -> RunState {
        self.delivery[k].state
    }

    fn set_state(&mut self, k: StreamKind, s: RunState) {
        // Shown at once; the producer's own report confirms it on the next tick.
        self.delivery[k].state = s;
    }

    fn toggle(&mut self, k: StreamKind) -> Effect {
        if self.state(k) == RunState::Stopped {
            self.set_state(k, RunState::Running);
            Effect::Producer(Control::Start(k))
        } else {
            self.set_state(k, RunState::Stopped);
            Effect::Producer(Control::Stop(k))
        }
    }

    fn toggle_all(&mut self) -> Vec<Effect> {
        let any_running = StreamKind::ALL
            .iter()
            .any(|&k| self.state(k) != RunState::Stopped);
        StreamKind::ALL
            .iter()
            .map(|&k| {
                let (s, c) = if any_running {
                    (RunState::Stopped, Control::Stop(k))
                } else {
                    (RunState::Running, Control::Start(k))
                };
                self.set_state(k, s);
                Effect::Producer(c)
            })
            .collect()
    }

    fn toggle_pause(&mut self, k: StreamKind) -> Effect {
        match self.state(k) {
            RunState::Paused => {
                self.set_state(k, RunState::Running);
                Effect::Producer(Control::Resume(k))
            }
            RunState::Running => {
                self.set_state(k, RunState::Paused);
                Effect::Producer(Control::Pause(k))
            }
            RunState::Stopped => {
                self.set_state(k, RunState::Running);
                Effect::Producer(Control::Start(k))
            }
        }
    }

    fn step_rate(&mut self, k: StreamKind, up: bool) -> Effect {
        let cur = self.rates[k];
        let at = RATE_STEPS
            .iter()
            .position(|&r| r == cur)
            .unwrap_or_else(|| {
                RATE_STEPS
                    .iter()
                    .position(|&r| r > cur || r == 0.0)
                    .unwrap_or(RATE_STEPS.len() - 1)
            });
        let next = if up {
            (at + 1).min(RATE_STEPS.len() - 1)
        } else {
            at.saturating_sub(1)
        };
        self.rates[k] = RATE_STEPS[next];
        Effect::Producer(Control::SetRate(k, RATE_STEPS[next]))
    }

    /// The stream the alerts panel of the current view shows (None = all).
    pub fn alert_filter(&self) -> Option<StreamKind> {
        match self.view {
            View::Overview => None,
            View::Stream(k) => Some(k),
        }
    }

    /// The loop wrote the screen and the history (or could not): the footer says where.
    pub fn saved(&mut self, r: Result<(std::path::PathBuf, std::path::PathBuf), String>) {
        let note = match r {
            Ok((txt, csv)) => format!("saved {} and {}", txt.display(), csv.display()),
            Err(e) => format!("not saved: {e}"),
        };
        self.saved_note = Some((note, self.uptime));
        self.dirty = true;
    }

    /// Fingerprints of alerts acknowledged or silenced since the last call: the sinks stop
    /// sending them.
    pub fn quieted(&mut self) -> Vec<String> {
        let now = self.wall_ms;
        let quiet: Vec<String> = self
            .stream_alerts(None)
            .filter(|a| a.state == AlertState::Firing)
            .filter(|a| self.desk.is_acked(a) || self.desk.silenced(a, now))
            .map(Alert::fingerprint)
            .filter(|fp| !self.told_quiet.contains(fp))
            .collect();
        self.told_quiet.extend(quiet.iter().cloned());
        quiet
    }

    /// Runs a desk action on the current feed.
    fn with_feed(&mut self, act: fn(&mut Desk, &[&Alert])) {
        let feed: Vec<Alert> = self.feed().into_iter().cloned().collect();
        let refs: Vec<&Alert> = feed.iter().collect();
        act(&mut self.desk, &refs);
    }

    /// The alerts of the current view's feed, in order: firing, then pending (in a stream's
    /// view only: pending alerts are not yet alerts), then resolved; the filter applied and
    /// silenced alerts left out.
    pub fn feed(&self) -> Vec<&Alert> {
        self.feed_for(self.alert_filter())
    }

    fn feed_for(&self, stream: Option<StreamKind>) -> Vec<&Alert> {
        let mut alerts: Vec<&Alert> = self
            .stream_alerts(stream)
            .filter(|a| stream.is_some() || a.state != AlertState::Pending)
            .filter(|a| self.desk.passes(a) && !self.desk.silenced(a, self.wall_ms))
            .collect();
        alerts.sort_by(|a, b| feed_order(a, b));
        alerts
    }

    fn stream_alerts(&self, stream: Option<StreamKind>) -> impl Iterator<Item = &Alert> {
        self.shown
            .iter()
            .flat_map(|s| s.streams.iter())
            .filter(move |s| stream.is_none_or(|k| s.stream == k))
            .flat_map(|s| s.recent_alerts.iter())
    }

    /// Alerts of the view that a silence hides now.
    pub fn silenced_count(&self, stream: Option<StreamKind>) -> usize {
        self.stream_alerts(stream)
            .filter(|a| a.state != AlertState::Resolved && self.desk.silenced(a, self.wall_ms))
            .count()
    }

    /// The alerts panel's lines: problems first, then the feed.
    pub fn alert_lines(&self, stream: Option<StreamKind>) -> Vec<AlertLine<'_>> {
        self.problems
            .iter()
            .map(AlertLine::System)
            .chain(self.feed_for(stream).into_iter().map(AlertLine::Stream))
            .collect()
    }

    pub fn stream_snapshot(
        &self,
        k: StreamKind,
    ) -> Option<&streamwatch::analytics::StreamSnapshot> {
        self.shown.as_ref()?.streams.iter().find(|s| s.stream == k)
    }

    pub fn model_snapshot(&self, k: StreamKind) -> Option<&streamwatch::ml::ModelSnapshot> {
        self.shown.as_ref()?.models.iter().find(|m| m.stream == k)
    }
}
