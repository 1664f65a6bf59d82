//! Other Kafka clients, both ways: kafka-python 2.2 reads what streamwatch produced, and
//! streamwatch analyses what kafka-python writes, in our schema and in a typical Python
//! producer's own style (no seq, label or producer id, fields of its own, three styles of
//! time), on the embedded broker and on tansu; and a topic with other field names, watched
//! through a field mapping.

use std::collections::HashSet;

use serde_json::Value;

use super::harness::{
    Broker, Tansu, json_lines, kcat, python, scratch, stderr, stdout, streamwatch, summary,
};

const READ: &str = r#"
import json, sys
from kafka import KafkaConsumer
c = KafkaConsumer("sensor-data", bootstrap_servers=sys.argv[1], auto_offset_reset="earliest",
                  consumer_timeout_ms=8000, api_version=(2, 5))
n = 0
for m in c:
    v = json.loads(m.value)
    assert m.key.decode() == v["sensor_id"], (m.key, v)
    n += 1
    if n == 200:
        break
print(n)
"#;

const WRITE: &str = r#"
import json, sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], api_version=(2, 5))
for i in range(150):
    v = {"timestamp": "2026-11-29T10:00:00.000Z", "service": "billing", "endpoint": "GET /invoice",
         "level": "INFO", "status_code": 200, "response_time_ms": 40.0 + i % 7, "message": "ok", "seq": i}
    p.send("log-data", key=b"billing", value=json.dumps(v).encode())
p.flush()
print("sent")
"#;

/// A typical Python producer: its own field names for nothing, no seq / label / producer id,
/// a field of its own per stream, numbers as strings now and then, and the times in four
/// styles (RFC 3339 with an offset, ISO 8601 without a zone, epoch seconds, epoch ms). The
/// sensor's last reading is a temperature spike. One record per batch (tansu counts offsets
/// per batch).
const WRITE_OWN_STYLE: &str = r#"
import json, sys, time
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], api_version=(2, 5), batch_size=0)
def when(i):
    t = 1796000000 + i
    return [time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(t + 3600)),
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)), t, t * 1000][i % 4]
def send(topic, key, v):
    p.send(topic, key=key.encode(), value=json.dumps(v).encode())
for i in range(61):
    temp = 21.0 + (i % 5) * 0.1 if i < 60 else 45.0
    send("sensor-data", "dev-1", {"sensor_id": "dev-1", "temperature": temp,
         "humidity": "%d.5" % (40 + i % 3), "pressure": 1012.0, "timestamp": when(i),
         "firmware": "1.4.2"})
for i in range(40):
    send("transaction-data", "cust-9", {"customer_id": "cust-9", "amount": 12.5 + i,
         "currency": "EUR", "merchant": "Corner Shop", "timestamp": when(i), "channel": "web"})
for i in range(40):
    send("log-data", "billing", {"service": "billing", "endpoint": "GET /invoice",
         "level": "WARNING" if i % 10 == 0 else "INFO", "status_code": 200,
         "response_time_ms": 40 + i % 7, "timestamp": when(i), "trace_id": "t%d" % i})
p.flush()
print("sent")
"#;

