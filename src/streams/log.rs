//! Application logs: services with endpoints whose latency follows a long-tailed
//! (log-normal with occasional stragglers) distribution, status codes and levels as a web
//! service emits them. Incidents: error bursts on one service, latency degradation, 5xx storms.

use compact_str::CompactString;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{
    GeneratorConfig, StreamKind, Timestamp, next_seq, normal, round_to, start_probability,
    stream_rng,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogEntry {
    pub timestamp: Timestamp,
    pub service: String,
    pub endpoint: String,
    pub level: LogLevel,
    pub status_code: u16,
    pub response_time_ms: f64,
    pub message: String,
    /// Counts the events of this producer and entity from 0 (loss and duplicate accounting);
    /// other producers may leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub producer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<LogLabel>,
}

/// A log line's level. Other producers' levels are kept as written; `WARNING` (Python's
/// logging) is `WARN`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
    Other(CompactString),
}

impl LogLevel {
    /// A level as written: ours by name in any case, anything else kept.
    pub fn parse(s: &str) -> Self {
        match s {
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "WARN" => Self::Warn,
            "ERROR" => Self::Error,
            _ if s.eq_ignore_ascii_case("debug") => Self::Debug,
            _ if s.eq_ignore_ascii_case("info") => Self::Info,
            _ if s.eq_ignore_ascii_case("warn") || s.eq_ignore_ascii_case("warning") => Self::Warn,
            _ if s.eq_ignore_ascii_case("error") => Self::Error,
            _ => Self::Other(CompactString::new(s)),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for LogLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

super::label_enum! {
    /// The stream's ground-truth labels, `normal` first.
    pub enum LogLabel {
        Normal = "normal",
        ErrorBurst = "error_burst",
        LatencyDegradation = "latency_degradation",
        Storm5xx = "5xx_storm",
    }
}

/// An endpoint of a service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Endpoint {
    pub route: &'static str,
    /// Median latency in milliseconds.
    pub median_ms: f64,
}

/// A service that writes logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Service {
    pub name: &'static str,
    /// Share of the traffic, relative to the other services.
    pub weight: f64,
    pub endpoints: &'static [Endpoint],
}

const fn endpoint(route: &'static str, median_ms: f64) -> Endpoint {
    Endpoint { route, median_ms }
}

const fn service(name: &'static str, weight: f64, endpoints: &'static [Endpoint]) -> Service {
    Service {
        name,
        weight,
        endpoints,
    }
}

/// The services the generator simulates.
pub const SERVICES: &[Service] = &[
    service(
        "api-gateway",
        5.0,
        &[
            endpoint("GET /health", 3.0),
            endpoint("POST /api/v1/route", 18.0),
        ],
    ),
    service(
        "auth",
        3.0,
        &[
            endpoint("POST /login", 85.0),
            endpoint("POST /token/refresh", 25.0),
        ],
    ),
    service(
        "orders",
        3.0,
        &[
            endpoint("GET /orders", 40.0),
            endpoint("POST /orders", 120.0),
            endpoint("GET /orders/{id}", 22.0),
        ],
    ),
    service(
        "payments",
        2.0,
        &[
            endpoint("POST /payments", 240.0),
            endpoint("GET /payments/{id}", 35.0),
        ],
    ),
    service(
        "inventory",
        2.0,
        &[
            endpoint("GET /stock", 30.0),
            endpoint("PUT /stock/{sku}", 60.0),
        ],
    ),
    service(
        "search",
        4.0,
        &[
            endpoint("GET /search", 95.0),
            endpoint("GET /suggest", 15.0),
        ],
    ),
    service("notifications", 1.0, &[endpoint("POST /notify", 55.0)]),
];

impl Service {
    /// A service by name.
    pub fn named(name: &str) -> Option<(usize, &'static Service)> {
        SERVICES.iter().enumerate().find(|(_, s)| s.name == name)
    }
}

/// The incidents a service can have, with how many log lines each lasts (shortest, longest).
const INCIDENTS: [(LogLabel, u32, u32); 3] = [
    (LogLabel::ErrorBurst, 30, 60),
    (LogLabel::LatencyDegradation, 40, 80),
    (LogLabel::Storm5xx, 20, 40),
];

#[derive(Debug, Clone)]
struct Incident {
    label: LogLabel,
    left: u32,
    factor: f64,
}

pub struct LogGenerator {
    rng: ChaCha8Rng,
    cumulative: Vec<f64>,
    /// Next `seq` per service.
    seqs: Vec<u64>,
    incidents: Vec<Option<Incident>>,
    start_p: f64,
    producer_id: String,
}

impl LogGenerator {
    pub fn new(cfg: &GeneratorConfig) -> Self {
        let total: f64 = SERVICES.iter().map(|s| s.weight).sum();
        let mut acc = 0.0;
        let cumulative = SERVICES
            .iter()
            .map(|s| {
                acc += s.weight / total;
                acc
            })
            .collect();
        let mean_len = INCIDENTS
            .iter()
            .map(|(_, a, b)| f64::from(a + b) / 2.0)
            .sum::<f64>()
            / INCIDENTS.len() as f64;
        Self {
            rng: stream_rng(cfg.seed, StreamKind::Log),
            cumulative,
            seqs: vec![0; SERVICES.len()],
            incidents: vec![None; SERVICES.len()],
            start_p: start_probability(cfg.incident_rate, mean_len),
            producer_id: cfg.producer_id.clone(),
        }
    }

