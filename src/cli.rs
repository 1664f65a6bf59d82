//! The command line: what a user can type, parsed by clap into plain values.
//!
//! Validation beyond the shape of an argument (does the config file parse, is the broker
//! reachable) happens later, in `config` and the commands; this module only describes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use streamwatch::streams::StreamKind;

use crate::config::{FitMode, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "streamwatch",
    version,
    about = "A terminal monitor for real-time Kafka streams, with an embedded broker",
    long_about = "streamwatch produces synthetic sensor, transaction and log streams into Kafka, \
                  consumes them with rolling statistics, anomaly detection and online random \
                  forests, and shows it all live in the terminal. Without --brokers the TUI and \
                  the benchmark start an embedded Kafka broker in-process.",
    after_help = concat!(
        "Logs are written to a file, never to the terminal: --log-file, default ",
        "$XDG_STATE_HOME/streamwatch/streamwatch.log, else ~/.local/state/streamwatch/streamwatch.log"
    )
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The TUI's options also work without the `tui` command: `streamwatch --rate 500`.
    #[command(flatten)]
    pub tui: TuiArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command accepts.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Kafka bootstrap servers (host:port,...). Without it `tui` and `bench` start an embedded
    /// broker; the other commands use localhost:9092.
    #[arg(
        short = 'b',
        long,
        global = true,
        env = "STREAMWATCH_BROKERS",
        value_name = "LIST"
    )]
    pub brokers: Option<String>,

    /// A librdkafka property passed through unchanged, like kcat's -X (repeatable).
    /// Example: -X security.protocol=SASL_SSL -X sasl.mechanism=PLAIN
    #[arg(short = 'X', global = true, value_name = "KEY=VALUE", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,

    /// Settings file (TOML); assets/default.toml shows every key with its default. Without
    /// it: $XDG_CONFIG_HOME/streamwatch/config.toml (else ~/.config/…) when it exists.
    #[arg(long, global = true, env = "STREAMWATCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Prefix for the three topic names (e.g. "dev." gives dev.sensor-data).
    #[arg(
        long,
        global = true,
        env = "STREAMWATCH_TOPIC_PREFIX",
        value_name = "PREFIX"
    )]
    pub topic_prefix: Option<String>,

    /// How long to wait for the broker before giving up, in seconds.
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Log file (tracing output; never the terminal).
    #[arg(long, global = true, env = "STREAMWATCH_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the live monitor (the default when no command is given).
    Tui(TuiArgs),
    /// Run the embedded Kafka broker as a standalone process for other clients.
    ///
    /// It keeps its data in memory, and per partition at most 5 MiB of (compressed) record
    /// batches or 100,000 batches: past that it deletes the oldest, read or not. In lz4
    /// batches a partition holds some 120,000 sensor readings, 70,000 transactions or 100,000
    /// log lines; give a backlog you mean to keep enough partitions (--partitions). The TUI's
    /// "max" and `bench` pace the producer by the consumer, so they never reach it.
    ///
    /// Outages can be rehearsed: SIGUSR1 takes the broker down (clients lose their
    /// connections and cannot reconnect; the data stays), SIGUSR2 brings it back. Ctrl-C or
    /// SIGTERM stops it.
    #[command(verbatim_doc_comment)]
    Broker(BrokerArgs),
    /// Create, list or delete the three stream topics.
    Setup(SetupArgs),
    /// Produce synthetic events headless.
    Produce(ProduceArgs),
    /// Consume and analyse events headless, writing JSON lines.
    Consume(ConsumeArgs),
    /// List the consumer groups, or show one group's lag and members.
    Groups(GroupsArgs),
    /// What is firing now, from an alerts topic (`--alerts-topic`) any member writes.
    Alerts(AlertsArgs),
    /// Measure end-to-end throughput and per-event costs.
    Bench(BenchArgs),
}

/// One of the data streams, or all of them; the choices are the streams' own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamChoice {
    One(StreamKind),
    All,
}

/// Every choice: each stream, then `all`.
const CHOICES: [StreamChoice; StreamKind::COUNT + 1] = {
    let mut out = [StreamChoice::All; StreamKind::COUNT + 1];
    let mut i = 0;
    while i < StreamKind::COUNT {
        out[i] = StreamChoice::One(StreamKind::ALL[i]);
        i += 1;
    }
    out
};

impl ValueEnum for StreamChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &CHOICES
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            StreamChoice::One(k) => k.name(),
            StreamChoice::All => "all",
        }))
    }
}

impl StreamChoice {
    /// The streams the choice stands for.
    pub fn kinds(self) -> Vec<StreamKind> {
        match self {
            StreamChoice::One(k) => vec![k],
            StreamChoice::All => StreamKind::ALL.to_vec(),
        }
    }

