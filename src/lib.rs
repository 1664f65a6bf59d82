//! streamwatch's core: the three synthetic data streams, the codec between them and bytes,
//! the rolling analytics and anomaly detectors, and the online models. It knows nothing of
//! Kafka, terminals or async runtimes, so it can be tested and benchmarked on its own; the
//! binary wires it to rdkafka and ratatui.

#![warn(clippy::too_many_lines)]

pub mod analytics;
pub mod codec;
pub mod ml;
pub mod named;
pub mod streams;

#[cfg(test)]
mod hostile;
