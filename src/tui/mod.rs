//! The full-screen monitor: starts the embedded broker (or uses `--brokers`), the producer
//! and consumer tasks, and runs one event loop that feeds `App` and redraws on a tick.
//!
//! Shutdown is cooperative and ordered: the producer flushes, the consumer commits, then the
//! terminal is restored. A panic restores the terminal before its message is printed.

pub mod app;
mod desk;
pub mod event;
pub mod keys;
mod save;
pub mod ui;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc::unbounded_channel;

use crate::cli::{SinkArgs, StreamChoice, TuiArgs};
use crate::config::Settings;
use crate::kafka::admin::check_reachable;
use crate::kafka::broker::Target;
use crate::kafka::consumer::{ConsumerControl, ConsumerEvent, ConsumerHandle, ConsumerPlan, Order};
use crate::kafka::gate::LagGate;
use crate::kafka::producer::{ProducerHandle, ProducerPlan};
use crate::sinks::{SinkPlan, Sinks};
use app::{App, Effect};
use event::{Event, Events};
use streamwatch::streams::{StreamKind, Timestamp};

/// How long quitting waits for the consumer to close once the producer has flushed: closing
/// takes milliseconds with a broker, the session timeout without one.
const CONSUMER_CLOSE: Duration = Duration::from_secs(2);

/// Everything the TUI runs besides the screen.
struct Session {
    _broker: Target,
    producer: ProducerHandle,
    consumer: ConsumerHandle,
    started: Instant,
    /// Where alerts go besides the screen (`--alertmanager`).
    sinks: Option<Sinks>,
}

pub fn run(
    settings: &Settings,
    args: &TuiArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode> {
    let rate = settings.producer.rate;
    let streams = args
        .streams
        .as_deref()
        .map_or_else(|| StreamKind::ALL.to_vec(), StreamChoice::kinds_of);
    let (tx, rx) = unbounded_channel();
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("streamwatch-tui-{}", std::process::id()));
    let (session, broker_label, embedded) =
        start(settings, &streams, group, tx, (&args.sinks, runtime))?;
    let mut app = App::new(broker_label, embedded, rate, &streams);
    app.no_colour = ui::theme::no_colour_asked(std::env::var_os("NO_COLOR").as_deref());
    // Silences outlive a restart: a state file beside the models.
    app.desk = desk::Desk::new(Some(settings.model_dir().join(desk::SILENCES_FILE)));
    if let Some(e) = app.desk.store_error.take() {
        tracing::warn!(%e, "silences not read");
    }
    let mut terminal = init_terminal()?;
    let result = runtime.block_on(event_loop(
        &mut terminal,
        &mut app,
        &session,
        settings.tui.fps,
        rx,
    ));
    // Ordered shutdown: flush, commit, restore. Say so while it happens.
    let _ = terminal.draw(|f| {
        let area = f.area();
        f.render_widget(
            ratatui::widgets::Paragraph::new(
                " shutting down: flushing the producer, committing offsets…",
            ),
            area,
        );
    });
    let Session {
        _broker,
        producer,
        consumer,
        ..
    } = session;
    // The consumer commits while the producer flushes; neither waits out a broker outage.
    consumer.control(ConsumerControl::Shutdown);
    let summary = producer.shutdown();
    consumer.shutdown_within(CONSUMER_CLOSE);
    restore_terminal();
    drop(_broker);
    if let Some(s) = summary {
        tracing::info!(
            sent = s.sent,
            acked = s.acked,
            failed = s.failed,
            "tui producer finished"
        );
    }
    result.map(|()| ExitCode::SUCCESS)
}

