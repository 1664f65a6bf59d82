//! The analysis, one thread per topic. A topic's rolling statistics, rules and models share
//! nothing with another topic's, so each runs on a thread of its own and sees its topic's
//! events in the order the consumer thread hands them over: the same results as on one
//! thread, on as many cores as there are streams. The consumer thread keeps polling,
//! decoding and accounting while the shards analyse.
//!
//! Events travel in batches that come back once analysed and are refilled in place: a
//! decoded event's strings keep their capacity, so steady traffic allocates nothing per
//! event. A topic has `BATCHES` of them; when all are out, the consumer thread waits for one
//! (back-pressure instead of a growing queue). Finer shards (by partition) would split a
//! stream's models in parts that each see a share of its events; across processes, a
//! consumer group splits a topic by partition.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::{AnalysedEvent, ConsumerEvent};
use crate::kafka::KafkaError;
use streamwatch::analytics::ingest::Origin;
use streamwatch::analytics::latency::LatencyBook;
use streamwatch::analytics::{Alert, Observation, StreamAnalyzer, StreamSnapshot};
use streamwatch::ml::findings::{self, Subject};
use streamwatch::ml::{ModelSnapshot, StreamModel};
use streamwatch::streams::{Event, StreamKind};

/// Events per batch at most.
pub const BATCH: usize = 1024;
/// Batches per topic: what one topic can have on its way to, or in, its shard.
pub const BATCHES: usize = 4;

/// One decoded event and where it came from.
pub struct Item {
    pub event: Event,
    pub at: Origin,
    /// When the message was written (ms since the epoch), for the end-to-end latency.
    pub written_ms: i64,
}

/// Events on their way to a shard, or back from it to be refilled.
pub struct Batch {
    items: Vec<Item>,
    len: usize,
}

impl Batch {
    fn new() -> Self {
        Self {
            items: Vec::with_capacity(BATCH),
            len: 0,
        }
    }

    /// The next event to decode into: the one an earlier batch left there, reused.
    pub fn slot(&mut self, kind: StreamKind) -> &mut Event {
        if self.len == self.items.len() {
            self.items.push(Item {
                event: Event::empty(kind),
                at: Origin {
                    stream: kind,
                    partition: 0,
                    offset: 0,
                },
                written_ms: 0,
            });
        }
        &mut self.items[self.len].event
    }

    /// Keeps the event decoded into `slot`.
    pub fn commit(&mut self, at: Origin, written_ms: i64) {
        if let Some(item) = self.items.get_mut(self.len) {
            item.at = at;
            item.written_ms = written_ms;
            self.len += 1;
        }
    }

    /// Adds an event decoded elsewhere (one held for its turn).
    pub fn push(&mut self, event: Event, at: Origin, written_ms: i64) {
        let kind = event.kind();
        *self.slot(kind) = event;
        self.commit(at, written_ms);
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len >= BATCH
    }

    fn events(&self) -> &[Item] {
        &self.items[..self.len]
    }
}

/// What a shard shows of itself: read into the consumer's snapshot.
pub struct View {
    pub stream: StreamSnapshot,
    pub model: ModelSnapshot,
    pub latency: LatencyBook,
}

enum ToShard {
    Batch(Batch),
    View,
    ClearAlerts,
    Finish,
}

/// What shards send back to the consumer thread (one channel for all of them).
pub enum FromShard {
    /// A batch analysed, to refill.
    Done {
        topic: usize,
        batch: Batch,
    },
    View {
        topic: usize,
        view: View,
    },
    /// The shard's last view, once its models are settled and saved.
    Finished {
        topic: usize,
        view: View,
    },
}

/// Where analysed events and alerts go besides the analyzer and the model.
#[derive(Clone)]
pub struct Forward {
    pub events: bool,
    pub alerts: bool,
    pub out: UnboundedSender<ConsumerEvent>,
}

/// The consumer thread's end of one topic's shard.
pub struct Shard {
    to: Sender<ToShard>,
    thread: Option<JoinHandle<()>>,
    /// Batches back from the shard, ready to refill.
    free: Vec<Batch>,
    /// The batch being filled.
    pub filling: Batch,
    /// Batches sent, and batches back: every event sent before the `sent`-th batch is
    /// analysed once `done` reaches it.
    pub sent: u64,
    pub done: u64,
    /// The shard has settled its models and sent its last view: its thread ends.
    pub finished: bool,
}

