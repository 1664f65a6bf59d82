//! The consumer thread's work: poll, decode each message through its topic's codec, account
//! for it, hand what is new to its topic's shard in batches, store offsets once analysed,
//! publish a snapshot per tick, commit on the way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{BorrowedMessage, Message};
use tokio::sync::mpsc::UnboundedSender;

use super::context::ConsumerCtx;
use super::offsets::Offsets;
use super::order::{Held, Merge};
use super::position::{Back, Positions, Step};
use super::shard::{Forward, FromShard, Shard, View};
use super::stranded::{AFTER as STRANDED_AFTER, Stranded, commit_log_starts};
use super::{
    ConsumerControl, ConsumerEvent, ConsumerPlan, ConsumerSnapshot, E2e, Shared, now_us, problem,
};
use crate::config::Settings;
use crate::kafka::KafkaError;
use crate::kafka::gate::LagGate;
use streamwatch::analytics::StreamAnalyzer;
use streamwatch::analytics::ingest::{Arrival, IngestBook, Origin};
use streamwatch::analytics::latency::LatencyBook;
use streamwatch::codec::{Codec, Notes};
use streamwatch::ml::{MlConfig, StreamModel, store};
use streamwatch::streams::{Event, StreamKind, Timestamp};

/// Everything the consumer thread keeps for one topic; its analysis runs in its shard.
struct Topic {
    name: String,
    kind: StreamKind,
    codec: Codec,
    shard: Shard,
}

/// What the engine talks to, held once: the Kafka client, what it shares with librdkafka's
/// callbacks, and where snapshots and problems go.
pub(super) struct Io {
    /// Shared with the messages of a poll, which borrow it while the engine works.
    pub consumer: Arc<BaseConsumer<ConsumerCtx>>,
    pub shared: Shared,
    pub out: UnboundedSender<ConsumerEvent>,
}

pub(super) struct Engine {
    io: Io,
    topics: Vec<Topic>,
    /// What the shards send back: analysed batches, views.
    back: Receiver<FromShard>,
    /// The shards' views for the next snapshot (in `topics` order).
    views: Vec<Option<View>>,
    /// A snapshot asked of the shards and not published yet, with the rate to show.
    viewing: Option<f64>,
    /// A shard stopped unasked: nothing more can be analysed.
    broken: bool,
    /// Which offsets may be stored (see `offsets`).
    offsets: Offsets,
    ingest: IngestBook,
    /// What the last message carried that the analysis did not use.
    notes: Notes,
    first_message: Option<Instant>,
    /// The assignments seen so far (see `ConsumerCtx::assignments`).
    assignments: u64,
    /// The cluster id changes seen so far (see `ConsumerCtx::cluster_changes`).
    cluster_changes: u64,
    /// The position resets seen so far (see `ConsumerCtx::offset_resets`).
    offset_resets: u64,
    positions: Positions,
    /// Where a producer paced by this consumer learns where it is.
    gate: Option<Arc<LagGate>>,
    /// Problems found before there was anyone to tell (a model file refused).
    problems: Vec<String>,
    /// Events held until their turn in event time (`Order::Time`, `StrictTime`; see `order`).
    merge: Option<Merge>,
    /// Whose events are analysed, when only one producer's are (see `ConsumerPlan`).
    only_producer: Option<String>,
    /// When the current poll's first message came (one clock read per poll).
    polled_at: Instant,
    /// Watches for topics the group handed out to nobody (see `stranded`).
    stranded: Stranded,
}

impl Engine {
    /// Opens each topic's models and starts its shard.
    pub fn new(
        settings: &Settings,
        plan: &ConsumerPlan,
        topics: &[(String, StreamKind)],
        io: Io,
    ) -> Result<Self, KafkaError> {
        let (analyzer, ml) = (settings.analyzer(), settings.ml());
        let positions = Positions::new(topics, plan.from_beginning);
        let mut problems = Vec::new();
        let forward = Forward {
            events: plan.forward_events,
            alerts: plan.forward_alerts,
            out: io.out.clone(),
        };
        let (back_tx, back) = std::sync::mpsc::channel();
        let mut shards = Vec::with_capacity(topics.len());
        for (index, (name, kind)) in topics.iter().enumerate() {
            let analysis = (
                StreamAnalyzer::new(*kind, &analyzer),
                open_model(name, *kind, &ml, plan.model_store.as_ref(), &mut problems),
            );
            let shard = Shard::spawn(index, analysis, forward.clone(), back_tx.clone())?;
            shards.push(Topic {
                name: name.clone(),
                kind: *kind,
                codec: settings.codec(*kind).clone(),
                shard,
            });
        }
        Ok(Self {
            io,
            problems,
            merge: plan.order.merge(),
            views: topics.iter().map(|_| None).collect(),
            topics: shards,
            back,
            viewing: None,
            broken: false,
            offsets: Offsets::default(),
            ingest: IngestBook::default(),
            notes: Notes::default(),
            first_message: None,
            assignments: 0,
            cluster_changes: 0,
            offset_resets: 0,
            positions,
            gate: plan.gate.clone(),
            only_producer: plan.only_producer.clone(),
            polled_at: Instant::now(),
            stranded: Stranded::new(),
        })
    }

