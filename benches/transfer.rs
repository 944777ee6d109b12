//! Benchmarks of in and out, each with a baseline in the same run: importing 10,000 Jira issues
//! with 50,000 comments from 100 search pages, and 10,000 GitHub issues with 50,000 comments
//! from one `gh`-shaped file, and importing each again (against git hashing the same files into
//! the repository), exporting 100,000 issues to JSON Lines (against
//! `git cat-file` reading every object), and what the post-commit hook adds to a commit without
//! a trailer (against the same commit with an empty hook, and with none). `benches/run --bench transfer`
//! (`-- jira` or `-- github`: that part alone); `GRIT_BENCH_SMALL=1` scales the issue counts down 10x.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{exe, generate, git, med, ms, new_repo, path_with_binaries, scratch};

fn time(mut c: Command) -> Duration {
    c.stdout(std::process::Stdio::null());
    let start = Instant::now();
    let out = c.output().expect("runs");
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    start.elapsed()
}

fn issue(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(exe("issue"));
    c.args(args).current_dir(dir).env("GRIT_NO_AUTO_GC", "1");
    c
}

const WORDS: [&str; 10] = [
    "crash", "login", "proxy", "timeout", "cache", "index", "build", "error", "page", "server",
];

/// `n` words of `WORDS`, varied by `seed`: an issue's text.
fn sentence(seed: usize, n: usize) -> String {
    (0..n)
        .map(|i| WORDS[(seed * 7 + i * 3) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `gh issue list --json …` file: `issues` issues with five comments each.
fn gh_file(path: &Path, issues: usize) {
    let all: Vec<serde_json::Value> = (1..=issues)
        .map(|n| {
            let comments: Vec<serde_json::Value> = (0..5)
                .map(|k| {
                    serde_json::json!({
                        "id": format!("IC_{n}_{k}"), "author": {"login": format!("user{k}")},
                        "body": sentence(n + k, 20), "createdAt": "2024-03-02T00:00:00Z"
                    })
                })
                .collect();
            serde_json::json!({
                "number": n, "title": sentence(n, 6), "body": sentence(n * 3, 40),
                "state": if n % 3 == 0 { "CLOSED" } else { "OPEN" },
                "labels": [{"name": WORDS[n % WORDS.len()]}], "assignees": [], "author": {"login": "octo"},
                "comments": comments, "createdAt": "2024-03-01T10:00:00Z", "closedAt": null,
                "url": format!("https://github.com/acme/widgets/issues/{n}")
            })
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&all).unwrap()).unwrap();
}

/// Jira's search pages (100 issues each) in `dir`: `issues` issues with five comments each, in
/// the Atlassian Document Format.
fn jira_pages(dir: &Path, issues: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let adf = |text: String| {
        serde_json::json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a point", "marks": [{"type": "strong"}]}]}]}]}
        ]})
    };
    for (p, chunk) in (1..=issues).collect::<Vec<_>>().chunks(100).enumerate() {
        let page: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&n| {
                let comments: Vec<serde_json::Value> = (0..5)
                    .map(|k| serde_json::json!({"id": format!("{}", n * 10 + k), "author": {"displayName": format!("User {k}")},
                        "created": "2024-03-02T00:00:00.000+0000", "body": adf(sentence(n + k, 20))}))
                    .collect();
                serde_json::json!({"id": format!("{}", 10_000 + n), "key": format!("APP-{n}"),
                    "self": format!("https://acme.atlassian.net/rest/api/3/issue/{}", 10_000 + n),
                    "fields": {"summary": sentence(n, 6), "description": adf(sentence(n * 3, 40)),
                        "status": {"name": "To Do", "statusCategory": {"key": if n % 3 == 0 { "done" } else { "new" }}},
                        "resolution": if n % 3 == 0 { serde_json::json!({"name": "Done"}) } else { serde_json::Value::Null },
                        "issuetype": {"name": "Task"}, "priority": {"name": "Medium"}, "labels": [WORDS[n % WORDS.len()]],
                        "reporter": {"displayName": "Ada"}, "created": "2024-03-01T10:00:00.000+0000",
                        "comment": {"comments": comments, "total": 5}}})
            })
            .collect();
        let doc = serde_json::json!({"startAt": p * 100, "maxResults": 100, "total": issues, "issues": page});
        std::fs::write(dir.join(format!("page-{p:04}.json")), serde_json::to_vec(&doc).unwrap()).unwrap();
    }
}

