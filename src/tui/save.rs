//! `ctrl-s`: what the screen shows, kept. The screen as text (drawn again off-screen at the
//! terminal's size, so it is exactly what is shown, without colour) and the shown view's
//! history as CSV, one row per metric and second: files named by the time, in the current
//! directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::App;
use super::ui;
use streamwatch::streams::Timestamp;

/// Writes `streamwatch-<time>.txt` (the screen) and `.csv` (the history) into `dir`; their
/// paths.
pub fn save(
    app: &App,
    (w, h): (u16, u16),
    dir: &Path,
    now: Timestamp,
) -> std::io::Result<(PathBuf, PathBuf)> {
    let stamp: String = String::from_utf8_lossy(&now.to_rfc3339())
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let base = dir.join(format!("streamwatch-{stamp}"));
    let (txt, csv) = (base.with_extension("txt"), base.with_extension("csv"));
    std::fs::write(&txt, screen_text(app, w, h))?;
    std::fs::write(&csv, history_csv(app))?;
    Ok((txt, csv))
}

/// The screen as lines of text.
pub fn screen_text(app: &App, w: u16, h: u16) -> String {
    // Drawing into memory cannot fail (the backend's error type is `Infallible`).
    let mut t = match Terminal::new(TestBackend::new(w.max(1), h.max(1))) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    if let Err(e) = t.draw(|f| ui::draw(app, f)) {
        match e {}
    }
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The shown view's history: every stream in the overview, the one stream in its view.
/// Rows: stream, metric, seconds before the latest sample, rolling mean, band min and max.
pub fn history_csv(app: &App) -> String {
    let mut out = String::from("stream,metric,seconds_ago,mean,min,max\n");
    let shown = app.alert_filter();
    let streams = app.shown.iter().flat_map(|s| s.streams.iter());
    for s in streams.filter(|s| shown.is_none_or(|k| k == s.stream)) {
        for m in &s.metrics {
            let n = m.history.len();
            for (i, (mean, (lo, hi))) in m.history.iter().zip(&m.band).enumerate() {
                let _ = writeln!(
                    out,
                    "{},{},{},{mean},{lo},{hi}",
                    s.stream.name(),
                    m.name,
                    n - 1 - i
                );
            }
        }
    }
    out
}