    pub fn run(mut self, plan: ConsumerPlan, control: Receiver<ConsumerControl>) {
        let started = Instant::now();
        let deadline = plan.duration.map(|d| started + d);
        let mut next_tick = started + plan.tick;
        let mut last_count = 0u64;
        let mut last_tick = started;
        let mut rate = 0.0;
        for why in std::mem::take(&mut self.problems) {
            problem(&self.io.out, why);
        }
        while !self.broken {
            match control.try_recv() {
                Ok(ConsumerControl::Shutdown) | Err(TryRecvError::Disconnected) => break,
                Ok(ConsumerControl::ClearAlerts) => {
                    self.topics.iter().for_each(|t| t.shard.clear_alerts())
                }
                Err(TryRecvError::Empty) => {}
            }
            if plan.count > 0 && self.ingest.consumed() + self.ingest.lost() >= plan.count {
                break;
            }
            if plan.until_end && self.positions.caught_up() {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            // A snapshot per tick while events flow; when idle, one a second (health, lag).
            let idle = self.ingest.consumed() == last_count;
            if now >= next_tick && (!idle || now - last_tick >= Duration::from_secs(1)) {
                // The rate over a second or more, whatever the tick: steady on the screen.
                if now - last_tick >= Duration::from_secs(1) {
                    rate = (self.ingest.consumed() - last_count) as f64
                        / (now - last_tick).as_secs_f64();
                    (last_count, last_tick) = (self.ingest.consumed(), now);
                }
                self.ask_views(rate);
            }
            if now >= next_tick {
                next_tick = now + plan.tick;
            }
            self.poll_batch(plan.count);
            self.release(false);
            self.cut();
            self.take_back();
            self.publish(started);
            self.note_cluster_change();
            self.note_offset_reset();
            self.rejoin_if_stranded(now);
            self.positions.refresh(&self.io.consumer);
            if let Some(gate) = &self.gate {
                self.positions.publish(gate);
            }
        }
        self.finish(started);
    }

    /// Analyses what is held and sent, commits, lets the shards settle and save their
    /// models, and publishes the final snapshot.
    fn finish(&mut self, started: Instant) {
        self.release(true);
        self.drain();
        commit(&self.io);
        self.topics.iter().for_each(|t| t.shard.finish());
        while !self.broken && self.topics.iter().any(|t| !t.shard.finished) {
            self.wait_back();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let active = self
            .first_message
            .map_or(elapsed, |t| t.elapsed().as_secs_f64());
        let rate = self.ingest.consumed() as f64 / active.max(1e-3);
        let Some(views) = self.take_views() else {
            let why = "an analysis thread stopped (see the log); offsets are committed up to \
                       what was analysed";
            problem(&self.io.out, why.into());
            return;
        };
        let snap = self.snapshot(elapsed, rate, views);
        let _ = self.io.out.send(ConsumerEvent::Finished(Box::new(snap)));
    }

    /// Processes up to a few thousand messages, returning early when none is waiting.
    fn poll_batch(&mut self, limit: u64) {
        let consumer = Arc::clone(&self.io.consumer);
        for i in 0..4096 {
            if self.broken || (limit > 0 && self.ingest.consumed() >= limit) {
                return;
            }
            let wait = if i == 0 {
                Duration::from_millis(20)
            } else {
                Duration::ZERO
            };
            let polled = consumer.poll(wait);
            if i == 0 {
                // When this poll's events came, for those held for their turn.
                self.polled_at = Instant::now();
            }
            // Rebalances run inside `poll`, before the message it returns.
            self.note_assignments();
            match polled {
                None => return,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "poll error");
                    let _ = self
                        .io
                        .out
                        .send(ConsumerEvent::Problem(format!("consume error: {e}")));
                    return;
                }
                Some(Ok(msg)) => {
                    self.first_message.get_or_insert_with(Instant::now);
                    self.process(&msg);
                }
            }
        }
    }