/// Import and import again: the first time, and the median of five more (0 events), against
/// git hashing the same files into the repository.
fn import_twice(dir: &Path, input: &Path, from: &str) -> (Duration, Duration, Duration) {
    let first = time(issue(dir, &["import", input.to_str().unwrap(), "--from", from]));
    let (mut again, mut hash) = (Vec::new(), Vec::new());
    let files: Vec<String> = if input.is_dir() {
        let mut f: Vec<String> = std::fs::read_dir(input)
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        f.sort();
        f
    } else {
        vec![input.display().to_string()]
    };
    for _ in 0..5 {
        again.push(time(issue(dir, &["import", input.to_str().unwrap(), "--from", from])));
        let mut c = Command::new("git");
        c.args(["hash-object", "-w"]).args(&files).current_dir(dir);
        hash.push(time(c));
    }
    (first, med(again), med(hash))
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let scale = if small { 10 } else { 1 };
    let root = scratch();
    // `benches/run --bench transfer -- jira`: that part alone.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);

    if part("jira") {
        let n = 10_000 / scale;
        let pages = root.path().join("jira");
        jira_pages(&pages, n);
        let dir = new_repo(root.path(), "jira-import");
        let (first, again, hash) = import_twice(&dir, &pages, "jira");
        println!(
            "import of {n} Jira issues with {} comments ({} pages, ADF)   {:7.0} ms   (target <= 10,000 ms)",
            n * 5,
            n.div_ceil(100),
            ms(first)
        );
        println!(
            "the same again (0 events)   median {:6.0} ms   baseline git hash-object -w of the pages {:5.0} ms   (target <= 2,000 ms)",
            ms(again),
            ms(hash)
        );
    }
    if !part("github") {
        return;
    }

    // Import and re-import.
    let n = 10_000 / scale;
    let file = root.path().join("gh.json");
    gh_file(&file, n);
    let size = std::fs::metadata(&file).unwrap().len();
    let dir = new_repo(root.path(), "import");
    let (first, again, hash) = import_twice(&dir, &file, "github");
    println!(
        "import of {n} GitHub issues with {} comments ({:.0} MB)   {:7.0} ms   (target <= 10,000 ms)",
        n * 5,
        size as f64 / 1e6,
        ms(first)
    );
    println!(
        "the same again (0 events)   median {:6.0} ms   baseline git hash-object -w of the file {:5.0} ms   (target <= 2,000 ms)",
        ms(again),
        ms(hash)
    );

    // Export.
    let m = 100_000 / scale;
    let big = new_repo(root.path(), "export");
    generate(&big, m, 3000);
    time(issue(&big, &["list", "--limit", "1"]));
    let (mut ours, mut cat) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ours.push(time(issue(&big, &["export"])));
        let mut c = Command::new("git");
        c.args(["cat-file", "--batch-all-objects", "--batch"]).current_dir(&big);
        cat.push(time(c));
    }
    println!(
        "export of {m} issues to JSON Lines   median {:6.0} ms   baseline git cat-file --batch-all-objects {:5.0} ms   (target <= 3,000 ms)",
        ms(med(ours)),
        ms(med(cat))
    );

    // The post-commit hook on a commit without a trailer.
    let hooked = new_repo(root.path(), "hooked");
    let mut c = Command::new(exe("wal"));
    c.args(["hooks", "install"]).current_dir(&hooked);
    time(c);
    let hook = hooked.join(".git/hooks/post-commit");
    let off = hooked.join(".git/hooks/post-commit.off");
    let commit = || {
        let mut c = Command::new("git");
        c.args(["commit", "-q", "--allow-empty", "-m", "a commit without a trailer"])
            .current_dir(&hooked)
            .env("PATH", path_with_binaries());
        c
    };
    // Three ways, interleaved: grit's hook; an empty hook (what git pays to run any hook, the
    // cost before the trailer check); no hook.
    let empty = hooked.join(".git/hooks/post-commit.empty");
    std::fs::write(&empty, "#!/bin/sh\nexit 0\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let ours = hooked.join(".git/hooks/post-commit.grit");
    let (mut with, mut bare, mut without) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        for _ in 0..15 {
            with.push(time(commit()));
        }
        std::fs::rename(&hook, &ours).unwrap();
        std::fs::copy(&empty, &hook).unwrap();
        for _ in 0..15 {
            bare.push(time(commit()));
        }
        std::fs::rename(&hook, &off).unwrap();
        for _ in 0..15 {
            without.push(time(commit()));
        }
        std::fs::rename(&ours, &hook).unwrap();
    }
    let (w, b, wo) = (med(with), med(bare), med(without));
    println!(
        "git commit with the post-commit hook   median {:5.2} ms   with an empty hook {:5.2} ms   without a hook {:5.2} ms   \
         the trailer check adds {:4.2} ms over an empty hook (target <= 2 ms), {:4.2} ms over none",
        ms(w),
        ms(b),
        ms(wo),
        ms(w) - ms(b),
        ms(w) - ms(wo)
    );
    let _ = git(&hooked, &["log", "--oneline", "-1"]);
}
