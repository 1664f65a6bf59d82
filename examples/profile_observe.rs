//! Runs decode + observe in a loop for profiling: `perf record target/release/examples/profile_observe sensor`.
use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::codec;
use streamwatch::streams::{Event, Generator, GeneratorConfig, StreamKind, Timestamp};

fn main() {
    let kind = match std::env::args().nth(1).as_deref() {
        Some("transaction") => StreamKind::Transaction,
        Some("log") => StreamKind::Log,
        _ => StreamKind::Sensor,
    };
    let mut g = Generator::new(kind, &GeneratorConfig::default());
    let encoded: Vec<Vec<u8>> = (0..400_000u64)
        .map(|i| codec::encode(&g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5), i)))
        .collect();
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    let t = std::time::Instant::now();
    let mut fired = 0u64;
    for b in &encoded {
        let e: Event = codec::decode(kind, Some(b)).expect("own message");
        fired += u64::from(a.observe(&e).fired != 0);
    }
    println!(
        "{:.0} ns/event, {fired} flagged",
        t.elapsed().as_nanos() as f64 / encoded.len() as f64
    );
}
