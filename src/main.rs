//! Entry point: parse, set up logging, dispatch to a command, turn errors into one line. A
//! closed stdout (`streamwatch consume | head -1`) is not an error: the command stops and
//! the process exits 0 quietly, as ripgrep does.

#![warn(clippy::too_many_lines)]

mod cli;
mod commands;
mod config;
mod kafka;
mod logging;
mod sinks;
mod tui;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = match logging::init(cli.global.log_file.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("streamwatch: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => {
            tracing::debug!("stdout closed by the reader");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("streamwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is a write to a pipe whose reader has gone.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
