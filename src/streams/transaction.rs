//! Card transactions: customers with their own spending profile (log-normal amounts, usual
//! categories, a home city), and five fraud patterns: an unusually large amount, a burst of
//! transactions in seconds (velocity), a far-away location, odd hours, and card testing
//! (many tiny amounts).

use std::collections::VecDeque;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{
    GeneratorConfig, StreamKind, Timestamp, next_seq, normal, pick, round_to, start_probability,
    stream_rng,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Transaction {
    pub transaction_id: String,
    pub customer_id: String,
    pub amount: f64,
    pub currency: String,
    pub merchant: String,
    pub category: String,
    pub payment_method: String,
    pub location: String,
    pub timestamp: Timestamp,
    /// Counts the events of this producer and entity from 0 (loss and duplicate accounting);
    /// other producers may leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub producer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<TransactionLabel>,
}

super::label_enum! {
    /// The stream's ground-truth labels, `normal` first.
    pub enum TransactionLabel {
        Normal = "normal",
        LargeAmount = "large_amount",
        VelocityFraud = "velocity_fraud",
        LocationFraud = "location_fraud",
        OddHoursFraud = "odd_hours_fraud",
        CardTesting = "card_testing",
    }
}

/// A city where customers live or pay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct City {
    pub name: &'static str,
    /// Hours from UTC (no daylight saving: the generator's clock is simple).
    pub utc_offset_h: f64,
    pub currency: &'static str,
    pub region: &'static str,
}

const fn city(
    name: &'static str,
    utc_offset_h: f64,
    currency: &'static str,
    region: &'static str,
) -> City {
    City {
        name,
        utc_offset_h,
        currency,
        region,
    }
}

/// Home cities of customers; amounts are in the local currency, all of similar magnitude.
pub const HOME_CITIES: &[City] = &[
    city("New York", -5.0, "USD", "america"),
    city("Chicago", -6.0, "USD", "america"),
    city("Los Angeles", -8.0, "USD", "america"),
    city("Toronto", -5.0, "CAD", "america"),
    city("London", 0.0, "GBP", "europe"),
    city("Berlin", 1.0, "EUR", "europe"),
    city("Paris", 1.0, "EUR", "europe"),
    city("Madrid", 1.0, "EUR", "europe"),
    city("Singapore", 8.0, "SGD", "asia"),
    city("Sydney", 10.0, "AUD", "oceania"),
    city("Auckland", 12.0, "NZD", "oceania"),
    city("Honolulu", -10.0, "USD", "america"),
];

/// Cities far from most homes, where location fraud happens.
pub const FAR_CITIES: &[City] = &[
    city("Lagos", 1.0, "NGN", "africa"),
    city("Sao Paulo", -3.0, "BRL", "south-america"),
    city("Mumbai", 5.5, "INR", "asia"),
    city("Moscow", 3.0, "RUB", "europe-east"),
    city("Jakarta", 7.0, "IDR", "asia"),
    city("Dubai", 4.0, "AED", "middle-east"),
];

impl City {
    /// A city (home or far) by name.
    pub fn named(name: &str) -> Option<&'static City> {
        HOME_CITIES
            .iter()
            .chain(FAR_CITIES)
            .find(|c| c.name == name)
    }
}

crate::named_enum! {
    /// What a payment was for.
    pub enum Category {
        Groceries = "groceries",
        Restaurants = "restaurants",
        Fuel = "fuel",
        Electronics = "electronics",
        Travel = "travel",
        Clothing = "clothing",
        Entertainment = "entertainment",
        Utilities = "utilities",
        Health = "health",
        Online = "online",
    }
}

