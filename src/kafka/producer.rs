//! The producer task the TUI and `produce` share: one thread that owns the three seeded
//! generators, paces each stream on its own schedule, and hands JSON to librdkafka. Delivery
//! reports come back through the producer context and are counted per stream, so every
//! message is accounted for: sent = acked + failed + in flight.
//!
//! Control (start, stop, pause, rate) arrives over a channel; queue-full from librdkafka is
//! back-pressure (wait and retry), never an error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use serde::Serialize;

use super::KafkaError;
use super::gate::LagGate;
use crate::config::Settings;
use streamwatch::codec::Codec;
use streamwatch::streams::{Generator, GeneratorConfig, PerStream, StreamKind, Timestamp};

/// How long a producer told to stop waits for the messages in flight (a run that ends on its
/// own waits for all of them, up to the message timeout): a user stopping it during a broker
/// outage gets the prompt back within seconds, with what was not delivered counted.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);
/// Matches `message.timeout.ms`: by then every message is delivered or failed.
const FLUSH: Duration = Duration::from_secs(30);

/// What a stream's producer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Paused,
    Stopped,
}

/// Runtime control of the producer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    Start(StreamKind),
    Stop(StreamKind),
    Pause(StreamKind),
    Resume(StreamKind),
    SetRate(StreamKind, f64),
    Shutdown,
}

/// Delivery counters of one stream.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    backpressure: AtomicU64,
    rate_milli: AtomicU64,
    state: AtomicU64,
}

/// Shared between the producer thread, librdkafka's delivery callback and readers.
#[derive(Debug, Default)]
pub struct DeliveryBook {
    streams: PerStream<Counters>,
    /// The idempotent producer has its producer id, so it can deliver (see `ready_first`);
    /// known only while statistics are on.
    has_producer_id: AtomicBool,
    failures: Mutex<BTreeMap<String, u64>>,
    last_error: Mutex<Option<String>>,
}

/// A copy of one stream's delivery counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StreamDelivery {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub bytes: u64,
    pub backpressure: u64,
    pub rate: f64,
    pub state: RunState,
}

impl StreamDelivery {
    /// A stream that has sent nothing yet, in `state` at `rate`.
    pub fn idle(state: RunState, rate: f64) -> Self {
        Self {
            sent: 0,
            acked: 0,
            failed: 0,
            in_flight: 0,
            bytes: 0,
            backpressure: 0,
            rate,
            state,
        }
    }
}

impl DeliveryBook {
    pub fn stream(&self, kind: StreamKind) -> StreamDelivery {
        let c = &self.streams[kind];
        let sent = c.sent.load(Ordering::Relaxed);
        let acked = c.acked.load(Ordering::Relaxed);
        let failed = c.failed.load(Ordering::Relaxed);
        StreamDelivery {
            sent,
            acked,
            failed,
            in_flight: sent.saturating_sub(acked + failed),
            bytes: c.bytes.load(Ordering::Relaxed),
            backpressure: c.backpressure.load(Ordering::Relaxed),
            rate: c.rate_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            state: match c.state.load(Ordering::Relaxed) {
                0 => RunState::Running,
                1 => RunState::Paused,
                _ => RunState::Stopped,
            },
        }
    }

    /// Failure reasons with their counts.
    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The most recent client-level error librdkafka reported (broker down, auth, ...).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn set_state(&self, kind: StreamKind, s: RunState, rate: f64) {
        let c = &self.streams[kind];
        c.state.store(s as u64, Ordering::Relaxed);
        c.rate_milli
            .store((rate * 1000.0) as u64, Ordering::Relaxed);
    }
}

/// Routes delivery reports and client errors into the book.
pub struct DeliveryContext {
    book: Arc<DeliveryBook>,
    /// Told of every acknowledged offset when the producer is paced by its consumer.
    gate: Option<Arc<LagGate>>,
}

impl ClientContext for DeliveryContext {
    /// Only what `ready_first` needs is read, and only until it is known.
    fn stats_raw(&self, statistics: &[u8]) {
        let known = &self.book.has_producer_id;
        if !known.load(Ordering::Relaxed) && idempotent_id_assigned(statistics) {
            known.store(true, Ordering::Release);
        }
    }

