//! What agents get besides the CLI: `git issue prime`, the session primer.

use crate::env::TestEnv;

#[test]
fn prime_holds_claims_ready_work_changes_since_last_time_and_conventions_within_its_bound() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let urgent = t.json("issue", &r, &["create", "--title", "urgent fix", "--priority", "0"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let later = t.create(&r, "later work");
    t.create(&r, "more work");
    t.ok("issue", &r, &["claim", "--next"]);
    t.ok("lock", &r, &["acquire", "path:src/", "--note", "refactor"]);
    std::fs::create_dir_all(r.join(".grit")).unwrap();
    std::fs::write(r.join(".grit/AGENTS.md"), "Run the tests before landing.\n").unwrap();
    let first = t.ok("issue", &r, &["prime"]);
    let short = |id: &str| {
        t.json("issue", &r, &["show", id])["short_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let claims = first.split("## Ready").next().unwrap();
    assert!(claims.contains(&short(&urgent)), "the claim comes first: {first}");
    assert!(claims.contains("urgent fix"));
    let ready = first.split("## Ready").nth(1).unwrap();
    assert!(ready.contains("later work") && ready.contains("more work"), "{first}");
    assert!(ready.contains("(2 in all)"), "{first}");
    assert!(first.contains("first primer"), "{first}");
    assert!(first.contains("path:src/") && first.contains("refactor"), "{first}");
    assert!(first.contains("Run the tests before landing."), "{first}");
    // Another actor works meanwhile: the next primer says so, once.
    let other = [("GRIT_ACTOR", "other")];
    let mut c = t.cmd("issue", &r);
    c.envs(other)
        .args(["comment", &later, "--body", "looked into it"])
        .assert()
        .success();
    let mut c = t.cmd("issue", &r);
    c.envs(other).args(["close", &later]).assert().success();
    let second = t.ok("issue", &r, &["prime"]);
    let since = second.split("## Since last time").nth(1).unwrap();
    assert!(since.contains(&short(&later)), "{second}");
    assert!(since.contains("closed"), "{second}");
    assert!(
        !second
            .split("## Ready")
            .nth(1)
            .unwrap()
            .split("##")
            .next()
            .unwrap()
            .contains("later work")
    );
    // --peek leaves the cursor; without it, the changes are told once.
    let peeked = t.ok("issue", &r, &["prime", "--peek"]);
    assert!(peeked.contains("nothing changed"), "{peeked}");
    // Its own writes are not news to it.
    t.ok("issue", &r, &["comment", &urgent, "--body", "mine"]);
    assert!(t.ok("issue", &r, &["prime"]).contains("nothing changed"));
    // The bound: whole lines, the most important first, what was left out counted.
    for n in 0..60 {
        t.create(&r, &format!("filler issue number {n} with a long enough title"));
    }
    let small = t.ok("issue", &r, &["prime", "--max-bytes", "600", "--ready", "50"]);
    assert!(small.len() <= 600, "{} bytes", small.len());
    assert!(small.contains("urgent fix"), "claims survive the cut: {small}");
    assert!(small.trim_end().ends_with("left out (--max-bytes)"), "{small}");
    let json = t.json("issue", &r, &["prime", "--peek", "--ready", "50"]);
    assert_eq!(json["claims"][0]["id"], urgent.as_str());
    assert_eq!(json["ready"].as_array().unwrap().len(), 50);
    assert_eq!(json["conventions"][0], ".grit/AGENTS.md");
    t.cmd("issue", &r)
        .args(["prime", "--max-bytes", "10"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("hint:"));
}
