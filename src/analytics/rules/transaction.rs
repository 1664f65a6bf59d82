//! The transaction stream's rules: the reference app's stream-wide z-score of the amount, a
//! fixed limit, velocity (many payments in seconds), card testing (many tiny payments), a
//! payment far from home, and a large payment at night.

use compact_str::CompactString;

use super::{EntityMap, Fire, MetricValues, Reading, Sink, above, band, flag, z_severity};
use crate::analytics::alerts::Severity;
use crate::analytics::anomaly::{VELOCITY_CAP, Velocity, ZOutcome, ZScore};
use crate::analytics::config::AnalyzerConfig;
use crate::analytics::features::{FeatureVector, TransactionFeature as F, write_row};
use crate::analytics::rolling::Moments;
use crate::named::Named;
use crate::named_enum;
use crate::streams::transaction::{Category, City, PaymentMethod};
use crate::streams::{StreamKind, Transaction};

named_enum! {
    /// The transaction rules, in bit order.
    pub enum TransactionRule {
        ZScore = "zscore",
        Threshold = "threshold",
        Velocity = "velocity",
        CardTesting = "card_testing",
        Location = "location",
        OddHours = "odd_hours",
    }
}

/// The stream-wide metrics, in `MetricValues` order.
pub(super) const METRICS: &[(&str, &str)] = &[("amount", "")];

const VELOCITY_SPAN_MS: i64 = 10_000;
const VELOCITY_K: usize = 5;
const TINY_AMOUNT: f64 = 5.0;
const TINY_SPAN_MS: i64 = 60_000;
const TINY_K: usize = 4;

pub(crate) struct TransactionRules {
    cfg: AnalyzerConfig,
    customers: EntityMap<CustomerState>,
    /// Stream-wide z-score of ln(amount): the reference app's detector.
    amount: ZScore,
}

#[derive(Default)]
struct CustomerState {
    log_amounts: Moments,
    velocity: Velocity,
    /// Times of payments under `TINY_AMOUNT`; boxed, and only for customers who made one, so
    /// that the state every transaction touches stays a few cache lines.
    tiny: Option<Box<Velocity>>,
    home_region: &'static str,
    last_t: Option<i64>,
}

/// What the rules learnt about one payment on the way, for the features.
struct Context {
    /// ln(amount).
    la: f64,
    z: ZOutcome,
    n10: usize,
    tiny: usize,
    far: bool,
    local_hour: f64,
}

impl TransactionRules {
    pub fn new(cfg: &AnalyzerConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            customers: EntityMap::new(),
            amount: ZScore::new(
                cfg.window,
                cfg.z_threshold,
                cfg.z_warmup,
                cfg.exclude_anomalies,
            ),
        }
    }

    pub fn entities(&self) -> usize {
        self.customers.len()
    }

    pub fn apply(
        &mut self,
        tx: &Transaction,
        sink: &mut Sink<'_>,
        f: &mut FeatureVector,
        values: &mut MetricValues,
    ) -> u32 {
        let cfg = &self.cfg;
        let t = tx.timestamp.millis();
        let la = tx.amount.max(0.01).ln();
        values[0] = tx.amount;
        let z = self.amount.observe(la);
        let (offset, region) =
            City::named(&tx.location).map_or((0.0, "unknown"), |c| (c.utc_offset_h, c.region));
        let st = self
            .customers
            .entry(CompactString::new(&tx.customer_id))
            .or_insert_with(|| CustomerState {
                home_region: region,
                ..Default::default()
            });
        let mut fire = Fire::new(StreamKind::Transaction, &tx.customer_id, tx.timestamp, sink);
        zscore(&mut fire, tx, &z, cfg);
        threshold(&mut fire, tx, cfg);
        let n10 = velocity(&mut fire, tx, st, t);
        let tiny = card_testing(&mut fire, tx, st, t);
        let far = location(&mut fire, tx, st, region);
        let local_hour = tx.timestamp.hour_of_day(offset);
        odd_hours(&mut fire, tx, st, la, z.mean, local_hour);
        let cx = Context {
            la,
            z,
            n10,
            tiny,
            far,
            local_hour,
        };
        features(f, tx, st, &cx, t);
        st.log_amounts.push(la);
        st.last_t = Some(t);
        fire.mask
    }
}

/// A payment far above the stream's usual amounts (on the log scale).
fn zscore(fire: &mut Fire<'_, '_>, tx: &Transaction, z: &ZOutcome, cfg: &AnalyzerConfig) {
    if !(z.anomalous && z.z > 0.0) {
        return;
    }
    let (lo, hi) = band(z, cfg.z_threshold);
    let r = Reading {
        severity: z_severity(z.z),
        value: tx.amount,
        expected: (lo.exp(), hi.exp()),
    };
    fire.fire(TransactionRule::ZScore, r, || {
        format!(
            "{} spent {:.2} {} at {}: {:+.1}σ on the log scale",
            tx.customer_id, tx.amount, tx.currency, tx.merchant, z.z
        )
    });
}

