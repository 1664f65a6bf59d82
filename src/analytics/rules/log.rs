//! The log stream's rules: a z-score of latency per endpoint, a fixed latency limit, a 5xx
//! rate well above the service's baseline, and a p95 latency well above its baseline.

use compact_str::CompactString;

use super::{EntityMap, Fire, MetricValues, Reading, Sink, above, band, flag};
use crate::analytics::alerts::Severity;
use crate::analytics::anomaly::{QuantileVsBaseline, ShareVsBaseline, ZOutcome, ZScore};
use crate::analytics::config::AnalyzerConfig;
use crate::analytics::features::{FeatureVector, LogFeature as F, write_row};
use crate::named_enum;
use crate::streams::log::{LogLevel, Service};
use crate::streams::{LogEntry, StreamKind};

named_enum! {
    /// The log rules, in bit order.
    pub enum LogRule {
        ZScore = "zscore",
        Threshold = "threshold",
        ErrorRate = "error_rate",
        P95Latency = "p95_latency",
        Slowdown = "slowdown",
    }
}

/// The stream-wide metrics, in `MetricValues` order.
pub(super) const METRICS: &[(&str, &str)] = &[("response_time_ms", "ms"), ("error_rate", "%")];

const ERROR_WINDOW: usize = 50;
const ERROR_MIN_SHARE: f64 = 0.2;
const ERROR_FACTOR: f64 = 3.0;
const P95_WINDOW: usize = 100;
const P95_FACTOR: f64 = 2.5;

pub(crate) struct LogRules {
    cfg: AnalyzerConfig,
    services: EntityMap<ServiceState>,
}

struct ServiceState {
    /// Per endpoint.
    latency: EntityMap<ZScore>,
    errors: ShareVsBaseline,
    p95: QuantileVsBaseline,
    last_t: i64,
    recent: Recent,
}

/// What the service's last few requests did against its own longer run: the incidents of a
/// service (a burst of errors, a slowdown) show here within a handful of lines, where the
/// rules' windows of a hundred requests still read normal.
#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    /// Exponentially weighted share of 5xx over about the last 8 requests.
    errors: f64,
    /// ln(latency) over about the last 8 requests, and over about the last 300.
    latency: f64,
    baseline: f64,
    /// Each request's z-score against its endpoint, averaged over about the last 8: a
    /// service slowing down shows in every endpoint at once, a tail request in one.
    slow: f64,
    seen: bool,
}

/// The recent endpoint z-score at or above which a service is slowing down.
const SLOWDOWN_Z: f64 = 2.0;
/// Weights of the newest request in the short and in the long average.
const RECENT_ALPHA: f64 = 0.125;
const BASELINE_ALPHA: f64 = 1.0 / 300.0;

impl Recent {
    /// Adds a request; returns the recent 5xx share and latency against the baseline (a
    /// ratio, 1 = as usual).
    fn observe(&mut self, is5xx: Option<bool>, ll: f64) -> (f64, f64) {
        if !self.seen && ll.is_finite() {
            (self.latency, self.baseline, self.seen) = (ll, ll, true);
        }
        if let Some(e) = is5xx {
            self.errors += RECENT_ALPHA * (f64::from(u8::from(e)) - self.errors);
        }
        if ll.is_finite() {
            self.latency += RECENT_ALPHA * (ll - self.latency);
            self.baseline += BASELINE_ALPHA * (ll - self.baseline);
        }
        (self.errors, (self.latency - self.baseline).exp())
    }
}

/// What the rules learnt about one request on the way, for the features.
struct Context {
    /// ln(response time).
    ll: f64,
    z: ZOutcome,
    share: f64,
    p95: f64,
    p95_base: f64,
    since_ms: f64,
    recent_errors: f64,
    recent_latency: f64,
}

impl LogRules {
    pub fn new(cfg: &AnalyzerConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            services: EntityMap::new(),
        }
    }

    pub fn entities(&self) -> usize {
        self.services.len()
    }

    pub fn apply(
        &mut self,
        l: &LogEntry,
        sink: &mut Sink<'_>,
        f: &mut FeatureVector,
        values: &mut MetricValues,
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
                recent: Recent::default(),
            });
        let ll = l.response_time_ms.max(0.01).ln();
        let z = endpoint_zscore(st, cfg, &l.endpoint).observe(ll);
        let is5xx = l.status_code >= 500;
        values[0] = l.response_time_ms;
        // No status code (0): no value for the error rate, rather than a success.
        values[1] = match l.status_code {
            0 => f64::NAN,
            _ if is5xx => 100.0,
            _ => 0.0,
        };
        let mut fire = Fire::new(StreamKind::Log, &l.service, l.timestamp, sink);
        zscore(&mut fire, l, &z, cfg);
        threshold(&mut fire, l, cfg);
        let share = error_rate(&mut fire, l, st, is5xx);
        let (p95, p95_base) = p95_latency(&mut fire, l, st);
        let since_ms = (t - st.last_t).max(0) as f64;
        st.last_t = t;
        let known = l.status_code != 0;
        let (recent_errors, recent_latency) = st.recent.observe(known.then_some(is5xx), ll);
        slowdown(&mut fire, l, &mut st.recent, &z);
        let cx = Context {
            recent_errors,
            recent_latency,
            ll,
            z,
            share,
            p95,
            p95_base,
            since_ms,
        };
        features(f, l, &cx);
        fire.mask
    }
}

/// The latency baseline of one endpoint of the service.
fn endpoint_zscore<'a>(
    st: &'a mut ServiceState,
    cfg: &AnalyzerConfig,
    endpoint: &str,
) -> &'a mut ZScore {
    st.latency
        .entry(CompactString::new(endpoint))
        .or_insert_with(|| {
            ZScore::new(
                cfg.window,
                cfg.z_threshold,
                cfg.z_warmup,
                cfg.exclude_anomalies,
            )
        })
}

