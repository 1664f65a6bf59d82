//! What the models say about one event, as alerts in the stream's alert book beside the
//! rules': the forest's incident calls with the features that drove them, the label-free
//! detector's unusual events, and drift (which brings the next refit forward).

use super::hst::ALERT_SCORE;
use super::model::{StreamModel, Verdict};
use crate::analytics::{Firing, Observation, Reason, Severity, StreamAnalyzer};
use crate::streams::Timestamp;

/// Features named in a forest alert.
const REASONS: usize = 3;

/// The event an alert is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub entity: &'a str,
    pub time: Timestamp,
}

/// Files the evidence `verdict` gives on the event of `obs`; alerts it fires or resolves
/// join the rules' in `obs.changed`.
pub fn file(
    model: &StreamModel,
    analyzer: &mut StreamAnalyzer,
    obs: &mut Observation,
    verdict: &Verdict,
    at: Subject<'_>,
) {
    let (features, changed) = (&obs.features, &mut obs.changed);
    let stream = analyzer.kind();
    let incident_call = verdict.prediction.is_some_and(|p| p.is_incident());
    let firing = |rule, severity, value, expected| Firing {
        stream,
        entity: at.entity,
        rule,
        severity,
        value,
        expected,
        time: at.time,
    };
    if let Some(p) = verdict.prediction.filter(|p| p.is_incident()) {
        let names = analyzer.feature_names();
        let class = stream
            .label_names()
            .get(p.class)
            .copied()
            .unwrap_or("incident");
        let severity = if p.confidence >= 0.9 {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let reasons = || {
            model
                .explain(features, p.class)
                .into_iter()
                .take(REASONS)
                .map(|c| Reason {
                    feature: names.get(c.feature).copied().unwrap_or("?"),
                    contribution: c.value,
                })
                .collect()
        };
        let message = |r: &[Reason]| {
            let why: Vec<String> = r
                .iter()
                .map(|r| format!("{} {:+.2}", r.feature, r.contribution))
                .collect();
            format!(
                "{} looks like {class} to the forest ({:.0} % of trees): {}",
                at.entity,
                p.confidence * 100.0,
                why.join(", ")
            )
        };
        let f = firing("forest", severity, p.confidence, (0.0, 0.5));
        analyzer.file_external(f, message, reasons, changed);
    }
    // What the models say about an entity in alert, noted when the event gave evidence.
    let evidence = obs.fired != 0 || verdict.anomalous() || incident_call;
    if evidence && let Some(a) = analyzer.open_alert_mut(at.entity) {
        let names = stream.label_names();
        a.context.forest = verdict
            .prediction
            .map(|p| (names.get(p.class).copied().unwrap_or("?"), p.confidence));
        a.context.regression = verdict
            .expected
            .map(|(pred, actual)| (model.target_name(), pred, actual));
    }
    if let Some(score) = verdict.anomaly.filter(|_| verdict.anomalous()) {
        let f = firing("half_space", Severity::Warning, score, (0.0, ALERT_SCORE));
        let message = |_: &[Reason]| {
            format!(
                "{} sent an unusual event (half-space score {score:.2})",
                at.entity
            )
        };
        analyzer.file_external(f, message, Vec::new, changed);
    }
    if let Some(d) = verdict.drift {
        let f = Firing {
            entity: "model",
            ..firing("drift", Severity::Info, 1.0, (0.0, 0.0))
        };
        let what = d.describe(model.target_name());
        let message = |_: &[Reason]| format!("drift: {what}; the models refit now");
        analyzer.file_external(f, message, Vec::new, changed);
    }
}
