//! The one keybinding table. Dispatch, the footer and the `?` overlay all read it, so they
//! cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Overview,
    ShowSensor,
    ShowTransaction,
    ShowLog,
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
    ClearAlerts,
    Help,
    Quit,
}

/// One row of the table: the keys as shown, the matcher, the action and what it does.
pub struct Binding {
    pub keys: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// Shown in the footer (the overlay shows all).
    pub footer: bool,
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
        footer: false,
        matches: |k| ch(k, '0'),
    },
    Binding {
        keys: "1",
        action: Action::ShowSensor,
        description: "sensor stream",
        footer: false,
        matches: |k| ch(k, '1'),
    },
    Binding {
        keys: "2",
        action: Action::ShowTransaction,
        description: "transaction stream",
        footer: false,
        matches: |k| ch(k, '2'),
    },
    Binding {
        keys: "3",
        action: Action::ShowLog,
        description: "log stream",
        footer: false,
        matches: |k| ch(k, '3'),
    },
    Binding {
        keys: "Tab",
        action: Action::NextView,
        description: "next view",
        footer: true,
        matches: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "S-Tab",
        action: Action::PrevView,
        description: "previous view",
        footer: false,
        matches: |k| k.code == KeyCode::BackTab,
    },
    Binding {
        keys: "s",
        action: Action::ToggleStream,
        description: "start/stop this stream",
        footer: true,
        matches: |k| ch(k, 's'),
    },
    Binding {
        keys: "S",
        action: Action::ToggleAll,
        description: "start/stop all streams",
        footer: true,
        matches: |k| ch(k, 'S'),
    },
    Binding {
        keys: "p",
        action: Action::TogglePause,
        description: "pause/resume this producer",
        footer: true,
        matches: |k| ch(k, 'p'),
    },
    Binding {
        keys: "+/-",
        action: Action::RateUp,
        description: "raise this stream's rate",
        footer: true,
        matches: |k| ch(k, '+') || ch(k, '='),
    },
    Binding {
        keys: "-",
        action: Action::RateDown,
        description: "lower this stream's rate",
        footer: false,
        matches: |k| ch(k, '-') || ch(k, '_'),
    },
    Binding {
        keys: "space",
        action: Action::Freeze,
        description: "freeze the display (data keeps flowing)",
        footer: true,
        matches: |k| ch(k, ' '),
    },
    Binding {
        keys: "j/↓",
        action: Action::ScrollDown,
        description: "scroll alerts down",
        footer: false,
        matches: |k| ch(k, 'j') || k.code == KeyCode::Down,
    },
    Binding {
        keys: "k/↑",
        action: Action::ScrollUp,
        description: "scroll alerts up",
        footer: false,
        matches: |k| ch(k, 'k') || k.code == KeyCode::Up,
    },
    Binding {
        keys: "c",
        action: Action::ClearAlerts,
        description: "clear alerts",
        footer: true,
        matches: |k| ch(k, 'c'),
    },
    Binding {
        keys: "?",
        action: Action::Help,
        description: "help",
        footer: true,
        matches: |k| ch(k, '?'),
    },
    Binding {
        keys: "q/Esc/^C",
        action: Action::Quit,
        description: "quit",
        footer: true,
        matches: |k| {
            ch(k, 'q')
                || k.code == KeyCode::Esc
                || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))
        },
    },
];

/// The action bound to a key, if any.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    BINDINGS.iter().find(|b| (b.matches)(key)).map(|b| b.action)
}

/// The footer's `key description` pairs.
pub fn footer() -> impl Iterator<Item = (&'static str, &'static str)> {
    BINDINGS.iter().filter(|b| b.footer).map(|b| {
        let short = match b.action {
            Action::NextView => "view",
            Action::ToggleStream => "start/stop",
            Action::ToggleAll => "all",
            Action::TogglePause => "pause",
            Action::RateUp => return ("+/-", "rate"),
            Action::Freeze => "freeze",
            Action::ClearAlerts => "clear",
            Action::Help => "help",
            Action::Quit => "quit",
            _ => b.description,
        };
        (b.keys, short)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_binding_and_keys_do_not_collide() {
        let all = [
            Action::Overview,
            Action::ShowSensor,
            Action::ShowTransaction,
            Action::ShowLog,
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
            Action::ClearAlerts,
            Action::Help,
            Action::Quit,
        ];
        for a in all {
            assert!(BINDINGS.iter().any(|b| b.action == a), "{a:?} unbound");
        }
        for c in "0123sSp+-jkc?q ".chars() {
            let k = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
            let hits = BINDINGS.iter().filter(|b| (b.matches)(&k)).count();
            assert_eq!(hits, 1, "{c:?} matches {hits} bindings");
        }
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
