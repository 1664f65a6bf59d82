//! The rule set of each stream: per-entity state (per sensor, per customer, per service),
//! the detectors wired to it, the alert each rule raises, and the context features the
//! models learn from. The label is never read here except to report its class.

use compact_str::CompactString;

/// Per-entity state by entity name. Names up to 24 bytes (every generated id) sit inline in
/// the table, so a lookup among 10,000 customers touches the table and not a string elsewhere,
/// and making the lookup key allocates nothing.
type EntityMap<V> = hashbrown::HashMap<CompactString, V>;

use super::alerts::{AlertBook, Filed, Firing, Severity};
use super::analyzer::{AnalyzerConfig, FEATURES};
use super::anomaly::{
    QuantileVsBaseline, Run, ShareVsBaseline, Threshold, VELOCITY_CAP, Velocity, ZOutcome, ZScore,
};
use crate::streams::log::{LogLevel, SERVICES};
use crate::streams::sensor::SensorStatus;
use crate::streams::transaction::{CATEGORIES, city};
use crate::streams::{Event, Label, LogEntry, SensorReading, StreamKind, Transaction};

type Features = [f64; FEATURES];

/// Where firings go: the alert book, and the ids of the alerts they opened.
pub(crate) struct Sink<'a> {
    pub book: &'a mut AlertBook,
    pub opened: &'a mut Vec<u64>,
}

pub(crate) enum Rules {
    Sensor(SensorRules),
    Transaction(Box<TransactionRules>),
    Log(LogRules),
}

impl Rules {
    pub fn new(kind: StreamKind, cfg: &AnalyzerConfig) -> Self {
        match kind {
            StreamKind::Sensor => Rules::Sensor(SensorRules {
                cfg: cfg.clone(),
                sensors: EntityMap::new(),
            }),
            StreamKind::Transaction => Rules::Transaction(Box::new(TransactionRules {
                cfg: cfg.clone(),
                customers: EntityMap::new(),
                amount: ZScore::new(
                    cfg.window,
                    cfg.z_threshold,
                    cfg.z_warmup,
                    cfg.exclude_anomalies,
                ),
            })),
            StreamKind::Log => Rules::Log(LogRules {
                cfg: cfg.clone(),
                services: EntityMap::new(),
            }),
        }
    }

    pub fn names(&self) -> &'static [&'static str] {
        match self {
            Rules::Sensor(_) => &["zscore", "threshold", "stuck", "consecutive", "offline"],
            Rules::Transaction(_) => &[
                "zscore",
                "threshold",
                "velocity",
                "card_testing",
                "location",
                "odd_hours",
            ],
            Rules::Log(_) => &["zscore", "threshold", "error_rate", "p95_latency"],
        }
    }

    pub fn metrics(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Rules::Sensor(_) => &[
                ("temperature", "°C"),
                ("humidity", "%"),
                ("pressure", "hPa"),
            ],
            Rules::Transaction(_) => &[("amount", "")],
            Rules::Log(_) => &[("response_time_ms", "ms"), ("error_rate", "%")],
        }
    }

    pub fn feature_names(&self) -> &'static [&'static str] {
        match self {
            Rules::Sensor(_) => &[
                "temperature",
                "humidity",
                "pressure",
                "z_temperature",
                "z_humidity",
                "z_pressure",
                "temp_minus_mean",
                "temp_std",
                "flat_run",
                "secs_since_last",
                "hour",
                "status",
                "temp_mean",
                "humidity_mean",
            ],
            Rules::Transaction(_) => &[
                "amount",
                "log_amount",
                "z_stream",
                "z_customer",
                "customer_txns",
                "txns_10s",
                "tiny_60s",
                "secs_since_last",
                "local_hour",
                "far_region",
                "category",
                "payment",
                "customer_log_mean",
                "customer_log_std",
            ],
            Rules::Log(_) => &[
                "response_time_ms",
                "log_latency",
                "z_latency",
                "status_code",
                "is_5xx",
                "is_4xx",
                "error_share",
                "p95_ratio",
                "level",
                "ms_since_last",
                "hour",
                "service",
                "endpoint",
                "p95_ms",
            ],
        }
    }

    pub fn entities(&self) -> usize {
        match self {
            Rules::Sensor(r) => r.sensors.len(),
            Rules::Transaction(r) => r.customers.len(),
            Rules::Log(r) => r.services.len(),
        }
    }

    pub fn label_class(&self, e: &Event) -> Option<usize> {
        match e {
            Event::Sensor(s) => s.label.map(Label::index),
            Event::Transaction(t) => t.label.map(Label::index),
            Event::Log(l) => l.label.map(Label::index),
        }
    }

    /// Applies the rules to one event: files what fired into `sink`, fills `features` and the
    /// stream-wide metric `values`, and returns the bit mask of the rules that fired.
    pub fn apply(
        &mut self,
        e: &Event,
        sink: &mut Sink<'_>,
        features: &mut Features,
        values: &mut [f64; 3],
    ) -> u32 {
        match (self, e) {
            (Rules::Sensor(r), Event::Sensor(s)) => r.apply(s, sink, features, values),
            (Rules::Transaction(r), Event::Transaction(t)) => r.apply(t, sink, features, values),
            (Rules::Log(r), Event::Log(l)) => r.apply(l, sink, features, values),
            _ => 0,
        }
    }
}

