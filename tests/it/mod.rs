pub mod harness;

mod broker;
mod cli;
mod setup;
