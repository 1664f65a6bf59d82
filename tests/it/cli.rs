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