fn start(
    settings: &Settings,
    streams: &[StreamKind],
    group: String,
    tx: tokio::sync::mpsc::UnboundedSender<ConsumerEvent>,
    (sink_args, runtime): (&SinkArgs, &tokio::runtime::Runtime),
) -> Result<(Session, String, bool)> {
    let broker = Target::start(settings)?;
    let (brokers, embedded) = (broker.bootstrap().to_string(), broker.is_embedded());
    let sinks = {
        // The sinks' tasks run on this runtime.
        let _inside = runtime.enter();
        Sinks::spawn(SinkPlan::new(settings, sink_args, &brokers)?)?
    };
    if !embedded {
        check_reachable(settings, &brokers)?;
    }
    // "max" (rate 0) runs as fast as the consumer keeps up: the producer waits while the
    // consumer lags a window behind, so the broker's retention never deletes an unread event.
    // It starts once it can deliver and the consumer knows where it is, so the first
    // seconds' events do not wait in librdkafka's queue (docs/perf-journal.md, "The TUI's
    // first seconds").
    let gate = Arc::new(LagGate::default());
    let producer = ProducerHandle::spawn(
        settings,
        &brokers,
        ProducerPlan {
            start: None,
            streams: streams.to_vec(),
            rate: settings.producer.rate,
            stamp_rate: settings.producer.stamp_rate,
            count: 0,
            duration: None,
            generator: settings.generator(format!("tui-{}", std::process::id())),
            gate: Some(gate.clone()),
            ready_first: true,
        },
    )?;
    let consumer = ConsumerHandle::spawn(
        settings,
        &brokers,
        ConsumerPlan {
            streams: StreamKind::ALL.to_vec(),
            group,
            from_beginning: embedded,
            count: 0,
            duration: None,
            tick: Duration::from_secs_f64(1.0 / settings.tui.fps),
            // The screen reads the alert books in the snapshots; the sinks need each change.
            forward_alerts: sinks.is_some(),
            forward_events: false,
            until_end: false,
            gate: Some(gate),
            model_store: Some(crate::kafka::consumer::ModelStore::of(settings)),
            order: Order::for_fit(settings.ml.fit),
            only_producer: None,
        },
        tx,
    )?;
    let label = brokers.clone();
    Ok((
        Session {
            _broker: broker,
            producer,
            consumer,
            started: Instant::now(),
            sinks,
        },
        label,
        embedded,
    ))
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    session: &Session,
    fps: f64,
    rx: tokio::sync::mpsc::UnboundedReceiver<ConsumerEvent>,
) -> Result<()> {
    let mut events = Events::new(fps, rx, session.producer.book(), session.started);
    loop {
        if app.needs_redraw() {
            terminal.draw(|f| ui::draw(app, f)).context("cannot draw")?;
            app.drawn();
        }
        let event = events.next().await;
        if let Some(s) = &session.sinks {
            to_sinks(s, app, &event);
        }
        for effect in app.update(event) {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Save => {
                    let size = terminal.size().map(|s| (s.width, s.height))?;
                    let saved = save::save(app, size, Path::new("."), Timestamp::now());
                    app.saved(saved.map_err(|e| e.to_string()));
                }
                Effect::Producer(c) => session.producer.control(c),
                Effect::Consumer(c) => session.consumer.control(c),
            }
        }
        if let Some(s) = &session.sinks {
            app.quieted().iter().for_each(|fp| s.forget(fp));
        }
    }
}

/// An alert that fired or resolved goes to the sinks unless it was acknowledged or
/// silenced here; each tick the header learns how the sinks are doing.
fn to_sinks(sinks: &Sinks, app: &mut App, event: &Event) {
    match event {
        Event::Consumer(ConsumerEvent::Alert(a))
            if !app.desk.is_acked(a) && !app.desk.silenced(a, app.wall_ms) =>
        {
            sinks.offer(a);
        }
        Event::Tick(_) => app.sink_trouble = sinks.trouble(),
        _ => {}
    }
}

fn init_terminal() -> Result<DefaultTerminal> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        hook(info);
    }));
    let terminal = ratatui::try_init()
        .context("cannot open the terminal (is this an interactive terminal?)")?;
    execute!(std::io::stdout(), EnableMouseCapture).context("cannot enable the mouse")?;
    Ok(terminal)
}

fn restore_terminal() {
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
}
