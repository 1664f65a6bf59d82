//! The one keybinding table. Dispatch, the footer and the `?` overlay all read it, so they
//! cannot drift apart: a row holds the keys as shown, what they do in a few words for the
//! footer (rows in a run with the same words share one footer entry) and in a sentence for
//! the overlay.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use streamwatch::streams::StreamKind;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Overview,
    /// A stream's view (key: its position in `StreamKind::ALL`, from 1).
    Show(StreamKind),
    NextView,
    PrevView,
    ToggleStream,
    ToggleAll,
    TogglePause,
    RateUp,
    RateDown,
    Freeze,
    ScrollDown,
    ScrollUp,
    /// The alert under the cursor: its evidence and context.
    OpenAlert,
    Ack,
    Silence,
    Silences,
    Filter,
    ClearAlerts,
    /// The screen as text and the view's history as CSV, to files named by the time.
    Save,
    Help,
    /// Closes the help overlay; else clears the alert filter (modals close themselves).
    Back,
    Quit,
}

/// One row of the table: the keys as shown, the matcher, the action and what it does.
pub struct Binding {
    pub keys: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// What the footer says (`None`: only the overlay shows the row).
    pub short: Option<&'static str>,
    matches: fn(&KeyEvent) -> bool,
}

fn ch(k: &KeyEvent, c: char) -> bool {
    k.code == KeyCode::Char(c) && !k.modifiers.contains(KeyModifiers::CONTROL)
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "0",
        action: Action::Overview,
        description: "overview of all streams",
        short: Some("views"),
        matches: |k| ch(k, '0'),
    },
    Binding {
        keys: "1",
        action: Action::Show(StreamKind::Sensor),
        description: "sensor stream",
        short: Some("views"),
        matches: |k| ch(k, '1'),
    },
    Binding {
        keys: "2",
        action: Action::Show(StreamKind::Transaction),
        description: "transaction stream",
        short: Some("views"),
        matches: |k| ch(k, '2'),
    },
    Binding {
        keys: "3",
        action: Action::Show(StreamKind::Log),
        description: "log stream",
        short: Some("views"),
        matches: |k| ch(k, '3'),
    },
    Binding {
        keys: "Tab",
        action: Action::NextView,
        description: "next view",
        short: Some("view"),
        matches: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "S-Tab",
        action: Action::PrevView,
        description: "previous view",
        short: None,
        matches: |k| k.code == KeyCode::BackTab,
    },
    Binding {
        keys: "s",
        action: Action::ToggleStream,
        description: "start/stop this stream",
        short: Some("start/stop"),
        matches: |k| ch(k, 's'),
    },
    Binding {
        keys: "S",
        action: Action::ToggleAll,
        description: "start/stop all streams",
        short: Some("all"),
        matches: |k| ch(k, 'S'),
    },
    Binding {
        keys: "p",
        action: Action::TogglePause,
        description: "pause/resume this producer",
        short: Some("pause"),
        matches: |k| ch(k, 'p'),
    },
    Binding {
        keys: "+",
        action: Action::RateUp,
        description: "raise this stream's rate",
        short: Some("rate"),
        matches: |k| ch(k, '+') || ch(k, '='),
    },
    Binding {
        keys: "-",
        action: Action::RateDown,
        description: "lower this stream's rate",
        short: Some("rate"),
        matches: |k| ch(k, '-') || ch(k, '_'),
    },
    Binding {
        keys: "space",
        action: Action::Freeze,
        description: "freeze the display (data keeps flowing)",
        short: Some("freeze"),
        matches: |k| ch(k, ' '),
    },
    Binding {
        keys: "j/↓",
        action: Action::ScrollDown,
        description: "next alert",
        short: None,
        matches: |k| ch(k, 'j') || k.code == KeyCode::Down,
    },
    Binding {
        keys: "k/↑",
        action: Action::ScrollUp,
        description: "previous alert",
        short: None,
        matches: |k| ch(k, 'k') || k.code == KeyCode::Up,
    },
    Binding {
        keys: "Enter",
        action: Action::OpenAlert,
        description: "open the alert: evidence, event, context",
        short: Some("alert"),
        matches: |k| k.code == KeyCode::Enter,
    },
    Binding {
        keys: "a",
        action: Action::Ack,
        description: "acknowledge the alert (kept, marked)",
        short: None,
        matches: |k| ch(k, 'a'),
    },
    Binding {
        keys: "x",
        action: Action::Silence,
        description: "silence: this entity and rule, or the rule",
        short: None,
        matches: |k| ch(k, 'x'),
    },
    Binding {
        keys: "X",
        action: Action::Silences,
        description: "silences (Enter ends one)",
        short: None,
        matches: |k| ch(k, 'X'),
    },
    Binding {
        keys: "/",
        action: Action::Filter,
        description: "filter alerts (stream, rule, entity, severity, state)",
        short: Some("filter"),
        matches: |k| ch(k, '/'),
    },
    Binding {
        keys: "c",
        action: Action::ClearAlerts,
        description: "clear alerts",
        short: Some("clear"),
        matches: |k| ch(k, 'c'),
    },
    Binding {
        keys: "^S",
        action: Action::Save,
        description: "save the screen (text) and this view's history (CSV)",
        short: None,
        matches: |k| k.code == KeyCode::Char('s') && k.modifiers.contains(KeyModifiers::CONTROL),
    },
    Binding {
        keys: "?",
        action: Action::Help,
        description: "help",
        short: Some("help"),
        matches: |k| ch(k, '?'),
    },
    Binding {
        keys: "Esc",
        action: Action::Back,
        description: "close help or the alert filter",
        short: None,
        matches: |k| k.code == KeyCode::Esc,
    },
    Binding {
        keys: "q/^C",
        action: Action::Quit,
        description: "quit",
        short: Some("quit"),
        matches: |k| {
            ch(k, 'q')
                || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))
        },
    },
];

