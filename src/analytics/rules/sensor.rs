//! The sensor stream's rules: a z-score per sensor on each reading, fixed temperature limits,
//! a stuck (flat-lined) sensor, a run of anomalous readings, and a sensor gone offline.

use compact_str::CompactString;

use super::{EntityMap, Fire, MetricValues, Reading, Sink, band, flag, z_severity};
use crate::analytics::alerts::Severity;
use crate::analytics::anomaly::{Run, Threshold, ZOutcome, ZScore};
use crate::analytics::config::AnalyzerConfig;
use crate::analytics::features::{FeatureVector, SensorFeature as F, write_row};
use crate::named_enum;
use crate::streams::SensorReading;
use crate::streams::StreamKind;
use crate::streams::sensor::SensorStatus;

named_enum! {
    /// The sensor rules, in bit order.
    pub enum SensorRule {
        ZScore = "zscore",
        Threshold = "threshold",
        Stuck = "stuck",
        Consecutive = "consecutive",
        Offline = "offline",
    }
}

/// The stream-wide metrics, in `MetricValues` order.
pub(super) const METRICS: &[(&str, &str)] = &[
    ("temperature", "°C"),
    ("humidity", "%"),
    ("pressure", "hPa"),
];
/// The readings a z-score watches, with their units, in `SensorState::z` order.
const READINGS: [(&str, &str); 3] = [
    ("temperature", "°C"),
    ("humidity", "%"),
    ("pressure", "hPa"),
];

/// Identical readings in a row before a sensor counts as stuck.
const STUCK_RUN: u32 = 8;
/// Anomalous readings in a row on one sensor that make a pattern.
const CONSECUTIVE: u32 = 3;

pub(crate) struct SensorRules {
    cfg: AnalyzerConfig,
    sensors: EntityMap<SensorState>,
}

struct SensorState {
    /// One per reading, in `READINGS` order.
    z: [ZScore; 3],
    /// The last reading's bits (a metric a message left out repeats as the same NaN).
    last: Option<[u64; 3]>,
    last_t: i64,
    flat: Run,
    anomalous: Run,
}

impl SensorState {
    fn new(cfg: &AnalyzerConfig, t: i64) -> Self {
        Self {
            z: std::array::from_fn(|_| {
                ZScore::new(
                    cfg.window,
                    cfg.z_threshold,
                    cfg.z_warmup,
                    cfg.exclude_anomalies,
                )
            }),
            last: None,
            last_t: t,
            flat: Run::default(),
            anomalous: Run::default(),
        }
    }
}

impl SensorRules {
    pub fn new(cfg: &AnalyzerConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            sensors: EntityMap::new(),
        }
    }

    pub fn entities(&self) -> usize {
        self.sensors.len()
    }

    pub fn apply(
        &mut self,
        s: &SensorReading,
        sink: &mut Sink<'_>,
        f: &mut FeatureVector,
        values: &mut MetricValues,
    ) -> u32 {
        let cfg = &self.cfg;
        let t = s.timestamp.millis();
        let st = self
            .sensors
            .entry(CompactString::new(&s.sensor_id))
            .or_insert_with(|| SensorState::new(cfg, t));
        let mut fire = Fire::new(StreamKind::Sensor, &s.sensor_id, s.timestamp, sink);
        let dt = (t - st.last_t).max(0) as f64 / 1000.0;
        st.last_t = t;
        if s.status == SensorStatus::Offline {
            offline(&mut fire, s, cfg);
            st.anomalous.step(true);
            offline_features(f, s, st, dt);
            return fire.mask;
        }
        *values = [s.temperature, s.humidity, s.pressure];
        let zs = [
            st.z[0].observe(s.temperature),
            st.z[1].observe(s.humidity),
            st.z[2].observe(s.pressure),
        ];
        zscore(&mut fire, s, values, &zs, cfg);
        threshold(&mut fire, s, cfg);
        let flat = stuck(&mut fire, s, st);
        consecutive(&mut fire, s, st);
        features(f, s, st, &zs, flat, dt);
        fire.mask
    }
}

fn offline(fire: &mut Fire<'_, '_>, s: &SensorReading, cfg: &AnalyzerConfig) {
    let r = Reading {
        severity: Severity::Critical,
        value: s.temperature,
        expected: (cfg.temperature_min, cfg.temperature_max),
    };
    fire.fire(SensorRule::Offline, r, || {
        format!(
            "{} at {} is offline (reads {} °C)",
            s.sensor_id, s.location, s.temperature
        )
    });
}

