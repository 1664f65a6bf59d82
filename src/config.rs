//! Settings, layered once into a typed, validated struct, and the one place the core's
//! configurations are derived from them.
//!
//! Order, lowest first: the defaults (the core's own `Default`s for what the core is
//! configured with, this module's for the rest; `assets/default.toml` shows them all and a
//! test holds it to them) < `--config FILE` < environment (clap's `env`) < flags, the global
//! ones and the command's own. `Settings::resolve` applies them all and validates once;
//! everything after this module reads `Settings` and never merges a flag again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use streamwatch::analytics::{AlertPolicy, AnalyzerConfig, RuleClass};
use streamwatch::codec::{Codec, MappingError};
use streamwatch::ml::MlConfig;
use streamwatch::streams::{GeneratorConfig, PerStream, StreamKind};

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
    #[error("invalid field mapping in [streams.{stream}.fields]: {source}")]
    Mapping {
        stream: &'static str,
        source: MappingError,
    },
    #[error("invalid setting {key} = {value}{}: {reason}", in_file(.file.as_deref()))]
    Invalid {
        /// The setting, with the flag that sets it where there is one.
        key: &'static str,
        value: String,
        reason: &'static str,
        /// The config file that set it, when one did.
        file: Option<PathBuf>,
    },
}

fn in_file(file: Option<&Path>) -> String {
    file.map(|f| format!(" in {}", f.display()))
        .unwrap_or_default()
}

impl ConfigError {
    /// Names `config` in an invalid setting's error when that file sets the key (a flag or
    /// the environment may have set it instead).
    fn naming_file(self, config: Option<&Path>) -> Self {
        match (self, config) {
            (
                Self::Invalid {
                    key, value, reason, ..
                },
                Some(path),
            ) => {
                let name = key.split(' ').next().unwrap_or(key);
                let sets = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|t| t.parse::<toml::Table>().ok())
                    .is_some_and(|t| lookup(&t, name));
                Self::Invalid {
                    key,
                    value,
                    reason,
                    file: sets.then(|| path.to_path_buf()),
                }
            }
            (e, _) => e,
        }
    }
}

/// Whether the TOML table has the dotted key.
fn lookup(table: &toml::Table, dotted: &str) -> bool {
    let mut parts = dotted.split('.');
    let Some(mut cur) = parts.next().and_then(|p| table.get(p)) else {
        return false;
    };
    for p in parts {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return false,
        }
    }
    true
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub kafka: KafkaSettings,
    pub producer: ProducerSettings,
    pub analytics: AnalyticsSettings,
    pub alerts: AlertSettings,
    pub ml: MlSettings,
    pub tui: TuiSettings,
    pub streams: StreamsSettings,
    /// Each stream's codec, built from `streams` when the settings are resolved.
    #[serde(skip)]
    codecs: Codecs,
    /// The log file given on the command line (the models live beside it by default).
    #[serde(skip)]
    log_file: Option<PathBuf>,
}

/// Per stream (`[streams.sensor]`, …): its topic, and the field mapping for topics other
/// programs write. A stream the file leaves out keeps the defaults.
pub type StreamsSettings = PerStream<StreamSettings>;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// The topic; empty: the prefix and the stream's own name (`sensor-data`, ...).
    pub topic: String,
    /// Which JSON field holds each of ours: `temperature = "temp_c"`.
    pub fields: BTreeMap<String, String>,
}

/// Each stream's codec.
#[derive(Debug, Clone, PartialEq)]
struct Codecs(PerStream<Codec>);

impl Default for Codecs {
    fn default() -> Self {
        Self(PerStream::from_fn(Codec::new))
    }
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
    /// Event-time spacing of an unpaced stream (`rate` 0), in events per second: a backlog
    /// written as fast as the broker takes it looks like the live stream it stands for.
    pub stamp_rate: f64,
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
    pub alert_history: usize,
    pub thresholds: Thresholds,
}

/// When evidence fires an alert and when it is over (`[alerts]`; see `AlertPolicy`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    pub for_secs: f64,
    pub for_count: u32,
    pub agree: usize,
    pub forest_confidence: f64,
    pub resolve_after_secs: f64,
    pub flap_count: usize,
    pub flap_window_secs: f64,
    pub flap_hold_secs: f64,
    pub silence_factor: f64,
    pub silence_min_secs: f64,
    pub rules: BTreeMap<String, RuleClass>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        let p = AlertPolicy::default();
        Self {
            for_secs: p.for_ms as f64 / 1000.0,
            for_count: p.for_count,
            agree: p.agree,
            forest_confidence: p.forest_confidence,
            resolve_after_secs: p.resolve_after_ms as f64 / 1000.0,
            flap_count: p.flap_count,
            flap_window_secs: p.flap_window_ms as f64 / 1000.0,
            flap_hold_secs: p.flap_hold_ms as f64 / 1000.0,
            silence_factor: p.silence_factor,
            silence_min_secs: p.silence_min_ms as f64 / 1000.0,
            rules: p.rules,
        }
    }
}

