//! Planning work: priorities, types, links and their cycles, the work queue (`ready`,
//! `blocked`, `tree`, `claim --next`), the query language against a brute-force filter,
//! saved views and output formats, and an index from before all of this upgrading itself.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::env::{TestEnv, titles};

fn new(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let mut a = vec!["create"];
    a.extend_from_slice(args);
    env.json("issue", dir, &a)["id"].as_str().unwrap().to_owned()
}

fn sync(env: &TestEnv, dir: &Path) {
    env.ok("wal", dir, &["sync"]);
}

#[test]
fn ready_blocked_and_tree_follow_a_graph_edited_from_two_clones() {
    let env = TestEnv::new();
    let (_remote, a, b) = env.pair();
    let epic = new(&env, &a, &["-t", "Launch", "--type", "epic", "-p", "1"]);
    let db = new(&env, &a, &["-t", "Database", "--parent", &epic, "-p", "0"]);
    let api = new(&env, &a, &["-t", "API", "--parent", &epic, "--blocked-by", &db]);
    let docs = new(&env, &a, &["-t", "Docs", "-p", "3", "--type", "chore"]);
    sync(&env, &a);
    sync(&env, &b);
    // Bob, in his clone, finds that the docs wait on the API.
    env.ok("issue", &b, &["link", &api, "blocks", &docs]);
    let ready = env.json("issue", &b, &["ready"]);
    assert_eq!(
        titles(&ready),
        ["Database"],
        "the epic has open children; API and Docs are blocked"
    );
    sync(&env, &b);
    sync(&env, &a);
    let blocked = env.json("issue", &a, &["blocked"]);
    assert_eq!(titles(&blocked), ["Docs", "API"]);
    assert_eq!(blocked[1]["blocked_by"], serde_json::json!([db]));
    assert_eq!(blocked[0]["blocked_by"], serde_json::json!([api]));
    // Closing the database frees the API; closing both children frees the epic.
    env.ok("issue", &a, &["close", &db]);
    assert_eq!(titles(&env.json("issue", &a, &["ready"])), ["API"]);
    env.ok("issue", &a, &["close", &api]);
    assert_eq!(
        titles(&env.json("issue", &a, &["ready"])),
        ["Launch", "Docs"],
        "P1 before P3"
    );

    let tree = env.ok("issue", &a, &["tree", &epic[..8]]);
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 4, "{tree}");
    assert!(lines[0].contains("Launch") && lines[0].contains("epic"), "{tree}");
    assert!(lines[1].starts_with("├── ") && lines[1].contains("Database"), "{tree}");
    assert!(lines[2].starts_with("└── ") && lines[2].contains("API"), "{tree}");
    assert!(
        lines[3].starts_with("    └── blocked by") && lines[3].contains("Database"),
        "{tree}"
    );
    let tree = env.json("issue", &a, &["tree", &epic]);
    assert_eq!(tree["children"].as_array().unwrap().len(), 2);

    // `show` prints every link both ways.
    let show = env.json("issue", &a, &["show", &api]);
    let links: BTreeSet<(String, String)> = show["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["link"].as_str().unwrap().to_owned(),
                l["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [("parent", "Launch"), ("blocked_by", "Database"), ("blocks", "Docs")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(links, want);
    assert_eq!(show["priority"], 2);
    assert_eq!(show["type"], "task");
    assert_eq!(show["parent"], Value::String(epic.clone()));
    let text = env.ok("issue", &a, &["show", &docs]);
    assert!(text.contains("Blocked by:") && text.contains("API"), "{text}");

    // Unlinking in one clone reaches the other.
    env.ok("issue", &a, &["unlink", &docs, "blocked-by", &api]);
    sync(&env, &a);
    sync(&env, &b);
    assert!(
        env.json("issue", &b, &["show", &docs])["links"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_cycle_is_refused_locally_and_one_made_by_two_clones_is_shown() {
    let env = TestEnv::new();
    let (_remote, a, b) = env.pair();
    let x = new(&env, &a, &["-t", "X"]);
    let y = new(&env, &a, &["-t", "Y"]);
    let z = new(&env, &a, &["-t", "Z", "--blocked-by", &y]);
    let free = new(&env, &a, &["-t", "Free"]);
    env.ok("issue", &a, &["link", &y, "blocked-by", &x]);
    let out = env
        .cmd("issue", &a)
        .args(["link", &x, "blocked-by", &z])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would make a cycle") && err.contains(&x[..7]) && err.contains(&z[..7]),
        "{err}"
    );
    let out = env
        .cmd("issue", &a)
        .args(["edit", &x, "--parent", &x])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an issue is not its own parent");
    let out = env
        .cmd("issue", &a)
        .args(["edit", &x, "--title", "X2", "--add-blocked-by", &z])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        env.json("issue", &a, &["show", &x])["title"],
        "X",
        "a refused edit writes nothing"
    );

    sync(&env, &a);
    sync(&env, &b);
    // Each clone adds one half of a cycle; neither could see the other's.
    env.ok("issue", &a, &["link", &free, "blocked-by", &z]);
    env.ok("issue", &b, &["link", &z, "blocked-by", &free]);
    sync(&env, &a);
    sync(&env, &b);
    sync(&env, &a);
    let show = env.json("issue", &a, &["show", &z]);
    assert_eq!(show["cycles"].as_array().unwrap().len(), 1, "{show}");
    let text = env.ok("issue", &a, &["show", &free]);
    assert!(text.contains("blocked-by cycle"), "{text}");
    let check = env.ok("wal", &a, &["check"]);
    assert!(check.contains("note: blocked-by cycle"), "{check}");
    assert!(check.contains("clean"), "a cycle is not damage: {check}");
    // The rest of the graph still works: X is ready, the cycle's members are blocked.
    assert_eq!(titles(&env.json("issue", &a, &["ready"])), ["X"]);
    let blocked = titles(&env.json("issue", &a, &["blocked"]));
    assert_eq!(blocked.len(), 3, "{blocked:?}");
}

#[test]
fn claim_next_by_eight_processes_gives_eight_distinct_issues() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    env.ok("wal", &dir, &["init"]);
    for i in 0..10 {
        new(&env, &dir, &["-t", &format!("task {i}"), "-p", &(i % 5).to_string()]);
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.std_cmd("issue", &dir)
                .args(["claim", "--next", "--json"])
                .env("GRIT_ACTOR", format!("agent-{i}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut got = BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["claim"].is_object(), "{v}");
        got.insert(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(got.len(), 8, "eight agents, eight different issues");
    // The two left are what `ready` offers someone else, most urgent first.
    let left = env.json("issue", &dir, &["ready"]);
    assert_eq!(left.as_array().unwrap().len(), 2);
    let err = env
        .cmd("issue", &dir)
        .args(["claim", "--next", "-S", "label:none-such"])
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no issue is ready"));
}

/// `claim --next` draws among the head of the queue of the first issue's priority: never a
/// less urgent issue while a more urgent one is ready, never one the actor holds, and with
/// `issue.claimSpread = 1` strictly the first.
#[test]
fn claim_next_spreads_over_the_head_but_never_past_a_more_urgent_issue() {
    use predicates::prelude::*;
    let env = TestEnv::new();
    let dir = env.repo("r");
    env.ok("wal", &dir, &["init"]);
    let urgent = new(&env, &dir, &["-t", "urgent", "-p", "0"]);
    for i in 0..12 {
        new(&env, &dir, &["-t", &format!("task {i}"), "-p", "2"]);
    }
    let claim = |actor: &str| {
        let out = env
            .cmd("issue", &dir)
            .args(["claim", "--next", "--json"])
            .env("GRIT_ACTOR", actor)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["title"].as_str().unwrap().to_owned()
    };
    assert_eq!(claim("a0"), "urgent", "{urgent}: the only issue of priority 0");
    // Not handed the issue it holds again (its land may have stopped on a conflict).
    assert_ne!(claim("a0"), "urgent");
    // Of twelve equally urgent issues, each claim draws among the first eight of the queue.
    let mut got = BTreeSet::new();
    for i in 1..=4 {
        let head: BTreeSet<String> = env
            .json("issue", &dir, &["ready", "--limit", "8"])
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["title"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(head.len(), 8);
        let t = claim(&format!("a{i}"));
        assert!(head.contains(&t), "{t} is beyond the head of the queue {head:?}");
        got.insert(t);
    }
    assert_eq!(got.len(), 4);
    env.git(&dir, &["config", "issue.claimSpread", "1"]);
    let next = env.json("issue", &dir, &["ready"])[0]["title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claim("a5"), next, "strictly the head");
    env.git(&dir, &["config", "issue.claimSpread", "many"]);
    env.cmd("issue", &dir)
        .args(["claim", "--next"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("issue.claimSpread").and(predicates::str::contains("hint:")));
}

#[test]
fn saved_views_live_in_git_config() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    new(&env, &dir, &["-t", "Urgent bug", "-l", "bug", "-p", "0"]);
    new(&env, &dir, &["-t", "Slow bug", "-l", "bug", "-p", "3"]);
    new(&env, &dir, &["-t", "Feature", "-p", "0"]);
    env.ok("issue", &dir, &["view", "save", "hot", "-S", "label:bug priority:<=1"]);
    assert_eq!(
        env.git(&dir, &["config", "issue.view.hot"]).trim(),
        "label:bug priority:<=1"
    );
    assert_eq!(
        titles(&env.json("issue", &dir, &["list", "--view", "hot"])),
        ["Urgent bug"]
    );
    let views = env.json("issue", &dir, &["view", "list"]);
    assert_eq!(views[0]["name"], "hot");
    // -S narrows a view.
    assert!(
        env.json("issue", &dir, &["list", "--view", "hot", "-S", "feature"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // `view ID` still shows an issue, as `gh issue view` does.
    let id = new(&env, &dir, &["-t", "Shown"]);
    assert!(env.ok("issue", &dir, &["view", &id[..8]]).contains("Shown"));
    for bad in [
        &["view", "save", "9x", "-S", "is:open"][..],
        &["view", "save", "ok", "-S", "is:"],
    ] {
        let out = env.cmd("issue", &dir).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    env.ok("issue", &dir, &["view", "rm", "hot"]);
    let out = env.cmd("issue", &dir).args(["list", "--view", "hot"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no saved view 'hot'"));
}

#[test]
fn format_and_json_fields_print_what_was_asked() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let id = new(
        &env,
        &dir,
        &["-t", "Alpha ünï", "-l", "x,y", "-p", "1", "--type", "bug"],
    );
    let out = env.ok(
        "issue",
        &dir,
        &[
            "list",
            "--format",
            "{short_id}|P{priority}|{type}|{labels}|{title}|{{}}",
        ],
    );
    assert_eq!(out, format!("{}|P1|bug|x,y|Alpha ünï|{{}}\n", &id[..7]));
    let v = env.json("issue", &dir, &["list", "--fields", "title,priority"]);
    assert_eq!(v, serde_json::json!([{ "title": "Alpha ünï", "priority": 1 }]));
    // gh's spelling.
    let out = env.ok("issue", &dir, &["list", "--json", "id,type"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!([{ "id": id, "type": "bug" }]));
    // Every new field is in the full JSON too.
    let full = env.json("issue", &dir, &["list"]);
    for f in ["priority", "type", "parent"] {
        assert!(full[0].get(f).is_some(), "{f} in {full}");
    }
    for (args, needle) in [
        (&["list", "--format", "{nope}"][..], "not a field"),
        (&["list", "--json", "--fields", "nope"], "not a field"),
        (&["list", "--format", "{title"], "unmatched brace"),
        (&["list", "-S", "priority:<=7"], "column 10"),
        (&["list", "-S", "lable:bug"], "not a qualifier"),
    ] {
        let out = env.cmd("issue", &dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle) && err.contains("hint:"), "{args:?}: {err}");
    }
}

#[test]
fn an_index_built_before_this_change_upgrades_itself() {
    let env = TestEnv::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema5.tgz");
    let tar = std::process::Command::new("tar")
        .args(["xzf", fixture.to_str().unwrap(), "-C", env.tmp.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(tar.success());
    let dir = env.tmp.path().join("repo");
    assert!(dir.join(".git/grit/index/data.mdb").is_file(), "the old index is there");
    let list = env.json("issue", &dir, &["list", "--state", "all"]);
    assert_eq!(titles(&list), ["Add a flag", "Crash on start"]);
    assert_eq!(list[1]["priority"], 2, "defaults for issues written before priorities");
    assert_eq!(list[1]["type"], "task");
    let found = env.json("issue", &dir, &["list", "-S", "\"connection reset\""]);
    assert_eq!(titles(&found), ["Crash on start"], "the word index was built too");
    let stats = env.json("wal", &dir, &["stats"]);
    assert_eq!(stats["events"], 4);
}

/// A tiny deterministic generator, so a failure names the seed that made it.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next(from.len() as u64) as usize]
    }
}

const WORDS: [&str; 8] = [
    "connection",
    "reset",
    "timeout",
    "disk",
    "crash",
    "slow",
    "parser",
    "cache",
];
const LABELS: [&str; 4] = ["bug", "ui", "db", "perf"];

/// What a query term means, over one issue's `show --json`: the reference the index is held to.
fn brute(issue: &Value, term: &str, fields: &[Vec<String>]) -> bool {
    let (key, value) = term.split_once(':').unwrap_or(("", term));
    let strs = |k: &str| -> Vec<String> {
        issue[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    match key {
        "is" => issue["state"] == value,
        "label" => value.split(',').any(|l| strs("labels").contains(&l.to_owned())),
        "assignee" => strs("assignees").contains(&value.to_owned()),
        "no" if value == "label" => strs("labels").is_empty(),
        "no" => strs("assignees").is_empty(),
        "type" => issue["type"] == value,
        "priority" => {
            let p = issue["priority"].as_u64().unwrap();
            let n: u64 = value.trim_start_matches(['<', '>', '=']).parse().unwrap();
            match &value[..value.len() - 1] {
                "<=" => p <= n,
                ">=" => p >= n,
                "<" => p < n,
                ">" => p > n,
                _ => p == n,
            }
        }
        "comments" => issue["comments"].as_array().unwrap().len() as u64 > value[1..].parse::<u64>().unwrap(),
        // A phrase is consecutive words of one text (the title, the body or a comment).
        _ if term.starts_with('"') => {
            let phrase: Vec<String> = term.trim_matches('"').split(' ').map(str::to_owned).collect();
            fields
                .iter()
                .any(|words| words.windows(phrase.len()).any(|w| w == phrase))
        }
        _ => fields.iter().any(|words| words.contains(&term.to_owned())),
    }
}

#[test]
fn queries_agree_with_a_brute_force_filter_on_random_issues() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let seed = 0x5eed_u64;
    let mut rng = Rng(seed);
    for i in 0..36 {
        let title: Vec<&str> = (0..3).map(|_| rng.pick(&WORDS)).collect();
        let body: Vec<&str> = (0..6).map(|_| rng.pick(&WORDS)).collect();
        let mut args = vec![
            "-t".to_owned(),
            format!("{} {i}", title.join(" ")),
            "-b".to_owned(),
            body.join(" "),
            "-p".to_owned(),
            rng.next(5).to_string(),
            "--type".to_owned(),
            ["bug", "feature", "task", "epic", "chore"][rng.next(5) as usize].to_owned(),
        ];
        for _ in 0..rng.next(3) {
            args.extend(["-l".to_owned(), rng.pick(&LABELS).to_owned()]);
        }
        if rng.next(3) == 0 {
            args.extend(["-a".to_owned(), "ann".to_owned()]);
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = new(&env, &dir, &a);
        for _ in 0..rng.next(3) {
            let c = format!("{} {}", rng.pick(&WORDS), rng.pick(&WORDS));
            env.ok("issue", &dir, &["comment", &id, "-b", &c]);
        }
        if rng.next(4) == 0 {
            env.ok("issue", &dir, &["close", &id]);
        }
    }
    let all = env.json("issue", &dir, &["list", "--state", "all", "--limit", "0"]);
    let issues: Vec<(Value, Vec<Vec<String>>)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let full = env.json("issue", &dir, &["show", row["id"].as_str().unwrap()]);
            let mut text = vec![
                full["title"].as_str().unwrap().to_owned(),
                full["body"].as_str().unwrap().to_owned(),
            ];
            text.extend(
                full["comments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["body"].as_str().unwrap().to_owned()),
            );
            let fields = text
                .iter()
                .map(|t| t.split(' ').map(str::to_lowercase).collect())
                .collect();
            (full, fields)
        })
        .collect();
    let atoms = |rng: &mut Rng| -> String {
        match rng.next(10) {
            0 => format!("is:{}", rng.pick(&["open", "closed"])),
            1 => format!("label:{}", rng.pick(&LABELS)),
            2 => format!("label:{},{}", rng.pick(&LABELS), rng.pick(&LABELS)),
            3 => format!("type:{}", rng.pick(&["bug", "feature", "task", "epic", "chore"])),
            4 => format!("priority:{}{}", rng.pick(&["<=", ">=", "<", ">", ""]), rng.next(5)),
            5 => rng
                .pick(&["no:label", "no:assignee", "assignee:ann", "comments:>1"])
                .to_owned(),
            6 => format!("\"{} {}\"", rng.pick(&WORDS), rng.pick(&WORDS)),
            _ => rng.pick(&WORDS).to_owned(),
        }
    };
    for round in 0..40 {
        // A AND (B OR NOT C), in query syntax and as a predicate.
        let (a, b, c) = (atoms(&mut rng), atoms(&mut rng), atoms(&mut rng));
        let query = format!("{a} ({b} OR -{c})");
        let expected: BTreeSet<String> = issues
            .iter()
            .filter(|(i, w)| brute(i, &a, w) && (brute(i, &b, w) || !brute(i, &c, w)))
            .map(|(i, _)| i["id"].as_str().unwrap().to_owned())
            .collect();
        let got = env.json("issue", &dir, &["list", "-S", &query, "--state", "all", "--limit", "0"]);
        let got: BTreeSet<String> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected, "seed {seed:#x}, round {round}: {query}");
    }
    // Sorting: by priority, most urgent first, then newest.
    let sorted = env.json(
        "issue",
        &dir,
        &["list", "-S", "sort:priority", "--state", "all", "--limit", "0"],
    );
    let prios: Vec<u64> = sorted
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["priority"].as_u64().unwrap())
        .collect();
    assert!(prios.windows(2).all(|w| w[0] <= w[1]), "{prios:?}");
    assert_eq!(prios.len(), issues.len());
}

#[test]
fn qualifiers_for_people_parents_claims_times_comments_and_prefixes() {
    let env = TestEnv::new();
    let dir = env.repo("r");
    let ann = env.git(&dir, &["config", "user.email"]).trim().to_owned();
    // An old issue, written long before the others (the tests pin the clock with GRIT_NOW).
    let old = env
        .std_cmd("issue", &dir)
        .args(["create", "-t", "Old timeout report", "--json"])
        .env("GRIT_NOW", "1700000000")
        .output()
        .unwrap();
    assert!(old.status.success());
    let epic = new(&env, &dir, &["-t", "Epic", "--type", "epic"]);
    let child = new(&env, &dir, &["-t", "Crashes on start", "--parent", &epic, "-a", "@me"]);
    env.ok("issue", &dir, &["comment", &child, "-b", "seen it"]);
    // Another person, as another actor.
    let bob = env
        .std_cmd("issue", &dir)
        .args(["create", "-t", "Bob's idea", "--json"])
        .envs([
            ("GRIT_ACTOR", "bob"),
            ("GIT_AUTHOR_NAME", "Bob Builder"),
            ("GIT_AUTHOR_EMAIL", "bob@example.com"),
        ])
        .output()
        .unwrap();
    assert!(bob.status.success(), "{}", String::from_utf8_lossy(&bob.stderr));
    let q = |query: &str| -> Vec<String> {
        let mut t = titles(&env.json("issue", &dir, &["list", "--state", "all", "--limit", "0", "-S", query]));
        if !query.contains("sort:") {
            t.sort();
        }
        t
    };
    assert_eq!(q("author:bob@example.com"), ["Bob's idea"]);
    assert_eq!(q("author:\"Bob Builder\""), ["Bob's idea"]);
    assert_eq!(q("author:@me").len(), 3, "{ann}'s three");
    assert_eq!(q(&format!("parent:{}", &epic[..8])), ["Crashes on start"]);
    assert!(!q("no:parent").contains(&"Crashes on start".to_owned()));
    assert_eq!(q("assignee:@me"), ["Crashes on start"]);
    assert_eq!(q("comments:>=1"), ["Crashes on start"]);
    assert_eq!(q("crash*"), ["Crashes on start"], "a prefix of the stemmed word");
    assert_eq!(q("time*"), ["Old timeout report"]);
    assert_eq!(q("created:<2024-01-01"), ["Old timeout report"]);
    assert_eq!(q("created:>=2025-01-01").len(), 3);
    assert_eq!(q("updated:<7d").len(), 3, "the old one was last changed in 2023");
    assert_eq!(q("updated:>30d"), ["Old timeout report"]);
    assert_eq!(q("sort:created-asc")[0], "Old timeout report");
    env.ok("issue", &dir, &["claim", &child, "--local"]);
    assert_eq!(q("claimed:true"), ["Crashes on start"]);
    assert_eq!(q("claimed:false").len(), 3);
    assert_eq!(q("is:claimed"), ["Crashes on start"]);
}

#[test]
fn graph_counts_downstream_work_and_finds_the_critical_path_through_a_cycle_a_diamond_and_a_chain() {
    let env = TestEnv::new();
    let (_remote, a, b) = env.pair();
    // A chain: c1 -> c2 -> c3 -> c4 -> c5 (each blocks the next).
    let c: Vec<String> = (1..=5).map(|i| new(&env, &a, &["-t", &format!("chain {i}")])).collect();
    for w in c.windows(2) {
        env.ok("issue", &a, &["link", &w[1], "blocked-by", &w[0]]);
    }
    // A diamond: d1 -> d2, d1 -> d3, d2 -> d4, d3 -> d4.
    let d: Vec<String> = (1..=4)
        .map(|i| new(&env, &a, &["-t", &format!("diamond {i}")]))
        .collect();
    for (from, to) in [(0, 1), (0, 2), (1, 3), (2, 3)] {
        env.ok("issue", &a, &["link", &d[to], "blocked-by", &d[from]]);
    }
    // A cycle x <-> y made by two clones, and y -> z after it; an epic with a child.
    let x = new(&env, &a, &["-t", "cycle x"]);
    let y = new(&env, &a, &["-t", "cycle y"]);
    let z = new(&env, &a, &["-t", "after the cycle", "--blocked-by", &y]);
    let epic = new(&env, &a, &["-t", "epic", "--type", "epic"]);
    let child = new(&env, &a, &["-t", "child", "--parent", &epic]);
    sync(&env, &a);
    sync(&env, &b);
    env.ok("issue", &a, &["link", &y, "blocked-by", &x]);
    env.ok("issue", &b, &["link", &x, "blocked-by", &y]);
    sync(&env, &a);
    sync(&env, &b);
    sync(&env, &a);
    let g = env.json("issue", &a, &["graph"]);
    let node = |id: &str| {
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("no node {id}: {g}"))
            .clone()
    };
    let down = |id: &str| node(id)["downstream"].as_u64().unwrap();
    assert_eq!(g["nodes"].as_array().unwrap().len(), 14);
    assert_eq!((down(&c[0]), down(&c[2]), down(&c[4])), (4, 2, 0));
    assert_eq!(
        (down(&d[0]), down(&d[1]), down(&d[3])),
        (3, 1, 0),
        "the diamond's sink counts once"
    );
    assert_eq!(
        (down(&x), down(&y), down(&z)),
        (2, 2, 0),
        "a cycle's issues unblock each other and z"
    );
    assert_eq!(down(&child), 1, "a child comes before its epic");
    // The critical path is the chain, the longest.
    assert_eq!(g["critical_path"], json!(c), "{}", g["critical_path"]);
    assert!(node(&c[3])["critical"].as_bool().unwrap() && !node(&d[0])["critical"].as_bool().unwrap());
    let cycles = g["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 1);
    let mut members: Vec<&str> = cycles[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    members.sort();
    let mut want = [x.as_str(), y.as_str()];
    want.sort();
    assert_eq!(members, want);
    // DOT: every issue a node, every link an edge, the parent link dashed, the path in red.
    let dot = env.ok("issue", &a, &["graph", "--format", "dot"]);
    assert!(dot.starts_with("digraph grit {"), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 4 + 4 + 2 + 1 + 1, "{dot}");
    assert_eq!(dot.matches("style=dashed").count(), 1, "{dot}");
    assert_eq!(dot.matches("color=red").count(), 5, "{dot}");
    // SVG: a node per issue, each linking to it; a query narrows it.
    let svg = env.ok("issue", &a, &["graph", "-S", "diamond"]);
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches("<a href=").count(), 4, "{svg}");
    for id in &d {
        assert!(svg.contains(&format!("data-id=\"{id}\"")));
    }
}
