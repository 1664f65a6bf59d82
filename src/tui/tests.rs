//! Screens and key handling without a terminal: whole-screen snapshots from a seeded,
//! deterministic state (TestBackend + insta) and state tests for every binding.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Effect, View};
use super::event::{Event, Tick};
use super::ui;
use crate::kafka::consumer::{
    ConsumerControl, ConsumerEvent, ConsumerSnapshot, E2e, Health, Membership, PartitionLag,
};
use crate::kafka::producer::{Control, RunState, StreamDelivery};
use streamwatch::analytics::StreamSnapshot;
use streamwatch::analytics::ingest::{IngestBook, Origin};
use streamwatch::analytics::latency::Latency;
use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
use streamwatch::ml::{BinaryScores, MlConfig, ModelSnapshot, StreamModel};
use streamwatch::streams::{
    Event as StreamEvent, Generator, GeneratorConfig, PerStream, StreamKind, Timestamp,
};

/// A consumer snapshot after 6,000 seeded events per stream, with the few values that depend
/// on wall-clock time (fit duration) or that linfa may move by a tree's vote (confidence,
/// forest scores) pinned.
fn seeded_snapshot() -> ConsumerSnapshot {
    static SNAPSHOT: std::sync::OnceLock<ConsumerSnapshot> = std::sync::OnceLock::new();
    SNAPSHOT.get_or_init(build_snapshot).clone()
}

/// 6,000 seeded events of one stream through an analyzer and a model, accounted in
/// `ingest`; `unlabelled` strips the labels and sequence numbers, as another producer
/// writes its events.
fn run_stream(
    kind: StreamKind,
    ingest: &mut IngestBook,
    unlabelled: bool,
) -> (StreamSnapshot, ModelSnapshot) {
    let cfg = GeneratorConfig {
        seed: 7,
        incident_rate: 0.04,
        producer_id: "p".into(),
    };
    let mut g = Generator::new(kind, &cfg);
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    let ml = MlConfig {
        background: false,
        trees: 9,
        refit_every: 2500,
        warmup: 800,
        ..MlConfig::default()
    };
    let mut m = StreamModel::new(kind, &ml);
    for i in 0..6000u64 {
        let mut e = g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 20));
        if unlabelled {
            e = strip(e);
        }
        let at = Origin {
            stream: kind,
            partition: 0,
            offset: i as i64,
        };
        ingest.accept(at, e.producer_id(), e.key(), e.seq());
        m.observe(&a.observe(&e));
    }
    (a.snapshot(), m.snapshot())
}

/// The event as another producer would write it: no label, no seq, no producer id.
fn strip(e: StreamEvent) -> StreamEvent {
    match e {
        StreamEvent::Sensor(mut s) => {
            (s.label, s.seq, s.producer_id) = (None, None, String::new());
            StreamEvent::Sensor(s)
        }
        StreamEvent::Transaction(mut t) => {
            (t.label, t.seq, t.producer_id) = (None, None, String::new());
            StreamEvent::Transaction(t)
        }
        StreamEvent::Log(mut l) => {
            (l.label, l.seq, l.producer_id) = (None, None, String::new());
            StreamEvent::Log(l)
        }
    }
}

/// Pins what depends on wall-clock time (fit duration) or that linfa may move by a tree's
/// vote (confidence, forest scores).
fn pin(ms: &mut ModelSnapshot) {
    ms.fit_ms = 412.0;
    ms.forest = BinaryScores {
        n: 4000,
        tp: 90,
        fp: 10,
        fn_: 20,
        tn: 3880,
        accuracy: 0.9925,
        precision: 0.9,
        recall: 0.818,
        f1: 0.857,
    };
    ms.last_confidence = Some(0.93);
    ms.confidence_mean = 0.97;
    ms.confidence_history = (0..60)
        .map(|i| 0.9 + 0.1 * ((i as f64) / 7.0).sin().abs())
        .collect();
}

