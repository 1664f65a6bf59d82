//! Another Kafka client, kafka-python 2.2, against the embedded broker: it reads what
//! streamwatch produced, and streamwatch analyses what it wrote (no label, no producer id).

use std::process::Command;

use serde_json::Value;

use super::harness::{Broker, stderr, stdout, streamwatch};

fn python(script: &str, addr: &str) -> std::process::Output {
    Command::new("python3")
        .args(["-c", script, addr])
        .output()
        .expect("python3")
}

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
    let read = python(READ, b);
    assert!(
        read.status.success(),
        "kafka-python consumer failed: {}",
        stderr(&read)
    );
    assert_eq!(stdout(&read).trim(), "200");

    let write = python(WRITE, b);
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
    let summary: Value = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["analysed"], 150, "{summary}");
    assert_eq!(summary["rejected"], 0);
    assert_eq!(summary["lost"], 0);
}
