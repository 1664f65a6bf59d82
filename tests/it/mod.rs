pub mod harness;

mod broker;
mod cli;
mod pipeline;
mod setup;
mod tui;
