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
    let embedded = broker::EmbeddedBroker::start(&kafka::all_topics(settings), partitions)?;
    let target = broker::first_addr(embedded.bootstrap())?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{local}")?;
        out.flush()?;
    }
    tracing::info!(%local, mock = embedded.bootstrap(), partitions, "broker listening");
    eprintln!(
        "streamwatch: embedded broker on {local} with topics {} ({partitions} partitions); Ctrl-C stops it",
        kafka::all_topics(settings).join(", ")
    );
    let cancel = CancellationToken::new();
    let forwarder = tokio::spawn(broker::forward(listener, target, cancel.clone()));
    shutdown_signal().await?;
    cancel.cancel();
    let _ = forwarder.await;
    drop(embedded);
    tracing::info!("broker stopped");
    Ok(ExitCode::SUCCESS)
}
