pub mod harness;

mod alerting;
mod bench;
mod broker;
mod cli;
mod faults;
mod groups;
mod interop;
mod layers;
mod models;
mod pipeline;
mod setup;
mod tui;