    /// Tells the ingest book and the positions when the group assigned or revoked partitions
    /// since the last poll.
    fn note_assignments(&mut self) {
        if moved(&self.io.shared.assignments, &mut self.assignments) {
            // What is held and sent was this consumer's to analyse, its offsets to store:
            // before the partitions move on.
            self.release(true);
            self.drain();
            self.offsets.reassigned();
            self.ingest.reassigned();
            self.positions.assigned(&self.io.consumer);
            if let Some(gate) = &self.gate {
                gate.reassigned(!self.positions.is_empty());
                self.positions.publish(gate);
            }
        }
    }

    /// A broker answered with another cluster id: it restarted without its data. Every
    /// partition's log is then a new one: its trackers carry on across it (a producer's
    /// `seq` shows what the old log held and this consumer never read, as loss), and the
    /// new logs are read from their start.
    fn note_cluster_change(&mut self) {
        if !moved(&self.io.shared.cluster_changes, &mut self.cluster_changes) {
            return;
        }
        self.ingest.log_replaced();
        self.positions.log_replaced();
        read_from_the_start(&self.io.consumer);
        problem(
            &self.io.out,
            "the broker now answers as another cluster: it restarted without its data; \
             reading its new logs from their start (events it never delivered count as lost)"
                .into(),
        );
    }

    /// librdkafka moved a position by `auto.offset.reset` because the broker no longer had
    /// it. Where retention deleted the log past this consumer's position (it fell behind),
    /// the reset went to the log's end without `--from-beginning`, skipping everything the
    /// broker still kept, and said so only in its log. Such a partition reads on from the
    /// oldest message kept instead, and what was deleted unread counts as lost.
    fn note_offset_reset(&mut self) {
        if !moved(&self.io.shared.offset_resets, &mut self.offset_resets) {
            return;
        }
        for o in self.positions.overrun(&self.io.consumer) {
            let Some(t) = self.topics.get(o.topic) else {
                continue;
            };
            // Synchronous: once it returns, no message from the old position is delivered.
            let at = rdkafka::Offset::Offset(o.low);
            if let Err(e) = self
                .io
                .consumer
                .seek(&t.name, o.partition, at, Duration::from_secs(2))
            {
                tracing::warn!(
                    topic = t.name,
                    partition = o.partition,
                    error = %e,
                    "cannot move to the oldest message kept"
                );
                continue;
            }
            let deleted = (o.low - o.from).unsigned_abs();
            self.positions.restart_at((o.topic, o.partition), o.low);
            self.ingest.deleted_unread(t.kind, o.partition, deleted);
            let why = format!(
                "{} [{}]: {deleted} messages from offset {} were deleted by the broker's \
                 retention before they could be read (counted as lost); reading on from {}, \
                 the oldest kept",
                t.name, o.partition, o.from, o.low
            );
            problem(&self.io.out, why);
        }
    }

    /// A subscribed topic nobody in the group reads (see `stranded`): the consumer
    /// subscribes again, which makes the group hand it out anew.
    fn rejoin_if_stranded(&mut self, now: Instant) {
        if !self.stranded.due(now) {
            return;
        }
        let Ok((group, owned)) = self
            .io
            .shared
            .membership
            .lock()
            .map(|m| (m.group.clone(), m.owned.clone()))
        else {
            return;
        };
        let names: Vec<&str> = self.topics.iter().map(|t| t.name.as_str()).collect();
        let unread = self.stranded.look(&self.io.consumer, &names, &owned);
        if unread.is_empty() {
            return;
        }
        for u in &unread {
            if let Err(e) = commit_log_starts(&self.io.consumer, &u.topic, &u.uncommitted) {
                tracing::warn!(topic = u.topic, error = %e, "cannot commit the logs' starts");
            }
        }
        self.io.consumer.unsubscribe();
        if let Err(e) = self.io.consumer.subscribe(&names) {
            tracing::warn!(error = %e, "cannot subscribe again");
            return;
        }
        let topics: Vec<&str> = unread.iter().map(|u| u.topic.as_str()).collect();
        tracing::warn!(
            ?topics,
            group,
            "topics nobody in the group reads: joining it again"
        );
        problem(
            &self.io.out,
            format!(
                "{}: no member of group {group} reads it (its logs grew for {} s and the group \
                 committed nothing; made again after the group formed?): joining the group \
                 again, to read it from the group's commits, or from its logs' starts",
                topics.join(", "),
                STRANDED_AFTER.as_secs()
            ),
        );
    }

