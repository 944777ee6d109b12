//! A commit message proposed from what a sandbox changed (`git sandbox commit NAME --suggest`),
//! in the Conventional Commits form `type(scope): subject`, by rules a person can predict:
//!
//! - `test` when every changed file is a test (under a `tests`, `test` or `__tests__` directory,
//!   or named as tests are: `*_test.*`, `test_*.py`, `*.test.*`, `*.spec.*`);
//! - `docs` when every changed file is documentation (`*.md`, `*.rst`, `*.adoc`, `*.txt`, a man
//!   page, or anything under `docs/` or `doc/`);
//! - `style` when every changed file is one the repository's formatter covers (`*.rs` with
//!   rustfmt) and formatting the file as it was gives the file as it is: only the layout changed;
//! - `feat` when the change adds a public item (`pub fn`, `pub struct`, `pub enum`, `pub trait`,
//!   `pub mod`, `pub const` in Rust; `export` in JavaScript and TypeScript; a top-level `def` or
//!   `class` not starting with `_` in Python) or a new source file;
//! - otherwise `fix` when the sandbox's issue is a bug or the change adds more lines than it
//!   removes, and `refactor` when it removes at least as many as it adds.
//!
//! The scope is the one top-level directory every changed file is under (none when they spread
//! over several, or sit at the root). The subject is the sandbox's issue's title, else what
//! changed (`change FILE`, or `change N files`). The sandbox's issue goes in a `Fixes:` trailer
//! (`Refs:` for `docs`, `test` and `style`).

use std::collections::BTreeSet;

use serde::Serialize;

use super::sandboxes::Sandboxes;
use crate::error::Result;
use crate::sandbox::{self, Record};

/// A proposed commit message and why.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The Conventional Commits type (`feat`, `fix`, `refactor`, `test`, `docs` or `style`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The scope: the one top directory the change touches, if one.
    pub scope: Option<String>,
    /// The subject line after `type(scope): `.
    pub subject: String,
    /// Trailers to add (`Fixes: <issue>` for the sandbox's issue).
    pub trailers: Vec<String>,
    /// The whole message: the header line, a blank line and the trailers.
    pub message: String,
    /// Why this type, in a few words.
    pub because: String,
    /// The files the change touches.
    pub files: Vec<String>,
}

fn is_test(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    path.split('/')
        .any(|d| matches!(d, "tests" | "test" | "__tests__" | "spec"))
        || file.contains("_test.")
        || (file.starts_with("test_") && file.ends_with(".py"))
        || file.contains(".test.")
        || file.contains(".spec.")
}

fn is_doc(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    lower.starts_with("docs/")
        || lower.starts_with("doc/")
        || [".md", ".rst", ".adoc", ".txt"].iter().any(|e| file.ends_with(e))
        || (lower.starts_with("man/") && file.rsplit('.').next().is_some_and(|e| e.len() == 1))
}

/// Whether an added line declares a public item, by the file's language.
fn public_item(path: &str, line: &str) -> bool {
    let t = line.trim_start();
    if path.ends_with(".rs") {
        [
            "pub fn ",
            "pub struct ",
            "pub enum ",
            "pub trait ",
            "pub mod ",
            "pub const ",
            "pub async fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p))
    } else if [".js", ".ts", ".jsx", ".tsx", ".mjs"].iter().any(|e| path.ends_with(e)) {
        t.starts_with("export ")
    } else if path.ends_with(".py") {
        (line.starts_with("def ") || line.starts_with("class ")) && !line[4..].trim_start().starts_with('_')
    } else {
        false
    }
}

fn is_source(path: &str) -> bool {
    [
        ".rs", ".js", ".ts", ".jsx", ".tsx", ".py", ".go", ".c", ".h", ".cc", ".cpp", ".java", ".rb",
    ]
    .iter()
    .any(|e| path.ends_with(e))
}

/// Whether rustfmt, run on the file as it was at `from`, gives it as it is at `to`.
fn layout_only(r: &Record, from: &str, to: &str, path: &str) -> bool {
    if !path.ends_with(".rs") {
        return false;
    }
    let show = |tree: &str| sandbox::git_in(&r.path, &["show", &format!("{tree}:{path}")]).ok();
    let (Some(before), Some(after)) = (show(from), show(to)) else {
        return false;
    };
    let edition = std::fs::read_to_string(r.path.join("Cargo.toml"))
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("edition = ")
                    .map(|e| e.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| "2021".into());
    let out = std::process::Command::new("rustfmt")
        .args(["--emit", "stdout", "--edition", &edition])
        .current_dir(&r.path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            if let Some(mut i) = c.stdin.take() {
                i.write_all(before.as_bytes())?;
            }
            c.wait_with_output()
        });
    matches!(out, Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout) == after)
}

