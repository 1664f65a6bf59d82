//! Settings, layered once into a typed, validated struct.
//!
//! Order, lowest first: the embedded `assets/default.toml` < `--config FILE` < environment
//! (handled by clap's `env`) < flags. Everything after this module works with `Settings`
//! only and never looks at raw arguments again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::cli::GlobalArgs;

/// The commented default settings file.
#[cfg(test)]
const DEFAULT_TOML: &str = include_str!("../assets/default.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid setting {key} = {value}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub kafka: KafkaSettings,
    pub producer: ProducerSettings,
    pub analytics: AnalyticsSettings,
    pub ml: MlSettings,
    pub tui: TuiSettings,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    pub brokers: String,
    pub topic_prefix: String,
    pub timeout_secs: f64,
    pub partitions: i32,
    pub replication_factor: i32,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerSettings {
    pub rate: f64,
    pub incident_rate: f64,
    pub seed: u64,
    pub compression: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsSettings {
    pub window: usize,
    pub time_window_secs: f64,
    pub zscore_threshold: f64,
    pub zscore_warmup: usize,
    pub exclude_anomalies: bool,
    pub alert_cooldown_secs: f64,
    pub alert_history: usize,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub temperature_max: f64,
    pub temperature_min: f64,
    pub response_time_ms_max: f64,
    pub amount_max: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlSettings {
    pub trees: usize,
    pub max_depth: usize,
    pub feature_fraction: f64,
    pub buffer: usize,
    pub warmup: usize,
    pub refit_every: usize,
    pub refit_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuiSettings {
    pub fps: f64,
}

impl Default for TuiSettings {
    fn default() -> Self {
        Self { fps: 10.0 }
    }
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: String::new(),
            topic_prefix: String::new(),
            timeout_secs: 10.0,
            partitions: 3,
            replication_factor: 1,
            properties: BTreeMap::new(),
        }
    }
}

impl Default for ProducerSettings {
    fn default() -> Self {
        Self {
            rate: 200.0,
            incident_rate: 0.02,
            seed: 42,
            compression: "lz4".into(),
        }
    }
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self {
            window: 100,
            time_window_secs: 60.0,
            zscore_threshold: 3.0,
            zscore_warmup: 30,
            exclude_anomalies: true,
            alert_cooldown_secs: 30.0,
            alert_history: 500,
            thresholds: Thresholds::default(),
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            temperature_max: 35.0,
            temperature_min: 5.0,
            response_time_ms_max: 2000.0,
            amount_max: 5000.0,
        }
    }
}

impl Default for MlSettings {
    fn default() -> Self {
        Self {
            trees: 50,
            max_depth: 10,
            feature_fraction: 0.8,
            buffer: 4000,
            warmup: 500,
            refit_every: 3000,
            refit_secs: 30.0,
        }
    }
}

impl Settings {
    /// Builds the settings from the optional file and the global flags (which already carry
    /// the environment), then validates them once.
    pub fn load(global: &GlobalArgs) -> Result<Self, ConfigError> {
        let mut settings = match &global.config {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        settings.apply_flags(global);
        settings.validate()?;
        Ok(settings)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|(line, reason)| ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        })
    }

    /// Parses TOML text; the error is (1-based line, reason).
    pub fn from_toml(text: &str) -> Result<Self, (usize, String)> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            (line, e.message().trim().to_string())
        })
    }

    fn apply_flags(&mut self, global: &GlobalArgs) {
        if let Some(b) = &global.brokers {
            self.kafka.brokers = b.clone();
        }
        if let Some(p) = &global.topic_prefix {
            self.kafka.topic_prefix = p.clone();
        }
        if let Some(t) = global.timeout {
            self.kafka.timeout_secs = t;
        }
        for (k, v) in &global.properties {
            self.kafka.properties.insert(k.clone(), v.clone());
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        check(
            "kafka.timeout_secs",
            k.timeout_secs,
            k.timeout_secs > 0.0,
            "must be above 0",
        )?;
        check(
            "kafka.partitions",
            k.partitions,
            k.partitions >= 1,
            "must be at least 1",
        )?;
        let rf = k.replication_factor;
        check(
            "kafka.replication_factor",
            rf,
            rf >= 1,
            "must be at least 1",
        )?;
        let p = &self.producer;
        check(
            "producer.rate",
            p.rate,
            p.rate >= 0.0 && p.rate.is_finite(),
            "must be 0 or more",
        )?;
        let ir = p.incident_rate;
        check(
            "producer.incident_rate",
            ir,
            (0.0..=1.0).contains(&ir),
            "must be within 0..1",
        )?;
        let a = &self.analytics;
        check(
            "analytics.window",
            a.window,
            a.window >= 1,
            "must be at least 1",
        )?;
        let z = a.zscore_threshold;
        check("analytics.zscore_threshold", z, z > 0.0, "must be above 0")?;
        let m = &self.ml;
        check("ml.trees", m.trees, m.trees >= 1, "must be at least 1")?;
        let ff = m.feature_fraction;
        check(
            "ml.feature_fraction",
            ff,
            ff > 0.0 && ff <= 1.0,
            "must be within (0, 1]",
        )?;
        check(
            "tui.fps",
            self.tui.fps,
            self.tui.fps > 0.0,
            "must be above 0",
        )?;
        Ok(())
    }

    /// The topic name of a stream, with the configured prefix.
    pub fn topic(&self, base: &str) -> String {
        format!("{}{}", self.kafka.topic_prefix, base)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.kafka.timeout_secs)
    }
}

fn check(
    key: &'static str,
    value: impl ToString,
    ok: bool,
    reason: &'static str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            value: value.to_string(),
            reason,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The model settings from the `[ml]` table, with the run's seed.
pub fn ml_config(settings: &Settings, seed: u64) -> streamwatch::ml::MlConfig {
    let m = &settings.ml;
    streamwatch::ml::MlConfig {
        trees: m.trees,
        max_depth: m.max_depth,
        feature_fraction: m.feature_fraction,
        buffer: m.buffer,
        warmup: m.warmup,
        refit_every: m.refit_every,
        refit_after: std::time::Duration::from_secs_f64(m.refit_secs.max(0.1)),
        seed,
        background: true,
        score_window: 20_000,
        min_refit_gap: std::time::Duration::from_secs(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_file_equals_built_in_defaults() {
        assert_eq!(Settings::from_toml(DEFAULT_TOML), Ok(Settings::default()));
    }

    #[test]
    fn parse_error_names_the_line() {
        let err = Settings::from_toml("[kafka]\npartitions = 3\nbogus = 1\n").unwrap_err();
        assert_eq!(err.0, 3);
        assert!(err.1.contains("bogus"), "{}", err.1);
    }

    #[test]
    fn flags_win_over_file() {
        let global = GlobalArgs {
            brokers: Some("k:1".into()),
            properties: vec![("acks".into(), "1".into())],
            ..GlobalArgs::default()
        };
        let mut s = Settings::from_toml("[kafka]\nbrokers = \"file:9\"\n").unwrap();
        s.apply_flags(&global);
        assert_eq!(s.kafka.brokers, "k:1");
        assert_eq!(s.kafka.properties["acks"], "1");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let s = Settings::from_toml("[producer]\nincident_rate = 2.0\n").unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("producer.incident_rate"), "{err}");
    }
}