    /// Says where a message stood in its partition: retention that deleted messages before
    /// they were read (counted as lost), or, returned, where this consumer was in a log that
    /// is now shorter (see `went_back`). A step back between two messages is judged by the
    /// messages that follow (`Positions::judge`).
    fn place(&mut self, index: usize, msg: &BorrowedMessage<'_>) -> Option<Back> {
        let time = msg.timestamp().to_millis();
        let (partition, offset) = (msg.partition(), msg.offset());
        match self
            .positions
            .seen(&self.io.consumer, (index, partition), offset, time)
        {
            Step::InOrder | Step::Back => None,
            Step::Expired(n) => {
                self.ingest.expired(self.topics[index].kind, n);
                let why = format!(
                    "{} [{partition}]: {n} messages before offset {offset} were deleted by the \
                     broker's retention before they could be read (counted as lost)",
                    msg.topic()
                );
                problem(&self.io.out, why);
                None
            }
            Step::Rewound { from } => Some(Back::Lost { from, to: offset }),
        }
    }

    /// A partition's offsets went back. When the log is the same, the broker delivered part
    /// of it again (seen with tansu: one or two offsets back, the same events): the
    /// duplicates are counted, not analysed twice, and nothing was lost. Otherwise the log
    /// itself is another: the broker lost its data.
    fn went_back(&mut self, index: usize, topic: &str, partition: i32, back: Back) {
        let (from, to) = match back {
            Back::Again { from, to } => {
                tracing::info!(
                    topic,
                    partition,
                    from,
                    to,
                    "delivered again from an earlier offset"
                );
                return;
            }
            Back::Lost { from, to } => (from, to),
        };
        self.ingest.rewound(self.topics[index].kind, partition);
        let why = format!(
            "{topic} [{partition}] went back from offset {from} to {to}: the broker lost its \
             data; reading on from there (events it never delivered count as lost)"
        );
        problem(&self.io.out, why);
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) {
        let Some(index) = self.topics.iter().position(|t| t.name == msg.topic()) else {
            return;
        };
        let shorter = self.place(index, msg);
        let arrival = self.take(index, msg);
        let (partition, offset) = (msg.partition(), msg.offset());
        let back = shorter.or_else(|| {
            self.positions
                .judging()
                .then(|| self.positions.judge((index, partition), offset, arrival))
                .flatten()
        });
        if let Some(back) = back {
            self.went_back(index, msg.topic(), partition, back);
        }
    }