/// A request far slower than its endpoint's usual (on the log scale).
fn zscore(fire: &mut Fire<'_, '_>, l: &LogEntry, z: &ZOutcome, cfg: &AnalyzerConfig) {
    if !(z.anomalous && z.z > 0.0) {
        return;
    }
    let (lo, hi) = band(z, cfg.z_threshold);
    // One slow request is not an incident however slow: services have a tail. A slowdown
    // shows as many of them (the policy's `for`) or with the p95 rule agreeing.
    let r = Reading {
        severity: Severity::Warning,
        value: l.response_time_ms,
        expected: (lo.exp(), hi.exp()),
    };
    fire.fire(LogRule::ZScore, r, || {
        format!(
            "{} {} took {:.0} ms: {:+.1}σ on the log scale",
            l.service, l.endpoint, l.response_time_ms, z.z
        )
    });
}

fn threshold(fire: &mut Fire<'_, '_>, l: &LogEntry, cfg: &AnalyzerConfig) {
    let limit = (l.response_time_ms, cfg.response_time_ms_max);
    above(fire, LogRule::Threshold, Severity::Warning, limit, || {
        format!(
            "{} {} took {:.0} ms, above {:.0} ms",
            l.service, l.endpoint, l.response_time_ms, cfg.response_time_ms_max
        )
    });
}

/// The service's 5xx share over its last requests against its baseline; returns the share.
/// A line without a status code leaves the share as it was.
fn error_rate(fire: &mut Fire<'_, '_>, l: &LogEntry, st: &mut ServiceState, is5xx: bool) -> f64 {
    if l.status_code == 0 {
        return st.errors.share();
    }
    let (share, base, alarm) = st.errors.observe(is5xx, ERROR_MIN_SHARE, ERROR_FACTOR);
    if alarm {
        let r = Reading {
            severity: Severity::Critical,
            value: share * 100.0,
            expected: (0.0, base * 100.0 * ERROR_FACTOR),
        };
        fire.fire(LogRule::ErrorRate, r, || {
            format!(
                "{} 5xx rate {:.0}% over its last {ERROR_WINDOW} requests (baseline {:.1}%)",
                l.service,
                share * 100.0,
                base * 100.0
            )
        });
    }
    share
}

/// The service's requests, each against its own endpoint, slower for several in a row.
fn slowdown(fire: &mut Fire<'_, '_>, l: &LogEntry, recent: &mut Recent, z: &ZOutcome) {
    if !z.z.is_finite() {
        return;
    }
    // Clamped, so that one tail request moves the average by little.
    recent.slow += RECENT_ALPHA * (z.z.clamp(-3.0, 6.0) - recent.slow);
    if recent.slow < SLOWDOWN_Z {
        return;
    }
    let r = Reading {
        severity: Severity::Critical,
        value: recent.slow,
        expected: (-SLOWDOWN_Z, SLOWDOWN_Z),
    };
    fire.fire(LogRule::Slowdown, r, || {
        format!(
            "{} is slowing down: its recent requests average {:+.1}σ against their endpoints",
            l.service, recent.slow
        )
    });
}

/// The service's p95 latency against its baseline; returns both.
fn p95_latency(fire: &mut Fire<'_, '_>, l: &LogEntry, st: &mut ServiceState) -> (f64, f64) {
    let (p95, p95_base, slow) = st.p95.observe(l.response_time_ms, P95_FACTOR);
    if slow {
        let r = Reading {
            severity: Severity::Warning,
            value: p95,
            expected: (0.0, p95_base * P95_FACTOR),
        };
        fire.fire(LogRule::P95Latency, r, || {
            format!(
                "{} p95 latency {:.0} ms, {:.1}× its baseline {:.0} ms",
                l.service,
                p95,
                p95 / p95_base.max(1e-9),
                p95_base
            )
        });
    }
    (p95, p95_base)
}

fn features(f: &mut FeatureVector, l: &LogEntry, cx: &Context) {
    let service = Service::named(&l.service);
    let endpoint =
        service.and_then(|(_, s)| s.endpoints.iter().position(|e| e.route == l.endpoint));
    let index = |i: Option<usize>| i.map_or(-1.0, |i| i as f64);
    write_row(
        f,
        [
            (F::ResponseTimeMs, l.response_time_ms),
            (F::LogLatency, cx.ll),
            (F::ZLatency, cx.z.z),
            (F::StatusCode, f64::from(l.status_code)),
            (F::Is5xx, flag(l.status_code >= 500)),
            (F::Is4xx, flag((400..500).contains(&l.status_code))),
            (F::ErrorShare, cx.share),
            (F::P95Ratio, cx.p95 / cx.p95_base.max(1e-9)),
            (F::Level, level_index(&l.level)),
            (F::MsSinceLast, cx.since_ms),
            (F::Hour, l.timestamp.hour_of_day(0.0)),
            (F::Service, index(service.map(|(i, _)| i))),
            (F::Endpoint, index(endpoint)),
            (F::P95Ms, cx.p95),
            (F::RecentErrors, cx.recent_errors),
            (F::RecentLatency, cx.recent_latency),
        ],
    );
}

/// A level as a feature: ours in order of severity, any other level -1 (unknown).
fn level_index(l: &LogLevel) -> f64 {
    match l {
        LogLevel::Debug => 0.0,
        LogLevel::Info => 1.0,
        LogLevel::Warn => 2.0,
        LogLevel::Error => 3.0,
        LogLevel::Other(_) => -1.0,
    }
}
