//! Colours and borders, in one value named by role, so that every panel looks of a piece and a
//! change of palette is one edit. Widgets ask for a role (`THEME.dim`, `THEME.panel(..)`),
//! never for a colour.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders};

use streamwatch::analytics::Severity;

pub struct Theme {
    /// Titles, keys, the focused card, informational text.
    pub accent: Style,
    /// Secondary text: placeholders, times, bands, statuses.
    pub dim: Style,
    /// Healthy, running, the primary sparklines.
    pub good: Style,
    /// Needs a look: paused, rejects, middling confidence.
    pub warn: Style,
    /// Wrong: broker down, stopped, loss, errors.
    pub bad: Style,
    /// Counts of merged repeats, the residual detector, the confidence sparkline.
    pub mark: Style,
    pub bold: Style,
    /// The program's name in the header.
    pub brand: Style,
    /// A key in the footer.
    pub key: Style,
    /// Panel borders, and the focused card's.
    pub border: Style,
    pub border_focus: Style,
    /// The help overlay's border.
    pub overlay_border: Style,
    /// The alert under the cursor.
    pub cursor: Style,
}

pub const THEME: Theme = Theme {
    accent: Style::new().fg(Color::Cyan),
    dim: Style::new().fg(Color::DarkGray),
    good: Style::new().fg(Color::Green),
    warn: Style::new().fg(Color::Yellow),
    bad: Style::new().fg(Color::Red),
    mark: Style::new().fg(Color::Magenta),
    bold: Style::new().add_modifier(Modifier::BOLD),
    brand: Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(Modifier::BOLD),
    key: Style::new().fg(Color::Black).bg(Color::DarkGray),
    border: Style::new().fg(Color::DarkGray),
    border_focus: Style::new().fg(Color::Cyan),
    overlay_border: Style::new().fg(Color::Cyan),
    cursor: Style::new().add_modifier(Modifier::REVERSED),
};

/// Whether the user asked for no colour: `NO_COLOR` present and not empty (no-color.org).
pub fn no_colour_asked(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// The screen without colour, for `NO_COLOR`: every cell in the terminal's own colours. What
/// a background set apart (the brand, the footer's keys, a selection) is shown reversed, and
/// bold stays, so nothing is told by colour alone: states and severities are words.
pub fn without_colour(buf: &mut Buffer) {
    for cell in &mut buf.content {
        if cell.bg != Color::Reset {
            cell.modifier |= Modifier::REVERSED;
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

impl Theme {
    /// A panel: rounded borders in the border colour (the focus colour when `focused`).
    pub fn panel<'a>(&self, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
        Block::new()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(if focused {
                self.border_focus
            } else {
                self.border
            })
            .title(title)
    }

    /// An overlay above the panels (help): double borders in the overlay colour.
    pub fn overlay<'a>(&self, title: impl Into<Line<'a>>) -> Block<'a> {
        Block::new()
            .borders(Borders::ALL)
            .border_type(BorderType::Double)
            .border_style(self.overlay_border)
            .title(title)
    }

    pub fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Critical => self.bad.add_modifier(Modifier::BOLD),
            Severity::Warning => self.warn,
            Severity::Info => self.accent,
        }
    }

    /// A model's confidence: good from 0.8, middling from 0.6, poor below.
    pub fn confidence(&self, c: f64) -> Style {
        if c >= 0.8 {
            self.good
        } else if c >= 0.6 {
            self.warn
        } else {
            self.bad
        }
    }
}