impl Category {
    /// The merchants of the category.
    pub fn merchants(self) -> &'static [&'static str] {
        match self {
            Category::Groceries => &["FreshMart", "Green Grocer", "Daily Basket"],
            Category::Restaurants => &["Luigi's", "Sushi Zen", "Burger Barn", "Cafe Nero"],
            Category::Fuel => &["Shell", "BP", "Circle K"],
            Category::Electronics => &["TechWorld", "Gadget Hub", "MediaStore"],
            Category::Travel => &["SkyJet Airlines", "RailEurope", "HotelNow"],
            Category::Clothing => &["Urban Threads", "Denim Co", "StyleHouse"],
            Category::Entertainment => &["CineMax", "StreamFlix", "GameZone"],
            Category::Utilities => &["City Power", "AquaWorks", "FiberNet"],
            Category::Health => &["CarePharmacy", "Wellness Clinic"],
            Category::Online => &["ShopNow", "MarketPlace", "AppStore"],
        }
    }
}

/// The categories a customer shops in regularly: all but online, where card testing happens.
const EVERYDAY: [Category; 9] = [
    Category::Groceries,
    Category::Restaurants,
    Category::Fuel,
    Category::Electronics,
    Category::Travel,
    Category::Clothing,
    Category::Entertainment,
    Category::Utilities,
    Category::Health,
];

crate::named_enum! {
    /// How a customer pays.
    pub enum PaymentMethod {
        Chip = "chip",
        Contactless = "contactless",
        Online = "online",
        MobileWallet = "mobile_wallet",
    }
}

/// Customers the generator simulates.
pub const CUSTOMERS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Profile {
    pub id: String,
    /// ln of the median amount.
    pub mu: f64,
    pub sigma: f64,
    pub categories: [Category; 3],
    pub home: &'static City,
    pub payment: PaymentMethod,
}

impl Profile {
    /// The customer's median amount.
    pub fn median_amount(&self) -> f64 {
        self.mu.exp()
    }
}

pub struct TransactionGenerator {
    rng: ChaCha8Rng,
    customers: Vec<Profile>,
    /// Next `seq` per customer.
    seqs: Vec<u64>,
    pending: VecDeque<(usize, TransactionLabel)>,
    start_p: f64,
    next_id: u64,
    producer_id: String,
}

/// Mean events per fraud incident (large 1, velocity ~8, location 1, odd hours 1, testing ~8).
const MEAN_INCIDENT_LEN: f64 = (1.0 + 8.0 + 1.0 + 1.0 + 8.5) / 5.0;

impl TransactionGenerator {
    pub fn new(cfg: &GeneratorConfig) -> Self {
        let mut rng = stream_rng(cfg.seed, StreamKind::Transaction);
        let customers = (0..CUSTOMERS).map(|i| Profile::new(i, &mut rng)).collect();
        Self {
            rng,
            customers,
            seqs: vec![0; CUSTOMERS],
            pending: VecDeque::new(),
            start_p: start_probability(cfg.incident_rate, MEAN_INCIDENT_LEN),
            next_id: 0,
            producer_id: cfg.producer_id.clone(),
        }
    }

    /// The profiles, for tests that check per-customer behaviour.
    pub fn profiles(&self) -> &[Profile] {
        &self.customers
    }

