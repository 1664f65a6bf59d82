//! Pure computation on numbers and events: O(1) rolling windows, anomaly detectors, the alert
//! book, and `StreamAnalyzer`, which combines them per stream.

pub mod alerts;
pub mod analyzer;
pub mod anomaly;
pub mod config;
pub mod features;
pub mod ingest;
pub mod latency;
pub mod rolling;
mod rules;

pub use alerts::{
    Alert, AlertBook, AlertContext, AlertPolicy, AlertQuality, AlertState, Evidence, Firing,
    Reason, RuleClass, Scope, Severity,
};
pub use analyzer::{MetricSnapshot, Observation, RuleScore, StreamAnalyzer, StreamSnapshot};
pub use config::AnalyzerConfig;
pub use features::{FEATURES, FeatureVector, LogFeature, SensorFeature, TransactionFeature};
pub use rolling::{Stats, Window};
pub use rules::{LogRule, SensorRule, TransactionRule};

#[cfg(test)]
mod tests;
