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

#[test]
fn every_argument_of_every_command_has_a_sentence_of_help() {
    let mut missing = Vec::new();
    for mut tool in grit::cli::docs::tools() {
        tool.build();
        let mut stack = vec![(tool.get_name().to_owned(), tool)];
        while let Some((path, cmd)) = stack.pop() {
            if cmd.get_about().is_none() && !cmd.is_hide_set() {
                missing.push(format!("{path} (the command)"));
            }
            for a in cmd.get_arguments() {
                if a.is_hide_set() || a.get_id() == "help" || a.get_id() == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in cmd
                .get_subcommands()
                .filter(|s| s.get_name() != "help" && !s.is_hide_set())
            {
                stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
    }
    assert!(missing.is_empty(), "arguments without help: {missing:#?}");
}

#[test]
fn man_pages_name_every_value_mark_required_and_repeated_ones_and_never_cite_themselves() {
    let files: std::collections::HashMap<String, String> = grit::cli::docs::generated_files()
        .into_iter()
        .map(|(p, c)| (p.display().to_string(), String::from_utf8(c).unwrap()))
        .collect();
    let page = |name: &str| {
        let text = &files[&format!("man/{name}.1")];
        let synopsis = text
            .split(".SH SYNOPSIS\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let see_also = text
            .split(".SH \"SEE ALSO\"\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        (synopsis, see_also)
    };
    let (synopsis, see_also) = page("git-lock-acquire");
    assert!(synopsis.contains(r"[\fB\-C\fR \fIPATH\fR]"), "{synopsis}");
    assert!(synopsis.contains(r"[\fB\-\-ttl\fR \fIDURATION\fR]"), "{synopsis}");
    assert!(synopsis.ends_with(r"\fIRESOURCE\fR..."), "{synopsis}");
    assert!(see_also.contains(r"\fBgit\-lock\fR(1)"), "{see_also}");
    let (synopsis, _) = page("git-issue-create");
    assert!(
        synopsis.contains(r"[\fB\-t\fR|\fB\-\-title\fR \fITITLE\fR]"),
        "optional (the editor asks for it on a terminal): {synopsis}"
    );
    let (release, _) = page("git-lock-release");
    assert!(
        !release.contains(r"[\fIRESOURCE\fR"),
        "required, so no brackets: {release}"
    );
    assert!(
        synopsis.contains(r"[\fB\-l\fR|\fB\-\-label\fR \fINAME\fR]..."),
        "{synopsis}"
    );
    for tool in ["git-issue", "git-wal", "git-lock", "git-sandbox"] {
        let (_, see_also) = page(tool);
        assert!(
            !see_also.contains(&format!(r"\fB{}\fR(1)", tool.replace('-', r"\-"))),
            "{tool}: {see_also}"
        );
    }
}

#[test]
fn every_man_page_names_its_own_command_and_no_two_share_a_summary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let page = std::fs::read_to_string(e.path()).unwrap();
        let name = page
            .lines()
            .skip_while(|l| *l != ".SH NAME")
            .nth(1)
            .unwrap_or_else(|| panic!("{} has no NAME", e.path().display()))
            .to_owned();
        let (cmd, summary) = name.split_once(" \\- ").expect("NAME is `cmd \\- summary`");
        let file = e
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".1")
            .trim_end_matches(".7")
            .replace('-', "\\-");
        assert_eq!(cmd, file, "the NAME line of {}", e.path().display());
        assert!(!summary.trim().is_empty());
        if let Some(other) = seen.insert(summary.to_owned(), cmd.to_owned()) {
            panic!("{cmd} and {other} share the summary {summary:?}: one is not its own");
        }
    }
}

/// `git sandbox help TOPIC` and `git issue help query` print their pages (and each is a man
/// page in section 7); `help COMMAND` is still the command's help; anything else exits 2 naming
/// the topics.
#[test]
fn help_topics_are_pages_and_man_pages() {
    let t = crate::env::TestEnv::new();
    let dir = t.tmp.path();
    for topic in grit::cli::topics::TOPICS {
        let out = t.ok(topic.tool, dir, &["help", topic.name]);
        assert!(
            out.starts_with(&format!("git {} help {} — ", topic.tool, topic.name)),
            "{out}"
        );
        assert!(out.lines().count() > 5, "{out}");
        let man =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("man/git-{}-{}.7", topic.tool, topic.name));
        assert!(man.exists(), "{}", man.display());
    }
    let backends = t.ok("sandbox", dir, &["help", "backends"]);
    for word in ["reflink", "copy", "overlay", "auto"] {
        assert!(backends.contains(word), "{backends}");
    }
    assert!(
        t.ok("sandbox", dir, &["help", "run"])
            .contains("Usage: git sandbox run")
    );
    t.cmd("sandbox", dir)
        .args(["help", "backend"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("the topics are backends, templates"));
    assert!(t.ok("sandbox", dir, &["--help"]).contains("git sandbox help TOPIC"));
}

/// The licence files match Cargo.toml's licence, the changelog has an entry for this version,
/// and `--version` names the version and, built from a checkout, the commit.
#[test]
fn licences_changelog_and_version_agree_with_the_package() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let licence = manifest
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .unwrap()
        .trim_matches('"');
    assert_eq!(licence, "MIT OR Apache-2.0");
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT")).unwrap();
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = std::fs::read_to_string(root.join("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0, January 2004"));
    for f in ["CONTRIBUTING.md", "SECURITY.md"] {
        assert!(root.join(f).exists(), "{f}");
    }
    let version = env!("CARGO_PKG_VERSION");
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.lines().any(|l| l.starts_with(&format!("## [{version}] - "))),
        "CHANGELOG.md has no entry for {version}"
    );
    assert!(changelog.contains("## [Unreleased]"));
    let t = crate::env::TestEnv::new();
    let shown = t.ok("issue", t.tmp.path(), &["--version"]);
    assert!(shown.starts_with(&format!("git-issue {version}")), "{shown}");
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root)
        .output()
        .unwrap();
    if head.status.success() {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        assert!(shown.contains(&format!("({head})")), "{shown} names {head}");
    }
}