fn build_snapshot() -> ConsumerSnapshot {
    let mut streams = Vec::new();
    let mut models = Vec::new();
    let mut ingest = IngestBook::default();
    for kind in StreamKind::ALL {
        let (st, mut ms) = run_stream(kind, &mut ingest, false);
        pin(&mut ms);
        if kind == StreamKind::Sensor {
            // The seeded readings do not drift; the card's drift line is drawn all the same.
            ms.last_drift = Some("temperature shifted down @5374 v3".into());
        }
        streams.push(st);
        models.push(ms);
    }
    let lag = StreamKind::ALL
        .iter()
        .flat_map(|k| {
            (0..3).map(move |p| PartitionLag {
                stream: *k,
                topic: k.topic().to_string(),
                partition: p,
                high: 2000 + i64::from(p),
                lag: i64::from(p) * 3,
                lag_s: f64::from(p) * 0.25,
            })
        })
        .collect();
    ConsumerSnapshot {
        streams,
        models,
        ingest: ingest.snapshot(),
        membership: Membership {
            group: "streamwatch-tui-7".into(),
            ..Membership::default()
        },
        health: Health {
            brokers_up: 1,
            brokers: 1,
            rtt_ms: 0.4,
            lag,
            last_error: None,
            down_since_ms: None,
        },
        elapsed_s: 75.0,
        active_s: 74.0,
        events_per_s: 600.0,
        unconsumed: 9,
        e2e: E2e {
            streams: vec![None; 3],
            recent: Some(Latency {
                p50: 4.2,
                p99: 18.0,
                max: 31.0,
                count: 6000,
            }),
            total: None,
        },
    }
}

fn delivery(state: RunState) -> StreamDelivery {
    StreamDelivery {
        sent: 6000,
        acked: 6000,
        failed: 0,
        in_flight: 0,
        bytes: 1_500_000,
        backpressure: 0,
        rate: 200.0,
        state,
    }
}

fn tick(secs: u64, acked: u64) -> Event {
    Event::Tick(Box::new(Tick {
        uptime: Duration::from_secs(secs),
        delivery: PerStream::splat(StreamDelivery {
            acked,
            ..delivery(RunState::Running)
        }),
        producer_error: None,
    }))
}

fn snapshot(s: ConsumerSnapshot) -> Event {
    Event::Consumer(ConsumerEvent::Snapshot(Box::new(s)))
}

fn problem(p: &str) -> Event {
    Event::Consumer(ConsumerEvent::Problem(p.into()))
}

fn seeded_app() -> App {
    let mut app = App::new("127.0.0.1:9092".into(), true, 200.0, &StreamKind::ALL);
    app.update(snapshot(seeded_snapshot()));
    app.update(tick(74, 5800));
    app.update(tick(75, 6000));
    app
}

/// Presses a key: what the app asks the loop to do.
fn press(app: &mut App, k: KeyEvent) -> Vec<Effect> {
    app.update(Event::Key(k))
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| ui::draw(app, f)).expect("draw");
    t
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn screens_at_120x40_and_80x24() {
    let mut app = seeded_app();
    for (name, keys) in [
        ("overview", "0"),
        ("sensor", "1"),
        ("transaction", "2"),
        ("log", "3"),
    ] {
        for c in keys.chars() {
            press(&mut app, key(c));
        }
        for (w, h) in [(120, 40), (80, 24)] {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(&app, w, h).backend());
        }
    }
}

#[test]
fn help_overlay_and_too_small_screen() {
    let mut app = seeded_app();
    press(&mut app, key('?'));
    insta::assert_snapshot!("help_120x40", render(&app, 120, 40).backend());
    insta::assert_snapshot!("too_small_50x12", render(&app, 50, 12).backend());
}

#[test]
fn sparklines_and_confidence_are_drawn() {
    let app = seeded_app();
    let t = render(&app, 120, 40);
    let text: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        text.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)),
        "no sparkline glyphs"
    );
    assert!(text.contains("confidence 0.93"));
}