/// The action bound to a key, if any.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    BINDINGS.iter().find(|b| (b.matches)(key)).map(|b| b.action)
}

/// The footer's `(keys, words)` entries: a run of rows with the same words is one entry,
/// its keys joined (`+/-`), or spanned when they are consecutive digits (`0-3`).
pub fn footer() -> Vec<(String, &'static str)> {
    let mut out: Vec<(Vec<&'static str>, &'static str)> = Vec::new();
    for b in BINDINGS {
        let Some(short) = b.short else { continue };
        match out.last_mut() {
            Some((keys, last)) if *last == short => keys.push(b.keys),
            _ => out.push((vec![b.keys], short)),
        }
    }
    out.into_iter()
        .map(|(keys, short)| (join_keys(&keys), short))
        .collect()
}

fn join_keys(keys: &[&str]) -> String {
    let digits: Vec<u32> = keys
        .iter()
        .filter_map(|k| k.parse().ok().filter(|_| k.len() == 1))
        .collect();
    let consecutive =
        digits.len() == keys.len() && keys.len() > 2 && digits.windows(2).all(|w| w[1] == w[0] + 1);
    if consecutive {
        format!("{}-{}", keys[0], keys[keys.len() - 1])
    } else {
        keys.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_binding_and_keys_do_not_collide() {
        let all = [
            Action::Overview,
            Action::Show(StreamKind::Sensor),
            Action::Show(StreamKind::Transaction),
            Action::Show(StreamKind::Log),
            Action::NextView,
            Action::PrevView,
            Action::ToggleStream,
            Action::ToggleAll,
            Action::TogglePause,
            Action::RateUp,
            Action::RateDown,
            Action::Freeze,
            Action::ScrollDown,
            Action::ScrollUp,
            Action::OpenAlert,
            Action::Ack,
            Action::Silence,
            Action::Silences,
            Action::Filter,
            Action::ClearAlerts,
            Action::Save,
            Action::Help,
            Action::Back,
            Action::Quit,
        ];
        for a in all {
            assert!(BINDINGS.iter().any(|b| b.action == a), "{a:?} unbound");
        }
        for c in "0123sSp+-jkaxX/c?q ".chars() {
            let k = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
            let hits = BINDINGS.iter().filter(|b| (b.matches)(&k)).count();
            assert_eq!(hits, 1, "{c:?} matches {hits} bindings");
        }
    }

    /// Every stream has its view key, its number from 1 in stream order: a stream added to
    /// `StreamKind` fails here until the table has its row.
    #[test]
    fn every_stream_has_its_number_key() {
        for (i, k) in StreamKind::ALL.into_iter().enumerate() {
            let c = char::from_digit(i as u32 + 1, 10).expect("a digit");
            let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
            let b = BINDINGS.iter().find(|b| (b.matches)(&key));
            assert_eq!(b.map(|b| b.action), Some(Action::Show(k)), "key {c}");
        }
    }

    #[test]
    fn footer_entries_come_from_the_table() {
        let footer = footer();
        let words: Vec<(&str, &str)> = footer.iter().map(|(k, w)| (k.as_str(), *w)).collect();
        assert_eq!(
            words,
            [
                ("0-3", "views"),
                ("Tab", "view"),
                ("s", "start/stop"),
                ("S", "all"),
                ("p", "pause"),
                ("+/-", "rate"),
                ("space", "freeze"),
                ("Enter", "alert"),
                ("/", "filter"),
                ("c", "clear"),
                ("?", "help"),
                ("q/^C", "quit"),
            ]
        );
    }

    #[test]
    fn esc_closes_and_does_not_quit() {
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(action_for(&esc), Some(Action::Back));
    }

    #[test]
    fn ctrl_c_quits_but_c_clears() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&ctrl_c), Some(Action::Quit));
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE)),
            Some(Action::ClearAlerts)
        );
    }
}
