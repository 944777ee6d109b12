//! The seams with git: commands from anywhere in a repository, the first minutes in a fresh
//! clone, shell completion through `git <tool> <TAB>`.

use predicates::prelude::*;

use crate::env::TestEnv;

#[test]
fn every_command_works_from_a_subdirectory_a_linked_worktree_and_inside_git() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let sub = r.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    t.ok("wal", &sub, &["init"]);
    t.ok("wal", &sub, &["hooks", "install"]);
    let status = t.json("wal", &sub, &["hooks", "status"]);
    assert!(
        status.as_array().unwrap().iter().all(|h| h["state"] == "installed"),
        "{status}"
    );
    t.create(&sub, "from a subdirectory");
    let wt = t.tmp.path().join("wt");
    t.git(&r, &["worktree", "add", "-q", wt.to_str().unwrap()]);
    for dir in [sub.clone(), wt.clone(), r.join(".git"), r.join(".git/objects/info")] {
        t.cmd("issue", &dir)
            .args(["list"])
            .assert()
            .success()
            .stdout(predicate::str::contains("from a subdirectory"));
        t.ok("wal", &dir, &["hooks", "status"]);
        t.ok("wal", &dir, &["check"]);
    }
    t.create(&wt, "from a worktree");
    assert_eq!(t.json("issue", &r, &["list"]).as_array().unwrap().len(), 2);
}

/// A bash with bash-completion and grit's completions installed as `./install.sh` installs them,
/// in tmux, in `dir`; `type_then_tab` types a line and presses Tab twice, returning the screen.
struct Shell {
    socket: String,
}