    /// The streams a list of choices stands for, each once, in stream order.
    pub fn kinds_of(choices: &[StreamChoice]) -> Vec<StreamKind> {
        let mut v: Vec<_> = choices.iter().flat_map(|c| c.kinds()).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[derive(Debug, Args, Default)]
pub struct TuiArgs {
    /// Streams started at launch (comma separated: sensor,transaction,log).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub streams: Option<Vec<StreamChoice>>,
    /// Events per second per stream at launch.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed for generators and models.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Partitions per topic on the embedded broker.
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Consumer group to join: several TUIs (or a TUI and `consume` processes) with one
    /// group share the partitions. Default: a group of this process alone.
    #[arg(long)]
    pub group: Option<String>,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub sinks: SinkArgs,
}

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Address to accept Kafka clients on; port 0 picks a free one. The first line printed is
    /// the bootstrap address.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: String,
    /// Partitions per stream topic.
    #[arg(long)]
    pub partitions: Option<i32>,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Partitions per topic when creating.
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replication factor when creating.
    #[arg(long)]
    pub replication_factor: Option<i32>,
    /// List the topics with their partitions and watermarks instead of creating.
    #[arg(long, conflicts_with = "delete")]
    pub list: bool,
    /// Delete the three topics.
    #[arg(long)]
    pub delete: bool,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Which stream(s) to produce.
    #[arg(long = "type", value_enum, default_value = "all")]
    pub stream: StreamChoice,
    /// Events per second per stream; 0 means as fast as the broker takes them.
    #[arg(long)]
    pub rate: Option<f64>,
    /// With --rate 0, event times are spaced as if this many events per second per stream
    /// were written (default: the TUI's rate), so that a backlog looks like the live stream.
    #[arg(long, value_name = "RATE")]
    pub stamp_rate: Option<f64>,
    /// Stop after this many events in total (0 = no limit).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Stop after this many seconds (0 = until stopped).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub duration: f64,
    /// Seed for the generators (same seed, same events).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of events that are injected incidents, 0..1.
    #[arg(long)]
    pub incident_rate: Option<f64>,
    /// Event time of the first event (RFC 3339). With it, the same --seed gives byte-identical
    /// messages run after run; without it event time starts now.
    #[arg(long, value_name = "TIME")]
    pub start_time: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Which stream(s) to consume.
    #[arg(long = "type", value_enum, default_value = "all")]
    pub stream: StreamChoice,
    /// Consumer group id.
    #[arg(long)]
    pub group: Option<String>,
    /// Start from the earliest offset when the group has no committed offset.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop once this many events were consumed or found lost (0 = no limit): a loss cannot
    /// make it wait for ever.
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Stop once every partition this consumer owns is read to its end (like kcat -e).
    #[arg(long)]
    pub until_end: bool,
    /// Stop after this many seconds (0 = until stopped).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub duration: f64,
    /// Seed for the models.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also print one `event` line per analysed event: stream, partition, offset, producer,
    /// entity, seq and the rules it fired.
    #[arg(long)]
    pub events: bool,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub sinks: SinkArgs,
}

/// Where and how the models learn.
/// Where alerts go besides the screen.
#[derive(Debug, Clone, Default, Args)]
pub struct SinkArgs {
    /// Send firing and resolved alerts to this Alertmanager (its /api/v2/alerts), re-sent
    /// while firing. Credentials in the URL (http://user:pass@host:9093) are used, never
    /// printed.
    #[arg(long, value_name = "URL", env = "STREAMWATCH_ALERTMANAGER")]
    pub alertmanager: Option<String>,
    /// POST Alertmanager's webhook body (version 4) to this URL, the changes of a second
    /// gathered per stream.
    #[arg(long, value_name = "URL", env = "STREAMWATCH_ALERTS_WEBHOOK")]
    pub alerts_webhook: Option<String>,
    /// Write every alert's state change to this topic (keyed by fingerprint; without a
    /// value: streamwatch-alerts), for `streamwatch alerts` on any machine.
    #[arg(long, value_name = "TOPIC", num_args = 0..=1, default_missing_value = "")]
    pub alerts_topic: Option<String>,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// The alerts topic (default: streamwatch-alerts after the topic prefix).
    #[arg(long)]
    pub topic: Option<String>,
    /// One JSON array of the firing alerts instead of a table (with --follow, one JSON
    /// line per change after it).
    #[arg(long)]
    pub json: bool,
    /// Keep following the topic and print each change.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ModelArgs {
    /// Fit the models on a background thread while the old ones serve (default), or inline
    /// on the consumer's thread at exact event counts, so a seeded run repeats exactly.
    #[arg(long, value_enum, value_name = "MODE")]
    pub fit: Option<FitMode>,
    /// Directory of the saved models, one file per topic, written after refits (at most once
    /// a second) and on exit and read back at the start [default: "models" beside the log
    /// file].
    #[arg(long, env = "STREAMWATCH_MODEL_DIR", value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Start training from scratch instead of from the saved models (they are still saved).
    #[arg(long)]
    pub fresh_models: bool,
}

#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// The group to show: per partition of the stream topics its committed offset, the high
    /// watermark and the lag, and its members where the broker reports them. Without it, the
    /// cluster's groups.
    #[arg(long)]
    pub group: Option<String>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events to push through the pipeline.
    #[arg(long, default_value_t = 300_000)]
    pub count: u64,
    /// Offer this many events per second in all (split over the streams) and measure the
    /// latency at that load; without it, as fast as the pipeline holds (throughput).
    #[arg(long, value_parser = positive)]
    pub rate: Option<f64>,
    /// Print one JSON object as the last line of stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Which stream(s).
    #[arg(long = "type", value_enum, default_value = "all")]
    pub stream: StreamChoice,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// A number above 0.
fn positive(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("'{raw}' is not a number above 0")),
    }
}

