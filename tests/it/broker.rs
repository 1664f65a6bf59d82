use super::harness::{Broker, kcat, stdout};

#[test]
fn embedded_broker_serves_topics_to_kcat_and_stops_on_sigterm() {
    let broker = Broker::start(4);
    let out = kcat(&["-b", &broker.addr, "-L", "-m", "10"]);
    assert!(
        out.status.success(),
        "kcat -L failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = stdout(&out);
    for topic in ["sensor-data", "transaction-data", "log-data"] {
        let line = listing
            .lines()
            .find(|l| l.contains(&format!("topic \"{topic}\"")))
            .unwrap_or_else(|| panic!("{topic} missing from:\n{listing}"));
        assert!(line.contains("with 4 partitions"), "{line}");
    }
    assert_eq!(broker.stop(), Some(0));
}

#[test]
fn busy_listen_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = super::harness::streamwatch(&["broker", "--listen", &addr]);
    assert!(!out.status.success());
    let err = super::harness::stderr(&out);
    assert!(err.contains(&addr) && err.contains("--listen"), "{err}");
}
