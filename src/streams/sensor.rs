//! Environmental sensors: temperature, humidity and pressure from rooms that each have their
//! own climate, a slow drift and a daily rhythm. Humidity falls as a room warms, as in a real
//! room. Incidents: spikes, sustained drift, a stuck sensor (flat line) and dropouts.

use compact_str::CompactString;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{
    GeneratorConfig, StreamKind, Timestamp, next_seq, normal, pick, round_to, start_probability,
    stream_rng,
};

/// One reading, as it travels on the `sensor-data` topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SensorReading {
    pub sensor_id: String,
    pub location: String,
    /// Degrees Celsius.
    pub temperature: f64,
    /// Relative humidity, percent.
    pub humidity: f64,
    /// Hectopascal.
    pub pressure: f64,
    pub status: SensorStatus,
    pub timestamp: Timestamp,
    /// Counts the events of this producer and entity from 0 (loss and duplicate accounting);
    /// other producers may leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub producer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<SensorLabel>,
}

/// What a sensor says of itself. Other producers' statuses are kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SensorStatus {
    #[default]
    Ok,
    Warning,
    Offline,
    Other(CompactString),
}

impl SensorStatus {
    /// A status as written: ours by name in any case, anything else kept.
    pub fn parse(s: &str) -> Self {
        match s {
            "ok" => Self::Ok,
            "warning" => Self::Warning,
            "offline" => Self::Offline,
            _ if s.eq_ignore_ascii_case("ok") => Self::Ok,
            _ if s.eq_ignore_ascii_case("warning") => Self::Warning,
            _ if s.eq_ignore_ascii_case("offline") => Self::Offline,
            _ => Self::Other(CompactString::new(s)),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Offline => "offline",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for SensorStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

super::label_enum! {
    /// The stream's ground-truth labels, `normal` first.
    pub enum SensorLabel {
        Normal = "normal",
        Spike = "spike",
        Drift = "drift",
        Stuck = "stuck",
        Dropout = "dropout",
    }
}

const LOCATIONS: &[&str] = &[
    "server-room-1",
    "server-room-2",
    "warehouse-north",
    "warehouse-south",
    "office-3f",
    "office-5f",
    "lab-b2",
    "lobby",
    "data-hall-a",
    "greenhouse",
];

/// Number of sensors the generator simulates.
pub const SENSORS: usize = 24;
/// The incidents a sensor can have, with how many readings each lasts (shortest, longest).
const INCIDENTS: [(SensorLabel, u32, u32); 4] = [
    (SensorLabel::Spike, 1, 1),
    (SensorLabel::Drift, 20, 40),
    (SensorLabel::Stuck, 15, 30),
    (SensorLabel::Dropout, 3, 8),
];

#[derive(Debug, Clone)]
struct Incident {
    label: SensorLabel,
    step: u32,
    len: u32,
    magnitude: f64,
    frozen: (f64, f64, f64),
}

#[derive(Debug, Clone)]
struct Sensor {
    id: String,
    location: &'static str,
    base_t: f64,
    base_h: f64,
    base_p: f64,
    amplitude: f64,
    drift: f64,
    pressure_walk: f64,
    last: (f64, f64, f64),
    incident: Option<Incident>,
}

pub struct SensorGenerator {
    rng: ChaCha8Rng,
    sensors: Vec<Sensor>,
    /// Next `seq` per sensor.
    seqs: Vec<u64>,
    start_p: f64,
    producer_id: String,
}

impl SensorGenerator {
    pub fn new(cfg: &GeneratorConfig) -> Self {
        let mut rng = stream_rng(cfg.seed, StreamKind::Sensor);
        let sensors = (0..SENSORS).map(|i| Sensor::new(i, &mut rng)).collect();
        let mean_len = INCIDENTS
            .iter()
            .map(|(_, a, b)| f64::from(a + b) / 2.0)
            .sum::<f64>()
            / INCIDENTS.len() as f64;
        Self {
            rng,
            sensors,
            seqs: vec![0; SENSORS],
            start_p: start_probability(cfg.incident_rate, mean_len),
            producer_id: cfg.producer_id.clone(),
        }
    }

    pub fn next_at(&mut self, at: Timestamp) -> SensorReading {
        let i = self.rng.gen_range(0..self.sensors.len());
        let seq = next_seq(&mut self.seqs, i);
        let rng = &mut self.rng;
        let s = &mut self.sensors[i];
        let (mut t, mut h, mut p) = s.normal_reading(rng, at);
        if s.incident.is_none() && rng.r#gen::<f64>() < self.start_p {
            s.incident = Some(Incident::start(rng, (t, h, p)));
        }
        let mut label = SensorLabel::Normal;
        let mut status = SensorStatus::Ok;
        if let Some(inc) = &mut s.incident {
            label = inc.label;
            inc.step += 1;
            match inc.label {
                SensorLabel::Spike => t += inc.magnitude,
                SensorLabel::Drift => t += inc.magnitude * f64::from(inc.step),
                SensorLabel::Stuck => (t, h, p) = inc.frozen,
                SensorLabel::Dropout => {
                    (t, h, p) = (-127.0, 0.0, 0.0);
                    status = SensorStatus::Offline;
                }
                SensorLabel::Normal => {}
            }
            if inc.step >= inc.len {
                s.incident = None;
            }
        }
        if status == SensorStatus::Ok && !(5.0..=35.0).contains(&t) {
            status = SensorStatus::Warning;
        }
        if label != SensorLabel::Stuck && label != SensorLabel::Dropout {
            s.last = (t, h, p);
        }
        SensorReading {
            sensor_id: s.id.clone(),
            location: s.location.to_string(),
            temperature: round_to(t, 2),
            humidity: h,
            pressure: p,
            status,
            timestamp: at,
            seq: Some(seq),
            producer_id: self.producer_id.clone(),
            label: Some(label),
        }
    }
}

impl Sensor {
    fn new(i: usize, rng: &mut ChaCha8Rng) -> Self {
        let location = *pick(rng, LOCATIONS);
        let base_t = if location.starts_with("server") || location.starts_with("data") {
            rng.gen_range(19.0..23.0)
        } else {
            rng.gen_range(17.0..26.0)
        };
        let base_h = rng.gen_range(35.0..60.0);
        let base_p = rng.gen_range(1005.0..1022.0);
        Self {
            id: format!("sensor-{:03}", i + 1),
            location,
            base_t,
            base_h,
            base_p,
            amplitude: rng.gen_range(0.5..2.5),
            drift: 0.0,
            pressure_walk: 0.0,
            last: (base_t, base_h, base_p),
            incident: None,
        }
    }

    /// A reading from the room's climate: baseline + daily rhythm (peak mid-afternoon) +
    /// mean-reverting drift + noise; humidity moves against temperature.
    fn normal_reading(&mut self, rng: &mut ChaCha8Rng, at: Timestamp) -> (f64, f64, f64) {
        self.drift = (self.drift * 0.995 + 0.02 * normal(rng)).clamp(-2.0, 2.0);
        self.pressure_walk = (self.pressure_walk * 0.998 + 0.05 * normal(rng)).clamp(-8.0, 8.0);
        let hour = at.hour_of_day(0.0);
        let daily = self.amplitude * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin();
        let t = self.base_t + daily + self.drift + 0.25 * normal(rng);
        let h = (self.base_h - 1.8 * (t - self.base_t) + 0.8 * normal(rng)).clamp(5.0, 95.0);
        let p = self.base_p + self.pressure_walk + 0.3 * normal(rng);
        (round_to(t, 2), round_to(h, 2), round_to(p, 2))
    }
}

impl Incident {
    fn start(rng: &mut ChaCha8Rng, now: (f64, f64, f64)) -> Self {
        let (label, lo, hi) = INCIDENTS[rng.gen_range(0..INCIDENTS.len())];
        let sign = if rng.gen_bool(0.7) { 1.0 } else { -1.0 };
        let magnitude = match label {
            SensorLabel::Spike => sign * rng.gen_range(5.0..12.0),
            SensorLabel::Drift => rng.gen_range(0.2..0.45),
            _ => 0.0,
        };
        Self {
            label,
            step: 0,
            len: rng.gen_range(lo..=hi),
            magnitude,
            frozen: now,
        }
    }
}