impl Shell {
    fn start(t: &TestEnv, dir: &std::path::Path) -> Option<Shell> {
        let loader = std::path::Path::new("/usr/share/bash-completion/bash_completion");
        let tmux = std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !loader.exists() || !tmux {
            eprintln!(
                "skipped: needs tmux and bash-completion (tmux={tmux}, bash-completion={})",
                loader.exists()
            );
            return None;
        }
        let data = t.tmp.path().join("data");
        let completions = data.join("bash-completion/completions");
        std::fs::create_dir_all(&completions).unwrap();
        for tool in ["issue", "wal", "lock", "sandbox"] {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("completions/git-{tool}.bash"));
            std::fs::copy(script, completions.join(format!("git-{tool}"))).unwrap();
        }
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_git-issue"))
            .parent()
            .unwrap()
            .to_owned();
        let rc = t.tmp.path().join("bashrc");
        std::fs::write(
            &rc,
            format!(
                "PS1='$ '\nexport PATH={}:$PATH XDG_DATA_HOME={} HOME={} GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null\n\
                 . {}\ncd {}\n",
                bin.display(),
                data.display(),
                t.home().display(),
                loader.display(),
                dir.display()
            ),
        )
        .unwrap();
        Some(Shell::launch(
            t,
            "bash",
            format!(
                "env -i TERM=xterm PATH={}:/usr/bin:/bin bash --noprofile --rcfile {}",
                t.git_only_bin().display(),
                rc.display()
            ),
        ))
    }

    /// `command` (a shell set to prompt with `$`) in a new tmux server of its own, 200×50,
    /// once its prompt shows.
    fn launch(t: &TestEnv, kind: &str, command: String) -> Shell {
        let socket = format!("grit-{kind}-{}-{}", std::process::id(), t.tmp.path().as_os_str().len());
        let ok = std::process::Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(command)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux starts");
        let shell = Shell { socket };
        shell.wait_for("$");
        shell
    }

    /// A real fish (the one on PATH; Debian 12's is 3.6) under tmux, with grit's fish files
    /// where `install.sh` puts them (vendor_completions.d and vendor_conf.d of XDG_DATA_HOME).
    fn start_fish(t: &TestEnv, dir: &std::path::Path) -> Option<Shell> {
        let tmux = std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !tmux || !crate::env::on_path("fish") {
            eprintln!(
                "skipped: needs tmux and fish (tmux={tmux}, fish={})",
                crate::env::on_path("fish")
            );
            return None;
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let data = t.tmp.path().join("data");
        let (completions, conf) = (data.join("fish/vendor_completions.d"), data.join("fish/vendor_conf.d"));
        std::fs::create_dir_all(&completions).unwrap();
        std::fs::create_dir_all(&conf).unwrap();
        for tool in ["issue", "wal", "lock", "sandbox"] {
            let file = format!("git-{tool}.fish");
            std::fs::copy(root.join("completions").join(&file), completions.join(&file)).unwrap();
        }
        std::fs::copy(root.join("completions/grit.fish"), conf.join("grit.fish")).unwrap();
        let config = t.tmp.path().join("config/fish");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.fish"),
            format!(
                "function fish_prompt; echo '$ '; end\nfunction fish_greeting; end\ncd {}\n",
                dir.display()
            ),
        )
        .unwrap();
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_git-issue"))
            .parent()
            .unwrap()
            .to_owned();
        Some(Shell::launch(
            t,
            "fish",
            format!(
                "env -i TERM=xterm PATH={}:{}:/usr/bin:/bin HOME={} XDG_DATA_HOME={} XDG_CONFIG_HOME={} \
                 GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null fish",
                bin.display(),
                t.git_only_bin().display(),
                t.home().display(),
                data.display(),
                t.tmp.path().join("config").display(),
            ),
        ))
    }

    /// fish: clears the line, types `line`, presses Tab once (fish shows the candidates with
    /// their descriptions); returns the screen once `expect` shows.
    fn tab_once(&self, line: &str, expect: &str) -> String {
        // Escape closes a pager; the line is emptied by keys, not by C-c (which fish may take
        // before it has drawn the last completion).
        self.tmux(&["send-keys", "Escape", "C-e", "C-u", "C-l"]);
        self.tmux(&["send-keys", "-l", line]);
        self.tmux(&["send-keys", "Tab"]);
        self.wait_for(expect)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn wait_for(&self, text: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) || start.elapsed().as_secs() > 15 {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Clears the screen and the line, types `line`, presses Tab twice; returns the screen once
    /// `expect` shows.
    fn tab(&self, line: &str, expect: &str) -> String {
        self.tmux(&["send-keys", "C-c"]);
        self.tmux(&["send-keys", "clear", "Enter"]);
        std::thread::sleep(std::time::Duration::from_millis(150));
        self.tmux(&["send-keys", "-l", line]);
        self.tmux(&["send-keys", "Tab", "Tab"]);
        self.wait_for(expect)
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn git_tool_tab_completes_subcommands_flags_and_values_in_a_real_bash() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let id = t.json("issue", &r, &["create", "--title", "one", "--label", "needs-triage"])["short_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let Some(sh) = Shell::start(&t, &r) else { return };
    let screen = sh.tab("git issue ", "unclaim");
    for sub in ["create", "list", "show", "close", "ready"] {
        assert!(screen.contains(sub), "git issue <TAB><TAB>:\n{screen}");
    }
    let screen = sh.tab("git issue list --state ", "closed");
    assert!(screen.contains("open") && screen.contains("all"), "{screen}");
    let screen = sh.tab("git issue list --label needs-", "needs-triage");
    assert!(
        screen.contains("--label needs-triage"),
        "a single candidate is inserted:\n{screen}"
    );
    let screen = sh.tab(&format!("git issue show {}", &id[..3]), &id);
    assert!(screen.contains(&format!("show {id}")), "{screen}");
    let screen = sh.tab("git issue list --ass", "--assignee");
    assert!(screen.contains("--assignee"), "{screen}");
    let screen = sh.tab("git wal ho", "hooks");
    assert!(screen.contains("git wal hooks"), "{screen}");
    let screen = sh.tab("git-lock acquire re", "repo:");
    assert!(screen.contains("acquire repo:"), "{screen}");
    // A typed `issue:` prefix is completed once, not doubled (`:` breaks words in bash).
    for line in [
        format!("git lock acquire issue:{}", &id[..4]),
        format!("git-lock acquire issue:{}", &id[..4]),
    ] {
        let screen = sh.tab(&line, &id);
        assert!(screen.contains(&format!("acquire issue:{id}")), "{line}:\n{screen}");
        assert!(!screen.contains("issue:issue:"), "{line}:\n{screen}");
    }
}

/// `git issue <TAB>` in a real fish (Debian 12's 3.6, whose git completion misses `git-NAME`
/// commands): subcommands, issue ids with their titles (open ones for close, closed ones for
/// reopen), and lock resources.
#[test]
fn git_tool_tab_completes_in_a_real_fish() {
    let t = TestEnv::new();
    let r = t.repo("r");
    let open = t.json("issue", &r, &["create", "--title", "still open"])["short_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = t.json("issue", &r, &["create", "--title", "finished already"])["short_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.ok("issue", &r, &["close", &done]);
    // Two of each, so that fish lists them (a single candidate is inserted as it is).
    t.create(&r, "another open one");
    let also = t.create(&r, "also finished");
    t.ok("issue", &r, &["close", &also]);
    let Some(sh) = Shell::start_fish(&t, &r) else { return };
    let screen = sh.tab_once("git issue cl", "close");
    assert!(screen.contains("claim") && screen.contains("close"), "{screen}");
    assert!(
        !screen.contains("Cargo") && !screen.contains(".git/"),
        "no file names:\n{screen}"
    );
    let screen = sh.tab_once("git issue close ", "still open");
    assert!(
        screen.contains(&open) && screen.contains("another open one"),
        "{screen}"
    );
    assert!(!screen.contains(&done) && !screen.contains("also finished"), "{screen}");
    let screen = sh.tab_once("git issue reopen ", "finished already");
    assert!(screen.contains(&done) && screen.contains("also finished"), "{screen}");
    assert!(!screen.contains("still open"), "{screen}");
    let screen = sh.tab_once("git wal ho", "hooks");
    assert!(screen.contains("git wal hooks"), "{screen}");
    let screen = sh.tab_once(
        &format!("git lock acquire issue:{}", &open[..4]),
        &format!("issue:{open}"),
    );
    assert!(screen.contains(&format!("issue:{open}")), "{screen}");
    let screen = sh.tab_once("git -C . sandbox l", "list");
    assert!(screen.contains("list"), "{screen}");
    // git-issue typed whole works as before.
    let screen = sh.tab_once("git-issue close ", "still open");
    assert!(screen.contains(&open), "{screen}");
}

#[test]
fn a_fresh_clone_says_where_the_issues_are_and_fetches_them_when_asked() {
    let t = TestEnv::new();
    let remote = t.remote();
    let a = t.clone(&remote, "a", "Ann", "ann");
    t.ok("wal", &a, &["init"]);
    t.create(&a, "already there");
    t.ok("wal", &a, &["sync"]);
    // A plain `git clone` brings branches only.
    let b = t.clone(&remote, "b", "Bob", "bob");
    t.cmd("issue", &b)
        .args(["list"])
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains(
            "the remote 'origin' has issues this clone has not fetched",
        ))
        .stderr(predicate::str::contains("`git wal init`"));
    // `git wal init` fetches them at once.
    let init = t.json("wal", &b, &["init"]);
    assert!(init["remotes"][0]["fetched_refs"].as_u64().unwrap() >= 2, "{init}");
    t.cmd("issue", &b)
        .args(["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already there"));
    // With grit.autoInit, the first command does it.
    let c = t.clone(&remote, "c", "Cy", "cy");
    t.git(&c, &["config", "grit.autoInit", "true"]);
    t.cmd("issue", &c)
        .args(["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already there"))
        .stderr(predicate::str::contains("grit.autoInit"));
    // A clone of a bundle gets them once `git wal init` runs.
    let bundle = t.tmp.path().join("repo.bundle");
    t.git(&a, &["bundle", "create", bundle.to_str().unwrap(), "--all"]);
    let d = t.tmp.path().join("d");
    t.git(
        t.tmp.path(),
        &["clone", "-q", bundle.to_str().unwrap(), d.to_str().unwrap()],
    );
    t.git(&d, &["config", "user.name", "Di"]);
    t.git(&d, &["config", "user.email", "di@example.com"]);
    t.ok("wal", &d, &["init"]);
    t.cmd("issue", &d)
        .args(["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already there"));
}

/// Where `.ci/run` installs husky from npm for the tests.
fn husky_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/node_modules/husky")
}

/// Runs a git command with grit's hook log on; returns whether it succeeded and the hooks that ran.
fn git_logged(t: &TestEnv, dir: &std::path::Path, args: &[&str]) -> (bool, Vec<String>, String) {
    let log = t.tmp.path().join(format!("hooks-{}.log", args.join("-").len()));
    let _ = std::fs::remove_file(&log);
    let (ok, _, err) = t.git_env(dir, args, &[("GRIT_HOOK_LOG", log.to_str().unwrap())]);
    let ran = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    (ok, ran, err)
}

#[test]
fn husky_hooks_keep_running_after_grit_chains_in() {
    let husky = husky_dir();
    if !husky.join("husky").exists() {
        eprintln!(
            "skipped: husky is not installed where the tests look ({}); .ci/run installs it with \
             `npm install --prefix target/test-tools husky@9`",
            husky.display()
        );
        return;
    }
    let t = TestEnv::new();
    let r = t.repo("r");
    // What `npx husky` sets up: core.hooksPath=.husky/_, one dispatcher per hook, and `h`.
    let underscore = r.join(".husky/_");
    std::fs::create_dir_all(&underscore).unwrap();
    std::fs::copy(husky.join("husky"), underscore.join("h")).unwrap();
    for hook in ["pre-commit", "pre-push"] {
        let path = underscore.join(hook);
        std::fs::write(&path, "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    t.git(&r, &["config", "core.hooksPath", ".husky/_"]);
    std::fs::write(r.join(".husky/pre-commit"), "echo husky-user-hook-ran >> husky.log\n").unwrap();
    // husky first, then a plain init: husky's dispatchers are recognised and chained.
    t.cmd("wal", &r)
        .args(["init"])
        .assert()
        .success()
        .stderr(predicate::str::contains("written by husky"));
    assert!(underscore.join("grit-chained/pre-commit").exists());
    std::fs::write(r.join("f"), "x").unwrap();
    t.git(&r, &["add", "f"]);
    let (ok, ran, err) = git_logged(&t, &r, &["commit", "-q", "-m", "one"]);
    assert!(ok, "{err}");
    assert_eq!(ran, ["pre-commit", "post-commit"], "each of grit's hooks ran once");
    let log = std::fs::read_to_string(r.join("husky.log")).unwrap_or_default();
    assert_eq!(
        log, "husky-user-hook-ran\n",
        "the user's husky hook ran, under its own name"
    );
    // A failing husky hook still stops the commit.
    std::fs::write(r.join(".husky/pre-commit"), "exit 3\n").unwrap();
    std::fs::write(r.join("f"), "y").unwrap();
    t.git(&r, &["add", "f"]);
    let (ok, _, _) = git_logged(&t, &r, &["commit", "-q", "-m", "two"]);
    assert!(!ok, "its status counts");
    // husky's `prepare` script on the next `npm install` writes its dispatchers over grit's:
    // the next grit command says so, once, with the fix.
    std::fs::write(r.join(".husky/pre-commit"), "echo husky-user-hook-ran >> husky.log\n").unwrap();
    std::fs::write(
        underscore.join("pre-commit"),
        "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"",
    )
    .unwrap();
    let warned = |expect: bool| {
        let out = t.cmd("issue", &r).args(["list"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(err.contains("replaced by another tool (pre-commit)"), expect, "{err}");
        assert_eq!(err.contains("git wal init --chain"), expect, "{err}");
    };
    warned(true);
    warned(false);
    t.ok("wal", &r, &["init", "--chain"]);
    warned(false);
    t.ok("wal", &r, &["hooks", "uninstall"]);
    assert!(!underscore.join("grit-chained").exists());
    assert_eq!(
        std::fs::read_to_string(underscore.join("pre-commit")).unwrap(),
        "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\""
    );
}

/// A `.pre-commit-config.yaml` whose one hook logs that it ran, and `pre-commit install` in `r`;
/// returns the framework's cache directory (PRE_COMMIT_HOME) for the commits that follow.
fn pre_commit_install(t: &TestEnv, r: &std::path::Path) -> std::path::PathBuf {
    std::fs::write(
        r.join(".pre-commit-config.yaml"),
        "repos:\n- repo: local\n  hooks:\n  - id: mark\n    name: mark\n    entry: sh -c 'echo framework-ran >> framework.log'\n    language: system\n    pass_filenames: false\n",
    )
    .unwrap();
    let cache = t.tmp.path().join("pc-cache");
    let out = std::process::Command::new("pre-commit")
        .arg("install")
        .current_dir(r)
        .env("HOME", t.home())
        .env("PRE_COMMIT_HOME", &cache)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    cache
}

#[test]
fn the_pre_commit_framework_moving_grits_hook_aside_is_recognised_and_runs_it_once() {
    if !crate::env::on_path("pre-commit") {
        eprintln!(
            "skipped: the pre-commit framework is not on PATH; .ci/run installs it with `pip install pre-commit`"
        );
        return;
    }
    let t = TestEnv::new();
    let remote = t.remote();
    let r = t.clone(&remote, "r", "Ann", "ann");
    t.ok("wal", &r, &["hooks", "install"]);
    pre_commit_install(&t, &r);
    assert!(
        r.join(".git/hooks/pre-commit.legacy").exists(),
        "the framework moved ours aside"
    );
    let status = t.json("wal", &r, &["hooks", "status"]);
    assert_eq!(status[2]["state"], "moved", "{status}");
    // init neither refuses nor chains it a second time, and adds the refspecs.
    let init = t.json("wal", &r, &["init"]);
    assert_eq!(init["hooks"][2]["action"], "up-to-date", "{init}");
    assert!(!r.join(".git/hooks/grit-chained/pre-commit").exists());
    t.ok("wal", &r, &["hooks", "install", "--chain"]);
    assert!(
        !r.join(".git/hooks/grit-chained/pre-commit").exists(),
        "chained once, not twice"
    );
    std::fs::write(r.join("f"), "x").unwrap();
    t.git(&r, &["add", "f"]);
    let log_home = [(
        "PRE_COMMIT_HOME",
        t.tmp.path().join("pc-cache").to_str().unwrap().to_owned(),
    )];
    let (ok, ran, err) = {
        let log = t.tmp.path().join("pc-hooks.log");
        let (ok, _, err) = t.git_env(
            &r,
            &["commit", "-q", "-m", "one"],
            &[
                ("GRIT_HOOK_LOG", log.to_str().unwrap()),
                (log_home[0].0, &log_home[0].1),
            ],
        );
        let ran: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        (ok, ran, err)
    };
    assert!(ok, "{err}");
    assert_eq!(
        ran.iter().filter(|h| *h == "pre-commit").count(),
        1,
        "grit's hook ran once: {ran:?}"
    );
    assert!(
        std::fs::read_to_string(r.join("framework.log"))
            .unwrap()
            .contains("framework-ran")
    );
    // Uninstall takes ours out of `.legacy` too: no commit warns about it any more.
    t.ok("wal", &r, &["hooks", "uninstall"]);
    assert!(!r.join(".git/hooks/pre-commit.legacy").exists());
    let status = t.json("wal", &r, &["hooks", "status"]);
    assert_eq!(status[2]["state"], "foreign", "{status}");
}

#[test]
fn the_pre_commit_framework_installed_first_is_chained_by_a_plain_init() {
    if !crate::env::on_path("pre-commit") {
        eprintln!(
            "skipped: the pre-commit framework is not on PATH; .ci/run installs it with `pip install pre-commit`"
        );
        return;
    }
    let t = TestEnv::new();
    let remote = t.remote();
    let r = t.clone(&remote, "r", "Ann", "ann");
    let cache = pre_commit_install(&t, &r);
    t.cmd("wal", &r)
        .args(["init"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "written by the pre-commit framework: it is kept and runs first",
        ));
    let status = t.json("wal", &r, &["hooks", "status"]);
    assert_eq!(status[2]["state"], "chained", "{status}");
    std::fs::write(r.join("f"), "x").unwrap();
    t.git(&r, &["add", "f"]);
    let log = t.tmp.path().join("hooks.log");
    let (ok, _, err) = t.git_env(
        &r,
        &["commit", "-q", "-m", "one"],
        &[
            ("GRIT_HOOK_LOG", log.to_str().unwrap()),
            ("PRE_COMMIT_HOME", cache.to_str().unwrap()),
        ],
    );
    assert!(ok, "{err}");
    let ran = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(ran.lines().filter(|h| *h == "pre-commit").count(), 1, "{ran}");
    assert!(
        std::fs::read_to_string(r.join("framework.log"))
            .unwrap()
            .contains("framework-ran")
    );
    // A hook no manager wrote is still refused, and nothing is changed.
    let other = t.clone(&remote, "o", "Bo", "bo");
    std::fs::write(other.join(".git/hooks/pre-push"), "#!/bin/sh\nexit 0\n").unwrap();
    t.cmd("wal", &other)
        .args(["init"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is a hook grit did not write; nothing was changed",
        ));
}

#[test]
fn git_lfs_overwriting_a_chained_pre_push_is_detected_and_adopted() {
    if !crate::env::on_path("git-lfs") {
        eprintln!("skipped: git-lfs is not on PATH; .ci/run installs Debian's git-lfs");
        return;
    }
    let t = TestEnv::new();
    let remote = t.remote();
    let r = t.clone(&remote, "r", "Ann", "ann");
    t.git(&r, &["lfs", "install", "--local"]);
    let lfs_hook = std::fs::read_to_string(r.join(".git/hooks/pre-push")).unwrap();
    // git-lfs's hook is a dispatcher init recognises: kept and run first, without --chain.
    t.cmd("wal", &r)
        .args(["init"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "written by git-lfs: it is kept and runs first",
        ));
    assert_eq!(
        std::fs::read_to_string(r.join(".git/hooks/grit-chained/pre-push")).unwrap(),
        lfs_hook
    );
    // `git lfs update --force` writes its hook over ours: ours is gone, the chained copy orphaned.
    t.git(&r, &["lfs", "update", "--force"]);
    let status = t.json("wal", &r, &["hooks", "status"]);
    assert_eq!(status[1]["state"], "foreign", "{status}");
    t.cmd("wal", &r)
        .args(["doctor"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("left over"));
    let out = t.json("wal", &r, &["hooks", "install", "--chain"]);
    assert_eq!(out[1]["action"], "chained", "{out}");
    assert!(out[1]["note"].as_str().unwrap().contains("adopted"), "{out}");
    // Both run on push: lfs's (chained) and grit's.
    t.create(&r, "goes along");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "code"]);
    let (ok, ran, err) = git_logged(&t, &r, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    assert!(ok, "{err}");
    assert_eq!(ran, ["pre-push"], "{err}");
}

#[test]
fn the_readme_tour_runs_as_pasted() {
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let tour = readme.split("## A 60-second tour").nth(1).unwrap();
    let script = tour.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    let t = TestEnv::new();
    let dir = t.tmp.path().join("tour");
    std::fs::create_dir_all(&dir).unwrap();
    let out = t
        .wrapped("bash", &dir)
        .args(["-euc", script])
        .env("TMPDIR", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"state\": \"closed\""), "{stdout}");
    assert!(stdout.contains("Reproduced."), "{stdout}");
    assert!(stdout.contains(": clean"), "{stdout}");
}

#[test]
fn install_sh_uninstall_removes_what_it_installed_and_nothing_else() {
    let t = TestEnv::new();
    let root = t.tmp.path().join("root");
    let data = t.tmp.path().join("data");
    let ours = [
        root.join("bin/git-issue"),
        root.join("bin/git-sandbox"),
        root.join("share/man/man1/git-issue-list.1"),
        data.join("bash-completion/completions/git-lock"),
        data.join("zsh/site-functions/_git-wal"),
        data.join("fish/vendor_completions.d/git-issue.fish"),
    ];
    let theirs = [
        root.join("bin/rg"),
        root.join("share/man/man1/rg.1"),
        data.join("bash-completion/completions/rg"),
    ];
    for f in ours.iter().chain(&theirs) {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "x").unwrap();
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let out = t
        .wrapped("sh", t.tmp.path())
        .arg(&script)
        .arg("--uninstall")
        .env("CARGO_INSTALL_ROOT", &root)
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in &ours {
        assert!(!f.exists(), "{} stayed", f.display());
    }
    for f in &theirs {
        assert!(f.exists(), "{} went", f.display());
    }
    let bad = t
        .wrapped("sh", t.tmp.path())
        .arg(&script)
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// The library's tiers import only downward: the engine and the operations never reach a face
/// (the CLI, the terminal UI), the store never reaches the daemon, the index, locks,
/// snapshots, refs and the WAL never reach sync, and sync never reaches `retire` (which syncs).
/// Checked on the source, `use` lines and paths alike.
#[test]
fn the_engine_and_the_operations_never_import_a_face() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shared");
    let mut all = Vec::new();
    files(&root, &mut all);
    let faces = ["cli", "tui"];
    let mut bad = Vec::new();
    for f in &all {
        let rel = f.strip_prefix(&root).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy();
        let module = top.trim_end_matches(".rs");
        if faces.contains(&module) || module == "lib" {
            continue;
        }
        let mut forbidden: Vec<&str> = faces.to_vec();
        if module == "store" {
            forbidden.push("live");
        }
        // Ref names and layout live in `refs`, remote naming in `repo`: the engine below sync
        // never reaches up into it.
        if ["index", "lock", "snapshot", "refs", "repo", "wal", "event", "actor"].contains(&module) {
            forbidden.push("sync");
        }
        // Retiring actors syncs; sync reads retirements from snapshots, not from `retire`.
        if module == "sync" {
            forbidden.push("retire");
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for m in &forbidden {
                let path = format!("crate::{m}::");
                let grouped = code.contains("crate::{") && code.split(['{', ',', '}', ' ']).any(|w| w.trim() == *m);
                if code.contains(&path) || code.contains(&format!("crate::{m};")) || grouped {
                    bad.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "imports that cross a layer upward:\n{}", bad.join("\n"));
    // The check sees what it looks for: a face importing another face is found.
    let tui = std::fs::read_to_string(root.join("tui/mod.rs")).unwrap();
    assert!(tui.contains("crate::cli::"), "the scan would find a crate::cli path");
}
