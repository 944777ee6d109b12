//! `git sandbox`: what a sandbox holds (files, modes, symlinks, mtimes, status), exit codes,
//! interrupted creation, names, and list/diff/commit/merge/rm/clean.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

use crate::env::TestEnv;

/// A repository with tracked, modified, staged, untracked and ignored files, a symlink, an
/// executable, an empty directory and a nested .gitignore.
fn workspace(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    let w = |p: &str, s: &str| {
        let f = r.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, s).unwrap();
    };
    w(".gitignore", "target/\n.env\n");
    w("src/main.rs", "fn main() {}\n");
    w("src/lib.rs", "pub fn f() {}\n");
    w("web/.gitignore", "node_modules/\n");
    w("web/app.js", "x()\n");
    w("run.sh", "#!/bin/sh\necho run\n");
    fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("src/main.rs", r.join("main-link")).unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    w("src/lib.rs", "pub fn f() { changed() }\n");
    w("web/app.js", "staged()\n");
    t.git(&r, &["add", "web/app.js"]);
    w("notes.txt", "untracked\n");
    w(".env", "SECRET=1\n");
    w("target/debug/app", "binary");
    w("target/debug/.fingerprint/x", "fp");
    w("web/node_modules/dep/index.js", "dep");
    fs::create_dir_all(r.join("empty")).unwrap();
    // Old times, as a build would have left them.
    for p in ["src/main.rs", "target/debug/app", "notes.txt"] {
        let f = fs::File::options().write(true).open(r.join(p)).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000))
            .unwrap();
    }
    r
}