    fn error(&self, error: RdError, reason: &str) {
        tracing::warn!(%error, reason, "producer client error");
        if let Ok(mut e) = self.book.last_error.lock() {
            *e = Some(format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, stream: usize) {
        let Some(&kind) = StreamKind::ALL.get(stream) else {
            return;
        };
        let c = &self.book.streams[kind];
        match result {
            Ok(m) => {
                c.acked.fetch_add(1, Ordering::Relaxed);
                if let Some(g) = &self.gate {
                    g.acked(kind, m.partition(), m.offset());
                }
            }
            Err((e, _)) => {
                c.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = self.book.failures.lock() {
                    *m.entry(e.to_string()).or_default() += 1;
                }
            }
        }
    }
}

/// How the producer starts.
#[derive(Debug, Clone)]
pub struct ProducerPlan {
    pub streams: Vec<StreamKind>,
    /// Events per second per stream; 0 = as fast as possible.
    pub rate: f64,
    /// Unpaced (`rate` 0), event times are spaced as if this many events per second per
    /// stream were written, so that time-based patterns (velocity, daily rhythm) read as in
    /// the live stream.
    pub stamp_rate: f64,
    /// Stop after this many events in total (0 = no limit).
    pub count: u64,
    pub duration: Option<Duration>,
    pub generator: GeneratorConfig,
    /// Event time of the first event; `None` = now.
    pub start: Option<Timestamp>,
    /// For the TUI and `bench`'s "max": the producer starts once the consumer sharing the
    /// gate knows where it is in the streams' partitions (events written before then wait for
    /// the consumer's start, and one that starts from the end of a cluster's topics would
    /// never read them), and unpaced streams wait while their consumer lags a window behind.
    /// `None`: no consumer to wait for, and unpaced means as fast as the broker takes them.
    pub gate: Option<Arc<LagGate>>,
    /// Start the schedule once the producer can deliver (it has its idempotent producer id),
    /// waiting up to `READY_WAIT`: librdkafka asks for the id some time after it starts (at
    /// times much later, on a fresh tansu more so; docs/perf-journal.md), and events timed
    /// meanwhile wait in its queue. That is a latency of the producer's start, which `bench --rate` leaves out of
    /// the pipeline's, and the TUI out of its first seconds.
    pub ready_first: bool,
}

/// The longest the producer waits (see `ready_first` and `gate`) before its schedule starts
/// anyway.
const READY_WAIT: Duration = Duration::from_secs(5);

/// Final figures once the producer thread ends.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceSummary {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    pub events_per_s: f64,
    pub streams: BTreeMap<&'static str, StreamDelivery>,
    pub failures: BTreeMap<String, u64>,
}

/// A running producer thread.
pub struct ProducerHandle {
    control: Sender<Control>,
    book: Arc<DeliveryBook>,
    thread: Option<JoinHandle<ProduceSummary>>,
}

impl ProducerHandle {
    /// Creates the Kafka producer (failing early on bad properties) and starts the thread.
    pub fn spawn(
        settings: &Settings,
        brokers: &str,
        plan: ProducerPlan,
    ) -> Result<Self, KafkaError> {
        let book = Arc::new(DeliveryBook::default());
        let producer = create(
            settings,
            brokers,
            &book,
            plan.gate.clone(),
            plan.ready_first,
        )?;
        let remake: Remake = {
            let (settings, brokers) = (settings.clone(), brokers.to_string());
            let (book, gate) = (book.clone(), plan.gate.clone());
            // A producer remade after a fatal error is not waited for: no statistics.
            Box::new(move || create(&settings, &brokers, &book, gate.clone(), false))
        };
        let topics = PerStream::from_fn(|k| Outlet {
            topic: settings.topic(k),
            codec: settings.codec(k).clone(),
        });
        let (tx, rx) = mpsc::channel();
        let thread_book = book.clone();
        let thread = std::thread::Builder::new()
            .name("producer".into())
            .spawn(move || {
                wait_to_start(&plan, &thread_book);
                Pump::new(producer, remake, topics, plan, thread_book, rx).run()
            })
            .map_err(|source| KafkaError::Thread {
                role: "producer",
                source,
            })?;
        Ok(Self {
            control: tx,
            book,
            thread: Some(thread),
        })
    }

    pub fn control(&self, c: Control) {
        let _ = self.control.send(c);
    }

