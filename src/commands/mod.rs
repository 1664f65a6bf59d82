//! The headless front ends, one module per subcommand, and the dispatcher.

mod alerts;
mod bench;
mod broker;
mod consume;
mod groups;
mod produce;
mod setup;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::config::Settings;

/// Runs the parsed command line to completion.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let mut overrides = cli.overrides();
    overrides.config = overrides.config.or_else(crate::config::user_file);
    let settings = Settings::resolve(&overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Some(Command::Broker(args)) => runtime.block_on(broker::run(&settings, &args)),
        Some(Command::Setup(args)) => runtime.block_on(setup::run(&settings, &args)),
        Some(Command::Produce(args)) => runtime.block_on(produce::run(&settings, &args)),
        Some(Command::Consume(args)) => runtime.block_on(consume::run(&settings, &args)),
        Some(Command::Groups(args)) => runtime.block_on(groups::run(&settings, &args)),
        Some(Command::Alerts(args)) => runtime.block_on(alerts::run(&settings, &args)),
        Some(Command::Bench(args)) => runtime.block_on(bench::run(&settings, &args)),
        Some(Command::Tui(args)) => crate::tui::run(&settings, &args, &runtime),
        None => crate::tui::run(&settings, &cli.tui, &runtime),
    }
}

/// Fails fast, with one line, when the cluster cannot be reached.
pub async fn check_reachable(settings: &Settings, brokers: &str) -> Result<()> {
    let (settings, brokers) = (settings.clone(), brokers.to_string());
    tokio::task::spawn_blocking(move || crate::kafka::admin::check_reachable(&settings, &brokers))
        .await??;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM: how the headless commands are stopped.
pub async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
