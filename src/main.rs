//! Entry point: parse, set up logging, dispatch to a command, turn errors into one line.

mod cli;
mod commands;
mod config;
mod kafka;
mod logging;
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
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("streamwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
