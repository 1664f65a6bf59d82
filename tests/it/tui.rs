//! The real binary in tmux: start, look, press keys, quit.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    name: String,
}

impl Tmux {
    fn start(cmd: &str) -> Self {
        let name = format!("sw-test-{}", std::process::id());
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &name])
            .status();
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-x",
                "140",
                "-y",
                "45",
                "-s",
                &name,
                cmd,
            ])
            .status()
            .expect("tmux is installed (make test installs it)");
        assert!(ok.success());
        Self { name }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(
            Command::new("tmux")
                .args(["send-keys", "-t", &self.name, keys])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits until `pred` holds for the screen; the last screen either way.
    fn wait_for(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> (bool, String) {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if pred(&s) {
                return (true, s);
            }
            if Instant::now() > deadline {
                return (false, s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

fn has_sparkline(s: &str) -> bool {
    s.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c))
}

#[test]
fn tui_runs_in_tmux_switches_views_stops_a_stream_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tui.log");
    let cmd = format!(
        "STREAMWATCH_LOG_FILE={} {} ; echo STREAMWATCH-EXIT=$? ; sleep 30",
        log.display(),
        super::harness::bin()
    );
    let t = Tmux::start(&cmd);
    let (ok, s) = t.wait_for(Duration::from_secs(10), |s| {
        s.contains("Sensor")
            && s.contains("Transaction")
            && s.contains("Log")
            && has_sparkline(s)
            && (s.contains("confidence 0.") || s.contains("confidence 1."))
    });
    assert!(
        ok,
        "overview within 10 s with three streams, sparklines and a confidence:\n{s}"
    );

    t.keys("2");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| {
        s.contains("Random forest") && s.contains("transaction alerts")
    });
    assert!(ok, "transaction view:\n{s}");

    t.keys("s");
    let (ok, s) = t.wait_for(Duration::from_secs(5), |s| {
        s.contains("Transaction ■ stopped  produced 0.00 ev/s")
    });
    assert!(ok, "stopped with a produced rate of 0:\n{s}");

    t.keys("s");
    let (ok, s) = t.wait_for(Duration::from_secs(5), |s| {
        s.contains("Transaction ● running") && !s.contains("produced 0.00 ev/s")
    });
    assert!(ok, "running again:\n{s}");

    t.keys("?");
    let (ok, s) = t.wait_for(Duration::from_secs(3), |s| s.contains("Help — keys"));
    assert!(ok, "help:\n{s}");

    t.keys("q");
    let (ok, s) = t.wait_for(Duration::from_secs(15), |s| s.contains("STREAMWATCH-EXIT="));
    assert!(ok, "quit:\n{s}");
    assert!(s.contains("STREAMWATCH-EXIT=0"), "exit status 0:\n{s}");
    assert!(
        !s.contains("Help — keys"),
        "the terminal is restored (alternate screen left):\n{s}"
    );
}
