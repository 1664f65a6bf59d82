//! Alerts that leave the screen, against the real programs: a sensor that goes offline is an
//! alert Debian's Alertmanager lists as active, and once the incident is over, resolved (no
//! longer listed: its endsAt passed); the URL's credentials never show.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::harness::{Alertmanager, Background, Broker, json_lines, kcat_with, stderr};

/// Readings of three sensors, then `dev-9` offline, stamped now.
fn readings() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut lines = String::new();
    for i in 0..60i64 {
        let id = format!("dev-{}", i % 3 + 1);
        let v = serde_json::json!({"sensor_id": id, "temperature": 21.0 + (i % 5) as f64 * 0.1,
            "humidity": 45.0, "pressure": 1012.0, "status": "ok",
            "timestamp": now - 6_000 + i * 100});
        lines.push_str(&format!("{id}|{v}\n"));
    }
    let off = serde_json::json!({"sensor_id": "dev-9", "temperature": -127.0, "humidity": 0.0,
        "pressure": 0.0, "status": "offline", "timestamp": now});
    lines.push_str(&format!("dev-9|{off}\n"));
    lines
}

/// Writes `readings()` to the broker's sensor topic with kcat.
fn write_readings(broker: &Broker) {
    let args = ["-P", "-b", &broker.addr, "-t", "sensor-data", "-K", "|"];
    let out = kcat_with(&args, &readings());
    assert!(out.status.success(), "kcat: {}", stderr(&out));
}

