//! Pure computation on numbers and events: O(1) rolling windows, anomaly detectors, the alert
//! book, and `StreamAnalyzer`, which combines them per stream.

pub mod alerts;
pub mod analyzer;
pub mod anomaly;
pub mod ingest;
pub mod rolling;
mod rules;

pub use alerts::{Alert, AlertBook, Severity};
pub use analyzer::{
    AnalyzerConfig, FEATURES, MetricSnapshot, Observation, RuleScore, StreamAnalyzer,
    StreamSnapshot,
};
pub use rolling::{Stats, Window};

#[cfg(test)]
mod tests;