fn threshold(fire: &mut Fire<'_, '_>, tx: &Transaction, cfg: &AnalyzerConfig) {
    let limit = (tx.amount, cfg.amount_max);
    above(
        fire,
        TransactionRule::Threshold,
        Severity::Critical,
        limit,
        || {
            format!(
                "{} spent {:.2} {}, above {:.0}",
                tx.customer_id, tx.amount, tx.currency, cfg.amount_max
            )
        },
    );
}

/// Many payments by one customer within seconds; returns the count in the span.
fn velocity(fire: &mut Fire<'_, '_>, tx: &Transaction, st: &mut CustomerState, t: i64) -> usize {
    let n10 = st.velocity.record(t, VELOCITY_SPAN_MS);
    if n10 >= VELOCITY_K {
        let severity = if n10 >= 2 * VELOCITY_K {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let r = Reading {
            severity,
            value: n10 as f64,
            expected: (0.0, (VELOCITY_K - 1) as f64),
        };
        fire.fire(TransactionRule::Velocity, r, || {
            format!(
                "{} made {} transactions within {} s",
                tx.customer_id,
                at_least(n10),
                VELOCITY_SPAN_MS / 1000
            )
        });
    }
    n10
}

/// Many tiny payments within a minute; returns their count.
fn card_testing(
    fire: &mut Fire<'_, '_>,
    tx: &Transaction,
    st: &mut CustomerState,
    t: i64,
) -> usize {
    let tiny_now = tx.amount < TINY_AMOUNT;
    let tiny = if tiny_now {
        st.tiny.get_or_insert_default().record(t, TINY_SPAN_MS)
    } else {
        st.tiny.as_ref().map_or(0, |v| v.count(t, TINY_SPAN_MS))
    };
    if tiny_now && tiny >= TINY_K {
        let r = Reading {
            severity: Severity::Critical,
            value: tiny as f64,
            expected: (0.0, (TINY_K - 1) as f64),
        };
        fire.fire(TransactionRule::CardTesting, r, || {
            format!(
                "{} made {} payments under {TINY_AMOUNT:.2} within a minute (card testing?)",
                tx.customer_id,
                at_least(tiny)
            )
        });
    }
    tiny
}

/// A payment in another region than the customer's first; returns whether it was.
fn location(
    fire: &mut Fire<'_, '_>,
    tx: &Transaction,
    st: &CustomerState,
    region: &'static str,
) -> bool {
    let far = region != st.home_region;
    if far {
        let r = Reading {
            severity: Severity::Warning,
            value: 1.0,
            expected: (0.0, 0.0),
        };
        fire.fire(TransactionRule::Location, r, || {
            format!(
                "{} paid in {} ({region}), far from home ({})",
                tx.customer_id, tx.location, st.home_region
            )
        });
    }
    far
}

/// A payment well above the customer's usual amount between 1 and 5 am local time.
fn odd_hours(
    fire: &mut Fire<'_, '_>,
    tx: &Transaction,
    st: &CustomerState,
    la: f64,
    stream_mean: f64,
    local_hour: f64,
) {
    let typical = if st.log_amounts.n >= 3 {
        st.log_amounts.mean
    } else {
        stream_mean
    };
    if !((1.0..5.0).contains(&local_hour) && la > typical + 1.0) {
        return;
    }
    let r = Reading {
        severity: Severity::Info,
        value: tx.amount,
        expected: (0.0, typical.exp() * std::f64::consts::E),
    };
    fire.fire(TransactionRule::OddHours, r, || {
        format!(
            "{} spent {:.2} {} at {:02.0}:{:02.0} local time",
            tx.customer_id,
            tx.amount,
            tx.currency,
            local_hour.floor(),
            local_hour.fract() * 60.0
        )
    });
}

fn features(f: &mut FeatureVector, tx: &Transaction, st: &CustomerState, cx: &Context, t: i64) {
    let cust = &st.log_amounts;
    let zc = if cust.n >= 3 {
        (cx.la - cust.mean) / cust.std().max(0.25)
    } else {
        0.0
    };
    let since = st
        .last_t
        .map_or(86_400.0, |l| ((t - l).max(0) as f64 / 1000.0).min(86_400.0));
    let index = |i: Option<usize>| i.map_or(-1.0, |i| i as f64);
    write_row(
        f,
        [
            (F::Amount, tx.amount),
            (F::LogAmount, cx.la),
            (F::ZStream, cx.z.z),
            (F::ZCustomer, zc),
            (F::CustomerTxns, cust.n as f64),
            (F::Txns10s, cx.n10 as f64),
            (F::Tiny60s, cx.tiny as f64),
            (F::SecsSinceLast, since),
            (F::LocalHour, cx.local_hour),
            (F::FarRegion, flag(cx.far)),
            (
                F::Category,
                index(Category::named(&tx.category).map(Category::index)),
            ),
            (
                F::Payment,
                index(PaymentMethod::named(&tx.payment_method).map(PaymentMethod::index)),
            ),
            (F::CustomerLogMean, if cust.n > 0 { cust.mean } else { 0.0 }),
            (F::CustomerLogStd, cust.std()),
        ],
    );
}

/// A velocity count as words: a count at the cap may stand for more.
fn at_least(n: usize) -> String {
    if n >= VELOCITY_CAP {
        format!("{n} or more")
    } else {
        n.to_string()
    }
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