#[test]
fn view_keys_switch_views() {
    let mut app = seeded_app();
    assert_eq!(app.view, View::Overview);
    for (c, v) in [
        ('2', View::Stream(StreamKind::Transaction)),
        ('1', View::Stream(StreamKind::Sensor)),
        ('3', View::Stream(StreamKind::Log)),
        ('0', View::Overview),
    ] {
        assert!(press(&mut app, key(c)).is_empty());
        assert_eq!(app.view, v);
    }
    press(&mut app, KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.view, View::Stream(StreamKind::Sensor));
    press(
        &mut app,
        KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
    );
    assert_eq!(app.view, View::Overview);
    press(
        &mut app,
        KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
    );
    assert_eq!(app.view, View::Stream(StreamKind::Log));
}

#[test]
fn s_stops_and_starts_the_shown_stream_and_capital_s_all() {
    let mut app = seeded_app();
    press(&mut app, key('2'));
    assert_eq!(
        press(&mut app, key('s')),
        vec![Effect::Producer(Control::Stop(StreamKind::Transaction))]
    );
    assert_eq!(
        app.delivery[StreamKind::Transaction].state,
        RunState::Stopped
    );
    assert_eq!(
        press(&mut app, key('s')),
        vec![Effect::Producer(Control::Start(StreamKind::Transaction))]
    );
    let all = press(&mut app, key('S'));
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .all(|e| matches!(e, Effect::Producer(Control::Stop(_))))
    );
    let all = press(&mut app, key('S'));
    assert!(
        all.iter()
            .all(|e| matches!(e, Effect::Producer(Control::Start(_))))
    );
}

#[test]
fn p_pauses_and_resumes_and_rate_keys_step() {
    let mut app = seeded_app();
    press(&mut app, key('3'));
    assert_eq!(
        press(&mut app, key('p')),
        vec![Effect::Producer(Control::Pause(StreamKind::Log))]
    );
    assert_eq!(app.delivery[StreamKind::Log].state, RunState::Paused);
    assert_eq!(
        press(&mut app, key('p')),
        vec![Effect::Producer(Control::Resume(StreamKind::Log))]
    );
    assert_eq!(
        press(&mut app, key('+')),
        vec![Effect::Producer(Control::SetRate(StreamKind::Log, 500.0))]
    );
    assert_eq!(
        press(&mut app, key('-')),
        vec![Effect::Producer(Control::SetRate(StreamKind::Log, 200.0))]
    );
    assert_eq!(
        press(&mut app, key('-')),
        vec![Effect::Producer(Control::SetRate(StreamKind::Log, 100.0))]
    );
}

#[test]
fn space_freezes_the_display_while_data_flows() {
    let mut app = seeded_app();
    press(&mut app, key(' '));
    assert!(app.frozen);
    let mut newer = seeded_snapshot();
    newer.events_per_s = 1234.0;
    app.update(snapshot(newer));
    assert_eq!(
        app.shown.as_ref().unwrap().events_per_s,
        600.0,
        "frozen screen keeps the old snapshot"
    );
    press(&mut app, key(' '));
    assert_eq!(
        app.shown.as_ref().unwrap().events_per_s,
        1234.0,
        "unfreezing shows the latest"
    );
}

