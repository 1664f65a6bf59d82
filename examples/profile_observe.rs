//! Runs the per-event path in a loop for profiling and prints where the time goes:
//! `target/release/examples/profile_observe sensor [decode|observe|both]` (or `perf record`
//! it). Like the criterion bench it cycles a pool of 20,000 messages, shifting event time
//! forward each pass so that time stays monotonic as in a live stream. Each figure is given as
//! the best and the median of eleven rounds of 200,000 events: this VM's speed drifts by up to
//! 2× over seconds (neighbours), so the best round is the code and the median the weather.
use std::hint::black_box;
use std::time::Instant;

use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::codec;
use streamwatch::streams::{Event, Generator, GeneratorConfig, StreamKind, Timestamp};

const POOL: usize = 20_000;
const N: usize = 200_000;
const ROUNDS: usize = 11;

fn retime(e: &mut Event, i: usize) {
    e.set_timestamp(Timestamp(1_796_000_000_000 + i as i64 * 5));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = match args.next().as_deref() {
        Some("transaction") => StreamKind::Transaction,
        Some("log") => StreamKind::Log,
        _ => StreamKind::Sensor,
    };
    let mode = args.next().unwrap_or_else(|| "all".into());
    let mut g = Generator::new(kind, &GeneratorConfig::default());
    let encoded: Vec<Vec<u8>> = (0..POOL)
        .map(|i| codec::encode(&g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5))))
        .collect();
    let decoded: Vec<Event> = encoded
        .iter()
        .map(|b| codec::decode(kind, Some(b)).expect("own message"))
        .collect();
    let mut report = Vec::new();
    if matches!(mode.as_str(), "decode" | "all") {
        let mut e = Event::empty(kind);
        let ns = best(|from| {
            let t = Instant::now();
            for i in from..from + N {
                let _ = black_box(
                    codec::decode_into(kind, Some(&encoded[i % POOL]), &mut e).map(|()| e.seq()),
                );
            }
            per_event(t)
        });
        report.push(format!("decode {ns}"));
    }
    if matches!(mode.as_str(), "observe" | "all") {
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let mut e = decoded[0].clone();
        let ns = best(|from| {
            let t = Instant::now();
            for i in from..from + N {
                e.clone_from(&decoded[i % POOL]);
                retime(&mut e, i);
                black_box(a.observe(&e).fired);
            }
            per_event(t)
        });
        report.push(format!("clone+observe {ns}"));
    }
    if matches!(mode.as_str(), "both" | "all") {
        let mut e = Event::empty(kind);
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let ns = best(|from| {
            let t = Instant::now();
            for i in from..from + N {
                if codec::decode_into(kind, Some(&encoded[i % POOL]), &mut e).is_ok() {
                    retime(&mut e, i);
                    black_box(a.observe(&e).fired);
                }
            }
            per_event(t)
        });
        report.push(format!("decode+observe {ns}"));
    }
    println!("{}: {}", kind.name(), report.join(", "));
}

fn per_event(t: Instant) -> f64 {
    t.elapsed().as_nanos() as f64 / N as f64
}

/// "best / median ns" of `ROUNDS` rounds; `round(from)` runs events `from..from + N`.
fn best(mut round: impl FnMut(usize) -> f64) -> String {
    let mut ns: Vec<f64> = (0..ROUNDS).map(|r| round(r * N)).collect();
    ns.sort_by(f64::total_cmp);
    format!("{:.0} / {:.0} ns", ns[0], ns[ROUNDS / 2])
}