/// A number of 0 or more (seconds, rates).
fn non_negative(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("'{raw}' is not a number of 0 or more")),
    }
}

fn parse_property(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "'{raw}' is not KEY=VALUE (example: -X compression.type=lz4)"
        )),
    }
}

impl Cli {
    /// The flags that are settings, for `Settings::resolve`: the global ones, then the
    /// command's own (the TUI's without a command).
    pub fn overrides(&self) -> Overrides {
        let g = &self.global;
        let mut o = Overrides {
            config: g.config.clone(),
            brokers: g.brokers.clone(),
            topic_prefix: g.topic_prefix.clone(),
            timeout: g.timeout,
            properties: g.properties.clone(),
            log_file: g.log_file.clone(),
            ..Overrides::default()
        };
        match &self.command {
            None => tui_overrides(&mut o, &self.tui),
            Some(Command::Tui(a)) => tui_overrides(&mut o, a),
            Some(Command::Broker(a)) => o.partitions = a.partitions,
            Some(Command::Setup(a)) => {
                o.partitions = a.partitions;
                o.replication_factor = a.replication_factor;
            }
            Some(Command::Produce(a)) => {
                (o.rate, o.seed, o.incident_rate) = (a.rate, a.seed, a.incident_rate);
                o.stamp_rate = a.stamp_rate;
            }
            Some(Command::Consume(a)) => {
                o.seed = a.seed;
                model_overrides(&mut o, &a.models);
            }
            Some(Command::Groups(_) | Command::Alerts(_)) => {}
            Some(Command::Bench(a)) => o.seed = a.seed,
        }
        o
    }
}

fn tui_overrides(o: &mut Overrides, a: &TuiArgs) {
    (o.rate, o.seed, o.partitions) = (a.rate, a.seed, a.partitions);
    model_overrides(o, &a.models);
}

fn model_overrides(o: &mut Overrides, a: &ModelArgs) {
    (o.fit, o.model_dir, o.fresh_models) = (a.fit, a.model_dir.clone(), a.fresh_models);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use clap::CommandFactory;

    #[test]
    fn command_flags_are_settings_and_are_validated_once() {
        let resolve =
            |args: &[&str]| Settings::resolve(&Cli::try_parse_from(args).unwrap().overrides());
        let s = resolve(&["streamwatch", "produce", "--rate", "7", "--seed", "9"]).unwrap();
        assert_eq!((s.producer.rate, s.producer.seed), (7.0, 9));
        let err = resolve(&["streamwatch", "--partitions", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--partitions"), "{err}");
        let err = resolve(&["streamwatch", "tui", "--rate=-2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--rate") && err.contains("-2"), "{err}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn stream_choices_stand_for_their_streams() {
        assert_eq!(StreamChoice::All.kinds(), StreamKind::ALL.to_vec());
        assert_eq!(
            StreamChoice::kinds_of(&[
                StreamChoice::One(StreamKind::Log),
                StreamChoice::One(StreamKind::Sensor),
                StreamChoice::One(StreamKind::Log)
            ]),
            vec![StreamKind::Sensor, StreamKind::Log]
        );
        assert!(Cli::try_parse_from(["streamwatch", "consume", "--duration=-1"]).is_err());
    }

    /// Every stream is a `--type` choice under its own name, and `all` is every stream.
    #[test]
    fn every_stream_is_a_type_choice() {
        for k in StreamKind::ALL {
            let cli = Cli::try_parse_from(["streamwatch", "produce", "--type", k.name()])
                .expect("parses");
            let Some(Command::Produce(a)) = cli.command else {
                panic!("not produce")
            };
            assert_eq!(a.stream.kinds(), vec![k]);
        }
    }

    #[test]
    fn property_needs_key_and_value() {
        assert_eq!(parse_property("a.b=c=d"), Ok(("a.b".into(), "c=d".into())));
        assert!(parse_property("novalue").is_err());
        assert!(parse_property("=x").is_err());
    }

    #[test]
    fn no_command_means_tui() {
        let cli = Cli::try_parse_from(["streamwatch"]).expect("parses");
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["streamwatch", "--rate", "0", "--streams", "sensor,log"])
            .expect("parses");
        assert_eq!(cli.tui.rate, Some(0.0));
        assert_eq!(
            cli.tui.streams,
            Some(vec![
                StreamChoice::One(StreamKind::Sensor),
                StreamChoice::One(StreamKind::Log)
            ])
        );
    }
}