    /// Decodes a message and accounts for it, handing a new event on to its shard (or to
    /// the merge); says how it arrived (`None`: rejected, or another producer's).
    fn take(&mut self, index: usize, msg: &BorrowedMessage<'_>) -> Option<Arrival> {
        let topic = &mut self.topics[index];
        let kind = topic.kind;
        let time = msg.timestamp().to_millis().map(Timestamp);
        let event = topic.shard.filling.slot(kind);
        if let Err(r) = topic
            .codec
            .decode_into(msg.payload(), time, event, &mut self.notes)
        {
            self.ingest.reject(r);
            return None;
        }
        // Another producer's event is left out whole: not consumed, analysed or noted.
        if self
            .only_producer
            .as_deref()
            .is_some_and(|p| p != event.producer_id())
        {
            self.ingest.foreign();
            return None;
        }
        if !self.notes.is_empty() {
            self.ingest.note(&self.notes);
        }
        let at = Origin {
            stream: event.kind(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        let arrival = self
            .ingest
            .accept(at, event.producer_id(), event.key(), event.seq());
        // A duplicate was analysed when it first came: it is not counted twice.
        if arrival == Arrival::Duplicate {
            return Some(arrival);
        }
        let written_ms = time.map_or_else(|| event.timestamp().millis(), |t| t.millis());
        let Some(merge) = &mut self.merge else {
            topic.shard.filling.commit(at, written_ms);
            if topic.shard.filling.is_full() {
                self.send(index);
            }
            return Some(arrival);
        };
        let event = std::mem::replace(event, Event::empty(kind));
        if let Some(unheld) = merge.hold(index, event, at, written_ms, self.polled_at) {
            self.push(index, unheld);
        }
        Some(arrival)
    }

    /// Adds a held event to its topic's batch, sending the batch once full.
    fn push(&mut self, index: usize, held: Held) {
        let Some(topic) = self.topics.get_mut(index) else {
            return;
        };
        topic
            .shard
            .filling
            .push(held.event, held.at, held.written_ms);
        if topic.shard.filling.is_full() {
            self.send(index);
        }
    }

    /// In ordered mode, hands the held events whose turn has come to their shards (all of
    /// them with `all`: at the end, and before the partitions change hands).
    fn release(&mut self, all: bool) {
        let Some(mut merge) = self.merge.take() else {
            return;
        };
        if merge.is_empty() {
            self.merge = Some(merge);
            return;
        }
        let owned = self.positions.owned();
        for index in merge.topics() {
            for held in merge.turns(index, &owned, all) {
                self.push(index, held);
            }
        }
        self.merge = Some(merge);
    }

    /// Sends each topic's batch to its shard, and closes a checkpoint of the offsets taken so
    /// far (stored once the shards have analysed what was sent before it).
    fn cut(&mut self) {
        for index in 0..self.topics.len() {
            self.send(index);
        }
        let sent = self.topics.iter().map(|t| t.shard.sent).collect();
        let merge = self.merge.as_ref();
        let held = |t, p| merge.and_then(|m: &Merge| m.oldest(t, p));
        self.offsets.cut(sent, self.positions.taken(), held);
        self.store_analysed();
    }

    /// Sends a topic's batch to its shard, waiting for one to come back if all are out.
    fn send(&mut self, index: usize) {
        while !self.broken && !self.topics[index].shard.send() {
            self.wait_back();
        }
    }

    /// Waits until the shards have analysed everything sent, and stores its offsets.
    fn drain(&mut self) {
        self.cut();
        while !self.broken && self.topics.iter().any(|t| !t.shard.idle()) {
            self.wait_back();
        }
    }

    /// Stores the offsets whose messages are all analysed.
    fn store_analysed(&mut self) {
        let done: Vec<u64> = self.topics.iter().map(|t| t.shard.done).collect();
        for (index, partition, offset) in self.offsets.ready(&done) {
            let topic = &self.topics[index].name;
            // A partition taken away meanwhile is its new owner's to read again.
            if let Err(e) = self.io.consumer.store_offset(topic, partition, offset) {
                tracing::debug!(error = %e, topic, partition, "offset store failed");
            }
        }
    }

    /// Takes what the shards sent back, without waiting.
    fn take_back(&mut self) {
        while let Ok(m) = self.back.try_recv() {
            self.on_back(m);
        }
    }

    /// Waits for something from the shards; a shard that stopped unasked breaks the engine.
    fn wait_back(&mut self) {
        match self.back.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => self.on_back(m),
            Err(RecvTimeoutError::Timeout) => {
                // What a shard sent just before it ended counts first.
                self.take_back();
                if self.topics.iter().any(|t| t.shard.is_gone()) {
                    tracing::error!("an analysis thread stopped");
                    self.broken = true;
                }
            }
            Err(RecvTimeoutError::Disconnected) => self.broken = true,
        }
    }

    fn on_back(&mut self, m: FromShard) {
        match m {
            FromShard::Done { topic, batch } => {
                if let Some(t) = self.topics.get_mut(topic) {
                    t.shard.returned(batch);
                }
                self.store_analysed();
            }
            FromShard::View { topic, view } => {
                if let Some(v) = self.views.get_mut(topic) {
                    *v = Some(view);
                }
            }
            FromShard::Finished { topic, view } => {
                if let Some(v) = self.views.get_mut(topic) {
                    *v = Some(view);
                }
                if let Some(t) = self.topics.get_mut(topic) {
                    t.shard.finished = true;
                }
            }
        }
    }

    /// Asks each shard for its view, for a snapshot (unless one is on its way).
    fn ask_views(&mut self, rate: f64) {
        if self.viewing.is_none() {
            self.topics.iter().for_each(|t| t.shard.ask_view());
            self.viewing = Some(rate);
        }
    }

    /// Every shard's view, once all are in.
    fn take_views(&mut self) -> Option<Vec<View>> {
        if self.views.iter().any(Option::is_none) {
            return None;
        }
        Some(self.views.iter_mut().filter_map(Option::take).collect())
    }

    /// Publishes the snapshot asked for, once every shard's view is in.
    fn publish(&mut self, started: Instant) {
        let Some(rate) = self.viewing else { return };
        let Some(views) = self.take_views() else {
            return;
        };
        self.viewing = None;
        let snap = self.snapshot(started.elapsed().as_secs_f64(), rate, views);
        let _ = self.io.out.send(ConsumerEvent::Snapshot(Box::new(snap)));
    }

    fn snapshot(&self, elapsed_s: f64, rate: f64, views: Vec<View>) -> ConsumerSnapshot {
        let mut health = self
            .io
            .shared
            .health
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default();
        health.lag = self.positions.lag(Timestamp::now().millis());
        let e2e = e2e(&views);
        let (streams, models) = views.into_iter().map(|v| (v.stream, v.model)).unzip();
        ConsumerSnapshot {
            streams,
            models,
            ingest: self.ingest.snapshot(),
            health,
            membership: self
                .io
                .shared
                .membership
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
            elapsed_s,
            active_s: self
                .first_message
                .map_or(0.0, |t| t.elapsed().as_secs_f64()),
            events_per_s: rate,
            unconsumed: self.positions.unconsumed(),
            e2e,
        }
    }
}

fn e2e(views: &[View]) -> E2e {
    let now = now_us();
    let mut all = LatencyBook::default();
    for v in views {
        all.merge(&v.latency);
    }
    E2e {
        streams: views.iter().map(|v| v.latency.recent(now)).collect(),
        recent: all.recent(now),
        total: all.total(),
    }
}

/// A stream's models: from the store's file for the topic when there is a readable one
/// (a refused file is a problem, and training starts afresh), saved there from now on.
fn open_model(
    topic: &str,
    kind: StreamKind,
    ml: &MlConfig,
    at: Option<&super::ModelStore>,
    problems: &mut Vec<String>,
) -> StreamModel {
    let model = StreamModel::new(kind, ml);
    let Some(at) = at else { return model };
    let path = store::path_for(&at.dir, topic);
    let mut model = model.with_store(path.clone());
    if at.fresh {
        return model;
    }
    match store::load(&path, kind) {
        Ok(Some(saved)) => {
            tracing::info!(path = %path.display(), version = saved.version, "models restored");
            model.restore(saved);
        }
        Ok(None) => {}
        Err(e) => problems.push(e.to_string()),
    }
    model
}

/// The final, synchronous commit. With every broker down it would wait out the session
/// timeout for a coordinator that is gone: it is skipped, and the group resumes from its last
/// commit (at least once: what came after is analysed again).
fn commit(
    Io {
        consumer,
        shared,
        out,
    }: &Io,
) {
    let down = shared
        .health
        .lock()
        .is_ok_and(|h| h.brokers > 0 && h.brokers_up == 0);
    if down {
        let why = "final commit skipped: no broker is up (the group resumes from its last commit)";
        let _ = out.send(ConsumerEvent::Problem(why.into()));
        return;
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing consumed yet means nothing to commit; anything else is worth saying.
        if !matches!(
            e,
            RdError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)
        ) {
            let _ = out.send(ConsumerEvent::Problem(format!("final commit failed: {e}")));
        }
    }
}

/// Whether a counter bumped by librdkafka's callbacks moved since `seen`, which catches up.
fn moved(counter: &AtomicU64, seen: &mut u64) -> bool {
    let n = counter.load(Ordering::Acquire);
    std::mem::replace(seen, n) != n
}

/// Moves every owned partition to the start of its log. After a broker lost its data,
/// everything in its new logs was written after what this consumer read. Left alone,
/// librdkafka finds the old position out of range and moves by `auto.offset.reset`, which
/// without `--from-beginning` is the end: every event written to the restarted broker
/// before this consumer's next fetch was skipped, and counted lost only where a producer it
/// had read from wrote on. Asynchronous: librdkafka discards a fetch under way.
fn read_from_the_start(consumer: &BaseConsumer<ConsumerCtx>) {
    let mut owned = match consumer.assignment() {
        Ok(owned) if owned.count() > 0 => owned,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the assignment to read the new logs");
            return;
        }
    };
    let sought = owned
        .set_all_offsets(rdkafka::Offset::Beginning)
        .and_then(|()| consumer.seek_partitions(owned, Duration::ZERO));
    if let Err(e) = sought {
        tracing::warn!(error = %e, "cannot move to the start of the new logs");
    }
}