    pub fn book(&self) -> Arc<DeliveryBook> {
        self.book.clone()
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops producing, flushes what is in flight and returns the summary.
    pub fn shutdown(mut self) -> Option<ProduceSummary> {
        let _ = self.control.send(Control::Shutdown);
        self.thread.take().and_then(|t| t.join().ok())
    }

    /// Waits for the producer to finish on its own (count or duration reached).
    pub fn wait(mut self) -> Option<ProduceSummary> {
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for ProducerHandle {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.control.send(Control::Shutdown);
            let _ = t.join();
        }
    }
}

/// Whether librdkafka's statistics report says the idempotent producer has its id
/// (`eos.idemp_state` is "Assigned"). Only that field is read; serde skips the rest.
fn idempotent_id_assigned(statistics: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Report {
        eos: Option<Eos>,
    }
    #[derive(serde::Deserialize)]
    struct Eos {
        idemp_state: String,
    }
    serde_json::from_slice::<Report>(statistics)
        .ok()
        .and_then(|r| r.eos)
        .is_some_and(|e| e.idemp_state == "Assigned")
}

/// Waits (up to `READY_WAIT` in all) until the producer can deliver, with `ready_first`,
/// and the consumer sharing its gate knows where it is in its streams.
fn wait_to_start(plan: &ProducerPlan, book: &DeliveryBook) {
    let ready = || {
        (!plan.ready_first || book.has_producer_id.load(Ordering::Acquire))
            && plan.gate.as_ref().is_none_or(|g| g.ready(&plan.streams))
    };
    let started = Instant::now();
    while !ready() && started.elapsed() < READY_WAIT {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn create(
    settings: &Settings,
    brokers: &str,
    book: &Arc<DeliveryBook>,
    gate: Option<Arc<LagGate>>,
    stats: bool,
) -> Result<ThreadedProducer<DeliveryContext>, KafkaError> {
    let cfg = super::client_config(settings, brokers, |c| {
        if stats {
            // For `ready_first`: the report says when the producer id is assigned. It is
            // read only until then, but librdkafka writes it for the whole run.
            c.set("statistics.interval.ms", "100");
        }
        // A message counts as delivered once every in-sync replica has it.
        c.set("acks", "all");
        // Retries after a broker hiccup neither duplicate nor reorder messages.
        c.set("enable.idempotence", "true");
        c.set("compression.type", &settings.producer.compression);
        // Up to 5 ms of batching: throughput when unpaced, little delay when paced.
        c.set("linger.ms", "5");
        // The Java clients' partitioner: an entity's key lands on the same partition
        // whichever client writes it.
        c.set("partitioner", "murmur2_random");
        // Room for about a second of unpaced production before back-pressure sets in.
        c.set("queue.buffering.max.messages", "500000");
        // A message not delivered within 30 s is counted as failed, not retried forever.
        c.set("message.timeout.ms", "30000");
    });
    cfg.create_with_context(DeliveryContext {
        book: book.clone(),
        gate,
    })
    .map_err(|e| super::client_error(settings, &e))
}

/// Pacing of one stream: due times follow `rate`, event times follow the same schedule
/// (or `stamp_rate` when unpaced), re-anchored on every change.
struct Pacer {
    kind: StreamKind,
    generator: Generator,
    state: RunState,
    rate: f64,
    stamp_rate: f64,
    anchor: Instant,
    anchor_ms: i64,
    since_anchor: u64,
    /// Events produced so far (ties between unpaced streams go to the one with fewer).
    produced: u64,
    last_ms: i64,
}

impl Pacer {
    fn reanchor(&mut self) {
        self.anchor = Instant::now();
        self.anchor_ms = Timestamp::now().millis().max(self.last_ms);
        self.since_anchor = 0;
    }

    /// When the next event is due; unpaced streams are always due at `floor`, so that they
    /// share the producer fairly (ties go to the stream with fewer events).
    fn due(&self, floor: Instant) -> Instant {
        if self.rate <= 0.0 {
            return floor;
        }
        self.anchor + Duration::from_secs_f64(self.since_anchor as f64 / self.rate)
    }

    fn event_time(&self) -> Timestamp {
        let r = if self.rate > 0.0 {
            self.rate
        } else {
            self.stamp_rate
        };
        Timestamp(self.anchor_ms + (self.since_anchor as f64 * 1000.0 / r) as i64)
    }
}

/// A stream's topic and its codec (the topic's field names).
struct Outlet {
    topic: String,
    codec: Codec,
}

/// Creates another client like the first, after a fatal error.
type Remake = Box<dyn Fn() -> Result<ThreadedProducer<DeliveryContext>, KafkaError> + Send>;

struct Pump {
    producer: ThreadedProducer<DeliveryContext>,
    remake: Remake,
    /// Per stream: where its events go and how they are written.
    topics: PerStream<Outlet>,
    pacers: PerStream<Pacer>,
    book: Arc<DeliveryBook>,
    control: Receiver<Control>,
    count: u64,
    deadline: Option<Instant>,
    started: Instant,
    buf: Vec<u8>,
    /// Told to stop (not ended by its count or duration).
    stopped: bool,
    gate: Option<Arc<LagGate>>,
    /// Per stream: events an unpaced stream may still send before asking the gate again.
    credit: PerStream<u64>,
}

impl Pump {
    fn new(
        producer: ThreadedProducer<DeliveryContext>,
        remake: Remake,
        topics: PerStream<Outlet>,
        plan: ProducerPlan,
        book: Arc<DeliveryBook>,
        control: Receiver<Control>,
    ) -> Self {
        let now = Instant::now();
        let pacers = PerStream::from_fn(|kind| {
            let state = if plan.streams.contains(&kind) {
                RunState::Running
            } else {
                RunState::Stopped
            };
            book.set_state(kind, state, plan.rate);
            let mut p = Pacer {
                kind,
                generator: Generator::new(kind, &plan.generator),
                state,
                rate: plan.rate,
                stamp_rate: plan.stamp_rate,
                anchor: now,
                anchor_ms: 0,
                since_anchor: 0,
                produced: 0,
                last_ms: 0,
            };
            p.reanchor();
            if let Some(start) = plan.start {
                (p.anchor_ms, p.last_ms) = (start.millis(), start.millis());
            }
            p
        });
        Self {
            producer,
            remake,
            topics,
            pacers,
            book,
            control,
            count: plan.count,
            deadline: plan.duration.map(|d| now + d),
            started: now,
            buf: Vec::with_capacity(512),
            stopped: false,
            gate: plan.gate,
            credit: PerStream::default(),
        }
    }

    fn run(mut self) -> ProduceSummary {
        let mut produced = 0u64;
        let mut checked = Instant::now();
        // Look at the controls and the deadline on the next turn (after a sleep).
        let mut look = true;
        loop {
            // Controls and the deadline every 256 events, or every 20 ms when slower: the
            // clock is read every 16 events (a read per event was a visible share of the
            // thread).
            look |= produced.is_multiple_of(256)
                || (produced.is_multiple_of(16) && checked.elapsed() > Duration::from_millis(20));
            if look {
                look = false;
                checked = Instant::now();
                self.recover_from_fatal();
                if !self.apply_controls() || self.deadline.is_some_and(|d| checked >= d) {
                    break;
                }
            }
            if self.count > 0 && produced >= self.count {
                break;
            }
            match self.next_due() {
                Some((kind, due)) => {
                    // Unpaced streams are due from the start: no clock to read.
                    let now = if due > self.started {
                        Instant::now()
                    } else {
                        due
                    };
                    if due > now {
                        std::thread::sleep((due - now).min(Duration::from_millis(20)));
                        look = true;
                        continue;
                    }
                    self.produce_one(kind);
                    produced += 1;
                }
                None => {
                    // Nothing running: wait for a control message.
                    match self.control.recv_timeout(Duration::from_millis(100)) {
                        Ok(c) => {
                            if !self.apply(c) {
                                break;
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                    if self.deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                }
            }
        }
        self.finish()
    }

    /// An idempotent producer stops for good on a fatal error, such as a broker that
    /// restarted without its data and no longer knows the producer's id. The messages it
    /// held are counted as failed (dropping it purges them); a new client carries on.
    fn recover_from_fatal(&mut self) {
        let Some((code, reason)) = self.producer.client().fatal_error() else {
            return;
        };
        tracing::warn!(?code, %reason, "fatal producer error; starting a new producer");
        match (self.remake)() {
            Ok(fresh) => {
                self.producer = fresh;
                if let Ok(mut e) = self.book.last_error.lock() {
                    *e = Some(format!("fatal error ({reason}): a new producer carries on"));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot start a new producer"),
        }
    }

    fn next_due(&mut self) -> Option<(StreamKind, Instant)> {
        self.refill_credit();
        self.pacers
            .iter()
            .filter(|(_, p)| p.state == RunState::Running)
            .map(|(kind, p)| (kind, self.due(p), p.produced))
            .min_by_key(|&(_, due, produced)| (due, produced))
            .map(|(kind, due, _)| (kind, due))
    }

    /// Asks the gate, for each unpaced stream that has used its credit, how far it may run
    /// ahead of the consumer now.
    fn refill_credit(&mut self) {
        let Some(gate) = &self.gate else {
            return;
        };
        for p in self.pacers.values() {
            let credit = &mut self.credit[p.kind];
            if p.rate <= 0.0 && *credit == 0 {
                *credit = gate.credit(p.kind, self.book.stream(p.kind).in_flight);
            }
        }
    }

    /// When `p`'s next event is due; an unpaced stream held by its gate is looked at again
    /// in a millisecond.
    fn due(&self, p: &Pacer) -> Instant {
        let held = p.rate <= 0.0 && self.gate.is_some() && self.credit[p.kind] == 0;
        if held {
            return Instant::now() + Duration::from_millis(1);
        }
        p.due(self.started)
    }

    /// Applies pending control messages; false once asked to shut down.
    fn apply_controls(&mut self) -> bool {
        loop {
            match self.control.try_recv() {
                Ok(c) => {
                    if !self.apply(c) {
                        return false;
                    }
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn apply(&mut self, c: Control) -> bool {
        let (kind, state, rate) = match c {
            Control::Shutdown => {
                self.stopped = true;
                return false;
            }
            Control::Start(k) | Control::Resume(k) => (k, Some(RunState::Running), None),
            Control::Stop(k) => (k, Some(RunState::Stopped), None),
            Control::Pause(k) => (k, Some(RunState::Paused), None),
            Control::SetRate(k, r) => (k, None, Some(r.max(0.0))),
        };
        let p = &mut self.pacers[kind];
        if let Some(s) = state {
            p.state = s;
        }
        if let Some(r) = rate {
            p.rate = r;
        }
        p.reanchor();
        self.book.set_state(kind, p.state, p.rate);
        tracing::info!(stream = kind.name(), state = ?p.state, rate = p.rate, "producer control");
        true
    }

    fn produce_one(&mut self, kind: StreamKind) {
        let p = &mut self.pacers[kind];
        let credit = &mut self.credit[kind];
        *credit = credit.saturating_sub(1);
        let at = p.event_time();
        let event = p.generator.next_event(at);
        p.produced += 1;
        p.since_anchor += 1;
        p.last_ms = at.millis();
        self.buf.clear();
        let outlet = &self.topics[kind];
        outlet.codec.encode_into(&event, &mut self.buf);
        let counters = &self.book.streams[kind];
        counters.sent.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes
            .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        let mut record = BaseRecord::with_opaque_to(&outlet.topic, kind.index())
            .key(event.key())
            .payload(&self.buf);
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    counters.backpressure.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(500));
                    record = r;
                }
                Err((e, _)) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut m) = self.book.failures.lock() {
                        *m.entry(e.to_string()).or_default() += 1;
                    }
                    return;
                }
            }
        }
    }

    fn finish(self) -> ProduceSummary {
        let bound = if self.stopped { SHUTDOWN_FLUSH } else { FLUSH };
        if let Err(e) = self.producer.flush(bound) {
            tracing::warn!(error = %e, "flush did not complete");
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        for p in self.pacers.values() {
            self.book.set_state(p.kind, RunState::Stopped, p.rate);
        }
        summary(&self.book, elapsed)
    }
}

/// The book's totals as a summary.
pub fn summary(book: &DeliveryBook, elapsed_s: f64) -> ProduceSummary {
    let streams: BTreeMap<&'static str, StreamDelivery> = StreamKind::ALL
        .iter()
        .map(|&k| (k.name(), book.stream(k)))
        .collect();
    let sum = |f: fn(&StreamDelivery) -> u64| streams.values().map(f).sum::<u64>();
    let acked = sum(|s| s.acked);
    ProduceSummary {
        sent: sum(|s| s.sent),
        acked,
        failed: sum(|s| s.failed),
        in_flight: sum(|s| s.in_flight),
        bytes: sum(|s| s.bytes),
        elapsed_s,
        events_per_s: if elapsed_s > 0.0 {
            acked as f64 / elapsed_s
        } else {
            0.0
        },
        streams,
        failures: book.failures(),
    }
}

#[cfg(test)]
mod tests {
    use super::idempotent_id_assigned;

    /// librdkafka writes `"idemp_state": "Assigned"` with a space; a report without the
    /// id yet, or without the section, is not ready.
    #[test]
    fn the_producer_id_is_read_from_the_statistics_report() {
        assert!(idempotent_id_assigned(
            br#"{"eos": { "idemp_state": "Assigned", "idemp_stateage": 3 }}"#
        ));
        assert!(idempotent_id_assigned(
            br#"{"eos":{"idemp_state":"Assigned"}}"#
        ));
        assert!(!idempotent_id_assigned(
            br#"{"eos": { "idemp_state": "WaitPID", "idemp_stateage": 3 }}"#
        ));
        assert!(!idempotent_id_assigned(br#"{"brokers": {}}"#));
    }
}