#[test]
fn kafka_python_reads_our_events_and_we_analyse_its_events() {
    let broker = Broker::start(2);
    let b = broker.addr.as_str();
    assert!(
        streamwatch(&[
            "-b", b, "produce", "--type", "sensor", "--count", "200", "--rate", "0"
        ])
        .status
        .success()
    );
    let read = python(READ, &[b]);
    assert!(
        read.status.success(),
        "kafka-python consumer failed: {}",
        stderr(&read)
    );
    assert_eq!(stdout(&read).trim(), "200");

    let write = python(WRITE, &[b]);
    assert!(
        write.status.success(),
        "kafka-python producer failed: {}",
        stderr(&write)
    );
    let out = streamwatch(&[
        "-b",
        b,
        "consume",
        "--type",
        "log",
        "--from-beginning",
        "--count",
        "150",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = summary(&stdout(&out));
    assert_eq!(summary["analysed"], 150, "{summary}");
    assert_eq!(summary["rejected"], 0);
    assert_eq!(summary["lost"], 0);
}

/// What `consume` made of the messages `WRITE_OWN_STYLE` wrote to `addr`.
fn analyse_own_style(addr: &str) {
    let write = python(WRITE_OWN_STYLE, &[addr]);
    assert!(
        write.status.success(),
        "kafka-python producer failed: {}",
        stderr(&write)
    );
    let out = streamwatch(&["-b", addr, "consume", "--from-beginning", "--count", "141"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let summary = summary(&text);
    assert_eq!(summary["consumed"], 141, "{summary}");
    assert_eq!(summary["analysed"], 141, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    assert_eq!(summary["unsequenced"], 141, "none carries seq: {summary}");
    assert_eq!(summary["lost"], 0);
    let unknown = &summary["unknown_fields"];
    for (field, n) in [("firmware", 61), ("channel", 40), ("trace_id", 40)] {
        assert_eq!(unknown[field], n, "{field} in {unknown}");
    }
    for (stream, n) in [("sensor", 61), ("transaction", 40), ("log", 40)] {
        assert_eq!(summary["streams"][stream]["events"], n, "{summary}");
        assert_eq!(summary["streams"][stream]["labelled"], 0, "{summary}");
        // No labels, no forest: none of its figures, not zeros that read as a bad model.
        let model = &summary["models"][stream];
        for figure in ["f1", "precision", "recall", "zscore_f1", "anomaly_f1"] {
            assert!(model[figure].is_null(), "{stream} {figure}: {model}");
        }
        assert_eq!(model["version"], 0, "{model}");
    }
    let spike = json_lines(&text).into_iter().find(|l| {
        l["type"] == "alert" && l["alert"]["rule"] == "zscore" && l["alert"]["entity"] == "dev-1"
    });
    let spike = spike.unwrap_or_else(|| panic!("no z-score alert for the spike:\n{text}"));
    assert_eq!(spike["alert"]["value"], 45.0, "{spike}");
    let stats: Vec<Value> = json_lines(&text)
        .into_iter()
        .filter(|l| l["type"] == "stats" && l["stream"] == "sensor")
        .collect();
    let last = stats.last().expect("a sensor stats line");
    assert!(
        last["scorecard"][0]["f1"].is_null(),
        "no scores without labels: {last}"
    );
}

#[test]
fn another_producers_style_is_analysed_on_the_embedded_broker() {
    let broker = Broker::start(2);
    analyse_own_style(&broker.addr);
}

#[test]
fn another_producers_style_is_analysed_on_tansu() {
    let tansu = Tansu::start();
    let setup = streamwatch(&["-b", &tansu.addr, "setup", "--partitions", "2"]);
    assert!(setup.status.success(), "{}", stderr(&setup));
    analyse_own_style(&tansu.addr);
}

const WRITE_MAPPED: &str = r#"
import json, sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], api_version=(2, 5))
for i in range(40):
    v = {"device": "d-%d" % (i % 2), "temp_c": "%.1f" % (20.0 + (i % 2)), "rh": 40 + i % 3}
    p.send("iot.readings", key=v["device"].encode(), value=json.dumps(v).encode())
p.flush()
print("sent")
"#;

/// A topic other programs write with their own names: a field mapping in the config reads
/// it, and `produce` writes it with those names too.
#[test]
fn a_field_mapping_reads_and_writes_a_topic_with_other_names() {
    let dir = scratch();
    let config = dir.path().join("mapped.toml");
    std::fs::write(
        &config,
        "[streams.sensor]\ntopic = \"iot.readings\"\n[streams.sensor.fields]\n\
         sensor_id = \"device\"\ntemperature = \"temp_c\"\nhumidity = \"rh\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let broker = Broker::start_with(1, &["--config", config]);
    let b = broker.addr.as_str();
    let write = python(WRITE_MAPPED, &[b]);
    assert!(write.status.success(), "{}", stderr(&write));
    let args = ["--config", config, "-b", b, "consume", "--type", "sensor"];
    let out = streamwatch(&[&args[..], &["--from-beginning", "--count", "40"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let s = summary(&text);
    assert_eq!(
        (s["analysed"].as_u64(), s["rejected"].as_u64()),
        (Some(40), Some(0)),
        "{s}"
    );
    let stats = json_lines(&text)
        .into_iter()
        .rfind(|l| l["type"] == "stats" && l["stream"] == "sensor")
        .expect("sensor stats");
    assert_eq!(stats["metrics"]["temperature"]["mean"], 20.5, "{stats}");
    assert_eq!(stats["metrics"]["humidity"]["count"], 40, "{stats}");

    let produce = ["--config", config, "-b", b, "produce", "--type", "sensor"];
    let out = streamwatch(&[&produce[..], &["--count", "10", "--rate", "0"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let written = kcat(&["-b", b, "-C", "-t", "iot.readings", "-e", "-q", "-o", "40"]);
    let keys: HashSet<String> = json_lines(&stdout(&written))
        .iter()
        .flat_map(|m| m.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(json_lines(&stdout(&written)).len(), 10);
    for k in ["device", "temp_c", "rh", "pressure"] {
        assert!(keys.contains(k), "{k} missing from {keys:?}");
    }
    assert!(
        !keys.contains("sensor_id") && !keys.contains("temperature"),
        "{keys:?}"
    );
}
