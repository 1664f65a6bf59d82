//! The broker a session talks to: the embedded one (librdkafka's mock cluster, in-process) or
//! an external cluster given by `--brokers`. Callers ask for a bootstrap address and stop
//! caring which it is.
//!
//! The mock cluster has no Admin API and binds a random port, so the embedded broker creates
//! its topics itself and `forward` puts a fixed loopback address in front of it.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::producer::{BaseProducer, Producer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::KafkaError;

/// The broker a session runs against: the embedded one, started here and stopped on drop,
/// or the cluster named by `--brokers`.
pub struct Target {
    embedded: Option<EmbeddedBroker>,
    bootstrap: String,
}

impl Target {
    /// Starts the embedded broker with the stream topics (`kafka.partitions` each) unless
    /// `--brokers` names a cluster.
    pub fn start(settings: &crate::config::Settings) -> Result<Self, KafkaError> {
        if !settings.kafka.brokers.trim().is_empty() {
            return Ok(Self {
                embedded: None,
                bootstrap: settings.kafka.brokers.clone(),
            });
        }
        let b = EmbeddedBroker::start(
            &super::all_topics(settings),
            settings.kafka.partitions,
            None,
        )?;
        Ok(Self {
            bootstrap: b.bootstrap().to_string(),
            embedded: Some(b),
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }
}

/// What the mock cluster's thread is told.
enum MockCommand {
    /// Take the brokers down (connections dropped and refused, data kept) or bring them back up.
    Brokers { up: bool },
}

/// The mock cluster's broker ids (one broker, numbered from 1).
const MOCK_BROKERS: std::ops::RangeInclusive<i32> = 1..=1;

/// A mock cluster running on its own thread (it is not `Send`), stopped on drop.
pub struct EmbeddedBroker {
    bootstrap: String,
    commands: Option<mpsc::Sender<MockCommand>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts the mock cluster and creates `topics` with `partitions` partitions each. With
    /// `advertise`, the broker tells clients to reach it there (a forwarder in front of it)
    /// rather than at its own random port: a broker restarted on the same address is then
    /// the same broker to its clients, which reconnect to it.
    pub fn start(
        topics: &[String],
        partitions: i32,
        advertise: Option<SocketAddr>,
    ) -> Result<Self, KafkaError> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<MockCommand>();
        let topics = topics.to_vec();
        let thread = std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || run_mock(&topics, partitions, advertise, &ready_tx, &stop_rx))
            .map_err(|e| KafkaError::Embedded(format!("cannot start its thread: {e}")))?;
        let bootstrap = ready_rx
            .recv()
            .map_err(|_| KafkaError::Embedded("its thread ended before it was ready".into()))?
            .map_err(KafkaError::Embedded)?;
        tracing::info!(%bootstrap, "embedded broker up");
        Ok(Self {
            bootstrap,
            commands: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The mock cluster's own bootstrap address (`127.0.0.1:PORT`).
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Takes every broker down (clients lose their connections and cannot reconnect; the
    /// data stays) or brings them back up: librdkafka's mock fault injection, for rehearsing
    /// an outage.
    pub fn set_up(&self, up: bool) {
        if let Some(c) = &self.commands {
            let _ = c.send(MockCommand::Brokers { up });
        }
    }
}

fn run_mock(
    topics: &[String],
    partitions: i32,
    advertise: Option<SocketAddr>,
    ready: &mpsc::Sender<Result<String, String>>,
    commands: &mpsc::Receiver<MockCommand>,
) {
    // A client configured for a mock cluster creates one and owns it: its handle gives both
    // the safe API and the cluster for what that API lacks (the advertised address).
    let owner = ClientConfig::new()
        .set("test.mock.num.brokers", MOCK_BROKERS.end().to_string())
        .set_log_level(RDKafkaLogLevel::Warning)
        .create::<BaseProducer>();
    let Some(cluster) = owner.as_ref().ok().and_then(|o| o.client().mock_cluster()) else {
        let why = owner
            .err()
            .map_or_else(|| "no mock cluster".into(), |e| e.to_string());
        let _ = ready.send(Err(why));
        return;
    };
    for topic in topics {
        if let Err(e) = cluster.create_topic(topic, partitions, 1) {
            let _ = ready.send(Err(format!("cannot create topic {topic}: {e}")));
            return;
        }
    }
    // The mock's own address, before it advertises another.
    let own = cluster.bootstrap_servers();
    if let Ok(o) = &owner {
        form_groups_quickly(o);
        if let Some(addr) = advertise {
            advertise_at(o, addr);
        }
    }
    let _ = ready.send(Ok(own));
    // Serves commands until the handle is dropped (the sender goes away).
    while let Ok(MockCommand::Brokers { up }) = commands.recv() {
        for id in MOCK_BROKERS {
            let done = if up {
                cluster.broker_up(id)
            } else {
                cluster.broker_down(id)
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, id, up, "cannot change the mock broker's state");
            }
        }
        tracing::info!(up, "embedded broker state changed");
    }
    drop(cluster);
}

/// A new consumer group forms 30 ms after its first member joins, where Kafka (and the mock,
/// by default) waits three seconds for more (`group.initial.rebalance.delay.ms`): a consumer
/// of the embedded broker analyses its first event within a second of starting, and `bench`
/// starts producing sooner (docs/perf-journal.md, "Between processes"). A member that joins
/// later is taken in by a rebalance that ends as soon as every member has rejoined (patch
/// 5). (Before that patch, with no delay at all, a second member never got its share.)
fn form_groups_quickly(owner: &BaseProducer) {
    // SAFETY: as in `advertise_at`: the cluster belongs to `owner`'s client, alive for the
    // whole call, and the setting is taken under the cluster's lock.
    unsafe {
        let cluster = rdkafka::bindings::rd_kafka_handle_mock_cluster(owner.client().native_ptr());
        if !cluster.is_null() {
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 30);
        }
    }
}

/// Makes every mock broker advertise `addr` in its metadata
/// (`rd_kafka_mock_broker_set_host_port`, which the safe API lacks).
fn advertise_at(owner: &BaseProducer, addr: SocketAddr) {
    let Ok(host) = std::ffi::CString::new(addr.ip().to_string()) else {
        return;
    };
    // SAFETY: the mock cluster belongs to `owner`'s client, alive for the whole call; the
    // function copies the host string under the cluster's lock.
    unsafe {
        let cluster = rdkafka::bindings::rd_kafka_handle_mock_cluster(owner.client().native_ptr());
        if cluster.is_null() {
            return;
        }
        for id in MOCK_BROKERS {
            rdkafka::bindings::rd_kafka_mock_broker_set_host_port(
                cluster,
                id,
                host.as_ptr(),
                i32::from(addr.port()),
            );
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `listen` for the forwarder; a clear error when the address is taken.
pub async fn bind(listen: &str) -> Result<TcpListener, KafkaError> {
    TcpListener::bind(listen).await.map_err(|e| {
        KafkaError::Embedded(format!(
            "cannot listen on {listen}: {e} (choose another address with --listen, \
             or --listen 127.0.0.1:0 for a free port)"
        ))
    })
}

/// Accepts clients on `listener` and pipes each connection to `target` until cancelled. The
/// broker advertises the listener's address, so every connection comes through here.
pub async fn forward(listener: TcpListener, target: SocketAddr, cancel: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((mut client, peer)) => {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(target).await else {
                        tracing::warn!(%peer, %target, "embedded broker not reachable for forward");
                        return;
                    };
                    without_delay([&client, &upstream]);
                    tokio::select! {
                        _ = cancel.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "accept failed"),
        }
    }
}

/// Both ends of a forwarded connection with Nagle's algorithm off. The forwarder passes on
/// each answer in pieces of up to 8 KiB as they come; with Nagle on, the last piece of a
/// fetch answer waited for the client's delayed ACK, which made the next answer larger and
/// so also late: a consumer that joined a running stream stayed that far behind it for good
/// (docs/perf-journal.md, "Between processes").
fn without_delay(ends: [&TcpStream; 2]) {
    for s in ends {
        if let Err(e) = s.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a forwarded connection");
        }
    }
}

/// The first address of a bootstrap list, resolved.
pub fn first_addr(bootstrap: &str) -> Result<SocketAddr, KafkaError> {
    use std::net::ToSocketAddrs;
    bootstrap
        .split(',')
        .next()
        .and_then(|a| a.to_socket_addrs().ok())
        .and_then(|mut it| it.next())
        .ok_or_else(|| KafkaError::Embedded(format!("bad bootstrap address {bootstrap}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ends of a forwarded connection pass on small writes at once.
    #[tokio::test]
    async fn forwarded_connections_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (connected, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (a, b) = (connected.expect("connect"), accepted.expect("accept").0);
        assert!(
            !a.nodelay().expect("a") && !b.nodelay().expect("b"),
            "the default"
        );
        without_delay([&a, &b]);
        assert!(a.nodelay().expect("a") && b.nodelay().expect("b"));
    }
}
