//! `streamwatch groups`: the reference app's consumer-group check. Without `--group`, the
//! cluster's groups with their state and members; with it, per partition of the stream
//! topics the group's committed offset, the high watermark and the lag, and its members.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::GroupsArgs;
use crate::config::Settings;
use crate::kafka::admin::Admin;
use crate::kafka::groups::{self, GroupReport, GroupSummary};

pub async fn run(settings: &Settings, args: &GroupsArgs) -> Result<ExitCode> {
    let brokers = settings.external_brokers();
    let (settings, group, json) = (settings.clone(), args.group.clone(), args.json);
    tokio::task::spawn_blocking(move || {
        let admin = Admin::connect(&settings, &brokers)?;
        let mut out = std::io::stdout().lock();
        match group {
            Some(g) => {
                let topics = crate::kafka::all_topics(&settings);
                let report = groups::describe(&settings, &brokers, &admin, &g, &topics)?;
                print_report(&mut out, &report, json)
            }
            None => {
                let list = groups::list(&admin).or_else(|e| {
                    bail!(
                        "this broker does not list consumer groups ({e}); the embedded broker \
                         cannot: name a group with `streamwatch groups --group GROUP`"
                    )
                })?;
                print_list(&mut out, &list, json)
            }
        }
    })
    .await??;
    Ok(ExitCode::SUCCESS)
}

fn print_list(out: &mut impl Write, list: &[GroupSummary], json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::json!({ "groups": list }))?;
        return Ok(());
    }
    if list.is_empty() {
        writeln!(out, "no consumer groups")?;
        return Ok(());
    }
    let width = list.iter().map(|g| g.group.len()).max().unwrap_or(5).max(5);
    writeln!(
        out,
        "{:<width$}  {:<12}  {:>7}  PROTOCOL",
        "GROUP", "STATE", "MEMBERS"
    )?;
    for g in list {
        writeln!(
            out,
            "{:<width$}  {:<12}  {:>7}  {}",
            g.group, g.state, g.members, g.protocol_type
        )?;
    }
    Ok(())
}

fn print_report(out: &mut impl Write, r: &GroupReport, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
        return Ok(());
    }
    let members = match &r.members {
        Some(m) => format!("{} members", m.len()),
        None => "members not reported (this broker does not describe groups)".to_string(),
    };
    let state = r.state.as_deref().unwrap_or("state unknown");
    writeln!(out, "group {}: {state}, {members}", r.group)?;
    let width = r
        .partitions
        .iter()
        .map(|p| p.topic.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{:<width$}  {:>9}  {:>10}  {:>10}  {:>8}  MEMBER",
        "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG"
    )?;
    let dash = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    for p in &r.partitions {
        writeln!(
            out,
            "{:<width$}  {:>9}  {:>10}  {:>10}  {:>8}  {}",
            p.topic,
            p.partition,
            dash(p.committed),
            p.high,
            dash(p.lag),
            p.member.as_deref().unwrap_or("-")
        )?;
    }
    if r.partitions.iter().any(|p| p.lag.is_some_and(|l| l < 0)) {
        writeln!(
            out,
            "a lag below 0: the broker reports a high watermark below the committed offset \
             (it counts offsets differently from its consumers)"
        )?;
    }
    match r.uncommitted {
        0 => writeln!(out, "total lag {}", r.total_lag)?,
        n => writeln!(
            out,
            "total lag {} ({n} partitions without a committed offset, their lag unknown)",
            r.total_lag
        )?,
    }
    Ok(())
}