impl Sandboxes<'_> {
    /// Proposes a commit message for what sandbox `r` would commit now (its changes since its
    /// last commit, or since it began); see the module's rules.
    pub fn suggest(&self, r: &Record) -> Result<Suggestion> {
        let d = self.diff(r)?;
        let head = sandbox::git_in(&r.path, &["rev-parse", "HEAD"])?.trim().to_owned();
        // Since the last commit, when the sandbox has made one.
        let from = if head != r.base {
            sandbox::git_in(&r.path, &["rev-parse", "HEAD^{tree}"])?
                .trim()
                .to_owned()
        } else {
            d.from.clone()
        };
        let issue = self.issue_of(r);
        let c = classify(r, &from, &d.to, issue.as_ref())?;
        let subject = match (&issue, &c.files[..]) {
            (Some(i), _) if !i.title.is_empty() => {
                let mut c = i.title.chars();
                c.next()
                    .map(|f| f.to_lowercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            }
            (_, [one]) => format!("change {}", one.rsplit('/').next().unwrap_or(one)),
            (_, many) => format!("change {} files", many.len()),
        };
        let trailers: Vec<String> = issue
            .iter()
            .map(|i| match c.kind {
                "docs" | "test" | "style" | "chore" => format!("Refs: {}", i.short),
                _ => format!("Fixes: {}", i.short),
            })
            .collect();
        let mut message = header(c.kind, c.scope.as_deref(), &subject);
        if !trailers.is_empty() {
            message.push_str("\n\n");
            message.push_str(&trailers.join("\n"));
        }
        Ok(Suggestion {
            kind: c.kind.into(),
            scope: c.scope,
            subject,
            trailers,
            message,
            because: c.because.into(),
            files: c.files,
        })
    }

    /// The sandbox's issue, as a message names it.
    pub(super) fn issue_of(&self, r: &Record) -> Option<Issue> {
        let q = r.issue.as_deref()?;
        let store = crate::store::Store::open(&self.main().tree).ok()?;
        let id = store.index.resolve(q).ok()?;
        let s = store.index.issue(&id).ok()??;
        Some(Issue {
            short: store.index.short_id(&id).ok()?,
            title: s.title.map(|t| t.value).unwrap_or_default(),
            kind: s.issue_type.map(|t| t.value).unwrap_or_default(),
        })
    }
}

/// A sandbox's issue: its short id, title and type.
pub(super) struct Issue {
    pub short: String,
    pub title: String,
    pub kind: String,
}

/// What a change between two trees is, by the module's rules.
pub(super) struct Classified {
    pub kind: &'static str,
    pub because: &'static str,
    pub scope: Option<String>,
    pub files: Vec<String>,
}

/// `type(scope): subject`, or `type: subject` without a scope.
pub(super) fn header(kind: &str, scope: Option<&str>, subject: &str) -> String {
    match scope {
        Some(s) => format!("{kind}({s}): {subject}"),
        None => format!("{kind}: {subject}"),
    }
}

/// Classifies the change from tree (or commit) `from` to `to` in sandbox `r`.
pub(super) fn classify(r: &Record, from: &str, to: &str, issue: Option<&Issue>) -> Result<Classified> {
    let names = sandbox::git_in(&r.path, &["diff", "--name-status", "-z", "--no-renames", from, to])?;
    let mut fields = names.split('\0').filter(|s| !s.is_empty());
    let mut files: Vec<(String, bool)> = Vec::new();
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        files.push((path.to_owned(), status == "A"));
    }
    let paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let patch = sandbox::git_in(&r.path, &["diff", "--no-color", "-U0", from, to])?;
    let (mut added, mut removed, mut public, mut current) = (0u64, 0u64, false, String::new());
    for line in patch.lines() {
        if let Some(p) = line.strip_prefix("+++ b/") {
            current = p.to_owned();
        } else if let Some(l) = line.strip_prefix('+').filter(|_| !line.starts_with("+++")) {
            added += 1;
            public |= public_item(&current, l);
        } else if line.starts_with('-') && !line.starts_with("---") {
            removed += 1;
        }
    }
    let all = |f: fn(&str) -> bool| !paths.is_empty() && paths.iter().all(|p| f(p));
    let (kind, because) = if paths.is_empty() {
        ("chore", "nothing changed")
    } else if all(is_test) {
        ("test", "every changed file is a test")
    } else if all(is_doc) {
        ("docs", "every changed file is documentation")
    } else if paths.iter().all(|p| layout_only(r, from, to, p)) {
        ("style", "formatting the files as they were gives them as they are")
    } else if public || files.iter().any(|(p, new)| *new && is_source(p) && !is_test(p)) {
        ("feat", "it adds a public item or a source file")
    } else if issue.is_some_and(|i| i.kind == "bug") || added > removed {
        ("fix", "the issue is a bug, or the change adds more than it removes")
    } else {
        ("refactor", "the change removes at least as much as it adds")
    };
    let tops: BTreeSet<Option<&str>> = paths.iter().map(|p| p.split_once('/').map(|(top, _)| top)).collect();
    let scope = match tops.iter().collect::<Vec<_>>()[..] {
        [Some(top)] => Some((*top).to_owned()),
        _ => None,
    };
    Ok(Classified {
        kind,
        because,
        scope,
        files: paths,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tests_docs_and_public_items_are_told_apart() {
        for p in [
            "tests/cli/a.rs",
            "src/parser_test.go",
            "test_api.py",
            "web/app.test.ts",
            "x/__tests__/a.js",
        ] {
            assert!(super::is_test(p), "{p}");
        }
        assert!(!super::is_test("src/testing.rs"));
        for p in ["README.md", "docs/format.html", "man/git-x.1", "NOTES.txt"] {
            assert!(super::is_doc(p), "{p}");
        }
        assert!(!super::is_doc("src/main.rs"));
        assert!(super::public_item("src/a.rs", "    pub fn new() -> Self {"));
        assert!(!super::public_item("src/a.rs", "    fn private() {"));
        assert!(super::public_item("web/a.ts", "export function go() {}"));
        assert!(super::public_item("a.py", "def handler(x):"));
        assert!(!super::public_item("a.py", "def _private(x):"));
    }
}
