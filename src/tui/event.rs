//! The one stream of events the TUI loop reads: clock ticks, terminal input and what the
//! consumer task publishes.

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind, MouseEventKind};
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Interval, MissedTickBehavior};

use crate::kafka::consumer::ConsumerEvent;

#[derive(Debug)]
pub enum Event {
    Tick,
    Key(crossterm::event::KeyEvent),
    Scroll {
        down: bool,
    },
    Resize,
    Consumer(ConsumerEvent),
    /// The terminal input stream ended or failed.
    InputClosed(String),
}

pub struct Events {
    tick: Interval,
    input: EventStream,
    consumer: UnboundedReceiver<ConsumerEvent>,
    consumer_open: bool,
}

impl Events {
    /// Ticks at `fps` frames per second (the period is 1/fps seconds).
    pub fn new(fps: f64, consumer: UnboundedReceiver<ConsumerEvent>) -> Self {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps.max(0.5)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Self {
            tick,
            input: EventStream::new(),
            consumer,
            consumer_open: true,
        }
    }

    pub async fn next(&mut self) -> Event {
        loop {
            tokio::select! {
                _ = self.tick.tick() => return Event::Tick,
                input = self.input.next() => match input {
                    Some(Ok(e)) => if let Some(ev) = translate(e) { return ev },
                    Some(Err(e)) => return Event::InputClosed(e.to_string()),
                    None => return Event::InputClosed("terminal input closed".into()),
                },
                msg = self.consumer.recv(), if self.consumer_open => match msg {
                    Some(m) => return Event::Consumer(m),
                    None => self.consumer_open = false,
                },
            }
        }
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
