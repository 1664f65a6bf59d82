//! `streamwatch broker`: the embedded broker as a standalone process, so that other
//! processes (produce, consume, kcat, kafka-python) can share it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::shutdown_signal;
use crate::cli::BrokerArgs;
use crate::config::Settings;
use crate::kafka::{self, broker};

pub async fn run(settings: &Settings, args: &BrokerArgs) -> Result<ExitCode> {
    let partitions = settings.kafka.partitions;
    let listener = broker::bind(&args.listen).await?;
    let local = listener.local_addr()?;
    let embedded =
        broker::EmbeddedBroker::start(&kafka::all_topics(settings), partitions, Some(local))?;
    let target = broker::first_addr(embedded.bootstrap())?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{local}")?;
        out.flush()?;
    }
    tracing::info!(%local, mock = embedded.bootstrap(), partitions, "broker listening");
    eprintln!(
        "streamwatch: embedded broker on {local} with topics {} ({partitions} partitions); \
         Ctrl-C or SIGTERM stops it, SIGUSR1 takes it down, SIGUSR2 brings it back (pid {})",
        kafka::all_topics(settings).join(", "),
        std::process::id()
    );
    let cancel = CancellationToken::new();
    let forwarder = tokio::spawn(broker::forward(listener, target, cancel.clone()));
    tokio::select! {
        stopped = shutdown_signal() => stopped?,
        failed = rehearse_outages(&embedded) => failed?,
    }
    cancel.cancel();
    let _ = forwarder.await;
    drop(embedded);
    tracing::info!("broker stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGUSR1 takes the brokers down, SIGUSR2 brings them back: an outage on demand, with the
/// data kept, so that clients' reconnects can be rehearsed. Runs until the process stops.
async fn rehearse_outages(embedded: &broker::EmbeddedBroker) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut down = signal(SignalKind::user_defined1())?;
    let mut up = signal(SignalKind::user_defined2())?;
    loop {
        let now_up = tokio::select! {
            _ = down.recv() => false,
            _ = up.recv() => true,
        };
        embedded.set_up(now_up);
        let state = if now_up { "up" } else { "down" };
        eprintln!("streamwatch: embedded broker {state} ({})", clock_now());
    }
}

/// The wall clock as hh:mm:ss UTC.
fn clock_now() -> String {
    format!("{} UTC", streamwatch::streams::Timestamp::now().clock())
}