/// The reading furthest from its baseline, if any crosses the threshold.
fn zscore(
    fire: &mut Fire<'_, '_>,
    s: &SensorReading,
    values: &MetricValues,
    zs: &[ZOutcome; 3],
    cfg: &AnalyzerConfig,
) {
    let Some(i) = (0..zs.len())
        .filter(|&i| zs[i].anomalous)
        .max_by(|&a, &b| zs[a].z.abs().total_cmp(&zs[b].z.abs()))
    else {
        return;
    };
    let (o, (name, unit), value) = (&zs[i], READINGS[i], values[i]);
    let r = Reading {
        severity: z_severity(o.z),
        value,
        expected: band(o, cfg.z_threshold),
    };
    fire.fire(SensorRule::ZScore, r, || {
        format!(
            "{} {name} {value:.2} {unit} is {:+.1}σ from its mean {:.2} (σ {:.2})",
            s.sensor_id, o.z, o.mean, o.std
        )
    });
}

fn threshold(fire: &mut Fire<'_, '_>, s: &SensorReading, cfg: &AnalyzerConfig) {
    let limits = Threshold {
        min: Some(cfg.temperature_min),
        max: Some(cfg.temperature_max),
    };
    let Some(bound) = limits.breach(s.temperature) else {
        return;
    };
    let r = Reading {
        severity: Severity::Critical,
        value: s.temperature,
        expected: (cfg.temperature_min, cfg.temperature_max),
    };
    fire.fire(SensorRule::Threshold, r, || {
        format!(
            "{} at {} reads {:.2} °C, beyond {bound} °C",
            s.sensor_id, s.location, s.temperature
        )
    });
}

/// Fires when the sensor repeats one reading; returns how many repeats in a row so far.
fn stuck(fire: &mut Fire<'_, '_>, s: &SensorReading, st: &mut SensorState) -> u32 {
    let reading = [s.temperature, s.humidity, s.pressure].map(f64::to_bits);
    let flat = st.flat.step(st.last == Some(reading));
    st.last = Some(reading);
    if flat + 1 >= STUCK_RUN {
        let r = Reading {
            severity: Severity::Warning,
            value: s.temperature,
            expected: (s.temperature, s.temperature),
        };
        fire.fire(SensorRule::Stuck, r, || {
            format!(
                "{} has reported exactly {:.2} °C / {:.2} % / {:.2} hPa {} times in a row",
                s.sensor_id,
                s.temperature,
                s.humidity,
                s.pressure,
                flat + 1
            )
        });
    }
    flat
}

/// Fires when this and the readings before it were anomalous (z-score or limits).
fn consecutive(fire: &mut Fire<'_, '_>, s: &SensorReading, st: &mut SensorState) {
    let anomalous = fire.fired(SensorRule::ZScore) || fire.fired(SensorRule::Threshold);
    let run = st.anomalous.step(anomalous);
    if run >= CONSECUTIVE {
        let r = Reading {
            severity: Severity::Critical,
            value: f64::from(run),
            expected: (0.0, f64::from(CONSECUTIVE - 1)),
        };
        fire.fire(SensorRule::Consecutive, r, || {
            format!("{} has {run} anomalous readings in a row", s.sensor_id)
        });
    }
}

fn features(
    f: &mut FeatureVector,
    s: &SensorReading,
    st: &SensorState,
    zs: &[ZOutcome; 3],
    flat: u32,
    dt: f64,
) {
    write_row(
        f,
        [
            (F::Temperature, s.temperature),
            (F::Humidity, s.humidity),
            (F::Pressure, s.pressure),
            (F::ZTemperature, zs[0].z),
            (F::ZHumidity, zs[1].z),
            (F::ZPressure, zs[2].z),
            (F::TempMinusMean, s.temperature - zs[0].mean),
            (F::TempStd, st.z[0].baseline().std()),
            (F::FlatRun, f64::from(flat)),
            (F::SecsSinceLast, dt),
            (F::Hour, s.timestamp.hour_of_day(0.0)),
            (F::Status, flag(s.status == SensorStatus::Warning)),
            (F::TempMean, zs[0].mean),
            (F::HumidityMean, zs[1].mean),
        ],
    );
}

/// An offline sensor's readings are placeholders: no z-scores, no run, status 2.
fn offline_features(f: &mut FeatureVector, s: &SensorReading, st: &SensorState, dt: f64) {
    write_row(
        f,
        [
            (F::Temperature, s.temperature),
            (F::Humidity, s.humidity),
            (F::Pressure, s.pressure),
            (F::ZTemperature, 0.0),
            (F::ZHumidity, 0.0),
            (F::ZPressure, 0.0),
            (F::TempMinusMean, 0.0),
            (F::TempStd, 0.0),
            (F::FlatRun, 0.0),
            (F::SecsSinceLast, dt),
            (F::Hour, s.timestamp.hour_of_day(0.0)),
            (F::Status, 2.0),
            (F::TempMean, st.z[0].baseline().mean()),
            (F::HumidityMean, st.z[1].baseline().mean()),
        ],
    );
}