#[test]
fn alerts_scroll_and_clear() {
    let mut app = seeded_app();
    let n = app.alert_lines(None).len();
    assert!(n > 3);
    press(&mut app, key('j'));
    press(&mut app, KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
    assert_eq!(app.desk.cursor, 2);
    press(&mut app, key('k'));
    app.update(Event::Scroll { down: false });
    assert_eq!(app.desk.cursor, 0);
    app.update(Event::Scroll { down: true });
    assert_eq!(app.desk.cursor, 1);
    app.update(problem("commit failed"));
    assert_eq!(
        app.alert_lines(None).len(),
        n + 1,
        "problems are listed with the alerts"
    );
    assert_eq!(
        press(&mut app, key('c')),
        vec![Effect::Consumer(ConsumerControl::ClearAlerts)]
    );
    assert!(
        app.problems.is_empty(),
        "the consumer clears its books; the app its problems"
    );
    assert_eq!(app.desk.cursor, 0);
}

#[test]
fn help_toggles_and_a_key_that_closes_it_is_not_lost() {
    let mut app = seeded_app();
    press(&mut app, key('?'));
    assert!(app.help);
    press(&mut app, key('?'));
    assert!(!app.help, "? closes what it opened");
    press(&mut app, key('?'));
    press(&mut app, key('z'));
    assert!(!app.help, "an unbound key closes help");
    press(&mut app, key('?'));
    assert!(press(&mut app, key('2')).is_empty());
    assert!(!app.help);
    assert_eq!(
        app.view,
        View::Stream(StreamKind::Transaction),
        "the key that closed help did what it says"
    );
    press(&mut app, key('?'));
    assert_eq!(
        press(&mut app, key('s')),
        vec![Effect::Producer(Control::Stop(StreamKind::Transaction))]
    );
}

#[test]
fn esc_closes_help_and_does_not_quit() {
    let mut app = seeded_app();
    let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
    assert!(press(&mut app, esc).is_empty());
    assert!(!app.quitting);
    press(&mut app, key('?'));
    assert!(press(&mut app, esc).is_empty());
    assert!(!app.help && !app.quitting);
    assert_eq!(app.view, View::Overview);
}

#[test]
fn q_and_ctrl_c_quit_also_from_help() {
    for k in [
        key('q'),
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
    ] {
        let mut app = seeded_app();
        assert_eq!(press(&mut app, k), vec![Effect::Quit]);
        assert!(app.quitting);
        let mut app = seeded_app();
        press(&mut app, key('?'));
        assert_eq!(press(&mut app, k), vec![Effect::Quit]);
    }
}

#[test]
fn the_app_says_when_to_redraw() {
    let mut app = seeded_app();
    app.drawn();
    app.update(tick(75, 6000));
    assert!(
        !app.needs_redraw(),
        "an idle tick with nothing new draws nothing"
    );
    app.update(snapshot(seeded_snapshot()));
    assert!(
        !app.needs_redraw(),
        "a snapshot waits for the next tick (one frame per tick at any rate)"
    );
    app.update(tick(75, 6000));
    assert!(app.needs_redraw());
    app.drawn();
    app.update(tick(76, 6000));
    assert!(app.needs_redraw(), "the clock moved a second");
    app.drawn();
    press(&mut app, key('2'));
    assert!(app.needs_redraw(), "a key draws at once");
    app.drawn();
    app.update(Event::Resize);
    assert!(app.needs_redraw());
}

#[test]
fn closed_input_quits() {
    let mut app = seeded_app();
    assert_eq!(
        app.update(Event::InputClosed("gone".into())),
        vec![Effect::Quit]
    );
}

#[test]
fn task_problems_show_as_alerts_not_crashes() {
    let mut app = seeded_app();
    app.update(problem("consume error: broker transport failure"));
    let t = render(&app, 120, 40);
    let text: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(text.contains("broker transport failure"));
}

/// Another producer's transactions: no labels, so no forest and no scores, said plainly; and
/// a member of a group with half the partitions says which it owns.
#[test]
fn a_topic_without_labels_and_a_member_with_part_of_the_partitions() {
    let mut ingest = IngestBook::default();
    let (st, ms) = run_stream(StreamKind::Transaction, &mut ingest, true);
    assert_eq!((st.labelled, ms.labelled, ms.version), (0, 0, 0));
    let mut snap = seeded_snapshot();
    snap.streams[1] = st;
    snap.models[1] = ms;
    snap.ingest = ingest.snapshot();
    snap.membership = Membership {
        group: "g2".into(),
        owned: [("transaction-data".to_string(), vec![0, 2, 4])].into(),
        partitions: [("transaction-data".to_string(), 6)].into(),
    };
    let mut app = seeded_app();
    app.update(snapshot(snap));
    app.update(tick(76, 6000));
    press(&mut app, key('2'));
    insta::assert_snapshot!(
        "transaction_unlabelled_member_120x40",
        render(&app, 120, 40).backend()
    );
    let text = screen_text(&render(&app, 120, 40));
    assert!(text.contains("member of g2, partitions 0, 2, 4"), "{text}");
    assert!(
        text.contains("no labelled events") && text.contains("half-space trees: score"),
        "{text}"
    );
    assert!(!text.contains("precision"), "no scores without labels");
}

fn screen_text(t: &Terminal<TestBackend>) -> String {
    t.backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect()
}

/// Through an outage the header says since when the broker is down, then that it is up
/// again; the producer's undelivered messages show as queued.
#[test]
fn the_header_follows_an_outage() {
    let mut app = seeded_app();
    let mut snap = seeded_snapshot();
    snap.health.brokers_up = 0;
    // 2026-12-01 03:12:45 UTC.
    snap.health.down_since_ms = Some(1_796_094_765_000);
    app.update(snapshot(snap.clone()));
    let mut t = tick(76, 6000);
    if let Event::Tick(tk) = &mut t {
        tk.delivery[StreamKind::Sensor].in_flight = 1234;
    }
    app.update(t);
    let text = screen_text(&render(&app, 120, 40));
    assert!(text.contains("down since 03:12:45 UTC"), "{text}");
    assert!(text.contains("queued 1,234"), "{text}");
    snap.health.brokers_up = 1;
    snap.health.down_since_ms = None;
    app.update(snapshot(snap));
    let text = screen_text(&render(&app, 120, 40));
    assert!(text.contains("● up, rtt"), "{text}");
    assert!(!text.contains("down since"), "{text}");
}

/// With `NO_COLOR` the screen has no colour at all, says the same words, and keeps apart by
/// reversed video what a background set apart (the brand, the footer's keys).
#[test]
fn no_colour_draws_the_same_words_without_colour() {
    let mut app = seeded_app();
    let coloured = render(&app, 120, 40);
    app.no_colour = true;
    let plain = render(&app, 120, 40);
    assert_eq!(screen_text(&plain), screen_text(&coloured));
    let cells = &plain.backend().buffer().content;
    assert!(
        cells
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    let coloured_cells = &coloured.backend().buffer().content;
    assert!(
        coloured_cells
            .iter()
            .any(|c| c.fg != ratatui::style::Color::Reset)
    );
    let reversed = cells
        .iter()
        .filter(|c| c.modifier.contains(ratatui::style::Modifier::REVERSED))
        .count();
    assert!(
        reversed > 10,
        "the brand and the keys stand out: {reversed} cells"
    );
    for (asked, want) in [(None, false), (Some(""), false), (Some("1"), true)] {
        let v = asked.map(std::ffi::OsStr::new);
        assert_eq!(ui::theme::no_colour_asked(v), want, "{asked:?}");
    }
}

fn special(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn enter_opens_the_alert_with_its_evidence_and_esc_backs_out() {
    let mut app = seeded_app();
    let first = app.feed()[0].clone();
    press(&mut app, special(KeyCode::Enter));
    assert!(matches!(app.desk.modal, super::desk::Modal::Detail(_)));
    let text = screen_text(&render(&app, 120, 40));
    for part in [
        "Evidence",
        "Timeline",
        "Rolling context",
        "Models",
        "Latest event",
    ] {
        assert!(text.contains(part), "{part} missing:\n{text}");
    }
    assert!(text.contains(&first.entity), "the alert's entity:\n{text}");
    insta::assert_snapshot!("alert_detail_120x40", text);
    press(&mut app, special(KeyCode::Esc));
    assert_eq!(app.desk.modal, super::desk::Modal::None);
    assert_eq!(app.view, View::Overview, "Esc closed the detail only");
}

#[test]
fn a_acknowledges_the_alert_under_the_cursor() {
    let mut app = seeded_app();
    press(&mut app, key('j'));
    let second = app.feed()[1].clone();
    press(&mut app, key('a'));
    assert!(app.desk.is_acked(&second));
    assert!(screen_text(&render(&app, 120, 40)).contains("ACKED"));
}

#[test]
fn x_silences_and_the_alert_leaves_the_firing_list_until_the_silence_ends() {
    let mut app = seeded_app();
    let firing = |app: &App| {
        app.feed()
            .iter()
            .filter(|a| a.state == streamwatch::analytics::AlertState::Firing)
            .count()
    };
    let before = firing(&app);
    let target = app.feed()[0].clone();
    press(&mut app, key('x'));
    assert!(matches!(app.desk.modal, super::desk::Modal::Silence(_, 0)));
    assert!(screen_text(&render(&app, 120, 40)).contains("for 15m00s"));
    press(&mut app, special(KeyCode::Enter));
    assert_eq!(app.desk.silences.len(), 1);
    assert_eq!(
        app.desk.silences[0].entity.as_deref(),
        Some(target.entity.as_str())
    );
    assert_eq!(firing(&app), before - 1, "the silenced alert left the list");
    assert!(
        !app.feed()
            .iter()
            .any(|a| a.fingerprint() == target.fingerprint())
    );
    assert_eq!(app.silenced_count(None), 1);
    // The silences list: Enter ends the one under the cursor.
    press(&mut app, key('X'));
    assert!(screen_text(&render(&app, 120, 40)).contains(&target.entity));
    press(&mut app, special(KeyCode::Enter));
    press(&mut app, special(KeyCode::Esc));
    assert!(app.desk.silences.is_empty());
    assert_eq!(firing(&app), before);
}

#[test]
fn slash_filters_by_text_and_esc_clears() {
    let mut app = seeded_app();
    let all = app.feed().len();
    press(&mut app, key('/'));
    for c in "log".chars() {
        press(&mut app, key(c));
    }
    press(&mut app, special(KeyCode::Enter));
    let shown = app.feed();
    assert!(!shown.is_empty() && shown.len() < all);
    assert!(shown.iter().all(|a| a.stream == StreamKind::Log));
    assert!(screen_text(&render(&app, 120, 40)).contains("filter: log"));
    // While typing, keys are text: q does not quit.
    press(&mut app, key('/'));
    assert!(press(&mut app, key('q')).is_empty());
    assert_eq!(app.desk.filter, "logq");
    press(&mut app, special(KeyCode::Esc));
    assert_eq!(app.feed().len(), all, "Esc while typing clears the filter");
    press(&mut app, key('/'));
    press(&mut app, key('z'));
    press(&mut app, special(KeyCode::Enter));
    press(&mut app, special(KeyCode::Esc));
    assert_eq!(app.feed().len(), all, "Esc clears a filter set before");
}

#[test]
fn silences_outlive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(super::desk::SILENCES_FILE);
    let mut app = seeded_app();
    app.desk = super::desk::Desk::new(Some(path.clone()));
    press(&mut app, key('x'));
    press(&mut app, key('j'));
    press(&mut app, key('j'));
    press(&mut app, key('j'));
    press(&mut app, special(KeyCode::Enter));
    let again = super::desk::Desk::new(Some(path));
    assert_eq!(again.silences, app.desk.silences);
    assert_eq!(
        again.silences[0].entity, None,
        "the rule on the whole stream"
    );
}

#[test]
fn ctrl_s_saves_the_screen_as_text_and_the_history_as_csv() {
    let mut app = seeded_app();
    press(&mut app, key('1'));
    let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert_eq!(press(&mut app, ctrl_s), vec![Effect::Save]);
    let dir = tempfile::tempdir().expect("temp dir");
    let at = Timestamp(1_796_000_000_000);
    let (txt, csv) = super::save::save(&app, (120, 40), dir.path(), at).expect("saved");
    assert!(
        txt.ends_with("streamwatch-20261130T005320.txt"),
        "{}",
        txt.display()
    );
    let text = std::fs::read_to_string(&txt).expect("text");
    assert_eq!(text.lines().count(), 40);
    assert!(
        text.contains("Random forest") && text.contains("temperature"),
        "{text}"
    );
    let table = std::fs::read_to_string(&csv).expect("csv");
    let mut rows = table.lines();
    assert_eq!(rows.next(), Some("stream,metric,seconds_ago,mean,min,max"));
    let rows: Vec<&str> = rows.collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    assert!(
        rows.iter().all(|r| r.starts_with("sensor,")),
        "the shown view only"
    );
    assert!(rows.iter().any(|r| r.starts_with("sensor,pressure,0,")));
    app.saved(Ok((txt.clone(), csv)));
    let screen = screen_text(&render(&app, 120, 40));
    assert!(
        screen.contains("saved "),
        "the footer says where:\n{screen}"
    );
}
