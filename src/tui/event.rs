//! The one stream of events the TUI reads, and the one type `App::update` takes: clock ticks
//! (with the producer's counters), terminal input and what the consumer task publishes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream, KeyEvent, KeyEventKind, MouseEventKind};
use futures::StreamExt;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Interval, MissedTickBehavior};

use crate::kafka::consumer::ConsumerEvent;
use crate::kafka::producer::{DeliveryBook, StreamDelivery};
use streamwatch::streams::PerStream;

#[derive(Debug)]
pub enum Event {
    Tick(Box<Tick>),
    Key(KeyEvent),
    Scroll {
        down: bool,
    },
    Resize,
    Consumer(ConsumerEvent),
    /// The terminal input stream ended or failed.
    InputClosed(String),
    /// SIGTERM, SIGINT or SIGHUP: quit as `q` does.
    Signal(&'static str),
}

/// A clock tick: the time since start and the producer's counters at that moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub uptime: Duration,
    pub delivery: PerStream<StreamDelivery>,
    pub producer_error: Option<String>,
}

pub struct Events {
    tick: Interval,
    input: EventStream,
    consumer: UnboundedReceiver<ConsumerEvent>,
    consumer_open: bool,
    book: Arc<DeliveryBook>,
    started: Instant,
    signals: Option<Signals>,
}

/// The signals that stop the TUI (in raw mode Ctrl-C is a key, not SIGINT).
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

impl Events {
    /// Ticks at `fps` frames per second (the period is 1/fps seconds), each carrying the
    /// counters of `book`.
    pub fn new(
        fps: f64,
        consumer: UnboundedReceiver<ConsumerEvent>,
        book: Arc<DeliveryBook>,
        started: Instant,
    ) -> Self {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps.max(0.5)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Self {
            tick,
            input: EventStream::new(),
            consumer,
            consumer_open: true,
            book,
            started,
            signals: Signals::new()
                .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for signals"))
                .ok(),
        }
    }

    pub async fn next(&mut self) -> Event {
        loop {
            tokio::select! {
                _ = self.tick.tick() => return Event::Tick(Box::new(self.tick_now())),
                input = self.input.next() => match input {
                    Some(Ok(e)) => if let Some(ev) = translate(e) { return ev },
                    Some(Err(e)) => return Event::InputClosed(e.to_string()),
                    None => return Event::InputClosed("terminal input closed".into()),
                },
                name = recv_signal(self.signals.as_mut()) => return Event::Signal(name),
                msg = self.consumer.recv(), if self.consumer_open => match msg {
                    Some(m) => return Event::Consumer(m),
                    None => self.consumer_open = false,
                },
            }
        }
    }

    fn tick_now(&self) -> Tick {
        Tick {
            uptime: self.started.elapsed(),
            delivery: PerStream::from_fn(|k| self.book.stream(k)),
            producer_error: self.book.last_error(),
        }
    }
}

/// The next stopping signal; never, without signal handlers.
async fn recv_signal(signals: Option<&mut Signals>) -> &'static str {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

fn translate(e: TermEvent) -> Option<Event> {
    match e {
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => Some(Event::Key(k)),
        TermEvent::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Event::Scroll { down: true }),
            MouseEventKind::ScrollUp => Some(Event::Scroll { down: false }),
            _ => None,
        },
        TermEvent::Resize(..) => Some(Event::Resize),
        _ => None,
    }
}