impl AlertSettings {
    pub fn to_core(&self) -> AlertPolicy {
        let ms = |s: f64| (s * 1000.0).round() as i64;
        AlertPolicy {
            for_ms: ms(self.for_secs),
            for_count: self.for_count,
            agree: self.agree.max(1),
            forest_confidence: self.forest_confidence,
            resolve_after_ms: ms(self.resolve_after_secs),
            flap_count: self.flap_count.max(1),
            flap_window_ms: ms(self.flap_window_secs),
            flap_hold_ms: ms(self.flap_hold_secs),
            silence_factor: self.silence_factor,
            silence_min_ms: ms(self.silence_min_secs),
            rules: self.rules.clone(),
            ..AlertPolicy::default()
        }
    }
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
    /// Fit on a background thread while the old model serves ("background"), or on the
    /// consumer's thread at exact event counts, so that a seeded run repeats ("inline").
    pub fit: FitMode,
    /// Refit at once when the forest's error or the stream's key metric drifts.
    pub drift: bool,
    /// Where the models are saved and read back; "" for the state directory's `models`.
    pub model_dir: PathBuf,
    /// Start without the saved models (they are still saved).
    pub fresh_models: bool,
}

/// Where the models are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FitMode {
    Background,
    Inline,
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
        let g = GeneratorConfig::default();
        Self {
            rate: 200.0,
            stamp_rate: 200.0,
            incident_rate: g.incident_rate,
            seed: g.seed,
            compression: "lz4".into(),
        }
    }
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self::from_core(&AnalyzerConfig::default())
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        AnalyticsSettings::default().thresholds
    }
}

impl Default for MlSettings {
    fn default() -> Self {
        Self::from_core(&MlConfig::default())
    }
}

impl AnalyticsSettings {
    fn from_core(c: &AnalyzerConfig) -> Self {
        Self {
            window: c.window,
            time_window_secs: c.time_window_ms as f64 / 1000.0,
            zscore_threshold: c.z_threshold,
            zscore_warmup: c.z_warmup,
            exclude_anomalies: c.exclude_anomalies,
            alert_history: c.alert_history,
            thresholds: Thresholds {
                temperature_max: c.temperature_max,
                temperature_min: c.temperature_min,
                response_time_ms_max: c.response_time_ms_max,
                amount_max: c.amount_max,
            },
        }
    }

    /// The analyzer's configuration.
    pub fn to_core(&self) -> AnalyzerConfig {
        AnalyzerConfig {
            window: self.window,
            time_window_ms: (self.time_window_secs * 1000.0) as i64,
            z_threshold: self.zscore_threshold,
            z_warmup: self.zscore_warmup,
            exclude_anomalies: self.exclude_anomalies,
            alerts: AlertPolicy::default(),
            alert_history: self.alert_history,
            temperature_max: self.thresholds.temperature_max,
            temperature_min: self.thresholds.temperature_min,
            response_time_ms_max: self.thresholds.response_time_ms_max,
            amount_max: self.thresholds.amount_max,
        }
    }
}

impl MlSettings {
    fn from_core(c: &MlConfig) -> Self {
        Self {
            trees: c.trees,
            max_depth: c.max_depth,
            feature_fraction: c.feature_fraction,
            buffer: c.buffer,
            warmup: c.warmup,
            refit_every: c.refit_every,
            fit: if c.background {
                FitMode::Background
            } else {
                FitMode::Inline
            },
            drift: c.drift,
            model_dir: PathBuf::new(),
            fresh_models: false,
        }
    }

    /// The models' configuration for a run seeded with `seed`; what the file does not set
    /// (score window, refit spacing) is the core's default.
    pub fn to_core(&self, seed: u64) -> MlConfig {
        MlConfig {
            trees: self.trees,
            max_depth: self.max_depth,
            feature_fraction: self.feature_fraction,
            buffer: self.buffer,
            warmup: self.warmup,
            refit_every: self.refit_every,
            background: self.fit == FitMode::Background,
            drift: self.drift,
            seed,
            ..MlConfig::default()
        }
    }
}