impl Shard {
    /// Starts the thread that analyses topic number `topic`.
    pub fn spawn(
        topic: usize,
        analysis: (StreamAnalyzer, StreamModel),
        forward: Forward,
        back: Sender<FromShard>,
    ) -> Result<Self, KafkaError> {
        let (to, from) = std::sync::mpsc::channel();
        let (analyzer, model) = analysis;
        let worker = Worker {
            topic,
            analyzer,
            model,
            latency: LatencyBook::default(),
            forward,
            back,
        };
        let name = format!("shard-{}", worker.analyzer.kind().name());
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker.run(from))
            .map_err(|source| KafkaError::Thread {
                role: "analysis",
                source,
            })?;
        Ok(Self {
            to,
            thread: Some(thread),
            free: (1..BATCHES).map(|_| Batch::new()).collect(),
            filling: Batch::new(),
            sent: 0,
            done: 0,
            finished: false,
        })
    }

    /// Sends the batch being filled, if it holds anything, and takes a free one in its
    /// place; false when no batch is free (the caller waits for one to come back).
    pub fn send(&mut self) -> bool {
        if self.filling.is_empty() {
            return true;
        }
        let Some(next) = self.free.pop() else {
            return false;
        };
        let full = std::mem::replace(&mut self.filling, next);
        self.sent += 1;
        // A shard that is gone has said why (see `is_gone`); its events are not analysed.
        let _ = self.to.send(ToShard::Batch(full));
        true
    }

    /// A batch back from the shard.
    pub fn returned(&mut self, mut batch: Batch) {
        batch.len = 0;
        self.free.push(batch);
        self.done += 1;
    }

    pub fn idle(&self) -> bool {
        self.done == self.sent
    }

    pub fn ask_view(&self) {
        let _ = self.to.send(ToShard::View);
    }

    pub fn clear_alerts(&self) {
        let _ = self.to.send(ToShard::ClearAlerts);
    }

    pub fn finish(&self) {
        let _ = self.to.send(ToShard::Finish);
    }

    /// The thread ended without its last view (it panicked).
    pub fn is_gone(&self) -> bool {
        !self.finished && self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        let _ = self.to.send(ToShard::Finish);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One topic's analysis, on its thread.
struct Worker {
    topic: usize,
    analyzer: StreamAnalyzer,
    model: StreamModel,
    /// From each message's writing to the end of its analysis.
    latency: LatencyBook,
    forward: Forward,
    back: Sender<FromShard>,
}

/// How often an idle shard collects its models' background fits and saves.
const IDLE_POLL: Duration = Duration::from_millis(50);

impl Worker {
    fn run(mut self, from: Receiver<ToShard>) {
        loop {
            let sent = match from.recv_timeout(IDLE_POLL) {
                Ok(ToShard::Batch(batch)) => {
                    batch.events().iter().for_each(|item| self.analyse(item));
                    self.model.poll();
                    self.back.send(FromShard::Done {
                        topic: self.topic,
                        batch,
                    })
                }
                Ok(ToShard::View) => {
                    self.idle();
                    self.back.send(FromShard::View {
                        topic: self.topic,
                        view: self.view(),
                    })
                }
                Ok(ToShard::ClearAlerts) => {
                    self.analyzer.clear_alerts();
                    Ok(())
                }
                Ok(ToShard::Finish) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.model.poll();
                    self.idle();
                    Ok(())
                }
            };
            if sent.is_err() {
                return;
            }
        }
        self.model.settle();
        if let Err(e) = self.model.save() {
            super::problem(&self.forward.out, e.to_string());
        }
        let view = self.view();
        let _ = self.back.send(FromShard::Finished {
            topic: self.topic,
            view,
        });
    }

    fn view(&self) -> View {
        View {
            stream: self.analyzer.snapshot(),
            model: self.model.snapshot(),
            latency: self.latency.clone(),
        }
    }

    /// One new event's analysis, its end-to-end latency, and what is forwarded of it.
    fn analyse(&mut self, item: &Item) {
        let obs = observe(&mut self.analyzer, &mut self.model, item);
        self.latency.record(super::now_us(), item.written_ms * 1000);
        let out = &self.forward.out;
        if self.forward.events {
            let analysed = analysed_event(item, &obs, self.analyzer.rule_names());
            let _ = out.send(ConsumerEvent::Analysed(Box::new(analysed)));
        }
        self.forward_alerts(obs.changed);
    }

    /// Wall time moves the alerts of a quiet stream on (they resolve, silence shows).
    fn idle(&mut self) {
        let changed = self.analyzer.idle(super::now_us() / 1000);
        self.forward_alerts(changed);
    }

    fn forward_alerts(&self, changed: Vec<Alert>) {
        if self.forward.alerts {
            for a in changed {
                let _ = self.forward.out.send(ConsumerEvent::Alert(Box::new(a)));
            }
        }
    }
}