    pub fn next_at(&mut self, at: Timestamp) -> Transaction {
        if self.pending.is_empty() && self.rng.r#gen::<f64>() < self.start_p {
            self.plan_incident(at);
        }
        let (c, label) = match self.pending.pop_front() {
            Some(p) => p,
            None => (self.active_customer(at), TransactionLabel::Normal),
        };
        let seq = next_seq(&mut self.seqs, c);
        self.make(c, label, at, seq)
    }

    /// A customer for a normal transaction: people shop by day, so a customer whose local
    /// time is night is mostly skipped (rejection sampling against an activity curve).
    fn active_customer(&mut self, at: Timestamp) -> usize {
        let mut c = 0;
        for _ in 0..16 {
            c = self.rng.gen_range(0..self.customers.len());
            let h = at.hour_of_day(self.customers[c].home.utc_offset_h);
            let activity = match h {
                h if h < 6.0 => 0.03,
                h if h < 8.0 => 0.4,
                _ => 1.0,
            };
            if self.rng.r#gen::<f64>() < activity {
                break;
            }
        }
        c
    }

    fn plan_incident(&mut self, at: Timestamp) {
        let label = TransactionLabel::ALL[self.rng.gen_range(1..TransactionLabel::ALL.len())];
        let c = match label {
            TransactionLabel::OddHoursFraud => self.customer_at_night(at),
            _ => self.rng.gen_range(0..self.customers.len()),
        };
        let n = match label {
            TransactionLabel::VelocityFraud => self.rng.gen_range(6..=10),
            TransactionLabel::CardTesting => self.rng.gen_range(5..=12),
            _ => 1,
        };
        self.pending.extend(std::iter::repeat_n((c, label), n));
    }

    /// A customer whose local time is between midnight and 5 am, or the one nearest to 3 am.
    fn customer_at_night(&mut self, at: Timestamp) -> usize {
        let night = |p: &Profile| {
            let h = at.hour_of_day(p.home.utc_offset_h);
            (h - 3.0).abs()
        };
        let start = self.rng.gen_range(0..self.customers.len());
        let n = self.customers.len();
        let mut best = start;
        for k in 0..200 {
            let i = (start + k * 37) % n;
            if night(&self.customers[i]) < night(&self.customers[best]) {
                best = i;
            }
            if night(&self.customers[best]) <= 2.0 {
                break;
            }
        }
        best
    }

    fn make(&mut self, c: usize, label: TransactionLabel, at: Timestamp, seq: u64) -> Transaction {
        let rng = &mut self.rng;
        let p = &self.customers[c];
        let mut city = p.home;
        let mut method = p.payment;
        let mut category = if rng.gen_bool(0.9) {
            p.categories[rng.gen_range(0..3)]
        } else {
            Category::ALL[rng.gen_range(0..Category::COUNT)]
        };
        let mut amount = (p.mu + p.sigma * normal(rng)).exp();
        match label {
            TransactionLabel::LargeAmount => {
                amount = p.median_amount() * rng.gen_range(15.0..60.0);
                category = if rng.gen_bool(0.5) {
                    Category::Electronics
                } else {
                    Category::Travel
                };
            }
            TransactionLabel::VelocityFraud => amount *= rng.gen_range(1.0..3.0),
            TransactionLabel::LocationFraud => {
                city = pick(rng, FAR_CITIES);
                amount *= rng.gen_range(2.0..6.0);
            }
            TransactionLabel::OddHoursFraud => {
                amount *= rng.gen_range(3.0..8.0);
                category = Category::Electronics;
            }
            TransactionLabel::CardTesting => {
                amount = rng.gen_range(0.5..3.0);
                category = Category::Online;
                method = PaymentMethod::Online;
            }
            TransactionLabel::Normal => {}
        }
        self.next_id += 1;
        Transaction {
            transaction_id: format!("tx-{:016x}", rng.r#gen::<u64>()),
            customer_id: p.id.clone(),
            amount: round_to(amount.max(0.01), 2),
            currency: p.home.currency.to_string(),
            merchant: pick(rng, category.merchants()).to_string(),
            category: category.name().to_string(),
            payment_method: method.name().to_string(),
            location: city.name.to_string(),
            timestamp: at,
            seq: Some(seq),
            producer_id: self.producer_id.clone(),
            label: Some(label),
        }
    }
}

impl Profile {
    fn new(i: usize, rng: &mut ChaCha8Rng) -> Self {
        let mut categories = [Category::Groceries; 3];
        for slot in &mut categories {
            *slot = EVERYDAY[rng.gen_range(0..EVERYDAY.len())];
        }
        Self {
            id: format!("C{:05}", i + 1),
            mu: rng.gen_range(12.0f64..120.0).ln(),
            sigma: rng.gen_range(0.3..0.7),
            categories,
            home: &HOME_CITIES[rng.gen_range(0..HOME_CITIES.len())],
            payment: PaymentMethod::ALL[rng.gen_range(0..PaymentMethod::COUNT)],
        }
    }
}
