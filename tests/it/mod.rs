pub mod harness;

mod broker;
mod cli;
mod interop;
mod pipeline;
mod setup;
mod tui;