/// The rules, the rolling statistics and the models on one new event, and the models'
/// alerts beside the rules'.
fn observe(analyzer: &mut StreamAnalyzer, model: &mut StreamModel, item: &Item) -> Observation {
    let event = &item.event;
    let mut obs = analyzer.observe(event);
    let lane = u32::try_from(item.at.partition).unwrap_or(0);
    let verdict = model.observe_in(&obs, lane);
    let subject = Subject {
        entity: event.key(),
        time: event.timestamp(),
    };
    findings::file(model, analyzer, &mut obs, &verdict, subject);
    obs
}

fn analysed_event(item: &Item, obs: &Observation, rules: &'static [&'static str]) -> AnalysedEvent {
    let (at, e) = (item.at, &item.event);
    AnalysedEvent {
        stream: at.stream,
        partition: at.partition,
        offset: at.offset,
        producer: e.producer_id().to_string(),
        entity: e.key().to_string(),
        seq: e.seq(),
        rules: rules
            .iter()
            .enumerate()
            .filter(|(i, _)| obs.fired & (1 << i) != 0)
            .map(|(_, r)| *r)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamwatch::analytics::AnalyzerConfig;
    use streamwatch::ml::MlConfig;
    use streamwatch::streams::{Generator, GeneratorConfig, Timestamp};

    fn at(offset: i64) -> Origin {
        Origin {
            stream: StreamKind::Sensor,
            partition: 0,
            offset,
        }
    }

    /// A snapshot's figures without the fits' wall-clock times.
    fn figures(v: impl serde::Serialize) -> serde_json::Value {
        let mut v = serde_json::to_value(v).unwrap();
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.retain(|k, _| !k.ends_with("_ms"));
                    m.values_mut().for_each(strip);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut v);
        v
    }

    /// Events through a shard, in batches that go and come back, give the same rules,
    /// statistics and models as the same analysis on one thread; every alert is forwarded.
    #[test]
    fn a_shard_analyses_like_one_thread_and_returns_every_batch() {
        let kind = StreamKind::Sensor;
        let ml = MlConfig {
            background: false,
            warmup: 300,
            ..MlConfig::default()
        };
        let cfg = AnalyzerConfig::default();
        let mut generator = Generator::new(kind, &GeneratorConfig::default());
        let events: Vec<Event> = (0..5000)
            .map(|i| generator.next_event(Timestamp(1_700_000_000_000 + i * 50)))
            .collect();

        let (mut analyzer, mut model) =
            (StreamAnalyzer::new(kind, &cfg), StreamModel::new(kind, &ml));
        let alerts: usize = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let item = Item {
                    event: e.clone(),
                    at: at(i as i64),
                    written_ms: 0,
                };
                observe(&mut analyzer, &mut model, &item).changed.len()
            })
            .sum();

        let (out, mut forwarded) = tokio::sync::mpsc::unbounded_channel();
        let forward = Forward {
            events: false,
            alerts: true,
            out,
        };
        let (back_tx, back) = std::sync::mpsc::channel();
        let analysis = (StreamAnalyzer::new(kind, &cfg), StreamModel::new(kind, &ml));
        let mut shard = Shard::spawn(0, analysis, forward, back_tx).unwrap();
        let take_back = |shard: &mut Shard| match back.recv().unwrap() {
            FromShard::Done { batch, .. } => {
                shard.returned(batch);
                None
            }
            FromShard::View { view, .. } | FromShard::Finished { view, .. } => Some(view),
        };
        for (i, e) in events.iter().enumerate() {
            shard.filling.push(e.clone(), at(i as i64), 0);
            while shard.filling.is_full() && !shard.send() {
                take_back(&mut shard);
            }
        }
        while !shard.send() {
            take_back(&mut shard);
        }
        shard.finish();
        let view = loop {
            if let Some(view) = take_back(&mut shard) {
                break view;
            }
        };
        assert!(shard.idle(), "every batch came back");
        // A shard that ended after its last view is not taken for one that stopped unasked.
        while !shard.thread.as_ref().is_none_or(|t| t.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(shard.is_gone(), "ended, and its end not noted yet");
        shard.finished = true;
        assert!(!shard.is_gone());
        assert!(shard.sent >= (events.len() / BATCH) as u64);
        assert_eq!(view.stream.events, events.len() as u64);
        assert!(view.model.version > 0, "the forest was fitted");
        assert_eq!(figures(&view.stream), figures(analyzer.snapshot()));
        assert_eq!(figures(&view.model), figures(model.snapshot()));
        assert_eq!(
            view.latency.total().map(|l| l.count),
            Some(events.len() as u64)
        );
        let mut n = 0;
        while let Ok(ConsumerEvent::Alert(_)) = forwarded.try_recv() {
            n += 1;
        }
        assert!(alerts > 0);
        assert_eq!(n, alerts);
    }
}
