//! The headless front ends, one module per subcommand, and the dispatcher.

mod bench;
mod broker;
mod consume;
mod produce;
mod setup;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::config::Settings;

/// Runs the parsed command line to completion.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let settings = Settings::load(&cli.global)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Some(Command::Broker(args)) => runtime.block_on(broker::run(&settings, &args)),
        Some(Command::Setup(args)) => runtime.block_on(setup::run(&settings, &args)),
        Some(Command::Produce(args)) => runtime.block_on(produce::run(&settings, &args)),
        Some(Command::Consume(args)) => runtime.block_on(consume::run(&settings, &args)),
        Some(Command::Bench(args)) => runtime.block_on(bench::run(&settings, &args)),
        Some(Command::Tui(args)) => crate::tui::run(&settings, &args, &runtime),
        None => crate::tui::run(&settings, &cli.tui, &runtime),
    }
}

/// The brokers for commands that default to a local cluster rather than the embedded one.
pub fn external_brokers(settings: &Settings) -> String {
    if settings.kafka.brokers.trim().is_empty() {
        "localhost:9092".to_string()
    } else {
        settings.kafka.brokers.clone()
    }
}

/// The streams a list of `--streams` choices stands for.
pub fn stream_list_of(
    choices: &[crate::cli::StreamChoice],
) -> Vec<streamwatch::streams::StreamKind> {
    let mut v: Vec<_> = choices.iter().flat_map(|c| stream_list(*c)).collect();
    v.sort();
    v.dedup();
    v
}

pub use produce::check_reachable;

/// The streams a `--type` choice stands for.
pub fn stream_list(choice: crate::cli::StreamChoice) -> Vec<streamwatch::streams::StreamKind> {
    use crate::cli::StreamChoice;
    use streamwatch::streams::StreamKind;
    match choice {
        StreamChoice::Sensor => vec![StreamKind::Sensor],
        StreamChoice::Transaction => vec![StreamKind::Transaction],
        StreamChoice::Log => vec![StreamKind::Log],
        StreamChoice::All => StreamKind::ALL.to_vec(),
    }
}