/// A repository with two committed files, `a.txt` and `b.txt`.
fn two_file_repo(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    fs::write(r.join("a.txt"), "a\n").unwrap();
    fs::write(r.join("b.txt"), "b\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    r
}

/// A repository with one committed file, `a.txt`.
fn one_file_repo(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    fs::write(r.join("a.txt"), "a\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    r
}

fn sandbox_env(t: &TestEnv) -> Vec<(&'static str, String)> {
    vec![("XDG_DATA_HOME", t.tmp.path().join("data").display().to_string())]
}

fn sb(t: &TestEnv, dir: &Path) -> assert_cmd::Command {
    let mut c = t.cmd("sandbox", dir);
    for (k, v) in sandbox_env(t) {
        c.env(k, v);
    }
    c
}

fn run_ok(t: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = sb(t, dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git sandbox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn listed(t: &TestEnv, dir: &Path) -> Value {
    serde_json::from_str(&run_ok(t, dir, &["list", "--json"])).unwrap()
}

fn path_of(t: &TestEnv, dir: &Path, name: &str) -> PathBuf {
    let l = listed(t, dir);
    let s = l.as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
    PathBuf::from(s["path"].as_str().unwrap())
}

fn status(t: &TestEnv, dir: &Path) -> String {
    t.git(dir, &["status", "--porcelain=v1", "--untracked-files=all"])
}

#[test]
fn a_sandbox_has_the_same_files_modes_times_and_status() {
    let t = TestEnv::new();
    let r = workspace(&t);
    run_ok(&t, &r, &["run", "s1", "--keep", "--", "true"]);
    let s = path_of(&t, &r, "s1");
    assert_eq!(status(&t, &s), status(&t, &r), "git status reads the same");
    for p in [
        "src/main.rs",
        "src/lib.rs",
        "web/app.js",
        "run.sh",
        "notes.txt",
        ".env",
        "target/debug/app",
        "target/debug/.fingerprint/x",
        "web/node_modules/dep/index.js",
    ] {
        let (a, b) = (fs::metadata(r.join(p)).unwrap(), fs::metadata(s.join(p)).unwrap());
        assert_eq!(fs::read(r.join(p)).unwrap(), fs::read(s.join(p)).unwrap(), "{p}");
        assert_eq!(a.mode(), b.mode(), "{p}");
        assert_eq!((a.mtime(), a.mtime_nsec()), (b.mtime(), b.mtime_nsec()), "{p}");
    }
    assert_eq!(fs::read_link(s.join("main-link")).unwrap(), Path::new("src/main.rs"));
    assert!(s.join("empty").is_dir(), "empty directories come along");
    assert_eq!(t.git(&s, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "sandbox/s1");
    // Changes in the sandbox never touch the original.
    fs::write(s.join("src/main.rs"), "changed in the sandbox").unwrap();
    fs::write(s.join("target/debug/app"), "rebuilt").unwrap();
    assert_eq!(fs::read_to_string(r.join("src/main.rs")).unwrap(), "fn main() {}\n");
    assert_eq!(fs::read_to_string(r.join("target/debug/app")).unwrap(), "binary");
}

#[test]
fn clean_leaves_changes_behind_and_excludes_and_worktreeinclude_narrow_ignored_files() {
    let t = TestEnv::new();
    let r = workspace(&t);
    run_ok(
        &t,
        &r,
        &["run", "c", "--clean", "--exclude", "node_modules", "--", "true"],
    );
    let s = path_of(&t, &r, "c");
    assert_eq!(status(&t, &s), "", "nothing uncommitted, nothing untracked");
    assert!(s.join("target/debug/app").exists() && s.join(".env").exists());
    assert!(!s.join("web/node_modules").exists(), "--exclude leaves it out");
    fs::write(r.join(".worktreeinclude"), ".env\n").unwrap();
    run_ok(&t, &r, &["run", "w", "--", "true"]);
    let s = path_of(&t, &r, "w");
    assert!(s.join(".env").exists());
    assert!(!s.join("target").exists(), "only what .worktreeinclude names");
}

#[test]
fn exit_codes_pass_through_and_the_sandbox_is_kept() {
    let t = TestEnv::new();
    let r = workspace(&t);
    for (i, (cmd, code)) in [("exit 0", 0), ("exit 1", 1), ("exit 3", 3), ("kill -TERM $$", 143)]
        .into_iter()
        .enumerate()
    {
        let name = format!("e{i}");
        sb(&t, &r).args(["run", &name, "--sh", "--", cmd]).assert().code(code);
    }
    sb(&t, &r)
        .args(["run", "e9", "--", "no-such-command-anywhere"])
        .assert()
        .code(127);
    let names: Vec<String> = listed(&t, &r)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["e0", "e1", "e2", "e3", "e9"],
        "a failing command never skips keeping"
    );
    sb(&t, &r)
        .args([
            "run",
            "args",
            "--discard",
            "--",
            "sh",
            "-c",
            "test \"$1\" = 'a b'",
            "x",
            "a b",
        ])
        .assert()
        .success();
}

#[test]
fn an_interrupted_creation_leaves_nothing_behind() {
    let t = TestEnv::new();
    let r = workspace(&t);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut c = t.std_cmd("sandbox", &r);
        for (k, v) in sandbox_env(&t) {
            c.env(k, v);
        }
        let child = c
            .env("GRIT_TEST_SANDBOX_PAUSE_MS", "5000")
            .args(["run", "half", "--", "true"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the worktree exists, then interrupt.
        let wt = r.join(".git/worktrees/half");
        let start = std::time::Instant::now();
        while !wt.exists() && start.elapsed().as_secs() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(wt.exists(), "creation got as far as the worktree");
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(128 + sig));
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was left behind"));
        assert!(!wt.exists(), "no worktree");
        assert_eq!(t.git(&r, &["branch", "--list", "sandbox/*"]), "", "no branch");
        assert_eq!(listed(&t, &r), serde_json::json!([]), "no record");
        let data = t.tmp.path().join("data/grit/sandboxes");
        let dirs: Vec<_> = fs::read_dir(&data).map(|d| d.flatten().collect()).unwrap_or_default();
        for d in dirs {
            assert!(!d.path().join("half").exists(), "no directory");
        }
    }
}

#[test]
fn a_creation_killed_outright_is_rolled_back_by_the_next_command() {
    let t = TestEnv::new();
    let r = workspace(&t);
    let mut c = t.std_cmd("sandbox", &r);
    for (k, v) in sandbox_env(&t) {
        c.env(k, v);
    }
    let mut child = c
        .env("GRIT_TEST_SANDBOX_PAUSE_MS", "5000")
        .args(["run", "killed", "--", "true"])
        .spawn()
        .unwrap();
    let wt = r.join(".git/worktrees/killed");
    let start = std::time::Instant::now();
    while !wt.exists() && start.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(listed(&t, &r), serde_json::json!([]));
    assert!(!wt.exists(), "git's record of the half-made worktree is gone too");
    assert_eq!(t.git(&r, &["branch", "--list", "sandbox/*"]), "");
    run_ok(&t, &r, &["run", "killed", "--", "true"]);
}

#[test]
fn bad_names_and_taken_branches_are_refused() {
    let t = TestEnv::new();
    let r = workspace(&t);
    for bad in ["", "..", "a/b", "-x", "has space", "tab\tname", "a..b", "x.lock"] {
        sb(&t, &r)
            .args(["run", bad, "--", "true"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("hint:"));
    }
    t.git(&r, &["branch", "sandbox/taken"]);
    sb(&t, &r)
        .args(["run", "taken", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(listed(&t, &r), serde_json::json!([]));
}

#[test]
fn commit_merge_rm_and_clean_manage_sandboxes() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(
        &t,
        &r,
        &["run", "work", "--sh", "--commit", "add b", "--", "echo b > b.txt"],
    );
    run_ok(&t, &r, &["run", "idle", "--", "true"]);
    run_ok(&t, &r, &["run", "scratch", "--sh", "--", "echo tmp > tmp.txt"]);
    let l = listed(&t, &r);
    let get = |n: &str| l.as_array().unwrap().iter().find(|s| s["name"] == n).unwrap().clone();
    assert_eq!(get("work")["ahead"], 1);
    assert_eq!(get("work")["dirty"], false);
    assert_eq!(get("scratch")["dirty"], true);
    // diff shows untracked files too.
    let d = run_ok(&t, &r, &["diff", "scratch"]);
    assert!(d.contains("tmp.txt") && d.contains("+tmp"), "{d}");
    // rm refuses to lose work.
    sb(&t, &r)
        .args(["rm", "scratch"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("uncommitted"));
    sb(&t, &r)
        .args(["rm", "work"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not merged"));
    // clean removes only what is unmodified and merged.
    let cleaned: Value = serde_json::from_str(&run_ok(&t, &r, &["clean", "--json"])).unwrap();
    assert_eq!(cleaned["removed"], serde_json::json!(["idle"]));
    // merge works beside local changes that do not touch what it merges, as git merge does.
    fs::write(r.join("a.txt"), "dirty\n").unwrap();
    let preview: Value = serde_json::from_str(&run_ok(&t, &r, &["merge", "work", "--preview", "--json"])).unwrap();
    assert_eq!(preview["clean"], true);
    run_ok(&t, &r, &["merge", "work"]);
    assert_eq!(fs::read_to_string(r.join("b.txt")).unwrap(), "b\n");
    assert_eq!(fs::read_to_string(r.join("a.txt")).unwrap(), "dirty\n");
    t.git(&r, &["checkout", "-q", "a.txt"]);
    run_ok(&t, &r, &["rm", "work"]);
    run_ok(&t, &r, &["commit", "scratch", "-m", "keep tmp"]);
    // --force removes the sandbox; its unmerged commit stays on the branch, and it says so.
    let out = run_ok(&t, &r, &["rm", "scratch", "--force"]);
    assert!(out.contains("stay on sandbox/scratch"), "{out}");
    assert_eq!(listed(&t, &r), serde_json::json!([]));
    assert_eq!(t.git(&r, &["branch", "--list", "sandbox/*"]), "  sandbox/scratch\n");
    assert_eq!(
        t.git(&r, &["log", "-1", "--format=%s", "sandbox/scratch"]),
        "keep tmp\n"
    );
    t.git(&r, &["branch", "-D", "-q", "sandbox/scratch"]);
    // --delete-branch deletes it too.
    run_ok(
        &t,
        &r,
        &["run", "gone", "--sh", "--commit", "c", "--", "echo c > c.txt"],
    );
    let out: Value =
        serde_json::from_str(&run_ok(&t, &r, &["rm", "gone", "--force", "--delete-branch", "--json"])).unwrap();
    assert_eq!(out["branch_kept"], false, "{out}");
    assert_eq!(t.git(&r, &["branch", "--list", "sandbox/*"]), "");
}

#[test]
fn list_calls_a_sandbox_dirty_exactly_when_git_status_shows_something() {
    let t = TestEnv::new();
    let r = t.repo("r");
    fs::write(r.join(".gitignore"), "target/\n").unwrap();
    fs::write(r.join("a.txt"), "aaaa\n").unwrap();
    fs::write(r.join("b.txt"), "b\n").unwrap();
    std::os::unix::fs::symlink("a.txt", r.join("link")).unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    type Change = fn(&TestEnv, &Path);
    let cases: [(&str, Change); 10] = [
        ("untouched", |_, _| {}),
        // Same size, same second as the index: only the content tells.
        ("racy", |_, s| fs::write(s.join("a.txt"), "bbbb\n").unwrap()),
        ("modified", |_, s| fs::write(s.join("b.txt"), "longer\n").unwrap()),
        ("staged", |t, s| {
            fs::write(s.join("b.txt"), "staged\n").unwrap();
            t.git(s, &["add", "b.txt"]);
        }),
        ("deleted", |_, s| fs::remove_file(s.join("b.txt")).unwrap()),
        ("untracked", |_, s| fs::write(s.join("new.txt"), "n\n").unwrap()),
        ("ignored", |_, s| {
            fs::create_dir_all(s.join("target")).unwrap();
            fs::write(s.join("target/out"), "o").unwrap();
        }),
        ("empty-dir", |_, s| fs::create_dir(s.join("nothing")).unwrap()),
        ("mode", |_, s| {
            fs::set_permissions(s.join("b.txt"), fs::Permissions::from_mode(0o755)).unwrap()
        }),
        ("relinked", |_, s| {
            fs::remove_file(s.join("link")).unwrap();
            std::os::unix::fs::symlink("b.txt", s.join("link")).unwrap();
        }),
    ];
    for (name, change) in cases {
        run_ok(&t, &r, &["run", name, "--", "true"]);
        change(&t, &path_of(&t, &r, name));
    }
    let l = listed(&t, &r);
    for (name, _) in cases {
        let s = l.as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
        let git_says = !status(&t, Path::new(s["path"].as_str().unwrap())).is_empty();
        assert_eq!(s["dirty"], git_says, "{name}");
        let expected = !matches!(name, "untouched" | "ignored" | "empty-dir");
        assert_eq!(git_says, expected, "{name}: the case tests what it says");
    }
}

#[test]
fn commands_run_inside_a_sandbox_act_on_the_original_repository() {
    let t = TestEnv::new();
    let r = workspace(&t);
    run_ok(&t, &r, &["run", "outer", "--", "true"]);
    let s = path_of(&t, &r, "outer");
    let from_inside = listed(&t, &s);
    assert_eq!(from_inside.as_array().unwrap().len(), 1);
    run_ok(&t, &s, &["run", "sibling", "--", "true"]);
    let p = path_of(&t, &r, "sibling");
    assert!(!p.starts_with(&s), "never nested inside the sandbox it was run from");
}

#[test]
fn an_issue_records_the_sandbox_and_its_commit() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let id = t.create(&r, "fix it");
    run_ok(
        &t,
        &r,
        &[
            "run",
            "fix",
            "--issue",
            &id[..8],
            "--sh",
            "--commit",
            "the fix",
            "--",
            "echo x > x.txt",
        ],
    );
    let show = t.json("issue", &r, &["show", &id]);
    let bodies: Vec<&str> = show["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].starts_with("sandbox fix: started on branch sandbox/fix"));
    assert!(bodies[1].starts_with("sandbox fix: committed "));
}

#[test]
fn the_reflink_backend_is_used_where_the_filesystem_has_it() {
    let t = TestEnv::new();
    let r = workspace(&t);
    let probe = grit::sandbox::copy::probe_reflink(t.tmp.path());
    if !probe {
        eprintln!("skipped: this filesystem has no reflinks (FICLONE); the copy backend covers it");
        return;
    }
    run_ok(&t, &r, &["run", "rl", "--backend", "reflink", "--", "true"]);
    assert_eq!(listed(&t, &r)[0]["backend"], "reflink");
}

#[test]
fn the_overlay_backend_shares_one_base_layer_and_never_writes_it() {
    let t = TestEnv::new();
    let r = workspace(&t);
    if let Err(e) = grit::sandbox::overlay::probe(t.tmp.path()) {
        eprintln!("skipped: this process cannot mount an overlay here ({e}); the copy backend covers it");
        return;
    }
    run_ok(&t, &r, &["run", "o1", "--backend", "overlay", "--", "true"]);
    run_ok(&t, &r, &["run", "o2", "--backend", "overlay", "--", "true"]);
    let (o1, o2) = (path_of(&t, &r, "o1"), path_of(&t, &r, "o2"));
    assert!(grit::sandbox::overlay::is_mounted(&o1) && grit::sandbox::overlay::is_mounted(&o2));
    for s in [&o1, &o2] {
        assert_eq!(status(&t, s), status(&t, &r), "git status reads the same");
        for p in ["src/main.rs", "src/lib.rs", "target/debug/app", ".env", "notes.txt"] {
            let (a, b) = (fs::metadata(r.join(p)).unwrap(), fs::metadata(s.join(p)).unwrap());
            assert_eq!(fs::read(r.join(p)).unwrap(), fs::read(s.join(p)).unwrap(), "{p}");
            assert_eq!((a.mtime(), a.mode()), (b.mtime(), b.mode()), "{p}");
        }
    }
    let repo_dirs: Vec<_> = fs::read_dir(t.tmp.path().join("data/grit/sandboxes"))
        .unwrap()
        .flatten()
        .collect();
    let layers: Vec<_> = fs::read_dir(repo_dirs[0].path().join(".layers"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(layers.len(), 1, "one base layer for both");
    fs::write(o1.join("src/main.rs"), "written in o1").unwrap();
    fs::write(o1.join("target/debug/app"), "rebuilt in o1").unwrap();
    assert_eq!(fs::read_to_string(o2.join("src/main.rs")).unwrap(), "fn main() {}\n");
    assert_eq!(
        fs::read_to_string(layers[0].path().join("tree/target/debug/app")).unwrap(),
        "binary",
        "the base layer is never written"
    );
    run_ok(&t, &r, &["rm", "o1", "--force"]);
    run_ok(&t, &r, &["rm", "o2", "--force"]);
    assert!(!grit::sandbox::overlay::is_mounted(&o1) && !grit::sandbox::overlay::is_mounted(&o2));
    assert_eq!(t.git(&r, &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn hard_links_in_ignored_build_output_survive_every_backend() {
    let t = TestEnv::new();
    let r = workspace(&t);
    // As `cargo build` leaves them: the same file under deps/ and at the top of target/.
    fs::write(r.join("target/debug/libdep.rlib"), vec![1u8; 50_000]).unwrap();
    fs::create_dir_all(r.join("target/debug/deps")).unwrap();
    fs::hard_link(
        r.join("target/debug/libdep.rlib"),
        r.join("target/debug/deps/libdep-1.rlib"),
    )
    .unwrap();
    fs::hard_link(r.join("target/debug/app"), r.join("target/debug/deps/app-1")).unwrap();
    let mut backends = vec!["copy"];
    if grit::sandbox::copy::probe_reflink(t.tmp.path()) {
        backends.push("reflink");
    } else {
        eprintln!("reflink not checked: this filesystem has no reflinks (FICLONE)");
    }
    match grit::sandbox::overlay::probe(t.tmp.path()) {
        Ok(()) => backends.push("overlay"),
        Err(e) => eprintln!("overlay not checked: this process cannot mount an overlay here ({e})"),
    }
    for backend in backends {
        let name = format!("hl-{backend}");
        run_ok(&t, &r, &["run", &name, "--backend", backend, "--", "true"]);
        let s = path_of(&t, &r, &name);
        let ino = |p: &str| fs::metadata(s.join(p)).unwrap().ino();
        assert_eq!(
            ino("target/debug/libdep.rlib"),
            ino("target/debug/deps/libdep-1.rlib"),
            "{backend}: one file, two names"
        );
        assert_eq!(ino("target/debug/app"), ino("target/debug/deps/app-1"), "{backend}");
        assert_ne!(ino("target/debug/app"), ino("target/debug/libdep.rlib"), "{backend}");
        assert_eq!(
            fs::metadata(s.join("target/debug/app")).unwrap().nlink(),
            2,
            "{backend}"
        );
        // Removed, so an overlay's mount does not outlive the test's directory.
        run_ok(&t, &r, &["rm", "--force", &name]);
    }
}

#[test]
fn overlay_layers_are_counted_collected_and_capped() {
    let t = TestEnv::new();
    let r = workspace(&t);
    if let Err(e) = grit::sandbox::overlay::probe(t.tmp.path()) {
        eprintln!("skipped: this process cannot mount an overlay here ({e}); layers exist only for overlays");
        return;
    }
    let layers = |t: &TestEnv| -> Vec<String> {
        let root = fs::read_dir(t.tmp.path().join("data/grit/sandboxes"))
            .unwrap()
            .flatten()
            .next()
            .unwrap();
        let mut v: Vec<String> = fs::read_dir(root.path().join(".layers"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    run_ok(&t, &r, &["run", "o1", "--backend", "overlay", "--", "true"]);
    run_ok(&t, &r, &["run", "o2", "--backend", "overlay", "--", "true"]);
    assert_eq!(layers(&t).len(), 1);
    run_ok(&t, &r, &["rm", "o1", "--force"]);
    assert_eq!(layers(&t).len(), 1, "o2 still stands on it");
    let gc: Value = serde_json::from_str(&run_ok(&t, &r, &["gc", "--json"])).unwrap();
    assert_eq!(gc["kept"][0]["sandboxes"], serde_json::json!(["o2"]));
    assert!(gc["kept"][0]["bytes"].as_u64().unwrap() > 0);
    run_ok(&t, &r, &["rm", "o2", "--force"]);
    assert!(layers(&t).is_empty(), "the last user frees it");

    // A cache keeps unused layers up to its size, the most recently used first.
    t.git(&r, &["config", "sandbox.layerCacheSize", "1g"]);
    run_ok(&t, &r, &["run", "o3", "--backend", "overlay", "--", "true"]);
    run_ok(&t, &r, &["rm", "o3", "--force"]);
    assert_eq!(layers(&t).len(), 1, "kept as a cache");
    // What an interrupted creation left behind goes too.
    let root = fs::read_dir(t.tmp.path().join("data/grit/sandboxes"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    fs::create_dir_all(root.path().join(".layers/.tmp-999999999-1/tree")).unwrap();
    t.git(&r, &["config", "sandbox.layerCacheSize", "0"]);
    let out = run_ok(&t, &r, &["gc"]);
    assert!(
        out.contains("removed 1 unused base layer") && out.contains("1 half-built"),
        "{out}"
    );
    assert!(layers(&t).is_empty());
    t.git(&r, &["config", "sandbox.layerCacheSize", "lots"]);
    let bad = sb(&t, &r).args(["gc"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_early_ctrl_c_says_so_and_leaves_no_probe_behind() {
    let t = TestEnv::new();
    let r = workspace(&t);
    let root_of = |t: &TestEnv| -> Option<PathBuf> {
        fs::read_dir(t.tmp.path().join("data/grit/sandboxes"))
            .ok()?
            .flatten()
            .next()
            .map(|e| e.path())
    };
    // (A signal in the first milliseconds, before the program runs at all, kills it as it
    // kills any program.)
    for delay_ms in [20, 25, 30, 40, 60] {
        let mut c = t.std_cmd("sandbox", &r);
        for (k, v) in sandbox_env(&t) {
            c.env(k, v);
        }
        let child = c
            .env("GRIT_TEST_SANDBOX_PAUSE_MS", "3000")
            .args(["run", "early", "--backend", "overlay", "--", "true"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "after {delay_ms} ms: {err}");
        assert!(err.contains("interrupted"), "after {delay_ms} ms, it says so: {err:?}");
        if let Some(root) = root_of(&t) {
            let left: Vec<String> = fs::read_dir(&root)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("probe"))
                .collect();
            assert!(left.is_empty(), "after {delay_ms} ms: {left:?}");
        }
    }
    // Probes of a process killed outright are removed by the next command.
    run_ok(&t, &r, &["list"]);
    let root = root_of(&t).unwrap_or_else(|| t.tmp.path().join("data/grit/sandboxes/x"));
    fs::create_dir_all(root.join(".overlay-probe-999999999/m")).unwrap();
    fs::write(root.join(".grit-probe-999999999.clone"), "").unwrap();
    fs::create_dir_all(r.join(".git")).unwrap();
    run_ok(&t, &r, &["list"]);
    assert!(!root.join(".overlay-probe-999999999").exists());
    assert!(!root.join(".grit-probe-999999999.clone").exists());
}

#[test]
fn changes_carried_from_a_dirty_main_tree_are_not_the_sandboxes_own() {
    let t = TestEnv::new();
    let r = two_file_repo(&t);
    // The user's local edits and scratch files, as they are when agents start.
    fs::write(r.join("a.txt"), "a, edited locally\n").unwrap();
    fs::write(r.join("notes.txt"), "my notes\n").unwrap();
    for i in 0..3 {
        run_ok(&t, &r, &["run", &format!("idle{i}"), "--", "true"]);
    }
    let l = listed(&t, &r);
    assert!(l.as_array().unwrap().iter().all(|s| s["dirty"] == false), "{l}");
    let d = run_ok(&t, &r, &["diff", "idle0"]);
    assert!(d.is_empty(), "nothing of its own: {d}");
    run_ok(&t, &r, &["rm", "idle0"]);
    let cleaned: Value = serde_json::from_str(&run_ok(&t, &r, &["clean", "--json"])).unwrap();
    assert_eq!(cleaned["removed"], serde_json::json!(["idle1", "idle2"]));

    // A sandbox that works: its own change is what diff shows and commit takes.
    run_ok(&t, &r, &["run", "w", "--sh", "--", "echo fixed > b.txt"]);
    let w = path_of(&t, &r, "w");
    assert_eq!(
        fs::read_to_string(w.join("notes.txt")).unwrap(),
        "my notes\n",
        "carried along"
    );
    let d = run_ok(&t, &r, &["diff", "w", "--stat"]);
    assert!(
        d.contains("b.txt") && !d.contains("a.txt") && !d.contains("notes.txt"),
        "{d}"
    );
    let out = sb(&t, &r).args(["commit", "w", "-m", "fix b"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("carried from the main tree stays uncommitted"));
    let files = t.git(&r, &["show", "--name-only", "--format=", "sandbox/w"]);
    assert_eq!(files, "b.txt\n", "only the sandbox's own change is committed");
    run_ok(&t, &r, &["verify", "sandbox/w"]);
    assert_eq!(listed(&t, &r)[0]["dirty"], false);
    // It merges into the dirty main tree: the local edits are not in its way.
    run_ok(&t, &r, &["merge", "w"]);
    assert_eq!(fs::read_to_string(r.join("b.txt")).unwrap(), "fixed\n");
    assert_eq!(fs::read_to_string(r.join("a.txt")).unwrap(), "a, edited locally\n");
    assert_eq!(fs::read_to_string(r.join("notes.txt")).unwrap(), "my notes\n");

    // When a local edit is in the way, the hint says so, not "conflicts".
    run_ok(
        &t,
        &r,
        &["run", "x", "--sh", "--commit", "touch a", "--", "echo theirs > a.txt"],
    );
    let files = t.git(&r, &["show", "--name-only", "--format=", "sandbox/x"]);
    assert_eq!(files, "a.txt\n");
    let out = sb(&t, &r).args(["merge", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uncommitted changes to those files are in the way"),
        "{err}"
    );
    assert!(!err.contains("merge --abort"), "{err}");
    let preview = sb(&t, &r).args(["merge", "x", "--preview"]).output().unwrap();
    assert_eq!(
        preview.status.code(),
        Some(0),
        "x merges cleanly with the committed tree"
    );
    // --include-carried takes everything.
    run_ok(&t, &r, &["run", "all", "--", "true"]);
    run_ok(&t, &r, &["commit", "all", "-m", "everything", "--include-carried"]);
    let files = t.git(&r, &["show", "--name-only", "--format=", "sandbox/all"]);
    assert_eq!(files, "a.txt\nnotes.txt\n");
    // A carried file the sandbox removed is committed as removed, and then nothing is left.
    run_ok(&t, &r, &["run", "gone", "--", "rm", "notes.txt"]);
    run_ok(&t, &r, &["commit", "gone", "-m", "no notes", "--include-carried"]);
    let gone = listed(&t, &r)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "gone")
        .cloned()
        .unwrap();
    assert_eq!(gone["dirty"], false, "{gone}");
}

#[test]
fn merge_preview_lists_conflicts_and_rebase_fast_forwards() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(
        &t,
        &r,
        &["run", "c", "--sh", "--commit", "theirs", "--", "echo theirs > a.txt"],
    );
    run_ok(
        &t,
        &r,
        &["run", "f", "--sh", "--commit", "new file", "--", "echo f > f.txt"],
    );
    fs::write(r.join("a.txt"), "ours\n").unwrap();
    t.git(&r, &["commit", "-q", "-am", "ours"]);
    let head = t.git(&r, &["rev-parse", "HEAD"]);
    let out = sb(&t, &r).args(["merge", "c", "--preview"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "conflicts: exit 1, as git merge-tree");
    assert!(String::from_utf8_lossy(&out.stdout).contains("a.txt"));
    let v: Value = serde_json::from_str(&run_ok(&t, &r, &["merge", "c", "--preview", "--json"])).unwrap();
    assert_eq!(v["clean"], false);
    assert_eq!(v["conflicts"], serde_json::json!(["a.txt"]));
    assert_eq!(t.git(&r, &["rev-parse", "HEAD"]), head, "a preview changes nothing");
    assert_eq!(t.git(&r, &["status", "--porcelain"]), "");
    // A rebase leaves a straight line: the sandbox's commit on top, no merge commit.
    let v: Value = serde_json::from_str(&run_ok(&t, &r, &["merge", "f", "--rebase", "--json"])).unwrap();
    assert_eq!(v["fast_forward"], true, "{v}");
    assert_eq!(t.git(&r, &["log", "--format=%s", "-2"]), "new file\nours\n");
    // A rebase that conflicts is undone.
    let out = sb(&t, &r).args(["merge", "c", "--rebase"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("it was undone"));
    let c = path_of(&t, &r, "c");
    assert_eq!(t.git(&c, &["status", "--porcelain"]), "", "no rebase left half done");
}

#[test]
fn repeat_runs_the_last_command_again_with_its_environment() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    let run = sb(&t, &r)
        .args([
            "run",
            "rep",
            "--json",
            "--sh",
            "--env",
            "WHO=ann",
            "--",
            "echo $WHO; echo $WHO >> runs.txt; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    let out: Value = serde_json::from_slice(&run.stdout)
        .expect("run --json prints one document, the command's output goes to stderr");
    assert!(String::from_utf8_lossy(&run.stderr).contains("ann"));
    assert_eq!(out["exit_code"], 3);
    assert_eq!(out["after"], "kept");
    let s = path_of(&t, &r, "rep");
    let repeat = sb(&t, &r).args(["repeat", "rep", "--json"]).output().unwrap();
    assert_eq!(repeat.status.code(), Some(3), "its exit code passes through");
    let v: Value = serde_json::from_slice(&repeat.stdout).unwrap();
    assert_eq!(v["exit_code"], 3);
    assert_eq!(fs::read_to_string(s.join("runs.txt")).unwrap(), "ann\nann\n");
    let l = listed(&t, &r);
    assert_eq!(l[0]["last_run"]["exit_code"], 3, "{l}");
    assert_eq!(l[0]["last_run"]["env"], serde_json::json!([["WHO", "ann"]]));
    // exec records a run too, which repeat then repeats.
    sb(&t, &r)
        .args(["exec", "rep", "--sh", "--", "echo exec >> runs.txt"])
        .assert()
        .success();
    sb(&t, &r).args(["repeat", "rep"]).assert().success();
    assert_eq!(
        fs::read_to_string(s.join("runs.txt")).unwrap(),
        "ann\nann\nexec\nexec\n"
    );
    run_ok(&t, &r, &["run", "fresh", "--", "true"]);
    // `true` ran in it: repeat has something; a sandbox where nothing ran says so.
    sb(&t, &r).args(["repeat", "fresh"]).assert().success();
}

#[test]
fn templates_bring_their_files_setup_and_environment() {
    let t = TestEnv::new();
    let r = workspace(&t);
    t.git(&r, &["config", "sandbox.template.rust.include", "target/"]);
    t.git(
        &r,
        &["config", "sandbox.template.rust.setup", "echo set up > setup.txt"],
    );
    t.git(&r, &["config", "--add", "sandbox.template.rust.env", "PROFILE=ci"]);
    t.git(&r, &["config", "sandbox.template.rust.backend", "copy"]);
    run_ok(
        &t,
        &r,
        &[
            "run",
            "tpl",
            "--template",
            "rust",
            "--sh",
            "--",
            "echo $PROFILE > profile.txt",
        ],
    );
    let s = path_of(&t, &r, "tpl");
    assert!(s.join("target/debug/app").is_file(), "the included build output came");
    assert!(!s.join(".env").exists(), "ignored files outside the includes did not");
    assert!(!s.join("web/node_modules").exists());
    assert_eq!(fs::read_to_string(s.join("setup.txt")).unwrap(), "set up\n");
    assert_eq!(fs::read_to_string(s.join("profile.txt")).unwrap(), "ci\n");
    assert_eq!(listed(&t, &r)[0]["backend"], "copy");
    // sandbox.defaultTemplate applies without --template.
    t.git(&r, &["config", "sandbox.defaultTemplate", "rust"]);
    run_ok(&t, &r, &["run", "dflt", "--", "true"]);
    assert!(path_of(&t, &r, "dflt").join("setup.txt").is_file());
    let out = sb(&t, &r)
        .args(["run", "x", "--template", "nope", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sandbox template 'nope'"));
}

#[test]
fn a_matrix_runs_one_sandbox_per_item_and_sums_them_up() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for c in ["alpha", "beta", "gamma", "delta"] {
        fs::create_dir_all(r.join("crates").join(c)).unwrap();
        fs::write(r.join("crates").join(c).join("lib.rs"), c).unwrap();
    }
    fs::write(r.join("README"), "r").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    let out = sb(&t, &r)
        .args([
            "run",
            "m",
            "--matrix",
            "crates/*",
            "-j",
            "2",
            "--json",
            "--commit",
            "touch {match}",
            "--sh",
            "--",
            "echo $GRIT_MATRIX_ITEM > done.txt; test {match} != crates/gamma",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one item failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items: Vec<(&str, i64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["item"].as_str().unwrap(), i["exit_code"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        items,
        [
            ("crates/alpha", 0),
            ("crates/beta", 0),
            ("crates/delta", 0),
            ("crates/gamma", 1)
        ]
    );
    for (item, branch) in [
        ("crates/alpha", "sandbox/m-crates-alpha"),
        ("crates/gamma", "sandbox/m-crates-gamma"),
    ] {
        let shown = t.git(&r, &["show", &format!("{branch}:done.txt")]);
        assert_eq!(shown.trim(), item, "each item's change is on its own branch");
        let subject = t.git(&r, &["log", "-1", "--format=%s", branch]);
        assert_eq!(subject.trim(), format!("touch {item}"));
    }
    let text = sb(&t, &r)
        .args(["run", "n", "--matrix", "crates/*", "--discard", "--", "true"])
        .output()
        .unwrap();
    assert!(text.status.success());
    let table = String::from_utf8_lossy(&text.stdout);
    assert!(table.starts_with("ITEM") && table.contains("crates/delta"), "{table}");
    assert!(
        listed(&t, &r)
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["name"].as_str().unwrap().starts_with("n-"))
    );
}

#[test]
fn sync_brings_the_base_branch_in() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(&t, &r, &["run", "s", "--sh", "--", "echo mine > mine.txt"]);
    fs::write(r.join("b.txt"), "b\n").unwrap();
    t.git(&r, &["add", "b.txt"]);
    t.git(&r, &["commit", "-q", "-m", "b"]);
    let s = path_of(&t, &r, "s");
    assert!(!s.join("b.txt").exists());
    let out = run_ok(&t, &r, &["sync", "s"]);
    assert!(out.contains("brought"), "{out}");
    assert!(s.join("b.txt").exists());
    assert!(s.join("mine.txt").exists(), "its own work stays");
    // sandbox.autosync does it before exec.
    fs::write(r.join("c.txt"), "c\n").unwrap();
    t.git(&r, &["add", "c.txt"]);
    t.git(&r, &["commit", "-q", "-m", "c"]);
    t.git(&r, &["config", "sandbox.autosync", "true"]);
    sb(&t, &r)
        .args(["exec", "s", "--", "test", "-f", "c.txt"])
        .assert()
        .success();
}

#[test]
fn commits_carry_signed_provenance_that_verify_checks() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(
        &t,
        &r,
        &[
            "run",
            "p",
            "--sh",
            "--commit",
            "made by a tool",
            "--",
            "echo made > made.txt",
        ],
    );
    let msg = t.git(&r, &["log", "-1", "--format=%B", "sandbox/p"]);
    assert!(msg.starts_with("made by a tool\n\nSandbox-Provenance: "), "{msg}");
    let v: Value = serde_json::from_str(&run_ok(&t, &r, &["verify", "sandbox/p", "--json"])).unwrap();
    assert_eq!(v[0]["ok"], true, "{v}");
    assert_eq!(v[0]["provenance"]["cmd"], serde_json::json!(["echo made > made.txt"]));
    assert_eq!(v[0]["provenance"]["exit_code"], 0);
    assert_eq!(v[0]["provenance"]["isolation"], "none");
    let head = t.git(&r, &["rev-parse", "HEAD"]);
    assert_eq!(v[0]["provenance"]["base"].as_str().unwrap(), head.trim());
    // Tampering with the record: exit 4.
    let tampered = msg.replacen("Sandbox-Provenance: ", "Sandbox-Provenance: A", 1);
    let c = t.git(
        &r,
        &["commit-tree", "sandbox/p^{tree}", "-p", "sandbox/p^", "-m", &tampered],
    );
    sb(&t, &r).args(["verify", c.trim()]).assert().code(4);
    // The same record on other content: exit 4 too.
    fs::write(r.join("other.txt"), "x").unwrap();
    t.git(&r, &["add", "other.txt"]);
    let tree = t.git(&r, &["write-tree"]);
    let moved = t.git(&r, &["commit-tree", tree.trim(), "-p", "HEAD", "-m", &msg]);
    let out = sb(&t, &r).args(["verify", moved.trim()]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the record is for tree"));
    // A commit without one: exit 1.
    sb(&t, &r).args(["verify", "HEAD"]).assert().code(1);
    // sandbox.provenance=false leaves it out.
    t.git(&r, &["config", "sandbox.provenance", "false"]);
    run_ok(
        &t,
        &r,
        &["run", "q", "--sh", "--commit", "plain", "--", "echo q > q.txt"],
    );
    assert_eq!(t.git(&r, &["log", "-1", "--format=%B", "sandbox/q"]).trim(), "plain");
}

#[test]
fn isolate_keeps_the_command_off_the_network_and_out_of_the_rest_of_the_disk() {
    isolation_through(None);
}

/// bubblewrap binds every mount of the machine, then makes each read-only one by one: a mount
/// that goes in between (another sandbox removed) fails its setup before the command starts.
/// Such a run is set up again; a setup that fails with the mounts unchanged is not, and says
/// why once.
#[test]
fn an_isolated_run_whose_setup_lost_a_race_with_a_mount_is_set_up_again() {
    use grit::ops::sandboxes::{argv, command_in, run_line};
    use std::cell::RefCell;
    let t = TestEnv::new();
    if let Err(e) = grit::sandbox::isolate::choose(Some("bwrap")) {
        eprintln!("skipped: bubblewrap cannot isolate here ({e})");
        return;
    }
    let m = t.tmp.path().join("m");
    fs::create_dir_all(&m).unwrap();
    let mount = |on: bool| {
        let mut c = std::process::Command::new(if on { "mount" } else { "umount" });
        if on {
            c.args(["-t", "tmpfs", "none"]);
        }
        c.arg(&m).status().is_ok_and(|s| s.success())
    };
    if !mount(true) {
        eprintln!("skipped: this process cannot mount a tmpfs here");
        return;
    }
    assert!(mount(false));
    let dir = t.tmp.path().join("work");
    fs::create_dir_all(&dir).unwrap();
    // A path to bind that is not there makes a setup fail before the command, on every try
    // until it is made.
    let later = t.tmp.path().join("later");
    let iso = grit::sandbox::isolate::Isolate {
        allow: vec![later.clone()],
        ..Default::default()
    };
    let cmd = ["sh".to_owned(), "-c".to_owned(), "exit 0".to_owned()];
    let line = argv(&dir, &cmd, false, Some(&iso)).unwrap();
    let notes = RefCell::new(Vec::<String>::new());
    let note = |n: &str| notes.borrow_mut().push(n.to_owned());
    // The first try: a mount comes and goes while it runs (as another sandbox's removal does),
    // and its setup fails. The second finds the path.
    let mut tries = 0;
    let mut p = command_in(&dir, &line, &[], Some(&[])).unwrap();
    let status = run_line(
        &line,
        &mut p,
        |p| {
            tries += 1;
            if tries == 1 {
                assert!(mount(true) && mount(false));
            } else {
                fs::create_dir_all(&later).unwrap();
            }
            p.status()
        },
        &note,
    )
    .unwrap();
    assert!(status.success(), "set up again, and ran");
    assert_eq!(tries, 2);
    assert_eq!(notes.borrow().len(), 1, "{:?}", notes.borrow());
    assert!(notes.borrow()[0].contains("set up"), "{:?}", notes.borrow());
    // With the mounts left alone, a failed setup is the run's end: once, no note.
    fs::remove_dir(&later).unwrap();
    notes.borrow_mut().clear();
    let mut tries = 0;
    let status = run_line(
        &line,
        &mut p,
        |p| {
            tries += 1;
            p.status()
        },
        &note,
    )
    .unwrap();
    assert_eq!((status.code(), tries), (Some(1), 1));
    assert!(notes.borrow().is_empty(), "{:?}", notes.borrow());
}

/// Many at once: isolated runs in one sandbox while another process creates and removes overlay
/// sandboxes beside it. Every run runs.
#[test]
fn isolated_runs_go_on_while_other_sandboxes_come_and_go() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    if let Err(e) = grit::sandbox::isolate::choose(Some("bwrap")) {
        eprintln!("skipped: bubblewrap cannot isolate here ({e})");
        return;
    }
    if let Err(e) = grit::sandbox::overlay::probe(t.tmp.path()) {
        eprintln!("skipped: this process cannot mount an overlay here ({e})");
        return;
    }
    run_ok(&t, &r, &["run", "steady", "--keep", "--", "true"]);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..6 {
                let name = format!("o{i}");
                run_ok(&t, &r, &["run", &name, "--backend", "overlay", "--keep", "--", "true"]);
                run_ok(&t, &r, &["rm", &name, "--force"]);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut runs = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || runs < 10 {
            let out = sb(&t, &r)
                .args(["exec", "steady", "--isolate", "--", "true"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "run {runs}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            runs += 1;
        }
    });
}

/// The same through util-linux's `unshare`, as where bubblewrap is not installed.
#[test]
fn isolate_through_unshare_keeps_the_command_off_the_network_and_out_of_the_rest_of_the_disk() {
    isolation_through(Some("unshare"));
}

fn isolation_through(with: Option<&str>) {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    if let Some(with) = with {
        t.git(&r, &["config", "sandbox.isolateWith", with]);
    }
    // Outside /tmp: inside, /tmp is a private one.
    let outside = PathBuf::from(format!(
        "/var/tmp/grit-isolate-test-{}-{}",
        std::process::id(),
        with.unwrap_or("auto")
    ));
    let _ = fs::remove_file(&outside);
    if let Err(e) = grit::sandbox::isolate::choose(with) {
        // Missing permission (or bubblewrap) refuses to run: never unisolated.
        let out = sb(&t, &r)
            .args([
                "run",
                "i",
                "--isolate",
                "--sh",
                "--",
                &format!("touch {}", outside.display()),
            ])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
        assert!(!outside.exists(), "nothing ran");
        eprintln!("skipped the rest: isolation is not possible here ({e})");
        return;
    }
    // A server on the host's loopback: reachable without isolation, not with it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo reached");
    let plain = sb(&t, &r)
        .args(["run", "n0", "--", "bash", "-c", &probe])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&plain.stdout).contains("reached"),
        "the test's server answers"
    );
    let isolated = sb(&t, &r)
        .args(["run", "n1", "--isolate", "--", "bash", "-c", &probe])
        .output()
        .unwrap();
    assert_ne!(isolated.status.code(), Some(0), "no network inside");
    let with_net = sb(&t, &r)
        .args(["run", "n2", "--isolate", "--net", "--", "bash", "-c", &probe])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&with_net.stdout).contains("reached"),
        "--net keeps it"
    );
    // Writing outside the sandbox fails; inside and /tmp work.
    let w = sb(&t, &r)
        .args([
            "run",
            "w",
            "--isolate",
            "--sh",
            "--",
            &format!(
                "touch inside.txt && touch /tmp/private && ! touch {} 2>/dev/null",
                outside.display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(w.status.code(), Some(0), "{}", String::from_utf8_lossy(&w.stderr));
    assert!(!outside.exists());
    assert!(!Path::new("/tmp/private").exists(), "its /tmp was its own");
    assert!(path_of(&t, &r, "w").join("inside.txt").exists());
    // git works inside (its worktree directory is writable), and the run is recorded as isolated.
    sb(&t, &r)
        .args(["exec", "w", "--isolate", "--", "git", "status", "--short"])
        .assert()
        .success();
    let l = listed(&t, &r);
    let w = l.as_array().unwrap().iter().find(|s| s["name"] == "w").unwrap();
    assert_eq!(w["last_run"]["isolation"], with.unwrap_or("bwrap"));
    // --allow adds a writable path.
    let extra = t.tmp.path().join("extra");
    fs::create_dir_all(&extra).unwrap();
    let a = sb(&t, &r)
        .args([
            "exec",
            "w",
            "--isolate",
            "--allow",
            extra.to_str().unwrap(),
            "--sh",
            "--",
            &format!("touch {}/ok", extra.display()),
        ])
        .output()
        .unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(extra.join("ok").exists());
}

#[test]
fn watch_reruns_once_per_change_and_once_per_burst() {
    let t = TestEnv::new();
    let r = t.repo("r");
    fs::write(r.join(".gitignore"), "target/\n").unwrap();
    fs::write(r.join("a.txt"), "a\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    run_ok(&t, &r, &["run", "w", "--", "true"]);
    let s = path_of(&t, &r, "w");
    let mut c = t.std_cmd("sandbox", &r);
    for (k, v) in sandbox_env(&t) {
        c.env(k, v);
    }
    // The command counts its runs in an ignored file, so its own write starts nothing.
    let child = c
        .args([
            "watch",
            "w",
            "--debounce",
            "300",
            "--sh",
            "--",
            "mkdir -p target; echo run >> target/runs",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let runs = || {
        fs::read_to_string(s.join("target/runs"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let wait_for = |n: usize| {
        let start = std::time::Instant::now();
        while runs() < n && start.elapsed().as_secs() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        runs()
    };
    assert_eq!(wait_for(1), 1, "it runs once at the start");
    std::thread::sleep(std::time::Duration::from_millis(400));
    fs::write(s.join("a.txt"), "changed\n").unwrap();
    assert_eq!(wait_for(2), 2, "a change: one rerun");
    std::thread::sleep(std::time::Duration::from_millis(400));
    for i in 0..20 {
        fs::write(s.join(format!("burst-{i}.txt")), "x").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(wait_for(3), 3);
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(runs(), 3, "a burst: one rerun");
    // Changes under .git and in ignored directories do not count.
    fs::write(s.join("target/junk"), "x").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(runs(), 3);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run 2 (a.txt)"), "{err}");
    assert_eq!(
        listed(&t, &r)[0]["last_run"]["cmd"],
        serde_json::json!(["mkdir -p target; echo run >> target/runs"])
    );
}

/// `open --editor` starts $VISUAL or $EDITOR (a command line, as git runs it) in the sandbox, on
/// the sandbox's directory; with neither set, nor core.editor, it says what to set.
#[test]
fn open_with_editor_starts_the_editor_in_the_sandbox() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(&t, &r, &["run", "ed", "--keep", "--", "true"]);
    let s = path_of(&t, &r, "ed");
    let out = sb(&t, &r)
        .env("EDITOR", "sh -c 'pwd > opened-here' editor")
        .env_remove("VISUAL")
        .args(["open", "ed", "--editor"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let opened = fs::read_to_string(s.join("opened-here")).unwrap();
    assert_eq!(
        Path::new(opened.trim()).canonicalize().unwrap(),
        s.canonicalize().unwrap()
    );
    let out = sb(&t, &r)
        .env_remove("EDITOR")
        .env_remove("VISUAL")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["open", "ed", "--editor"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no editor is set") && err.contains("hint:"), "{err}");
}

#[test]
fn the_default_action_is_honoured_without_a_terminal_and_sandbox_default_action_sets_it() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    let out = sb(&t, &r)
        .args(["run", "d1", "--default", "discard", "--", "true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(t.json("sandbox", &r, &["list"]), serde_json::json!([]), "discarded");
    t.git(&r, &["config", "sandbox.defaultAction", "discard"]);
    run_ok(&t, &r, &["run", "d2", "--", "true"]);
    assert_eq!(
        t.json("sandbox", &r, &["list"]),
        serde_json::json!([]),
        "discarded by config"
    );
    t.git(&r, &["config", "--unset", "sandbox.defaultAction"]);
    let out = sb(&t, &r).args(["run", "d3", "--", "true"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no terminal to ask"));
    assert_eq!(t.json("sandbox", &r, &["list"])[0]["name"], "d3", "kept, and said so");
}

/// `list` for a person: a header and colour with `--color always` (as on a terminal); for a
/// pipe, the rows alone; NO_COLOR and `--color never` turn colour off.
#[test]
fn list_has_a_header_and_colour_for_a_person_and_plain_rows_for_a_pipe() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(&t, &r, &["run", "neat", "--", "true"]);
    run_ok(&t, &r, &["run", "messy", "--sh", "--", "echo x > new.txt"]);
    let plain = run_ok(&t, &r, &["list"]);
    assert_eq!(plain.lines().count(), 2, "{plain}");
    assert!(!plain.contains('\x1b') && !plain.contains("NAME"), "{plain}");
    let coloured = run_ok(&t, &r, &["--color", "always", "list"]);
    let first = coloured.lines().next().unwrap();
    assert!(
        first.contains("NAME") && first.contains("STATE") && first.contains("PATH"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\x1b[33mdirty") && coloured.contains("\x1b[32mclean"),
        "{coloured}"
    );
    // Columns line up whatever the colour: the state starts at the same place on every line.
    let stripped: Vec<String> = coloured
        .lines()
        .map(|l| {
            let mut out = String::new();
            let mut esc = false;
            for c in l.chars() {
                match (esc, c) {
                    (false, '\x1b') => esc = true,
                    (true, 'm') => esc = false,
                    (false, c) => out.push(c),
                    _ => {}
                }
            }
            out
        })
        .collect();
    let at: Vec<usize> = stripped
        .iter()
        .map(|l| {
            l.find("STATE")
                .or_else(|| l.find("dirty"))
                .or_else(|| l.find("clean"))
                .unwrap()
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] == w[1]), "{stripped:?}");
    let never = run_ok(&t, &r, &["--color", "never", "list"]);
    assert!(!never.contains('\x1b'), "{never}");
}

/// `merge --all --plan` over sandboxes: two pairs that fight over a file each, two independent
/// ones, one that conflicts with the target and one already merged. The plan groups them, and
/// `merge --all` merges those it can in order, holds the rest, and leaves the main tree clean.
#[test]
fn merge_all_plans_groups_and_merges_what_merges_cleanly() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for f in ["f1", "f2", "f3", "f4"] {
        fs::write(r.join(f), "one\ntwo\nthree\n").unwrap();
    }
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    let change = |name: &str, line: &str| {
        run_ok(
            &t,
            &r,
            &["run", name, "--commit", &format!("{name} changes"), "--sh", "--", line],
        );
    };
    change("a1", "printf 'A\\ntwo\\nthree\\n' > f1");
    change("a2", "printf 'B\\ntwo\\nthree\\n' > f1");
    change("b1", "printf 'one\\ntwo\\nA\\n' > f2");
    change("b2", "printf 'one\\ntwo\\nB\\n' > f2");
    change("c", "printf 'one\\nC\\nthree\\n' > f3");
    change("d", "echo new > d.txt");
    change("e", "printf 'E\\ntwo\\nthree\\n' > f4");
    run_ok(&t, &r, &["run", "idle", "--", "true"]);
    // The target moves: f4's first line, which e changes too.
    fs::write(r.join("f4"), "main\ntwo\nthree\n").unwrap();
    t.git(&r, &["commit", "-q", "-am", "main changes f4"]);
    let head = t.git(&r, &["rev-parse", "HEAD"]);
    let plan: Value = serde_json::from_str(&run_ok(&t, &r, &["merge", "--all", "--plan", "--json"])).unwrap();
    assert_eq!(plan["merge"], serde_json::json!(["a1", "b1", "c", "d"]), "{plan}");
    assert_eq!(plan["held"], serde_json::json!(["a2", "b2"]), "{plan}");
    assert_eq!(
        plan["groups"],
        serde_json::json!([
            { "sandboxes": ["a1", "a2"], "files": ["f1"] },
            { "sandboxes": ["b1", "b2"], "files": ["f2"] },
        ]),
        "{plan}"
    );
    assert_eq!(plan["conflicts_with_target"][0]["name"], "e", "{plan}");
    assert_eq!(
        plan["conflicts_with_target"][0]["files"],
        serde_json::json!(["f4"]),
        "{plan}"
    );
    assert_eq!(plan["up_to_date"], serde_json::json!(["idle"]), "{plan}");
    assert_eq!(t.git(&r, &["rev-parse", "HEAD"]), head, "a plan changes nothing");
    // The merge: the four, in order; the rest untouched, the main tree clean.
    let done: Value = serde_json::from_str(&run_ok(&t, &r, &["merge", "--all", "--json"])).unwrap();
    let merged: Vec<&str> = done["merged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(merged, ["a1", "b1", "c", "d"], "{done}");
    assert_eq!(fs::read_to_string(r.join("f1")).unwrap(), "A\ntwo\nthree\n");
    assert_eq!(fs::read_to_string(r.join("f2")).unwrap(), "one\ntwo\nA\n");
    assert_eq!(fs::read_to_string(r.join("d.txt")).unwrap(), "new\n");
    assert_eq!(t.git(&r, &["status", "--porcelain"]), "", "the main tree is clean");
    // Planned again: the merged ones are up to date; a2 and b2 now conflict with the target.
    let again: Value = serde_json::from_str(&run_ok(&t, &r, &["merge", "--plan", "a2", "b2", "c", "--json"])).unwrap();
    assert_eq!(again["merge"], serde_json::json!([]), "{again}");
    assert_eq!(again["up_to_date"], serde_json::json!(["c"]), "{again}");
    let names: Vec<&str> = again["conflicts_with_target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a2", "b2"], "{again}");
    // Human output names the groups.
    let text = run_ok(&t, &r, &["merge", "--all", "--plan"]);
    assert!(text.contains("conflicts with main: a2 over f1"), "{text}");
    sb(&t, &r).args(["merge", "--preview", "a2", "b2"]).assert().code(2);
    // -S: the sandboxes of the issues a query finds.
    let id = t.json("issue", &r, &["create", "-t", "merge me", "-l", "ship"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_ok(
        &t,
        &r,
        &[
            "run",
            "s",
            "--issue",
            &id,
            "--commit",
            "s changes",
            "--sh",
            "--",
            "echo s > s.txt",
        ],
    );
    let by_issue: Value =
        serde_json::from_str(&run_ok(&t, &r, &["merge", "-S", "label:ship", "--plan", "--json"])).unwrap();
    assert_eq!(by_issue["merge"], serde_json::json!(["s"]), "{by_issue}");
    assert_eq!(by_issue["held"], serde_json::json!([]), "{by_issue}");
}

/// A run whose output is not a terminal (an agent's, a script's) is passed on as it comes and
/// kept: `logs` shows the last run's or an earlier one's, `--list` the runs; a log keeps its
/// first MiB and says how much more there was; `rm` takes the logs with the sandbox.
#[test]
fn runs_keep_their_output_and_logs_show_it() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    let out = sb(&t, &r)
        .args(["run", "s", "--sh", "--", "echo to-stdout; echo to-stderr >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("to-stdout"), "passed on");
    assert!(String::from_utf8_lossy(&out.stderr).contains("to-stderr"), "passed on");
    let log = run_ok(&t, &r, &["logs", "s"]);
    assert!(log.contains("to-stdout\n") && log.contains("to-stderr\n"), "{log}");
    run_ok(&t, &r, &["exec", "s", "--", "echo", "second run"]);
    assert_eq!(run_ok(&t, &r, &["logs", "s"]), "second run\n");
    assert!(run_ok(&t, &r, &["logs", "s", "-n", "2"]).contains("to-stdout"));
    let list = run_ok(&t, &r, &["logs", "s", "--list"]);
    assert!(
        list.contains("exit 3") && list.contains("exit 0") && list.contains("log"),
        "{list}"
    );
    let json: Value = serde_json::from_str(&run_ok(&t, &r, &["logs", "s", "--json"])).unwrap();
    assert_eq!(json["output"], "second run\n");
    sb(&t, &r).args(["logs", "s", "-n", "9"]).assert().code(2);
    // A flood is cut at 1 MiB, and says so.
    run_ok(
        &t,
        &r,
        &["exec", "s", "--sh", "--", "yes x | tr -d '\\n' | head -c 1500000"],
    );
    let big = run_ok(&t, &r, &["logs", "s"]);
    assert!(
        big.starts_with("xxxx") && big.contains("[grit: 451424 more bytes of output were not kept]"),
        "{}",
        &big[big.len() - 80..]
    );
    // The record names each log; rm takes them.
    let listed = listed(&t, &r);
    let path = PathBuf::from(listed[0]["last_run"]["log"].as_str().unwrap());
    assert!(path.exists());
    run_ok(&t, &r, &["rm", "s", "--force"]);
    assert!(!path.exists() && !path.parent().unwrap().exists());
}

/// `commit --suggest` proposes `type(scope): subject` by the documented rules: tests only,
/// docs only, a rustfmt-only change, a new public function, and the sandbox's issue as subject
/// and trailer.
#[test]
fn commit_suggest_proposes_a_conventional_message_from_the_change() {
    let t = TestEnv::new();
    let r = t.repo("r");
    fs::create_dir_all(r.join("src")).unwrap();
    fs::create_dir_all(r.join("tests")).unwrap();
    fs::write(r.join("Cargo.toml"), "[package]\nname = \"x\"\nedition = \"2021\"\n").unwrap();
    fs::write(r.join("src/lib.rs"), "fn helper() -> u32 {\n    1\n}\n").unwrap();
    fs::write(r.join("tests/t.rs"), "#[test]\nfn t() {}\n").unwrap();
    fs::write(r.join("README.md"), "# x\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    let suggest = |name: &str, change: &str| -> Value {
        run_ok(&t, &r, &["run", name, "--sh", "--", change]);
        serde_json::from_str(&run_ok(&t, &r, &["commit", name, "--suggest", "--json"])).unwrap()
    };
    let s = suggest("tests-only", "printf '#[test]\\nfn u() {}\\n' >> tests/t.rs");
    assert_eq!(
        (s["type"].as_str(), s["scope"].as_str()),
        (Some("test"), Some("tests")),
        "{s}"
    );
    let s = suggest("docs-only", "echo more >> README.md; mkdir -p docs; echo x > docs/a.md");
    assert_eq!((s["type"].as_str(), s["scope"].as_str()), (Some("docs"), None), "{s}");
    // rustfmt through rustup needs rustup's own variables (the tests' HOME is a scratch one).
    let rustup: Vec<(String, String)> = ["RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO_HOME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect();
    let with_rust = |args: &[&str]| {
        let mut c = sb(&t, &r);
        c.args(args).envs(rustup.iter().map(|(k, v)| (k, v)));
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let rustfmt = std::process::Command::new("rustfmt")
        .arg("--version")
        .envs(rustup.iter().map(|(k, v)| (k, v)))
        .output()
        .is_ok_and(|o| o.status.success());
    if rustfmt {
        // A file committed unformatted, then only formatted: layout alone changed.
        with_rust(&[
            "run",
            "messy",
            "--sh",
            "--",
            "printf 'fn helper() -> u32 { 1 }\\n' > src/lib.rs",
        ]);
        with_rust(&["commit", "messy", "-m", "messy"]);
        with_rust(&["exec", "messy", "--sh", "--", "rustfmt --edition 2021 src/lib.rs"]);
        let s: Value = serde_json::from_str(&with_rust(&["commit", "messy", "--suggest", "--json"])).unwrap();
        assert_eq!(
            (s["type"].as_str(), s["scope"].as_str()),
            (Some("style"), Some("src")),
            "{s}"
        );
    } else {
        eprintln!("skipped the style case: rustfmt cannot run here");
    }
    let s = suggest(
        "new-api",
        "printf 'pub fn parse(s: &str) -> usize {\\n    s.len()\\n}\\n' >> src/lib.rs",
    );
    assert_eq!(
        (s["type"].as_str(), s["scope"].as_str()),
        (Some("feat"), Some("src")),
        "{s}"
    );
    assert_eq!(s["subject"], "change lib.rs", "{s}");
    // With an issue: its title is the subject and it is named in a trailer.
    let id = t.json("issue", &r, &["create", "-t", "Crash on empty input", "--type", "bug"])["short_id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_ok(
        &t,
        &r,
        &[
            "run",
            "bugfix",
            "--issue",
            &id,
            "--sh",
            "--",
            "sed -i 's/1/2/' src/lib.rs",
        ],
    );
    let text = run_ok(&t, &r, &["commit", "bugfix", "--suggest"]);
    assert_eq!(text, format!("fix(src): crash on empty input\n\nFixes: {id}\n"));
    // Nothing was committed by --suggest; the message commits as it is.
    run_ok(&t, &r, &["commit", "bugfix", "-m", text.trim_end()]);
    let log = t.git(&r, &["log", "-1", "--format=%B", "sandbox/bugfix"]);
    assert!(
        log.starts_with("fix(src): crash on empty input") && log.contains(&format!("Fixes: {id}")),
        "{log}"
    );
}

/// Overlay sandboxes answer `list` from what they kept while their upper directory, index and
/// HEAD are unchanged; any change, through grit or behind its back, is checked again. Each
/// answer matches `git status` in the sandbox.
#[test]
fn overlay_list_keeps_its_answers_and_sees_every_change_behind_its_back() {
    let t = TestEnv::new();
    let r = t.repo("r");
    if let Err(e) = grit::sandbox::overlay::probe(t.tmp.path()) {
        eprintln!("skipped: this process cannot mount an overlay here ({e})");
        return;
    }
    for i in 0..20 {
        fs::write(r.join(format!("f{i}.txt")), format!("{i}\n")).unwrap();
    }
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    for n in ["a", "b", "c"] {
        run_ok(&t, &r, &["run", n, "--backend", "overlay", "--", "true"]);
    }
    let agree = |when: &str| {
        let l = listed(&t, &r);
        for s in l.as_array().unwrap() {
            let path = PathBuf::from(s["path"].as_str().unwrap());
            let status = t.git(&path, &["status", "--porcelain"]);
            assert_eq!(
                s["dirty"].as_bool().unwrap(),
                !status.is_empty(),
                "{when}: {} ({status:?})",
                s["name"]
            );
        }
        l
    };
    agree("fresh");
    for n in ["a", "b", "c"] {
        assert!(
            r.join(format!(".git/grit/sandboxes/{n}.status")).exists(),
            "{n}'s answer is kept"
        );
    }
    agree("listed again, from what was kept");
    let a = path_of(&t, &r, "a");
    let b = path_of(&t, &r, "b");
    // Behind grit's back: an edit in place, a new file, a deletion, a staged-only removal.
    fs::write(a.join("f1.txt"), "changed\n").unwrap();
    agree("edited in place");
    fs::write(a.join("f1.txt"), "1\n").unwrap();
    agree("edited back: clean again");
    fs::write(b.join("new.txt"), "n\n").unwrap();
    agree("a new file");
    fs::remove_file(b.join("new.txt")).unwrap();
    fs::remove_file(b.join("f2.txt")).unwrap();
    agree("a deletion");
    t.git(&b, &["checkout", "--", "f2.txt"]);
    agree("restored");
    let c = path_of(&t, &r, "c");
    t.git(&c, &["rm", "-q", "--cached", "f3.txt"]);
    agree("a staged removal, the work tree untouched");
    t.git(&c, &["reset", "-q"]);
    agree("unstaged");
    fs::write(c.join("f4.txt"), "committed\n").unwrap();
    t.git(&c, &["commit", "-q", "-am", "in the sandbox"]);
    agree("committed by git itself");
}

#[test]
fn isolate_runs_under_a_seccomp_filter_that_a_build_does_not_notice() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    if let Err(e) = grit::sandbox::isolate::choose(Some("bwrap")) {
        eprintln!("skipped: bubblewrap cannot isolate here ({e})");
        return;
    }
    if !crate::env::on_path("strace") || !crate::env::on_path("make") {
        eprintln!("skipped: strace or make is not installed");
        return;
    }
    fs::write(r.join("Makefile"), "out.txt: a.txt\n\tcat a.txt a.txt > out.txt\n").unwrap();
    t.git(&r, &["add", "Makefile"]);
    t.git(&r, &["commit", "-q", "-m", "make"]);
    // Each forbidden call fails inside; the line says which passed.
    let probe = "unshare -U true 2>/dev/null && echo unshare-ran; \
                 strace -f true >/dev/null 2>&1 && echo ptrace-ran; \
                 mount -t tmpfs none /tmp 2>/dev/null && echo mount-ran; \
                 seq 1 100000 | sort --parallel=4 -S 1M -n | tail -1; \
                 make -s && cat out.txt";
    let out = sb(&t, &r)
        .args(["run", "f", "--keep", "--isolate", "--sh", "--", probe])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout, "100000\na\na\n",
        "nothing forbidden ran; threads and a build did"
    );
    // Recorded, and off when asked: then a new user namespace can be made again.
    let log = t.json("sandbox", &r, &["log", "f"]);
    assert_eq!(log[0]["isolate"]["seccomp"], "default", "{log}");
    let off = sb(&t, &r)
        .args([
            "exec",
            "f",
            "--isolate",
            "--seccomp",
            "off",
            "--sh",
            "--",
            "unshare -U true && echo unshare-ran",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&off.stdout), "unshare-ran\n");
    let bad = sb(&t, &r)
        .args(["exec", "f", "--isolate", "--seccomp", "nonesuch", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("hint:"));
}

#[test]
fn named_seccomp_profiles_strict_trace_and_one_in_git_config_each_decide_what_fails() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    if let Err(e) = grit::sandbox::isolate::choose(Some("bwrap")) {
        eprintln!("skipped: bubblewrap cannot isolate here ({e})");
        return;
    }
    if !crate::env::on_path("strace") || !crate::env::on_path("setarch") {
        eprintln!("skipped: strace or setarch is not installed");
        return;
    }
    sb(&t, &r).args(["run", "f", "--keep", "--", "true"]).assert().success();
    // personality (setarch -R) and ptrace (strace): which of the two ran, under each profile.
    let probe = "setarch $(uname -m) -R true 2>/dev/null && echo personality; \
                 strace -f -o /dev/null true 2>/dev/null && echo ptrace; true";
    let under = |profile: Option<&str>| {
        let mut c = sb(&t, &r);
        c.args(["exec", "f", "--isolate"]);
        if let Some(p) = profile {
            c.args(["--seccomp", p]);
        }
        let out = c.args(["--sh", "--", probe]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(under(None), "personality\n", "default: no tracing");
    assert_eq!(under(Some("strict")), "", "strict: no personality either");
    assert_eq!(under(Some("trace")), "personality\nptrace\n", "trace: a debugger runs");
    // One of the team's own: trace, without personality; named by sandbox.seccomp too.
    t.git(&r, &["config", "sandbox.seccomp.debug.extends", "trace"]);
    t.git(
        &r,
        &["config", "sandbox.seccomp.debug.deny", "personality, io_uring_setup"],
    );
    assert_eq!(under(Some("debug")), "ptrace\n");
    t.git(&r, &["config", "sandbox.seccomp", "debug"]);
    assert_eq!(under(None), "ptrace\n");
    let log = t.json("sandbox", &r, &["log", "f"]);
    let last = &log[log.as_array().unwrap().len() - 1]["isolate"]["seccomp"];
    assert_eq!(last["name"], "debug", "{log}");
    assert_eq!(last["base"], "trace", "{log}");
    assert_eq!(
        last["deny"],
        serde_json::json!(["personality", "io_uring_setup"]),
        "{log}"
    );
    // A call grit cannot name, and a built-in redefined: refused before anything runs.
    t.git(&r, &["config", "sandbox.seccomp.debug.deny", "nosuchcall"]);
    let out = sb(&t, &r)
        .args(["exec", "f", "--isolate", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nosuchcall") && err.contains("hint:"), "{err}");
    t.git(&r, &["config", "--unset-all", "sandbox.seccomp.debug.deny"]);
    t.git(&r, &["config", "sandbox.seccomp.strict.allow", "ptrace"]);
    let out = sb(&t, &r)
        .args(["exec", "f", "--isolate", "--seccomp", "strict", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn allow_host_reaches_only_the_hosts_named_logs_each_and_injects_a_secret_the_sandbox_never_sees() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    if let Err(e) = grit::sandbox::isolate::choose(Some("bwrap")) {
        eprintln!("skipped: bubblewrap cannot isolate here ({e})");
        return;
    }
    // A client outside $HOME (isolation hides it), which honours http_proxy.
    let Some(python) = ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped: no python3 outside $HOME to act as the sandbox's HTTP client");
        return;
    };
    // Two servers on loopback: each answers with its name and the Authorization it got.
    let server = |name: &'static str| {
        crate::env::json_server(move |req, _| {
            (
                200,
                vec![],
                serde_json::json!({ "server": name, "auth": req.2.get("authorization") }),
            )
        })
    };
    let (allowed, other) = (server("allowed"), server("other"));
    let port = |base: &str| base.rsplit(':').next().unwrap().to_owned();
    t.git(&r, &["config", "sandbox.secret.api.host", "127.0.0.1"]);
    t.git(&r, &["config", "sandbox.secret.api.env", "API_TOKEN"]);
    let client = format!(
        "import urllib.request, os\n\
         for url in ('{allowed}/a', '{other}/b'):\n\
         \x20   try: print(urllib.request.urlopen(url, timeout=20).read().decode())\n\
         \x20   except Exception as e: print('refused', e)\n\
         print('token in env:', any('s3cret' in v for v in os.environ.values()))\n\
         try:\n\
         \x20   urllib.request.build_opener(urllib.request.ProxyHandler({{}})).open('{allowed}/', timeout=5)\n\
         \x20   print('direct: reached')\n\
         except Exception as e: print('direct: failed')\n"
    );
    let out = t
        .std_cmd("sandbox", &r)
        .env("API_TOKEN", "s3cret")
        .args(["run", "net", "--keep", "--isolate", "--allow-host"])
        .arg(format!("127.0.0.1:{}", port(&allowed)))
        .args(["--", python, "-c", &client])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // The allowed server is reached, with the secret added on the way.
    assert!(
        stdout.contains(r#"{"auth":"Bearer s3cret","server":"allowed"}"#),
        "{stdout}"
    );
    // The other is refused by the proxy, and nothing is reached around it.
    assert!(stdout.contains("refused HTTP Error 403"), "{stdout}");
    assert!(!stdout.contains("\"other\""), "{stdout}");
    assert!(stdout.contains("direct: failed"), "{stdout}");
    // The sandbox never holds the secret.
    assert!(stdout.contains("token in env: False"), "{stdout}");
    // Both decisions are in the run's record.
    let runs = t.json("sandbox", &r, &["logs", "net", "--list"]);
    let net = runs.as_array().unwrap().last().unwrap()["net"].clone();
    let seen: Vec<(String, bool)> = net
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["port"].to_string(), e["allowed"].as_bool().unwrap()))
        .collect();
    assert_eq!(seen, vec![(port(&allowed), true), (port(&other), false)], "{net}");
    assert_eq!(net[0]["secret"], "api");
    // --net and an allowlist do not go together; a bad host is named.
    sb(&t, &r)
        .args([
            "exec",
            "net",
            "--isolate",
            "--net",
            "--allow-host",
            "x.org",
            "--",
            "true",
        ])
        .assert()
        .code(2);
    sb(&t, &r)
        .args(["exec", "net", "--isolate", "--allow-host", "x.org:http", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not HOST or HOST:PORT"));
}

#[test]
fn a_cargo_cache_shared_by_a_template_makes_a_second_sandbox_build_only_what_changed() {
    let t = TestEnv::new();
    // The toolchain's own cargo and rustc (the test's $HOME is not the user's, so rustup's
    // proxies would find no toolchain).
    let Some(cargo) = std::env::var_os("CARGO").map(PathBuf::from).filter(|c| c.is_file()) else {
        eprintln!("skipped: no cargo binary named by $CARGO");
        return;
    };
    let rustc = cargo.with_file_name("rustc");
    if !rustc.is_file() {
        eprintln!("skipped: no rustc beside {}", cargo.display());
        return;
    }
    let r = t.repo("r");
    let w = |p: &str, s: &str| {
        let f = r.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, s).unwrap();
    };
    w(".gitignore", "target/\n");
    w(
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\", \"lib1\"]\nresolver = \"2\"\n",
    );
    w(
        "lib1/Cargo.toml",
        "[package]\nname = \"lib1\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    w("lib1/src/lib.rs", "pub fn one() -> u32 { 1 }\n");
    w(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlib1 = { path = \"../lib1\" }\n",
    );
    w("app/src/main.rs", "fn main() { println!(\"{}\", lib1::one()); }\n");
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "workspace"]);
    t.git(&r, &["config", "sandbox.template.rust.cache", "cargo"]);
    let cargo_home = t.tmp.path().join("cargo-home");
    let build = |name: &str| {
        let out = sb(&t, &r)
            .env("RUSTC", &rustc)
            .env("CARGO_HOME", &cargo_home)
            .args(["exec", name, "--"])
            .arg(&cargo)
            .args(["build", "--offline"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        let mut compiled: Vec<String> = err
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Compiling "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect();
        compiled.sort();
        compiled
    };
    run_ok(&t, &r, &["run", "a", "--template", "rust", "--keep", "--", "true"]);
    assert_eq!(build("a"), ["app", "lib1"]);
    // The second sandbox starts from the first's build: nothing to compile.
    run_ok(&t, &r, &["run", "b", "--template", "rust", "--keep", "--", "true"]);
    assert!(path_of(&t, &r, "b").join("target").is_dir());
    assert_eq!(build("b"), Vec::<String>::new());
    // An edit to one crate rebuilds that crate alone.
    fs::write(
        path_of(&t, &r, "b").join("app/src/main.rs"),
        "fn main() { println!(\"{}\", lib1::one() + 1); }\n",
    )
    .unwrap();
    assert_eq!(build("b"), ["app"]);
    // The cache is its own: the first sandbox's build is untouched by the second's.
    assert_eq!(build("a"), Vec::<String>::new());
    // A bad cache kind is named.
    t.git(&r, &["config", "sandbox.template.bad.cache", "maven"]);
    sb(&t, &r)
        .args(["run", "c", "--template", "bad", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'maven' is not a sandbox cache"));
}

#[test]
fn a_node_cache_is_shared_per_lockfile_and_a_write_to_it_stays_in_its_sandbox() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let lock = |v: &str| {
        format!(
            "{{\"name\":\"app\",\"lockfileVersion\":3,\"packages\":{{\"node_modules/left-pad\":{{\"version\":\"{v}\"}}}}}}\n"
        )
    };
    fs::write(r.join(".gitignore"), "node_modules/\n").unwrap();
    fs::write(r.join("package.json"), "{\"name\":\"app\"}\n").unwrap();
    fs::write(r.join("package-lock.json"), lock("1.3.0")).unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "app"]);
    t.git(&r, &["config", "sandbox.template.js.cache", "node"]);
    let read = |p: &Path| fs::read_to_string(p.join("node_modules/left-pad/index.js")).unwrap_or_default();
    // The first sandbox installs (by hand: no registry here) and succeeds: its node_modules
    // becomes the cache of its lockfile.
    run_ok(
        &t,
        &r,
        &[
            "run",
            "a",
            "--template",
            "js",
            "--keep",
            "--sh",
            "--",
            "mkdir -p node_modules/left-pad && echo v1 > node_modules/left-pad/index.js",
        ],
    );
    let caches: Vec<PathBuf> = fs::read_dir(r.join(".git/grit/cache/node"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(caches.len(), 1, "one lockfile, one cache: {caches:?}");
    let cache = &caches[0];
    assert_eq!(read(cache), "v1\n");
    // The second stands on it: mounted read-only under its own layer where this process may
    // mount, a private copy where it may not.
    run_ok(&t, &r, &["run", "b", "--template", "js", "--keep", "--", "true"]);
    let b = path_of(&t, &r, "b");
    assert_eq!(read(&b), "v1\n");
    let mounted = grit::sandbox::overlay::is_mounted(&b.join("node_modules"));
    let may_mount = grit::sandbox::overlay::probe(t.tmp.path()).is_ok();
    assert_eq!(mounted, may_mount, "mounted where this process may mount");
    let listed = listed(&t, &r);
    let entry = listed.as_array().unwrap().iter().find(|s| s["name"] == "b").unwrap();
    assert_eq!(entry["caches"], serde_json::json!(["node"]), "{entry}");
    assert_eq!(entry["node_modules"].is_string(), mounted, "{entry}");
    // A write inside lands in that sandbox only: not in the cache, not in the next sandbox.
    run_ok(
        &t,
        &r,
        &[
            "exec",
            "b",
            "--sh",
            "--",
            "echo v2 > node_modules/left-pad/index.js && mkdir node_modules/extra",
        ],
    );
    assert_eq!(read(&b), "v2\n");
    assert_eq!(read(cache), "v1\n");
    assert!(!cache.join("node_modules/extra").exists());
    run_ok(&t, &r, &["run", "c", "--template", "js", "--keep", "--", "true"]);
    let c = path_of(&t, &r, "c");
    assert_eq!(read(&c), "v1\n");
    assert!(!c.join("node_modules/extra").exists());
    // An isolated command sees the sandbox's view.
    if grit::sandbox::isolate::choose(Some("bwrap")).is_ok() {
        let out = run_ok(
            &t,
            &r,
            &["exec", "b", "--isolate", "--", "cat", "node_modules/left-pad/index.js"],
        );
        assert_eq!(out, "v2\n");
    }
    // Gone (as after a reboot): the next command mounts it again, with the sandbox's writes.
    if mounted {
        grit::sandbox::caches::unmount(&b).unwrap();
        assert_eq!(read(&b), "");
        let out = run_ok(&t, &r, &["exec", "b", "--", "cat", "node_modules/left-pad/index.js"]);
        assert_eq!(out, "v2\n");
    }
    // A new lockfile has no cache yet: its sandbox gets none (the main tree has no node_modules).
    fs::write(r.join("package-lock.json"), lock("1.3.1")).unwrap();
    t.git(&r, &["commit", "-q", "-am", "bump"]);
    run_ok(&t, &r, &["run", "d", "--template", "js", "--keep", "--", "true"]);
    assert!(!path_of(&t, &r, "d").join("node_modules").exists());
    // rm unmounts and removes the sandbox's layer; the cache stays for the next one.
    run_ok(&t, &r, &["rm", "b"]);
    assert!(!b.exists());
    assert!(!grit::sandbox::overlay::is_mounted(&b.join("node_modules")));
    assert_eq!(read(cache), "v1\n");
    // Old lockfiles' caches go, but the 4 newest and those a sandbox stands on (c) stay.
    for v in 2..=6 {
        fs::write(r.join("package-lock.json"), lock(&format!("1.4.{v}"))).unwrap();
        t.git(&r, &["commit", "-q", "-am", "bump"]);
        let name = format!("e{v}");
        run_ok(
            &t,
            &r,
            &[
                "run",
                &name,
                "--template",
                "js",
                "--sh",
                "--",
                "mkdir -p node_modules/x",
            ],
        );
    }
    let kept = fs::read_dir(r.join(".git/grit/cache/node"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(kept, if mounted { 5 } else { 4 });
    assert_eq!(read(cache) == "v1\n", mounted);
}

#[test]
fn squash_plan_groups_commits_by_kind_keeps_the_tree_and_applies_only_when_asked() {
    let t = TestEnv::new();
    let r = one_file_repo(&t);
    run_ok(&t, &r, &["run", "s", "--keep", "--", "true"]);
    let p = path_of(&t, &r, "s");
    let commit = |files: &[(&str, &str)], message: &str| {
        for (f, text) in files {
            let f = p.join(f);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, text).unwrap();
        }
        t.git(&p, &["add", "-A"]);
        t.git(&p, &["commit", "-q", "-m", message]);
    };
    commit(&[("src/parser.rs", "pub fn parse() {}\n")], "add a parser");
    commit(&[("tests/parser.rs", "#[test]\nfn parses() {}\n")], "test the parser");
    commit(&[("NOTES.md", "# Notes\n")], "write notes");
    commit(
        &[("src/parser.rs", "pub fn parse() {}\npub fn parse_all() {}\n")],
        "parse many\n\nFixes: abc123",
    );
    commit(
        &[(
            "tests/parser.rs",
            "#[test]\nfn parses() {}\n#[test]\nfn parses_all() {}\n",
        )],
        "test parse_all",
    );
    let tip = t.git(&p, &["rev-parse", "HEAD"]).trim().to_owned();
    let tree = t.git(&p, &["rev-parse", "HEAD^{tree}"]).trim().to_owned();
    // The plan: three groups by kind, in the order each first appears; nothing moves.
    let plan = t.json("sandbox", &r, &["squash-plan", "s"]);
    assert_eq!(plan["commits"], 5, "{plan}");
    assert_eq!(plan["reordered"], true);
    let kinds: Vec<(String, usize)> = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["message"].as_str().unwrap().lines().next().unwrap().to_owned(),
                g["commits"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("feat(src): add a parser".to_owned(), 2),
            ("test(tests): test the parser".to_owned(), 2),
            ("write notes".to_owned(), 1)
        ]
    );
    assert!(
        plan["groups"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("- parse many\n\nFixes: abc123"),
        "{plan}"
    );
    assert_eq!(t.git(&p, &["rev-parse", "HEAD"]).trim(), tip, "a plan moves nothing");
    // Applied: three commits with the same tree, the work tree untouched, the old tip in the
    // reflog.
    fs::write(p.join("scratch.txt"), "uncommitted\n").unwrap();
    let out = run_ok(&t, &r, &["squash-plan", "s", "--apply"]);
    assert!(out.contains("feat(src): add a parser"), "{out}");
    assert_eq!(t.git(&p, &["rev-parse", "HEAD^{tree}"]).trim(), tree);
    let base = plan["base"].as_str().unwrap();
    let log = t.git(&p, &["log", "--format=%s", &format!("{base}..HEAD")]);
    assert_eq!(
        log,
        "write notes\ntest(tests): test the parser\nfeat(src): add a parser\n"
    );
    assert_eq!(status(&t, &p), "?? scratch.txt\n");
    assert!(
        t.git(&p, &["reflog", "show", "--format=%H", "sandbox/s"])
            .contains(&tip)
    );
    // Once squashed, there is nothing left to do.
    let again = t.json("sandbox", &r, &["squash-plan", "s"]);
    assert_eq!(again["groups"].as_array().unwrap().len(), 3);
    assert!(again["note"].as_str().unwrap().contains("nothing to squash"), "{again}");
    fs::remove_file(p.join("scratch.txt")).unwrap();

    // Moving a commit past another that changed the next line would conflict: neighbours only.
    run_ok(&t, &r, &["run", "u", "--keep", "--", "true"]);
    let q = path_of(&t, &r, "u");
    let commit = |file: &str, text: &str, message: &str| {
        fs::create_dir_all(q.join(file).parent().unwrap()).unwrap();
        fs::write(q.join(file), text).unwrap();
        t.git(&q, &["add", "-A"]);
        t.git(&q, &["commit", "-q", "-m", message]);
    };
    commit("src/a.rs", "fn a() {}\nlet x = 1;\n", "add a");
    commit("src/a.rs", "fn a() {}\nlet x = 2;\n", "two");
    commit("src/a.rs", "fn a() {}\nlet x = 2;\npub fn b() {}\n", "add b");
    commit("src/c.rs", "pub fn c() {}\n", "add c");
    let tree = t.git(&q, &["rev-parse", "HEAD^{tree}"]).trim().to_owned();
    let plan = t.json("sandbox", &r, &["squash-plan", "u", "--apply"]);
    assert_eq!(plan["reordered"], false, "{plan}");
    let sizes: Vec<usize> = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["commits"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1, 1, 2], "{plan}");
    assert!(plan["applied"].is_string());
    assert_eq!(t.git(&q, &["rev-parse", "HEAD^{tree}"]).trim(), tree);

    // A history with merges is refused, and left alone.
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "main moves"]);
    t.git(&q, &["merge", "-q", "--no-edit", "main"]);
    let before = t.git(&q, &["rev-parse", "HEAD"]);
    let out = sb(&t, &r).args(["squash-plan", "u"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    assert_eq!(t.git(&q, &["rev-parse", "HEAD"]), before);
}

/// A copy sandbox of at least `sandbox.listFullCheckBelow` files answers `list` from the answer
/// kept at its last check while nothing grit can see changed: a run through grit, a git command
/// in it, or a file made at its top makes the next `list` check again; a command running in it
/// makes every `list` check; `--exact` checks in full. A smaller one is checked in full every time.
#[test]
fn a_large_copy_sandbox_answers_list_from_what_was_kept_until_something_changes() {
    let t = TestEnv::new();
    let r = two_file_repo(&t);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    // Two files are "large" here.
    t.git(&r, &["config", "sandbox.listFullCheckBelow", "1"]);
    run_ok(&t, &r, &["run", "s", "--keep", "--", "true"]);
    let s = path_of(&t, &r, "s");
    let dirty = |args: &[&str]| -> bool {
        let out: Value = serde_json::from_str(&run_ok(&t, &r, &[&["list", "--json"][..], args].concat())).unwrap();
        out[0]["dirty"].as_bool().unwrap()
    };
    assert!(!dirty(&[]));
    // A run through grit, editing a file in place.
    run_ok(&t, &r, &["exec", "s", "--sh", "--", "printf x > a.txt"]);
    assert!(dirty(&[]));
    run_ok(&t, &r, &["exec", "s", "--", "git", "checkout", "--", "a.txt"]);
    assert!(!dirty(&[]));
    // Behind grit's back, in place: the kept answer stands until --exact looks, which keeps
    // what it finds.
    fs::write(s.join("a.txt"), "y\n").unwrap();
    assert!(!dirty(&[]), "kept: nothing grit can see changed");
    assert!(dirty(&["--exact"]));
    assert!(dirty(&[]));
    // git in the sandbox changes its index; a new file at the top changes its directory.
    t.git(&s, &["checkout", "--", "a.txt"]);
    assert!(!dirty(&[]));
    fs::write(s.join("new.txt"), "n\n").unwrap();
    assert!(dirty(&[]));
    fs::remove_file(s.join("new.txt")).unwrap();
    assert!(!dirty(&[]));
    // A shell opened in it (`open`), editing in place: its end is a run's end.
    sb(&t, &r)
        .args(["open", "s"])
        .env("SHELL", "/bin/sh")
        .write_stdin("printf q > a.txt\n")
        .assert()
        .success();
    assert!(dirty(&[]));
    run_ok(&t, &r, &["exec", "s", "--", "git", "checkout", "--", "a.txt"]);
    assert!(!dirty(&[]));
    // While a command runs in it, every list checks in full.
    let fifo = t.tmp.path().join("go");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut running = t
        .std_cmd("sandbox", &r)
        .envs(sandbox_env(&t))
        .args([
            "exec",
            "s",
            "--sh",
            "--",
            &format!("printf z > a.txt; cat {} > /dev/null", fifo.display()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while fs::read_to_string(s.join("a.txt")).unwrap() != "z" {
        assert!(std::time::Instant::now() < until, "the command never wrote");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(dirty(&[]));
    fs::write(&fifo, "").unwrap();
    assert!(running.wait().unwrap().success());
    assert!(dirty(&[]));
    // The mark of a run killed outright names no live process: list ignores it and removes it.
    let git_dir = PathBuf::from(
        fs::read_to_string(s.join(".git"))
            .unwrap()
            .trim()
            .strip_prefix("gitdir: ")
            .unwrap(),
    );
    let stale = git_dir.join("grit-running.999999999.0");
    fs::write(&stale, "").unwrap();
    assert!(dirty(&[]));
    assert!(!stale.exists(), "a dead run's mark is removed");
    // Below the threshold (by default, 10,000 files), every list checks in full.
    t.git(&r, &["config", "--unset", "sandbox.listFullCheckBelow"]);
    run_ok(&t, &r, &["exec", "s", "--", "git", "checkout", "--", "a.txt"]);
    assert!(!dirty(&[]));
    fs::write(s.join("b.txt"), "c\n").unwrap();
    assert!(dirty(&[]));
}

/// `list` of a fleet runs git once per base, not once per sandbox, and each sandbox's dirty
/// flag is what `git status` says in it after an edit by `exec`, by a shell in it, behind grit's
/// back, and after a commit.
#[test]
fn list_of_twenty_sandboxes_runs_no_git_process_per_sandbox_and_agrees_with_git_status() {
    let t = TestEnv::new();
    let r = t.repo("r");
    for d in 0..20 {
        let dir = r.join(format!("src/d{d:02}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            fs::write(dir.join(format!("f{f:03}.txt")), format!("{d} {f}\n")).unwrap();
        }
    }
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-q", "-m", "2,000 files"]);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    let names: Vec<String> = (0..20).map(|i| format!("s{i:02}")).collect();
    for n in &names {
        run_ok(&t, &r, &["run", n, "--keep", "--", "true"]);
    }
    let path = |n: &str| path_of(&t, &r, n);
    run_ok(&t, &r, &["exec", "s00", "--sh", "--", "echo x > src/d00/f000.txt"]);
    sb(&t, &r)
        .args(["open", "s01"])
        .env("SHELL", "/bin/sh")
        .write_stdin("echo y >> src/d01/f001.txt\n")
        .assert()
        .success();
    fs::write(path("s02").join("src/d02/f002.txt"), "behind its back\n").unwrap();
    let s03 = path("s03");
    fs::write(s03.join("src/d03/f003.txt"), "committed\n").unwrap();
    t.git(&s03, &["commit", "-q", "-am", "in the sandbox"]);
    // Every git process `list` starts, counted by a git of our own in front of the real one.
    let wrapper = t.tmp.path().join("counting-git");
    fs::create_dir_all(&wrapper).unwrap();
    let count = t.tmp.path().join("git-runs");
    let real = t.git_only_bin().join("git");
    fs::write(
        wrapper.join("git"),
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            count.display(),
            real.display()
        ),
    )
    .unwrap();
    fs::set_permissions(wrapper.join("git"), fs::Permissions::from_mode(0o755)).unwrap();
    let out = t
        .std_cmd("sandbox", &r)
        .envs(sandbox_env(&t))
        .env("PATH", format!("{}:{}", wrapper.display(), crate::env::path_var()))
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs = fs::read_to_string(&count).unwrap_or_default().lines().count();
    if crate::env::ref_format().as_deref() == Some("reftable") {
        // gix reads no reftable, so each sandbox's status there is git's own.
        eprintln!("note: in a reftable repository list runs git status per sandbox ({runs} runs)");
    } else {
        // One `for-each-ref` for their one base (the count shows the counting git was the one run).
        assert_eq!(runs, 1, "list ran git {runs} times for 20 sandboxes");
    }
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in listed.as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let git_says = !status(&t, Path::new(s["path"].as_str().unwrap())).is_empty();
        assert_eq!(s["dirty"], git_says, "{name}");
        assert_eq!(
            git_says,
            matches!(name, "s00" | "s01" | "s02"),
            "{name}: the case tests what it says"
        );
    }
}
