//! Hostile bytes against the decoder, the analyzer and the model: whatever arrives on a
//! topic, nothing panics, and no statistic is poisoned (every rolling figure stays finite,
//! and what the bad messages carried cannot move it beyond what valid values could).

use proptest::prelude::*;

use crate::analytics::{AnalyzerConfig, StreamAnalyzer, StreamSnapshot};
use crate::codec::{Codec, Notes};
use crate::ml::{MlConfig, StreamModel};
use crate::streams::{Event, Generator, GeneratorConfig, StreamKind, Timestamp};

/// Values a field can hold in a hostile message.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("1e999".to_string()),
        Just("\"NaN\"".to_string()),
        Just("\"inf\"".to_string()),
        Just("\"-Infinity\"".to_string()),
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-9223372036854775809".to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<i64>().prop_map(|i| i.to_string()),
        "[a-z0-9 ]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// A message of one of our streams with some fields replaced by hostile values, or bytes.
fn hostile_message(kind: StreamKind) -> impl Strategy<Value = Vec<u8>> {
    let fields: Vec<&'static str> = match kind {
        StreamKind::Sensor => vec!["temperature", "humidity", "pressure", "timestamp", "seq"],
        StreamKind::Transaction => vec!["amount", "customer_id", "timestamp", "seq", "category"],
        StreamKind::Log => vec![
            "response_time_ms",
            "status_code",
            "level",
            "timestamp",
            "seq",
        ],
    };
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        (
            0u64..1000,
            proptest::collection::vec((proptest::sample::select(fields), hostile_value()), 1..4)
        )
            .prop_map(move |(seed, edits)| {
                let mut g = Generator::new(
                    kind,
                    &GeneratorConfig {
                        seed,
                        ..Default::default()
                    },
                );
                let text = String::from_utf8(crate::codec::encode(
                    &g.next_event(Timestamp(1_796_000_000_000)),
                ))
                .unwrap_or_default();
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                for (field, value) in edits {
                    if let Ok(x) = serde_json::from_str::<serde_json::Value>(&value) {
                        v[field] = x;
                    } else {
                        // Not representable as JSON (1e999): splice the text in.
                        return text
                            .replacen("\"seq\":", &format!("\"{field}\":{value},\"x\":"), 1)
                            .into_bytes();
                    }
                }
                v.to_string().into_bytes()
            }),
    ]
}

fn all_finite(s: &StreamSnapshot) -> bool {
    s.metrics.iter().all(|m| {
        [&m.rolling, &m.timed].iter().all(|st| {
            st.count == 0
                || [st.mean, st.std, st.min, st.max, st.sum]
                    .iter()
                    .all(|x| x.is_finite())
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn hostile_messages_neither_panic_nor_poison(
        kind in proptest::sample::select(StreamKind::ALL.to_vec()),
        bad in proptest::collection::vec(
            proptest::sample::select(StreamKind::ALL.to_vec()).prop_flat_map(hostile_message),
            1..20,
        ),
    ) {
        let codec = Codec::ours(kind);
        let mut analyzer = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let mut model = StreamModel::new(kind, &MlConfig { background: false, warmup: 50, ..MlConfig::default() });
        let mut g = Generator::new(kind, &GeneratorConfig::default());
        let (mut e, mut notes) = (Event::empty(kind), Notes::default());
        for (i, bytes) in bad.iter().enumerate() {
            // Valid events around the hostile ones.
            for j in 0..20 {
                let ev = g.next_event(Timestamp(1_796_000_000_000 + (i * 20 + j) as i64 * 10));
                model.observe(&analyzer.observe(&ev));
            }
            if codec.decode_into(Some(bytes), Some(Timestamp(1_796_000_000_000)), &mut e, &mut notes).is_ok() {
                model.observe(&analyzer.observe(&e));
            }
            let snap = analyzer.snapshot();
            prop_assert!(all_finite(&snap), "a statistic went non-finite after {:?}", String::from_utf8_lossy(bytes));
        }
        let _ = model.snapshot();
    }
}
