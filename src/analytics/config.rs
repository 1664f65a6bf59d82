//! What the analyzer is configured with. The binary derives it from its settings in one
//! place (`config.rs` of the binary); the defaults here are the ones its settings file shows.

use super::alerts::AlertPolicy;

/// Analyzer settings (the binary maps its config file onto this).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerConfig {
    pub window: usize,
    pub time_window_ms: i64,
    pub z_threshold: f64,
    pub z_warmup: usize,
    pub exclude_anomalies: bool,
    pub alerts: AlertPolicy,
    pub alert_history: usize,
    pub temperature_max: f64,
    pub temperature_min: f64,
    pub response_time_ms_max: f64,
    pub amount_max: f64,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            window: 100,
            time_window_ms: 60_000,
            z_threshold: 3.0,
            z_warmup: 30,
            exclude_anomalies: true,
            alerts: AlertPolicy::default(),
            alert_history: 500,
            temperature_max: 35.0,
            temperature_min: 5.0,
            response_time_ms_max: 2000.0,
            amount_max: 5000.0,
        }
    }
}