/// The user's settings file, used when `--config` is not given:
/// `$XDG_CONFIG_HOME/streamwatch/config.toml`, else `~/.config/streamwatch/config.toml`,
/// when it exists (the XDG base directory convention).
pub fn user_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let file = base.join("streamwatch").join("config.toml");
    file.is_file().then_some(file)
}

/// What the command line sets over the file and the defaults: the global flags and the
/// command's own that are settings. The command line fills it in (`Cli::overrides`), so
/// the settings know no command.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub brokers: Option<String>,
    pub topic_prefix: Option<String>,
    pub timeout: Option<f64>,
    pub properties: Vec<(String, String)>,
    pub log_file: Option<PathBuf>,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub rate: Option<f64>,
    pub stamp_rate: Option<f64>,
    pub seed: Option<u64>,
    pub incident_rate: Option<f64>,
    pub fit: Option<FitMode>,
    pub model_dir: Option<PathBuf>,
    pub fresh_models: bool,
}

impl Settings {
    /// The settings of this run: defaults < `--config` < environment < flags (global and the
    /// command's own), validated once.
    pub fn resolve(o: &Overrides) -> Result<Self, ConfigError> {
        let mut settings = match &o.config {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        settings.apply_flags(o);
        settings
            .validate()
            .map_err(|e| e.naming_file(o.config.as_deref()))?;
        settings.resolve_codecs()?;
        Ok(settings)
    }

    /// Builds each stream's codec from its field mapping, which it checks.
    fn resolve_codecs(&mut self) -> Result<(), ConfigError> {
        for kind in StreamKind::ALL {
            let fields = &self.streams[kind].fields;
            self.codecs.0[kind] =
                Codec::with_fields(kind, fields).map_err(|source| ConfigError::Mapping {
                    stream: kind.name(),
                    source,
                })?;
        }
        Ok(())
    }

    /// How a stream's topic is read and written (its field mapping applied).
    pub fn codec(&self, kind: StreamKind) -> &Codec {
        &self.codecs.0[kind]
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

    fn apply_flags(&mut self, o: &Overrides) {
        set(&mut self.kafka.brokers, o.brokers.clone());
        set(&mut self.kafka.topic_prefix, o.topic_prefix.clone());
        set(&mut self.kafka.timeout_secs, o.timeout);
        for (k, v) in &o.properties {
            self.kafka.properties.insert(k.clone(), v.clone());
        }
        self.log_file.clone_from(&o.log_file);
        set(&mut self.kafka.partitions, o.partitions);
        set(&mut self.kafka.replication_factor, o.replication_factor);
        set(&mut self.producer.rate, o.rate);
        set(&mut self.producer.stamp_rate, o.stamp_rate);
        set(&mut self.producer.seed, o.seed);
        set(&mut self.producer.incident_rate, o.incident_rate);
        set(&mut self.ml.fit, o.fit);
        set(&mut self.ml.model_dir, o.model_dir.clone());
        self.ml.fresh_models |= o.fresh_models;
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        check(
            "kafka.timeout_secs (--timeout)",
            k.timeout_secs,
            k.timeout_secs > 0.0 && k.timeout_secs.is_finite(),
            "must be above 0",
        )?;
        check(
            "kafka.partitions (--partitions)",
            k.partitions,
            k.partitions >= 1,
            "must be at least 1",
        )?;
        let sr = self.producer.stamp_rate;
        check(
            "producer.stamp_rate (--stamp-rate)",
            sr,
            sr > 0.0 && sr.is_finite(),
            "must be above 0",
        )?;
        let rf = k.replication_factor;
        check(
            "kafka.replication_factor (--replication-factor)",
            rf,
            rf >= 1,
            "must be at least 1",
        )?;
        let p = &self.producer;
        check(
            "producer.rate (--rate)",
            p.rate,
            p.rate >= 0.0 && p.rate.is_finite(),
            "must be 0 or more",
        )?;
        let ir = p.incident_rate;
        check(
            "producer.incident_rate (--incident-rate)",
            ir,
            (0.0..=1.0).contains(&ir),
            "must be within 0..1",
        )?;
        self.validate_analysis()
    }

    fn validate_analysis(&self) -> Result<(), ConfigError> {
        let a = &self.analytics;
        check(
            "analytics.window",
            a.window,
            a.window >= 1,
            "must be at least 1",
        )?;
        let z = a.zscore_threshold;
        check("analytics.zscore_threshold", z, z > 0.0, "must be above 0")?;
        let r = self.alerts.resolve_after_secs;
        check(
            "alerts.resolve_after_secs",
            r,
            r > 0.0 && r.is_finite(),
            "must be above 0",
        )?;
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
            self.tui.fps > 0.0 && self.tui.fps.is_finite(),
            "must be above 0",
        )?;
        Ok(())
    }

    /// A stream's topic: `[streams.<name>] topic`, else the prefix and the stream's own name.
    pub fn topic(&self, kind: StreamKind) -> String {
        let topic = &self.streams[kind].topic;
        if topic.trim().is_empty() {
            format!("{}{}", self.kafka.topic_prefix, kind.topic())
        } else {
            topic.clone()
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.kafka.timeout_secs)
    }

    /// The brokers for commands that talk to a running cluster (not the embedded one):
    /// `--brokers`, else a local Kafka on the standard port.
    pub fn external_brokers(&self) -> String {
        if self.kafka.brokers.trim().is_empty() {
            "localhost:9092".to_string()
        } else {
            self.kafka.brokers.clone()
        }
    }

    /// The analyzer's configuration.
    pub fn analyzer(&self) -> AnalyzerConfig {
        AnalyzerConfig {
            alerts: self.alerts.to_core(),
            ..self.analytics.to_core()
        }
    }

    /// The models' configuration, seeded with the run's seed.
    pub fn ml(&self) -> MlConfig {
        self.ml.to_core(self.producer.seed)
    }

    /// Where the models are saved and read back: by default `models` beside the log file.
    pub fn model_dir(&self) -> PathBuf {
        if self.ml.model_dir.as_os_str().is_empty() {
            let log = self
                .log_file
                .clone()
                .unwrap_or_else(crate::logging::default_path);
            log.parent()
                .map_or_else(|| PathBuf::from("models"), |d| d.join("models"))
        } else {
            self.ml.model_dir.clone()
        }
    }

    /// The generators' configuration for a producer named `producer_id`.
    pub fn generator(&self, producer_id: String) -> GeneratorConfig {
        GeneratorConfig {
            seed: self.producer.seed,
            incident_rate: self.producer.incident_rate,
            producer_id,
        }
    }
}

/// A flag given on the command line wins over what is there.
fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *slot = v;
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
            file: None,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
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

