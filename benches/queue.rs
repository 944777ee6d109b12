//! Benchmarks of planning work at 100,000 issues (a tenth with links, three labels and two
//! comments each, text made of sentences from a word list): the query language's two kinds of
//! query, `ready` and `blocked`, each against `git rev-parse HEAD` in the same run; the full
//! rebuild with the word index against git reading every object; and the index's size by
//! table. `benches/run --bench queue`; `GRIT_BENCH_SMALL=1` scales it down 10x.
//! `GRIT_BENCH_OLD_ISSUE=PATH` (a `git-issue` of another build) adds an A/B of `create`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{exe, medians, ms, new_repo, rev_parse, scratch};
use grit::actor;
use grit::event::{Event, FORMAT_VERSION, Id, Kind, State};
use grit::repo::Repo;
use grit::wal;

const WORDS: &str = "the a to of and in is it that for on with as was at by be this from or an \
    are not but have has had which when what one all would there their if can will up out so \
    about into than then them these some could other more time only new just like also after \
    first use two how our work may any over most where through back much should well down \
    build test fails error crash panic slow fast cache index query server client request \
    response file disk memory thread lock queue parser config option flag command output input \
    network socket connection reset timeout retry backoff latency page render button window \
    screen layout font color theme user account login session token password email message \
    report log trace metric alert deploy release version update upgrade migrate schema table \
    column row record field value key map list set array string number date zone locale \
    encoding unicode path branch commit merge rebase push pull fetch remote tag hook script";

/// A little generator of numbers, fixed so every run writes the same issues.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn sentence(rng: &mut Rng, words: &[&str], n: usize) -> String {
    let mut s: Vec<&str> = (0..n).map(|_| words[rng.next(words.len())]).collect();
    // Now and then, the phrase the benchmark searches for.
    if rng.next(200) == 0 {
        let at = rng.next(n.saturating_sub(1).max(1));
        s[at] = "connection";
        if at + 1 < n {
            s[at + 1] = "reset";
        }
    }
    s.join(" ")
}

/// Writes `issues` issues into one actor's WAL: created (three labels), priority, type, two
/// comments; a tenth blocked by an earlier issue, a twentieth the child of an epic; 30 % closed.
fn generate(dir: &Path, issues: usize) -> usize {
    let repo = Repo::discover(dir).unwrap();
    let actor = actor::current(&repo).unwrap();
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let labels = [
        "bug",
        "docs",
        "ui",
        "backend",
        "perf",
        "security",
        "infra",
        "tests",
        "api",
        "cli",
        "db",
        "good-first-issue",
    ];
    let types = ["bug", "feature", "task", "epic", "chore"];
    let mut rng = Rng(42);
    let mut ids: Vec<Id> = Vec::with_capacity(issues);
    let mut epics: Vec<Id> = Vec::new();
    let mut batch = Vec::new();
    let (mut total, mut lamport) = (0, 0);
    for i in 0..issues {
        let wall = 1_763_700_000_000 + i as u64 * 1000;
        let mut ev = |entity: Option<Id>, parents: Vec<Id>, kind| {
            lamport += 1;
            Event {
                version: FORMAT_VERSION,
                entity,
                actor: actor.id(),
                lamport,
                wall_ms: wall,
                parents,
                kind,
            }
            .sign(&actor.key)
        };
        let mut l: Vec<String> = Vec::new();
        while l.len() < 3 {
            let x = labels[rng.next(labels.len())].to_owned();
            if !l.contains(&x) {
                l.push(x);
            }
        }
        let created = ev(
            None,
            vec![],
            Kind::IssueCreated {
                title: sentence(&mut rng, &words, 6),
                body: format!(
                    "{}. {}.",
                    sentence(&mut rng, &words, 12),
                    sentence(&mut rng, &words, 12)
                ),
                labels: l,
            },
        );
        let id = created.id;
        let mut kinds = vec![
            Kind::PrioritySet {
                priority: rng.next(5) as u8,
            },
            Kind::TypeSet {
                issue_type: types[rng.next(types.len())].to_owned(),
            },
            Kind::CommentAdded {
                body: sentence(&mut rng, &words, 10),
            },
            Kind::CommentAdded {
                body: sentence(&mut rng, &words, 10),
            },
        ];
        if i % 10 == 9 {
            kinds.push(Kind::LinkAdded {
                link: "blocked-by".into(),
                target: ids[rng.next(ids.len())],
            });
        }
        if i % 20 == 7 && !epics.is_empty() {
            kinds.push(Kind::ParentSet {
                parent: Some(epics[rng.next(epics.len())]),
            });
        }
        if rng.next(10) < 3 {
            kinds.push(Kind::StateSet {
                state: State::Closed,
                reason: None,
            });
        }
        let mut parent = created.id;
        batch.push(created);
        for k in kinds {
            let e = ev(Some(id), vec![parent], k);
            parent = e.id;
            batch.push(e);
        }
        ids.push(id);
        if i % 100 == 0 {
            epics.push(id);
        }
        if batch.len() >= 3000 || i + 1 == issues {
            total += batch.len();
            wal::append(&repo, &actor.id(), &actor.author(wall), &batch).unwrap();
            batch.clear();
        }
    }
    total
}