    pub fn next_at(&mut self, at: Timestamp) -> LogEntry {
        let u: f64 = self.rng.r#gen();
        let s = self
            .cumulative
            .iter()
            .position(|c| u < *c)
            .unwrap_or(SERVICES.len() - 1);
        if self.incidents[s].is_none() && self.rng.r#gen::<f64>() < self.start_p {
            self.incidents[s] = Some(self.start_incident());
        }
        let label = self.incidents[s]
            .as_ref()
            .map_or(LogLabel::Normal, |i| i.label);
        let factor = self.incidents[s].as_ref().map_or(1.0, |i| i.factor);
        if let Some(inc) = &mut self.incidents[s] {
            inc.left -= 1;
            if inc.left == 0 {
                self.incidents[s] = None;
            }
        }
        let seq = next_seq(&mut self.seqs, s);
        self.make(s, label, factor, at, seq)
    }

    fn start_incident(&mut self) -> Incident {
        let (label, lo, hi) = INCIDENTS[self.rng.gen_range(0..INCIDENTS.len())];
        let factor = if label == LogLabel::LatencyDegradation {
            self.rng.gen_range(4.0..10.0)
        } else {
            1.0
        };
        Incident {
            label,
            left: self.rng.gen_range(lo..=hi),
            factor,
        }
    }

    fn make(
        &mut self,
        s: usize,
        label: LogLabel,
        factor: f64,
        at: Timestamp,
        seq: u64,
    ) -> LogEntry {
        let rng = &mut self.rng;
        let service = &SERVICES[s];
        let endpoint = &service.endpoints[rng.gen_range(0..service.endpoints.len())];
        let hour = at.hour_of_day(0.0);
        let load = 1.0 + 0.3 * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin().max(0.0);
        let mut latency = endpoint.median_ms * load * (0.45 * normal(rng)).exp();
        if rng.gen_bool(0.01) {
            latency *= rng.gen_range(4.0..15.0);
        }
        latency *= factor;
        let status = match label {
            LogLabel::ErrorBurst if rng.gen_bool(0.7) => 500,
            LogLabel::Storm5xx => *[502u16, 503, 504].get(rng.gen_range(0..3)).unwrap_or(&503),
            _ => normal_status(rng),
        };
        if status >= 502 {
            latency = latency.max(rng.gen_range(1000.0..30_000.0));
        }
        let level = level_of(status, latency, rng);
        let latency = round_to(latency, 1);
        LogEntry {
            timestamp: at,
            service: service.name.to_string(),
            endpoint: endpoint.route.to_string(),
            level,
            status_code: status,
            response_time_ms: latency,
            message: message(endpoint.route, status, latency),
            seq: Some(seq),
            producer_id: self.producer_id.clone(),
            label: Some(label),
        }
    }
}

fn normal_status(rng: &mut ChaCha8Rng) -> u16 {
    let u: f64 = rng.r#gen();
    match u {
        x if x < 0.90 => 200,
        x if x < 0.93 => 201,
        x if x < 0.945 => 204,
        x if x < 0.96 => 304,
        x if x < 0.972 => 400,
        x if x < 0.982 => 401,
        x if x < 0.997 => 404,
        _ => 500,
    }
}

fn level_of(status: u16, latency: f64, rng: &mut ChaCha8Rng) -> LogLevel {
    match status {
        500.. => LogLevel::Error,
        400.. => LogLevel::Warn,
        _ if latency > 1000.0 => LogLevel::Warn,
        _ if rng.gen_bool(0.05) => LogLevel::Debug,
        _ => LogLevel::Info,
    }
}

fn message(endpoint: &str, status: u16, latency: f64) -> String {
    let what = match status {
        200..=299 => "ok",
        304 => "not modified",
        400 => "bad request: validation failed",
        401 => "unauthorized: token expired",
        404 => "not found",
        500 => "internal error: upstream call failed",
        502 => "bad gateway: upstream closed connection",
        503 => "service unavailable: connection pool exhausted",
        504 => "gateway timeout: upstream did not answer",
        _ => "unexpected status",
    };
    format!("{endpoint} -> {status} {what} ({latency} ms)")
}
