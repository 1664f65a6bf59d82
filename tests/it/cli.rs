use super::harness::{stderr, stdout, streamwatch};

#[test]
fn help_lists_commands_and_log_file() {
    let out = streamwatch(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for cmd in [
        "tui",
        "broker",
        "setup",
        "produce",
        "consume",
        "bench",
        "streamwatch.log",
        "-X",
    ] {
        assert!(text.contains(cmd), "--help lacks {cmd}:\n{text}");
    }
}

#[test]
fn bad_config_file_names_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[kafka]\npartitions = 3\nnot_a_key = true\n").unwrap();
    let out = streamwatch(&["--config", path.to_str().unwrap(), "setup", "--list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("not_a_key"),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = streamwatch(&["--config", "/nonexistent/sw.toml", "setup"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/nonexistent/sw.toml"));
}

#[test]
fn malformed_property_is_rejected_by_the_parser() {
    let out = streamwatch(&["-X", "novalue", "setup"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KEY=VALUE"), "{}", stderr(&out));
}

/// Without `--config`, the user's settings file is `$XDG_CONFIG_HOME/streamwatch/config.toml`:
/// a bad value there is refused naming that file; `--config` wins over it.
#[test]
fn the_settings_file_is_found_in_xdg_config_home() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("streamwatch");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[producer]\nrate = -5\n").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(super::harness::bin())
            .args(args)
            .env("XDG_CONFIG_HOME", home.path())
            .env("STREAMWATCH_LOG_FILE", home.path().join("test.log"))
            .env_remove("STREAMWATCH_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(&["setup", "--list", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("config.toml") && err.contains("rate"), "{err}");
    let good = home.path().join("good.toml");
    std::fs::write(&good, "[producer]\nrate = 5\n").unwrap();
    let out = run(&[
        "--config",
        good.to_str().unwrap(),
        "-b",
        "127.0.0.1:1",
        "setup",
        "--list",
        "--timeout",
        "1",
    ]);
    let err = stderr(&out);
    assert!(
        !err.contains("config.toml") && !err.contains("rate"),
        "{err}"
    );
}
