//! Criterion benchmarks of the core's per-event costs. Figures go in BENCHMARKS.md.

use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};
use streamwatch::analytics::anomaly::{QuantileVsBaseline, ShareVsBaseline, Velocity, ZScore};
use streamwatch::analytics::rolling::{Bounds, BucketWindow, SlidingMoments, Window};
use streamwatch::analytics::{AnalyzerConfig, Observation, StreamAnalyzer};
use streamwatch::codec::{self, Codec, Notes};
use streamwatch::ml::forest::{self, FlatForest, ForestParams};
use streamwatch::ml::grow;
use streamwatch::ml::hst::HalfSpaceTrees;
use streamwatch::ml::regression::RegressionForest;
use streamwatch::ml::{MlConfig, StreamModel};
use streamwatch::streams::{Event, Generator, GeneratorConfig, StreamKind, Timestamp};

fn events(kind: StreamKind, n: u64) -> Vec<Event> {
    let mut g = Generator::new(kind, &GeneratorConfig::default());
    (0..n)
        .map(|i| g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5)))
        .collect()
}

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate+encode");
    group.throughput(Throughput::Elements(1));
    for kind in StreamKind::ALL {
        let mut g = Generator::new(kind, &GeneratorConfig::default());
        let mut buf = Vec::with_capacity(512);
        let mut i = 0u64;
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                i += 1;
                let e = g.next_event(Timestamp(1_796_000_000_000 + i as i64));
                buf.clear();
                e.encode_into(&mut buf);
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

fn rolling(c: &mut Criterion) {
    let mut group = c.benchmark_group("rolling");
    group.throughput(Throughput::Elements(1));
    let xs: Vec<f64> = (0..4096)
        .map(|i| 20.0 + ((i * 7919) % 1000) as f64 / 100.0)
        .collect();
    for (name, bounds) in [
        ("count_100", Bounds::count(100)),
        ("count_10000", Bounds::count(10_000)),
        ("time_60s", Bounds::span_ms(60_000)),
    ] {
        let mut w = Window::new(bounds);
        let mut i = 0usize;
        group.bench_function(format!("push+stats/{name}"), |b| {
            b.iter(|| {
                i += 1;
                w.push(xs[i & 4095], i as i64 * 5);
                black_box(w.stats())
            })
        });
    }
    // What the analyzer does per event: push only (stats are read by snapshots).
    let mut w = BucketWindow::new(60_000);
    let mut i = 0usize;
    group.bench_function("push/buckets_60s", |b| {
        b.iter(|| {
            i += 1;
            w.push(black_box(xs[i & 4095]), i as i64 * 5);
        })
    });
    group.bench_function("stats/buckets_60s", |b| b.iter(|| black_box(w.stats())));
    let mut m = SlidingMoments::default();
    group.bench_function("push+mean_std/moments_100", |b| {
        b.iter(|| {
            i += 1;
            m.push(xs[i & 4095]);
            if m.len() > 100 {
                m.pop();
            }
            black_box(m.mean_std())
        })
    });
    group.finish();
}

fn detectors(c: &mut Criterion) {
    let mut group = c.benchmark_group("detector");
    group.throughput(Throughput::Elements(1));
    let xs: Vec<f64> = (0..4096)
        .map(|i| 20.0 + ((i * 7919) % 1000) as f64 / 100.0)
        .collect();
    let mut z = ZScore::new(100, 3.0, 30, true);
    let mut i = 0usize;
    group.bench_function("zscore", |b| {
        b.iter(|| {
            i += 1;
            black_box(z.observe(xs[i & 4095]))
        })
    });
    let mut v = Velocity::default();
    group.bench_function("velocity", |b| {
        b.iter(|| {
            i += 1;
            black_box(v.record(i as i64 * 1000, 10_000))
        })
    });
    let mut s = ShareVsBaseline::new(50);
    group.bench_function("error_rate", |b| {
        b.iter(|| {
            i += 1;
            black_box(s.observe(i.is_multiple_of(37), 0.2, 3.0))
        })
    });
    let mut q = QuantileVsBaseline::new(100, 0.95);
    group.bench_function("p95_latency", |b| {
        b.iter(|| {
            i += 1;
            black_box(q.observe(xs[i & 4095], 2.5))
        })
    });
    group.finish();
}

/// Decoded events keep their original times; the benchmark loops over a pool, so it shifts
/// each pass forward in time to keep event time monotonic, as a live stream is.
fn retime(e: &mut Event, i: usize) {
    e.set_timestamp(Timestamp(1_796_000_000_000 + i as i64 * 5));
}

fn observe(c: &mut Criterion) {
    for kind in StreamKind::ALL {
        let encoded: Vec<Vec<u8>> = events(kind, 20_000).iter().map(codec::encode).collect();
        let decoded: Vec<Event> = encoded
            .iter()
            .map(|b| codec::decode(kind, Some(b)).unwrap())
            .collect();
        let mut group = c.benchmark_group(format!("per_event/{}", kind.name()));
        group.throughput(Throughput::Elements(1));
        let mut i = 0usize;
        // The consumer decodes every message of a topic into one reused event.
        let mut e = Event::empty(kind);
        group.bench_function("decode", |b| {
            b.iter(|| {
                i += 1;
                codec::decode_into(kind, Some(&encoded[i % encoded.len()]), &mut e).unwrap();
                black_box(e.seq())
            })
        });
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        group.bench_function("observe", |b| {
            b.iter_batched(
                || {
                    i += 1;
                    let mut e = decoded[i % decoded.len()].clone();
                    retime(&mut e, i);
                    e
                },
                |e| black_box(a.observe(&e).fired),
                BatchSize::SmallInput,
            )
        });
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        group.bench_function("decode+observe", |b| {
            b.iter(|| {
                i += 1;
                codec::decode_into(kind, Some(&encoded[i % encoded.len()]), &mut e).unwrap();
                retime(&mut e, i);
                black_box(a.observe(&e).fired)
            })
        });
        // Another producer's messages take the tolerant reader (not the budget: ours do).
        let foreign: Vec<Vec<u8>> = decoded.iter().map(foreign_style).collect();
        let (codec, mut notes) = (Codec::ours(kind), Notes::default());
        group.bench_function("decode_other_producer", |b| {
            b.iter(|| {
                i += 1;
                let msg = Some(&foreign[i % foreign.len()][..]);
                codec.decode_into(msg, None, &mut e, &mut notes).unwrap();
                black_box(e.seq())
            })
        });
        group.finish();
    }
}

/// The event as a typical Python producer writes it: no seq, producer id or label, epoch
/// seconds for the time, and a field of its own.
fn foreign_style(e: &Event) -> Vec<u8> {
    let mut v = match e {
        Event::Sensor(s) => serde_json::to_value(s),
        Event::Transaction(t) => serde_json::to_value(t),
        Event::Log(l) => serde_json::to_value(l),
    }
    .unwrap();
    let m = v.as_object_mut().unwrap();
    for k in ["seq", "producer_id", "label"] {
        m.remove(k);
    }
    m.insert("timestamp".into(), (e.timestamp().millis() / 1000).into());
    m.insert("firmware".into(), "1.4.2".into());
    serde_json::to_vec(&v).unwrap()
}

fn training_rows(kind: StreamKind, n: u64) -> Vec<Observation> {
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    events(kind, n).iter().map(|e| a.observe(e)).collect()
}

fn forest_bench(c: &mut Criterion) {
    let obs = training_rows(StreamKind::Transaction, 150_000);
    // The default buffer: 4,000 rows, half normal, half incidents.
    let (mut normal, mut incident): (Vec<&Observation>, Vec<&Observation>) = (vec![], vec![]);
    for o in &obs {
        match o.label_class {
            Some(0) if normal.len() < 2000 => normal.push(o),
            Some(c) if c > 0 && incident.len() < 2000 => incident.push(o),
            _ => {}
        }
    }
    let rows: Vec<&Observation> = normal.into_iter().chain(incident).collect();
    let x = ndarray::Array2::from_shape_fn((rows.len(), rows[0].features.len()), |(i, j)| {
        rows[i].features[j]
    });
    let y = ndarray::Array1::from_iter(rows.iter().map(|o| o.label_class.unwrap_or(0)));
    let params = ForestParams {
        trees: 50,
        max_depth: 10,
        feature_fraction: MlConfig::default().feature_fraction,
        seed: 1,
    };
    let fitted = forest::fit(&x, &y, &params).unwrap();
    let flat = FlatForest::compile(&fitted, 6);
    let mut group = c.benchmark_group("forest");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("predict_one/50x10/flat", |b| {
        b.iter(|| {
            i += 1;
            black_box(flat.predict(&obs[i % obs.len()].features))
        })
    });
    let one = ndarray::Array2::from_shape_fn((1, x.ncols()), |(_, j)| x[[0, j]]);
    group.bench_function("predict_one/50x10/linfa", |b| {
        use linfa::prelude::Predict;
        b.iter(|| black_box(fitted.predict(&one)))
    });
    group.finish();
    let mut group = c.benchmark_group("fit");
    group.sample_size(10);
    group.bench_function(format!("forest/50x10/{}rows/linfa", rows.len()), |b| {
        b.iter(|| black_box(forest::fit(&x, &y, &params).unwrap().models.len()))
    });
    // Ours, on 3,000 rows (the yardstick) and on the full 4,000-row buffer.
    for n in [3000, rows.len()] {
        let (xs, ys) = (
            x.slice(ndarray::s![..n, ..]).to_owned(),
            y.slice(ndarray::s![..n]).to_owned(),
        );
        group.bench_function(format!("forest/50x10/{n}rows/binned"), |b| {
            b.iter(|| black_box(grow::fit(&xs, &ys, &params, 6).unwrap().trees()))
        });
    }
    // The regression forest as the trainer fits it (30 trees, depth 8, 70 % of the inputs
    // per node, on four fifths of the buffer): the amount from the other features.
    let n = rows.len() * 4 / 5;
    let xr = x.slice(ndarray::s![..n, 1..]).to_owned();
    let yr = x.slice(ndarray::s![..n, 0]).to_owned();
    group.bench_function(format!("regression/30x8/{n}rows"), |b| {
        b.iter(|| black_box(RegressionForest::fit(&xr, &yr, 30, 8, 0.7, 1)))
    });
    group.finish();
    // The label-free detector, once per event: score, then learn.
    let mut group = c.benchmark_group("hst");
    group.throughput(Throughput::Elements(1));
    let mut hst = HalfSpaceTrees::new(1);
    for o in obs.iter().take(2000) {
        hst.score_and_learn(&o.features);
    }
    let mut j = 0;
    group.bench_function("score_and_learn", |b| {
        b.iter(|| {
            j += 1;
            black_box(hst.score_and_learn(&obs[j % obs.len()].features))
        })
    });
    group.finish();
    // The regressor's prediction, once per event: 20 trees of depth 8, as the trainer fits.
    let mut group = c.benchmark_group("regression");
    group.throughput(Throughput::Elements(1));
    let reg = RegressionForest::fit(&xr, &yr, 20, 8, 0.7, 1);
    let rows: Vec<Vec<f64>> = xr.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut k = 0;
    group.bench_function("predict_one/20x8", |b| {
        b.iter(|| {
            k += 1;
            black_box(reg.predict(&rows[k % rows.len()]))
        })
    });
    group.finish();
    let mut group = c.benchmark_group("model");
    group.throughput(Throughput::Elements(1));
    let mut m = StreamModel::new(
        StreamKind::Transaction,
        &MlConfig {
            background: false,
            refit_every: usize::MAX,
            ..MlConfig::default()
        },
    );
    for o in obs.iter().take(2000) {
        m.observe(o);
    }
    group.bench_function("observe(predict+score+learn)", |b| {
        b.iter_batched(
            || (),
            |_| {
                i += 1;
                black_box(m.observe(&obs[i % obs.len()]).prediction.map(|p| p.class))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    generation,
    rolling,
    detectors,
    observe,
    forest_bench
);
criterion_main!(benches);