fn issue_cmd<'a>(dir: &'a Path, args: &'a [&'a str]) -> impl FnMut() -> Command + 'a {
    move || {
        let mut c = Command::new(exe("issue"));
        c.args(args).current_dir(dir);
        c
    }
}

fn main() {
    let small = std::env::var_os("GRIT_BENCH_SMALL").is_some();
    let n = if small { 10_000 } else { 100_000 };
    let root = scratch();
    let dir = new_repo(root.path(), "queue");
    if std::env::var_os("GRIT_BENCH_KEEP").is_some() {
        println!("keeping {}", dir.display());
    }
    let start = Instant::now();
    let events = generate(&dir, n);
    println!(
        "generated {n} issues, {events} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // The full rebuild, with the word index, against git reading every object.
    let mut rebuilds = Vec::new();
    let mut cat = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new(exe("wal"))
            .args(["rebuild", "--full"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        rebuilds.push(t.elapsed());
        let t = Instant::now();
        let out = Command::new("git")
            .args(["cat-file", "--batch-all-objects", "--batch"])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(out.success());
        cat.push(t.elapsed());
    }
    rebuilds.sort();
    cat.sort();
    println!(
        "rebuild --full   median {:7.0} ms = {:.0} events/s   baseline git cat-file --batch-all-objects {:5.0} ms   \
         (target >= 250,000 events/s)",
        ms(rebuilds[1]),
        events as f64 / rebuilds[1].as_secs_f64(),
        ms(cat[1]),
    );

    let queries: [(&str, &[&str], &str); 4] = [
        (
            "list -S 'is:open label:bug priority:<=1 sort:updated'",
            &["list", "-S", "is:open label:bug priority:<=1 sort:updated"],
            "30",
        ),
        (
            "list -S '\"connection reset\" OR timeout'",
            &["list", "-S", "\"connection reset\" OR timeout"],
            "80",
        ),
        ("ready --limit 30", &["ready", "--limit", "30"], "30"),
        ("blocked", &["blocked"], "60"),
    ];
    for (name, args, target) in queries {
        let [ours, base] = medians(21, [&mut issue_cmd(&dir, args), &mut rev_parse(&dir)]);
        println!(
            "{name:<55} median {:7.2} ms   baseline git rev-parse HEAD {:5.2} ms   ratio {:5.1}   (target <= {target} ms)",
            ms(ours),
            ms(base),
            ms(ours) / ms(base),
        );
    }

    let out = Command::new(exe("wal"))
        .args(["stats", "--json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = stats["tables"].as_object().unwrap();
    let new: u64 = ["facts", "edges", "assigned", "words"]
        .iter()
        .map(|t| tables[*t].as_u64().unwrap())
        .sum();
    let all: u64 = tables.values().map(|v| v.as_u64().unwrap()).sum();
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "index {:.1} MB in use ({:.1} MB file): the tables this work added {:.1} MB (words {:.1}, facts {:.1}, \
         links {:.1}, assignees {:.1}), +{:.0} % over the {:.1} MB of the others",
        mb(all),
        mb(stats["index_bytes"].as_u64().unwrap()),
        mb(new),
        mb(tables["words"].as_u64().unwrap()),
        mb(tables["facts"].as_u64().unwrap()),
        mb(tables["edges"].as_u64().unwrap()),
        mb(tables["assigned"].as_u64().unwrap()),
        new as f64 * 100.0 / (all - new) as f64,
        mb(all - new),
    );

    if let Some(old) = std::env::var_os("GRIT_BENCH_OLD_ISSUE") {
        // One repository each: the two builds' indexes have different schemas, and each would
        // wipe and rebuild the other's.
        let make = |bin: std::ffi::OsString, name: &str| {
            let repo = new_repo(root.path(), name);
            move || {
                let mut c = Command::new(&bin);
                c.args([
                    "create",
                    "--title",
                    "A new issue",
                    "--label",
                    "bug",
                    "--body",
                    "Steps to reproduce it.",
                ])
                .current_dir(&repo)
                .env("GRIT_NO_AUTO_GC", "1");
                c
            }
        };
        let [before, after] = medians(
            151,
            [
                &mut make(old, "create-old"),
                &mut make(exe("issue").into_os_string(), "create-new"),
            ],
        );
        println!(
            "create A/B       this build {:6.3} ms   the other build {:6.3} ms   {:+.1} %   (target < +10 %)",
            ms(after),
            ms(before),
            (ms(after) / ms(before) - 1.0) * 100.0
        );
    }
    if std::env::var_os("GRIT_BENCH_KEEP").is_some() {
        let _ = root.keep();
    }
}