    /// The core's defaults and the settings' defaults are one set of numbers.
    #[test]
    fn core_configs_derive_from_the_default_settings() {
        let s = Settings::default();
        assert_eq!(s.analyzer(), AnalyzerConfig::default());
        assert_eq!(s.ml(), MlConfig::default());
        let g = s.generator("p0".into());
        let d = GeneratorConfig::default();
        assert_eq!((g.seed, g.incident_rate), (d.seed, d.incident_rate));
    }

    #[test]
    fn a_stream_reads_its_own_topic_through_its_field_mapping() {
        let text = "[kafka]\ntopic_prefix = \"dev.\"\n[streams.sensor]\ntopic = \"iot.readings\"\n\
                    [streams.sensor.fields]\ntemperature = \"temp_c\"\n";
        let mut s = Settings::from_toml(text).unwrap();
        s.resolve_codecs().unwrap();
        assert_eq!(s.topic(StreamKind::Sensor), "iot.readings");
        assert_eq!(s.topic(StreamKind::Log), "dev.log-data");
        assert_eq!(
            s.codec(StreamKind::Sensor).name_of("temperature"),
            Some("temp_c")
        );
        let mut bad = Settings::from_toml("[streams.log.fields]\nlatency = \"ms\"\n").unwrap();
        let err = bad.resolve_codecs().unwrap_err().to_string();
        assert!(
            err.contains("[streams.log.fields]") && err.contains("latency"),
            "{err}"
        );
    }

    #[test]
    fn a_stream_section_must_name_a_stream() {
        let err = Settings::from_toml("[streams.metrics]\ntopic = \"m\"\n").unwrap_err();
        assert!(err.1.contains("metrics"), "{err:?}");
        let s = Settings::from_toml("[streams.log]\ntopic = \"app-logs\"\n").unwrap();
        assert_eq!(s.streams[StreamKind::Log].topic, "app-logs");
        assert_eq!(s.streams[StreamKind::Sensor], StreamSettings::default());
    }

    #[test]
    fn flags_win_over_file() {
        let global = Overrides {
            brokers: Some("k:1".into()),
            properties: vec![("acks".into(), "1".into())],
            ..Overrides::default()
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
