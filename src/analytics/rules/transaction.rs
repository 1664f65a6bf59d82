//! The transaction stream's rules: the reference app's stream-wide z-score of the amount, a
//! fixed limit, velocity (a burst of payments now), card testing (many tiny payments), a
//! payment abroad (in a city whose currency is not the payment's), a large
//! payment at night, and a purchase far above the customer's own usual amount.

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
        LargePurchase = "large_purchase",
    }
}

/// The stream-wide metrics, in `MetricValues` order.
pub(super) const METRICS: &[(&str, &str)] = &[("amount", "")];

const VELOCITY_SPAN_MS: i64 = 10_000;
const VELOCITY_K: usize = 5;
const TINY_AMOUNT: f64 = 5.0;
const TINY_SPAN_MS: i64 = 60_000;
const TINY_K: usize = 4;
/// A payment this soon after the customer's previous one is part of a burst.
const BURST_GAP_MS: i64 = 2_000;
/// A purchase this many times the customer's usual amount (ln) is large...
const LARGE_FACTOR_LN: f64 = 2.48; // ln 12
/// ...and without a history, this amount in a risky category.
const LARGE_UNSEEN: f64 = 1_000.0;
/// At night, electronics this many times the usual amount (ln) are suspect.
const NIGHT_FACTOR_LN: f64 = 0.69; // ln 2
/// Payments a customer must have made before their own usual amount is trusted.
const HISTORY: u64 = 3;

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
    /// The first city the customer paid in at home (in its own currency).
    home_city: Option<CompactString>,
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
        let city = City::named(&tx.location);
        let (offset, region) = city.map_or((0.0, "unknown"), |c| (c.utc_offset_h, c.region));
        // A payment in another currency than the city's own is made abroad with a card from
        // home: cross-border, whoever the customer is, from their first payment on.
        let abroad = city.is_some_and(|c| c.currency != tx.currency);
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
        let far = region != st.home_region;
        location(&mut fire, tx, st, abroad);
        if st.home_city.is_none() && !abroad {
            st.home_city = Some(CompactString::new(&tx.location));
        }
        let local_hour = tx.timestamp.hour_of_day(offset);
        let category = Category::named(&tx.category);
        odd_hours(&mut fire, tx, st, (la, z.mean), (local_hour, category));
        large_purchase(&mut fire, tx, st, la, category);
        let cx = Context {
            la,
            z,
            n10,
            tiny,
            far,
            local_hour,
        };
        features(f, tx, st, &cx, t);
        // The customer's usual amount learns from ordinary payments only: a card test's
        // tiny amounts or a fraud's large one would move it towards the next fraud.
        if fire.mask == 0 && tx.amount >= TINY_AMOUNT {
            st.log_amounts.push(la);
        }
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
    // The burst must be going on now: a payment seconds after a burst is not one of it.
    let in_burst = st.last_t.is_some_and(|l| t - l <= BURST_GAP_MS);
    if n10 >= VELOCITY_K && in_burst {
        let r = Reading {
            severity: Severity::Critical,
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

/// A payment abroad: in a city whose currency is not the payment's.
fn location(fire: &mut Fire<'_, '_>, tx: &Transaction, st: &CustomerState, abroad: bool) {
    if !abroad {
        return;
    }
    let r = Reading {
        severity: Severity::Critical,
        value: 1.0,
        expected: (0.0, 0.0),
    };
    fire.fire(TransactionRule::Location, r, || {
        let home = st.home_city.as_deref().unwrap_or("unknown");
        format!(
            "{} paid {} in {}, abroad (home: {home})",
            tx.customer_id, tx.currency, tx.location
        )
    });
}

/// A purchase in a category fraud favours (electronics, travel) far above the customer's
/// usual amount, or, for a customer without a history, above a fixed amount.
fn large_purchase(
    fire: &mut Fire<'_, '_>,
    tx: &Transaction,
    st: &CustomerState,
    la: f64,
    category: Option<Category>,
) {
    let risky = matches!(category, Some(Category::Electronics | Category::Travel));
    if !risky {
        return;
    }
    let cust = &st.log_amounts;
    let (large, expected) = if cust.n >= HISTORY {
        let usual = cust.mean.exp();
        (
            la - cust.mean >= LARGE_FACTOR_LN,
            usual * LARGE_FACTOR_LN.exp(),
        )
    } else {
        (tx.amount >= LARGE_UNSEEN, LARGE_UNSEEN)
    };
    if !large {
        return;
    }
    let r = Reading {
        severity: Severity::Critical,
        value: tx.amount,
        expected: (0.0, expected),
    };
    fire.fire(TransactionRule::LargePurchase, r, || {
        format!(
            "{} spent {:.2} {} on {}, above {expected:.0}",
            tx.customer_id, tx.amount, tx.currency, tx.category
        )
    });
}

/// Electronics well above the customer's usual amount between 1 and 5 am local time.
fn odd_hours(
    fire: &mut Fire<'_, '_>,
    tx: &Transaction,
    st: &CustomerState,
    (la, stream_mean): (f64, f64),
    (local_hour, category): (f64, Option<Category>),
) {
    if !(1.0..5.0).contains(&local_hour) || category != Some(Category::Electronics) {
        return;
    }
    let typical = if st.log_amounts.n >= HISTORY {
        st.log_amounts.mean
    } else {
        stream_mean
    };
    if la <= typical + NIGHT_FACTOR_LN {
        return;
    }
    let r = Reading {
        severity: Severity::Critical,
        value: tx.amount,
        expected: (0.0, (typical + NIGHT_FACTOR_LN).exp()),
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
