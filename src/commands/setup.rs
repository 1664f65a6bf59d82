//! `streamwatch setup`: create, list or delete the three stream topics (the replacement of
//! the reference app's kafka_setup.py).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::SetupArgs;
use crate::config::Settings;
use crate::kafka::{
    self,
    admin::{Admin, Created},
};

pub async fn run(settings: &Settings, args: &SetupArgs) -> Result<ExitCode> {
    let brokers = settings.external_brokers();
    let topics = kafka::all_topics(settings);
    let admin = {
        let settings = settings.clone();
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || Admin::connect(&settings, &brokers)).await??
    };
    let mut out = std::io::stdout().lock();
    if args.list {
        list(&admin, &topics, &mut out)
    } else if args.delete {
        let deleted = admin.delete(&topics).await?;
        for t in &topics {
            let what = if deleted.contains(t) {
                "deleted"
            } else {
                "absent"
            };
            writeln!(out, "{t}: {what}")?;
        }
        Ok(ExitCode::SUCCESS)
    } else {
        let (partitions, rf) = (settings.kafka.partitions, settings.kafka.replication_factor);
        for c in admin.create(&topics, partitions, rf).await? {
            match c {
                Created::New(name) => writeln!(
                    out,
                    "{name}: created ({partitions} partitions, replication {rf})"
                )?,
                Created::Existing { name, partitions } => {
                    writeln!(out, "{name}: exists ({partitions} partitions)")?
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn list(admin: &Admin, topics: &[String], out: &mut impl Write) -> Result<ExitCode> {
    let infos = admin.describe(topics)?;
    for t in topics {
        match infos.iter().find(|i| &i.name == t) {
            None => writeln!(out, "{t}: absent")?,
            Some(info) => {
                writeln!(
                    out,
                    "{t}: {} partitions, {} messages",
                    info.partitions.len(),
                    info.messages()
                )?;
                for p in &info.partitions {
                    writeln!(out, "  partition {}: low {} high {}", p.id, p.low, p.high)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
