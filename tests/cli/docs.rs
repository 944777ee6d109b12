//! Generated files (man pages, completions) are checked in; this fails when they are stale.
//! Run with `GRIT_BLESS=1` to rewrite them.

use std::path::Path;

#[test]
fn generated_man_pages_and_completions_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var_os("GRIT_BLESS").is_some();
    let mut stale = Vec::new();
    for (rel, content) in grit::cli::docs::generated_files() {
        let path = root.join(&rel);
        if std::fs::read(&path).ok().as_deref() != Some(&content[..]) {
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &content).unwrap();
            } else {
                stale.push(rel.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run `GRIT_BLESS=1 cargo test generated`): {stale:?}"
    );
}

#[test]
fn every_tool_answers_help_and_version() {
    for tool in ["issue", "wal", "lock", "sandbox"] {
        let exe = Path::new(env!("CARGO_BIN_EXE_git-issue")).with_file_name(format!("git-{tool}"));
        assert_cmd::Command::new(&exe).arg("--help").assert().success();
        assert_cmd::Command::new(&exe).arg("--version").assert().success();
        assert_cmd::Command::new(&exe).arg("--no-such-flag").assert().code(2);
    }
}