/// `consume` of the sensor topic to its end, with `sink`'s options; it must succeed.
fn consume_to_end(broker: &Broker, sink: &[&str]) -> std::process::Output {
    let mut args = vec![
        "-b",
        &broker.addr,
        "consume",
        "--type",
        "sensor",
        "--from-beginning",
        "--until-end",
        "--fresh-models",
    ];
    args.extend_from_slice(sink);
    let out = super::harness::streamwatch(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn dev9(alerts: &[Value]) -> Option<&Value> {
    alerts.iter().find(|a| {
        a["labels"]["entity"] == "dev-9"
            && a["labels"]["stream"] == "sensor"
            && a["labels"]["alertname"] == "offline"
    })
}

fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn an_alert_is_active_in_alertmanager_then_resolved() {
    let am = Alertmanager::start();
    let broker = Broker::start(1);
    let url = format!("http://ops:s3cret@{}", am.addr);
    let consume = Background::start(&[
        "-b",
        &broker.addr,
        "consume",
        "--type",
        "sensor",
        "--from-beginning",
        "--fresh-models",
        "--alertmanager",
        &url,
    ]);
    write_readings(&broker);

    let active = wait_for(
        "dev-9's alert active in Alertmanager",
        Duration::from_secs(30),
        || dev9(&am.alerts()).cloned(),
    );
    assert_eq!(active["status"]["state"], "active", "{active}");
    assert_eq!(active["labels"]["severity"], "critical", "{active}");
    assert_eq!(active["labels"]["topic"], "sensor-data", "{active}");
    assert!(
        active["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("dev-9")),
        "{active}"
    );
    // Nothing more arrives: the consumer's clock moves with the wall, the alert resolves
    // after its quiet period, and Alertmanager lets it go (endsAt passed).
    wait_for("dev-9's alert resolved", Duration::from_secs(40), || {
        dev9(&am.alerts()).is_none().then_some(())
    });
    let log = consume.log();
    let text = consume.stop();
    let lines = json_lines(&text);
    let resolved = lines.iter().find(|l| {
        l["type"] == "alert" && l["status"] == "resolved" && l["alert"]["entity"] == "dev-9"
    });
    assert!(resolved.is_some(), "no resolved line for dev-9:\n{text}");
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("summary");
    let sink = &summary["sinks"][0];
    assert_eq!(sink["name"], "alertmanager", "{summary}");
    assert!(sink["sent"].as_u64().unwrap_or(0) >= 2, "{summary}");
    assert_eq!(sink["target"], format!("http://{}", am.addr), "{summary}");
    assert!(
        !text.contains("s3cret") && !log.contains("s3cret"),
        "credentials shown"
    );
}

#[test]
fn a_sink_that_is_down_is_counted_and_never_stops_the_analysis() {
    let broker = Broker::start(1);
    write_readings(&broker);
    // Nothing listens on this port.
    let closed = format!("http://127.0.0.1:{}", super::harness::free_port());
    let out = consume_to_end(&broker, &["--alertmanager", &closed]);
    let text = super::harness::stdout(&out);
    let summary = super::harness::summary(&text);
    assert_eq!(summary["analysed"], 61, "{summary}");
    let sink = &summary["sinks"][0];
    assert!(sink["down_since"].is_string(), "{summary}");
    assert!(sink["queued"].as_u64().unwrap_or(0) >= 1, "{summary}");
    assert_eq!(sink["sent"], 0, "{summary}");
}

/// A local HTTP listener that answers 200 and keeps each request's body.
fn listener() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let mut r = BufReader::new(stream);
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (addr, rx)
}

#[test]
fn the_webhook_receives_alertmanagers_body_grouped_per_stream() {
    let broker = Broker::start(1);
    write_readings(&broker);
    let (addr, bodies) = listener();
    let url = format!("http://{addr}/hook");
    let out = consume_to_end(&broker, &["--alerts-webhook", &url]);
    let body = bodies
        .recv_timeout(Duration::from_secs(10))
        .expect("a webhook call");
    let v: Value = serde_json::from_str(&body).expect("JSON body");
    for key in [
        "version",
        "groupKey",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ] {
        assert!(!v[key].is_null(), "{key} missing: {v}");
    }
    assert_eq!(v["version"], "4");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["groupLabels"]["stream"], "sensor");
    assert_eq!(v["commonLabels"]["stream"], "sensor");
    let a = v["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["labels"]["entity"] == "dev-9"))
        .unwrap_or_else(|| panic!("dev-9 in {v}"));
    assert_eq!(a["status"], "firing");
    assert_eq!(a["labels"]["alertname"], "offline");
    assert!(
        a["fingerprint"].as_str().is_some_and(|f| f.len() == 16),
        "{a}"
    );
    let summary = super::harness::summary(&super::harness::stdout(&out));
    assert_eq!(summary["sinks"][0]["name"], "webhook", "{summary}");
    assert!(
        summary["sinks"][0]["sent"].as_u64().unwrap_or(0) >= 1,
        "{summary}"
    );
}

#[test]
fn the_alerts_topic_is_read_back_by_kcat_and_by_streamwatch_alerts() {
    let broker = Broker::start(1);
    write_readings(&broker);
    let out = consume_to_end(&broker, &["--alerts-topic", "ops-alerts"]);
    let summary = super::harness::summary(&super::harness::stdout(&out));
    assert_eq!(summary["sinks"][0]["name"], "topic", "{summary}");
    assert!(
        summary["sinks"][0]["sent"].as_u64().unwrap_or(0) >= 1,
        "{summary}"
    );

    // kcat: one message per state change, keyed by the alert's fingerprint.
    let read = super::harness::kcat(&[
        "-C",
        "-b",
        &broker.addr,
        "-t",
        "ops-alerts",
        "-e",
        "-q",
        "-f",
        "%k\t%s\n",
    ]);
    assert!(read.status.success(), "kcat: {}", stderr(&read));
    let text = super::harness::stdout(&read);
    let dev9 = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(_, v)| v.contains("\"dev-9\""))
        .unwrap_or_else(|| panic!("dev-9 on the topic:\n{text}"));
    let v: Value = serde_json::from_str(dev9.1).expect("JSON");
    assert_eq!(v["fingerprint"], dev9.0, "keyed by fingerprint: {v}");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["labels"]["alertname"], "offline");

    // streamwatch alerts: what fires now, as JSON and as a table.
    let out = super::harness::streamwatch(&[
        "-b",
        &broker.addr,
        "alerts",
        "--topic",
        "ops-alerts",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let firing: Vec<Value> =
        serde_json::from_str(super::harness::stdout(&out).trim()).expect("a JSON array");
    assert!(
        firing.iter().any(|a| a["labels"]["entity"] == "dev-9"),
        "{firing:?}"
    );
    let out = super::harness::streamwatch(&["-b", &broker.addr, "alerts", "--topic", "ops-alerts"]);
    let table = super::harness::stdout(&out);
    assert!(
        table.contains("dev-9") && table.contains("offline"),
        "{table}"
    );
    let out = super::harness::streamwatch(&["-b", &broker.addr, "alerts", "--topic", "none-here"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no alerts topic"), "{}", stderr(&out));
}