/// Files the firings of one event and collects its rule mask.
struct Fire<'a, 'b> {
    stream: StreamKind,
    entity: &'a str,
    time: crate::streams::Timestamp,
    mask: u32,
    sink: &'a mut Sink<'b>,
}

impl Fire<'_, '_> {
    /// Rule `rule` fired; `message` words the alert if the book needs one.
    fn fire(
        &mut self,
        rule: usize,
        name: &'static str,
        severity: Severity,
        value: f64,
        expected: (f64, f64),
        message: impl FnOnce() -> String,
    ) {
        self.mask |= 1 << rule;
        let firing = Firing {
            stream: self.stream,
            entity: self.entity,
            rule: name,
            severity,
            value,
            expected,
            time: self.time,
        };
        if let Filed::New(id) = self.sink.book.file(firing, message) {
            self.sink.opened.push(id);
        }
    }
}

fn z_severity(z: f64) -> Severity {
    if z.abs() >= 6.0 {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn band(o: &ZOutcome, k: f64) -> (f64, f64) {
    (o.mean - k * o.std, o.mean + k * o.std)
}

// ---------------------------------------------------------------- sensors

pub(crate) struct SensorRules {
    cfg: AnalyzerConfig,
    sensors: EntityMap<SensorState>,
}

struct SensorState {
    z: [ZScore; 3],
    last: Option<(f64, f64, f64)>,
    last_t: i64,
    flat: Run,
    anomalous: Run,
}

/// Identical readings in a row before a sensor counts as stuck.
const STUCK_RUN: u32 = 8;
/// Anomalous readings in a row on one sensor that make a pattern.
const CONSECUTIVE: u32 = 3;

impl SensorRules {
    fn apply(
        &mut self,
        s: &SensorReading,
        sink: &mut Sink<'_>,
        f: &mut Features,
        values: &mut [f64; 3],
    ) -> u32 {
        let cfg = &self.cfg;
        let st = self
            .sensors
            .entry(CompactString::new(&s.sensor_id))
            .or_insert_with(|| SensorState {
                z: std::array::from_fn(|_| {
                    ZScore::new(
                        cfg.window,
                        cfg.z_threshold,
                        cfg.z_warmup,
                        cfg.exclude_anomalies,
                    )
                }),
                last: None,
                last_t: s.timestamp.millis(),
                flat: Run::default(),
                anomalous: Run::default(),
            });
        let t = s.timestamp.millis();
        let mut fire = Fire {
            stream: StreamKind::Sensor,
            entity: &s.sensor_id,
            time: s.timestamp,
            mask: 0,
            sink,
        };
        let dt = (t - st.last_t).max(0) as f64 / 1000.0;
        st.last_t = t;
        if s.status == SensorStatus::Offline {
            fire.fire(
                4,
                "offline",
                Severity::Critical,
                s.temperature,
                (cfg.temperature_min, cfg.temperature_max),
                || {
                    format!(
                        "{} at {} is offline (reads {} °C)",
                        s.sensor_id, s.location, s.temperature
                    )
                },
            );
            st.anomalous.step(true);
            let means = (st.z[0].baseline().mean(), st.z[1].baseline().mean());
            *f = [
                s.temperature,
                s.humidity,
                s.pressure,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                dt,
                s.timestamp.hour_of_day(0.0),
                2.0,
                means.0,
                means.1,
            ];
            return fire.mask;
        }
        *values = [s.temperature, s.humidity, s.pressure];
        let reading = (s.temperature, s.humidity, s.pressure);
        let zs = [
            st.z[0].observe(s.temperature),
            st.z[1].observe(s.humidity),
            st.z[2].observe(s.pressure),
        ];
        let names = ["temperature", "humidity", "pressure"];
        let units = ["°C", "%", "hPa"];
        if let Some(i) = (0..3)
            .filter(|&i| zs[i].anomalous)
            .max_by(|&a, &b| zs[a].z.abs().total_cmp(&zs[b].z.abs()))
        {
            let o = &zs[i];
            fire.fire(
                0,
                "zscore",
                z_severity(o.z),
                values[i],
                band(o, cfg.z_threshold),
                || {
                    format!(
                        "{} {} {:.2} {} is {:+.1}σ from its mean {:.2} (σ {:.2})",
                        s.sensor_id, names[i], values[i], units[i], o.z, o.mean, o.std
                    )
                },
            );
        }
        let limits = Threshold {
            min: Some(cfg.temperature_min),
            max: Some(cfg.temperature_max),
        };
        if let Some(bound) = limits.breach(s.temperature) {
            fire.fire(
                1,
                "threshold",
                Severity::Critical,
                s.temperature,
                (cfg.temperature_min, cfg.temperature_max),
                || {
                    format!(
                        "{} at {} reads {:.2} °C, beyond {bound} °C",
                        s.sensor_id, s.location, s.temperature
                    )
                },
            );
        }
        let flat = st.flat.step(st.last == Some(reading));
        st.last = Some(reading);
        if flat + 1 >= STUCK_RUN {
            fire.fire(
                2,
                "stuck",
                Severity::Warning,
                s.temperature,
                (s.temperature, s.temperature),
                || {
                    format!(
                        "{} has reported exactly {:.2} °C / {:.2} % / {:.2} hPa {} times in a row",
                        s.sensor_id,
                        s.temperature,
                        s.humidity,
                        s.pressure,
                        flat + 1
                    )
                },
            );
        }
        let run = st.anomalous.step(fire.mask & 0b11 != 0);
        if run >= CONSECUTIVE {
            fire.fire(
                3,
                "consecutive",
                Severity::Critical,
                f64::from(run),
                (0.0, f64::from(CONSECUTIVE - 1)),
                || format!("{} has {run} anomalous readings in a row", s.sensor_id),
            );
        }
        let base = st.z[0].baseline();
        *f = [
            s.temperature,
            s.humidity,
            s.pressure,
            zs[0].z,
            zs[1].z,
            zs[2].z,
            s.temperature - zs[0].mean,
            base.std(),
            f64::from(flat),
            dt,
            s.timestamp.hour_of_day(0.0),
            if s.status == SensorStatus::Warning {
                1.0
            } else {
                0.0
            },
            zs[0].mean,
            zs[1].mean,
        ];
        fire.mask
    }
}

// ---------------------------------------------------------------- transactions

pub(crate) struct TransactionRules {
    cfg: AnalyzerConfig,
    customers: EntityMap<CustomerState>,
    /// Stream-wide z-score of ln(amount): the reference app's detector.
    amount: ZScore,
}

#[derive(Default)]
struct CustomerState {
    log_amounts: super::rolling::Moments,
    velocity: Velocity,
    /// Times of payments under `TINY_AMOUNT`; boxed, and only for customers who made one, so
    /// that the state every transaction touches stays a few cache lines.
    tiny: Option<Box<Velocity>>,
    home_region: &'static str,
    last_t: Option<i64>,
}

const VELOCITY_SPAN_MS: i64 = 10_000;
const VELOCITY_K: usize = 5;
const TINY_AMOUNT: f64 = 5.0;
const TINY_SPAN_MS: i64 = 60_000;
const TINY_K: usize = 4;

impl TransactionRules {
    fn apply(
        &mut self,
        tx: &Transaction,
        sink: &mut Sink<'_>,
        f: &mut Features,
        values: &mut [f64; 3],
    ) -> u32 {
        let cfg = &self.cfg;
        let t = tx.timestamp.millis();
        let la = tx.amount.max(0.01).ln();
        values[0] = tx.amount;
        let z = self.amount.observe(la);
        let (offset, region) = city(&tx.location).map_or((0.0, "unknown"), |c| (c.1, c.3));
        let st = self
            .customers
            .entry(CompactString::new(&tx.customer_id))
            .or_insert_with(|| CustomerState {
                home_region: region,
                ..Default::default()
            });
        let mut fire = Fire {
            stream: StreamKind::Transaction,
            entity: &tx.customer_id,
            time: tx.timestamp,
            mask: 0,
            sink,
        };
        if z.anomalous && z.z > 0.0 {
            fire.fire(
                0,
                "zscore",
                z_severity(z.z),
                tx.amount,
                (
                    band(&z, cfg.z_threshold).0.exp(),
                    band(&z, cfg.z_threshold).1.exp(),
                ),
                || {
                    format!(
                        "{} spent {:.2} {} at {}: {:+.1}σ on the log scale",
                        tx.customer_id, tx.amount, tx.currency, tx.merchant, z.z
                    )
                },
            );
        }
        if tx.amount > cfg.amount_max {
            fire.fire(
                1,
                "threshold",
                Severity::Critical,
                tx.amount,
                (0.0, cfg.amount_max),
                || {
                    format!(
                        "{} spent {:.2} {}, above {:.0}",
                        tx.customer_id, tx.amount, tx.currency, cfg.amount_max
                    )
                },
            );
        }
        let n10 = st.velocity.record(t, VELOCITY_SPAN_MS);
        if n10 >= VELOCITY_K {
            let sev = if n10 >= 2 * VELOCITY_K {
                Severity::Critical
            } else {
                Severity::Warning
            };
            fire.fire(
                2,
                "velocity",
                sev,
                n10 as f64,
                (0.0, (VELOCITY_K - 1) as f64),
                || {
                    format!(
                        "{} made {} transactions within {} s",
                        tx.customer_id,
                        at_least(n10),
                        VELOCITY_SPAN_MS / 1000
                    )
                },
            );
        }
        let tiny = if tx.amount < TINY_AMOUNT {
            st.tiny.get_or_insert_default().record(t, TINY_SPAN_MS)
        } else {
            st.tiny.as_ref().map_or(0, |v| v.count(t, TINY_SPAN_MS))
        };
        if tx.amount < TINY_AMOUNT && tiny >= TINY_K {
            fire.fire(3, "card_testing", Severity::Critical, tiny as f64, (0.0, (TINY_K - 1) as f64),
                || format!("{} made {} payments under {TINY_AMOUNT:.2} within a minute (card testing?)", tx.customer_id, at_least(tiny)));
        }
        let far = region != st.home_region;
        if far {
            fire.fire(4, "location", Severity::Warning, 1.0, (0.0, 0.0), || {
                format!(
                    "{} paid in {} ({region}), far from home ({})",
                    tx.customer_id, tx.location, st.home_region
                )
            });
        }
        let local_hour = tx.timestamp.hour_of_day(offset);
        let typical = if st.log_amounts.n >= 3 {
            st.log_amounts.mean
        } else {
            z.mean
        };
        if (1.0..5.0).contains(&local_hour) && la > typical + 1.0 {
            fire.fire(
                5,
                "odd_hours",
                Severity::Info,
                tx.amount,
                (0.0, typical.exp() * std::f64::consts::E),
                || {
                    format!(
                        "{} spent {:.2} {} at {:02.0}:{:02.0} local time",
                        tx.customer_id,
                        tx.amount,
                        tx.currency,
                        local_hour.floor(),
                        local_hour.fract() * 60.0
                    )
                },
            );
        }
        let cust = &st.log_amounts;
        let zc = if cust.n >= 3 {
            (la - cust.mean) / cust.std().max(0.25)
        } else {
            0.0
        };
        let since = st
            .last_t
            .map_or(86_400.0, |l| ((t - l).max(0) as f64 / 1000.0).min(86_400.0));
        *f = [
            tx.amount,
            la,
            z.z,
            zc,
            cust.n as f64,
            n10 as f64,
            tiny as f64,
            since,
            local_hour,
            if far { 1.0 } else { 0.0 },
            CATEGORIES
                .iter()
                .position(|c| c.0 == tx.category)
                .map_or(-1.0, |i| i as f64),
            payment_index(&tx.payment_method),
            if cust.n > 0 { cust.mean } else { 0.0 },
            cust.std(),
        ];
        st.log_amounts.push(la);
        st.last_t = Some(t);
        fire.mask
    }
}

/// A velocity count as words: a count at the cap may stand for more.
fn at_least(n: usize) -> String {
    if n >= VELOCITY_CAP {
        format!("{n} or more")
    } else {
        n.to_string()
    }
}

fn payment_index(m: &str) -> f64 {
    match m {
        "chip" => 0.0,
        "contactless" => 1.0,
        "online" => 2.0,
        "mobile_wallet" => 3.0,
        _ => -1.0,
    }
}

// ---------------------------------------------------------------- logs

pub(crate) struct LogRules {
    cfg: AnalyzerConfig,
    services: EntityMap<ServiceState>,
}

struct ServiceState {
    latency: EntityMap<ZScore>,
    errors: ShareVsBaseline,
    p95: QuantileVsBaseline,
    last_t: i64,
}

const ERROR_WINDOW: usize = 50;
const ERROR_MIN_SHARE: f64 = 0.2;
const ERROR_FACTOR: f64 = 3.0;
const P95_WINDOW: usize = 100;
const P95_FACTOR: f64 = 2.5;

impl LogRules {
    fn apply(
        &mut self,
        l: &LogEntry,
        sink: &mut Sink<'_>,
        f: &mut Features,
        values: &mut [f64; 3],
    ) -> u32 {
        let cfg = &self.cfg;
        let t = l.timestamp.millis();
        let st = self
            .services
            .entry(CompactString::new(&l.service))
            .or_insert_with(|| ServiceState {
                latency: EntityMap::new(),
                errors: ShareVsBaseline::new(ERROR_WINDOW),
                p95: QuantileVsBaseline::new(P95_WINDOW, 0.95),
                last_t: t,
            });
        let ll = l.response_time_ms.max(0.01).ln();
        let zs = st
            .latency
            .entry(CompactString::new(&l.endpoint))
            .or_insert_with(|| {
                ZScore::new(
                    cfg.window,
                    cfg.z_threshold,
                    cfg.z_warmup,
                    cfg.exclude_anomalies,
                )
            });
        let z = zs.observe(ll);
        let is5xx = l.status_code >= 500;
        values[0] = l.response_time_ms;
        values[1] = if is5xx { 100.0 } else { 0.0 };
        let mut fire = Fire {
            stream: StreamKind::Log,
            entity: &l.service,
            time: l.timestamp,
            mask: 0,
            sink,
        };
        if z.anomalous && z.z > 0.0 {
            let (lo, hi) = band(&z, cfg.z_threshold);
            fire.fire(
                0,
                "zscore",
                z_severity(z.z),
                l.response_time_ms,
                (lo.exp(), hi.exp()),
                || {
                    format!(
                        "{} {} took {:.0} ms: {:+.1}σ on the log scale",
                        l.service, l.endpoint, l.response_time_ms, z.z
                    )
                },
            );
        }
        if l.response_time_ms > cfg.response_time_ms_max {
            fire.fire(
                1,
                "threshold",
                Severity::Warning,
                l.response_time_ms,
                (0.0, cfg.response_time_ms_max),
                || {
                    format!(
                        "{} {} took {:.0} ms, above {:.0} ms",
                        l.service, l.endpoint, l.response_time_ms, cfg.response_time_ms_max
                    )
                },
            );
        }
        let (share, base, alarm) = st.errors.observe(is5xx, ERROR_MIN_SHARE, ERROR_FACTOR);
        if alarm {
            fire.fire(
                2,
                "error_rate",
                Severity::Critical,
                share * 100.0,
                (0.0, base * 100.0 * ERROR_FACTOR),
                || format!(
                    "{} 5xx rate {:.0}% over its last {ERROR_WINDOW} requests (baseline {:.1}%)",
                    l.service,
                    share * 100.0,
                    base * 100.0
                ),
            );
        }
        let (p95, p95_base, slow) = st.p95.observe(l.response_time_ms, P95_FACTOR);
        if slow {
            fire.fire(
                3,
                "p95_latency",
                Severity::Warning,
                p95,
                (0.0, p95_base * P95_FACTOR),
                || {
                    format!(
                        "{} p95 latency {:.0} ms, {:.1}× its baseline {:.0} ms",
                        l.service,
                        p95,
                        p95 / p95_base.max(1e-9),
                        p95_base
                    )
                },
            );
        }
        let since = (t - st.last_t).max(0) as f64;
        st.last_t = t;
        *f = [
            l.response_time_ms,
            ll,
            z.z,
            f64::from(l.status_code),
            if is5xx { 1.0 } else { 0.0 },
            if (400..500).contains(&l.status_code) {
                1.0
            } else {
                0.0
            },
            share,
            p95 / p95_base.max(1e-9),
            level_index(l.level),
            since,
            l.timestamp.hour_of_day(0.0),
            service_index(&l.service),
            endpoint_index(&l.service, &l.endpoint),
            p95,
        ];
        fire.mask
    }
}

fn level_index(l: LogLevel) -> f64 {
    match l {
        LogLevel::Debug => 0.0,
        LogLevel::Info => 1.0,
        LogLevel::Warn => 2.0,
        LogLevel::Error => 3.0,
    }
}

fn service_index(service: &str) -> f64 {
    SERVICES
        .iter()
        .position(|s| s.0 == service)
        .map_or(-1.0, |i| i as f64)
}

fn endpoint_index(service: &str, endpoint: &str) -> f64 {
    SERVICES
        .iter()
        .find(|s| s.0 == service)
        .and_then(|s| s.2.iter().position(|e| e.0 == endpoint))
        .map_or(-1.0, |i| i as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saturated_count_is_worded_as_a_lower_bound() {
        assert_eq!(at_least(5), "5");
        assert_eq!(at_least(VELOCITY_CAP), format!("{VELOCITY_CAP} or more"));
    }
}
