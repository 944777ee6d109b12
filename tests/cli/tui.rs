//! The terminal UI: each tab rendered at 80×24 and 200×50 on ratatui's test backend and
//! compared with snapshots (`GRIT_BLESS=1` rewrites them), each action driven by keys against a
//! real repository, and the real binary under tmux: open, filter, comment, quit, and the
//! terminal is as it was.

use std::path::{Path, PathBuf};
use std::sync::Once;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use grit::tui::{App, Effect, Purpose, Tab, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::env::TestEnv;

/// The UI runs in this process: give it the hermetic settings the binaries get.
pub(crate) fn hermetic() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before any test of this module reads them; the other tests run the
        // binaries with a cleared environment of their own.
        unsafe {
            std::env::set_var("GRIT_NOW", crate::env::NOW);
            std::env::set_var("GRIT_TEST_SEED", "grit-tests");
            std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
            std::env::set_var("GIT_CONFIG_GLOBAL", "/dev/null");
            std::env::remove_var("NO_COLOR");
            std::env::remove_var("GRIT_ACTOR");
        }
    });
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.key(key(c));
    }
}

/// A repository with issues made to be hard to draw: a long title, wide characters, and an
/// escape sequence that arrived as a stranger's event would (not through the CLI, which
/// refuses it).
fn hard_repo(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let long = t.create(
        &r,
        &format!("A very long title that goes on {} and on", "and on ".repeat(30)),
    );
    t.ok(
        "issue",
        &r,
        &["edit", &long, "--add-label", "needs-triage", "--add-label", "area:core"],
    );
    let wide = t.create(&r, "日本語のタイトル — ünïcödé 🚀 wide");
    t.ok("issue", &r, &["comment", &wide, "--body", "コメント: 確認しました"]);
    t.ok("issue", &r, &["link", &wide, "blocks", &long]);
    let store = grit::store::Store::open(&r).unwrap();
    store
        .write(
            None,
            vec![grit::event::Kind::IssueCreated {
                title: "evil \u{1b}[2J\u{1b}[31mred\u{202e} title".into(),
                body: "body with \u{1b}]0;pwned\u{7}".into(),
                labels: vec!["bug".into()],
            }],
        )
        .unwrap();
    r
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.render(f)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        let mut x = 0;
        while x < w {
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            // A wide character covers the next cell too.
            x += ratatui::text::Span::raw(sym).width().max(1) as u16;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The screen with the test's temporary directory masked (its name is random).
fn masked(t: &TestEnv, s: &str) -> String {
    let tmp = t.tmp.path().display().to_string();
    s.replace(&tmp, &"#".repeat(tmp.len()))
}

fn snapshot(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/tui")
        .join(format!("{name}.txt"));
    if std::env::var_os("GRIT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; GRIT_BLESS=1 cargo test --test cli tui writes it",
            path.display()
        )
    });
    assert_eq!(
        text, want,
        "{name} differs from its snapshot (GRIT_BLESS=1 rewrites it)"
    );
}

#[test]
fn each_tab_renders_at_80x24_and_200x50_with_hard_text_escaped() {
    hermetic();
    let t = TestEnv::new();
    let r = hard_repo(&t);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    t.git(&r, &["add", ".gitignore"]);
    t.git(&r, &["commit", "-q", "-m", "ignore"]);
    t.ok(
        "sandbox",
        &r,
        &["run", "s1", "--keep", "--", "sh", "-c", "echo hi > new.txt"],
    );
    t.ok(
        "lock",
        &r,
        &["acquire", "path:src/", "--note", "refactoring \u{65e5}\u{672c}"],
    );
    let mut app = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    for (tab, name) in [
        (Tab::Issues, "issues"),
        (Tab::Sandboxes, "sandboxes"),
        (Tab::Locks, "locks"),
    ] {
        app.tab = tab;
        for (w, h) in [(80, 24), (200, 50)] {
            let s = screen(&mut app, w, h);
            assert!(
                !s.contains('\u{1b}') && !s.contains('\u{202e}'),
                "raw control characters on screen:\n{s}"
            );
            snapshot(&format!("{name}-{w}x{h}"), &masked(&t, &s));
        }
    }
    // The escaped title, as drawn, and the help over the list.
    app.tab = Tab::Issues;
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("evil \\e[2J\\e[31mred\\u{202e} title"), "{s}");
    app.key(key('?'));
    snapshot("help-80x24", &screen(&mut app, 80, 24));
    // A terminal too small for anything still draws.
    app.key(key('x'));
    let _ = screen(&mut app, 20, 5);
}

#[test]
fn keys_create_comment_close_label_claim_and_filter_against_a_real_repository() {
    hermetic();
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    t.create(&r, "first");
    let mut app = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    // Create, through the editor's text.
    let Effect::Edit { purpose, .. } = app.key(key('c')) else {
        panic!("c opens the editor")
    };
    assert_eq!(purpose, Purpose::Create);
    app.edited(purpose, Some("made in the UI\n\nits body\n# a comment line\n".into()));
    let list = t.json("issue", &r, &["list", "-S", "made"]);
    assert_eq!(list[0]["title"], "made in the UI", "{list}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(t.json("issue", &r, &["show", &id])["body"], "its body");
    assert_eq!(app.issues.hits.len(), 2, "the list updates");
    assert_eq!(app.issues.selected_id().unwrap().to_hex(), id);
    // Comment.
    let Effect::Edit { purpose, .. } = app.key(key('m')) else {
        panic!("m opens the editor")
    };
    app.edited(purpose, Some("from the UI".into()));
    assert_eq!(
        t.json("issue", &r, &["show", &id])["comments"][0]["body"],
        "from the UI"
    );
    // An empty text cancels.
    let Effect::Edit { purpose, .. } = app.key(key('m')) else {
        panic!()
    };
    app.edited(purpose, Some("# nothing\n".into()));
    assert!(app.status.contains("cancelled"));
    // Labels, through the prompt.
    app.key(key('l'));
    assert!(app.prompt.is_some());
    typed(&mut app, "bug, ui");
    app.key(code(KeyCode::Enter));
    assert_eq!(
        t.json("issue", &r, &["show", &id])["labels"],
        serde_json::json!(["bug", "ui"])
    );
    // Claim, and give it up.
    app.key(key('a'));
    assert!(
        t.ok("issue", &r, &["list", "--json"]).contains("\"claim\":{"),
        "claimed"
    );
    app.key(key('a'));
    assert!(
        !t.ok("issue", &r, &["list", "--json"]).contains("\"claim\":{"),
        "unclaimed"
    );
    // The query bar opens after what is there, with a space: a word typed is a new term.
    let before = app.issues.hits.len();
    app.key(key('/'));
    typed(&mut app, "first");
    assert!(app.issues.query_error.is_none(), "{:?}", app.issues.query);
    assert!(app.issues.query.ends_with(" first"), "{:?}", app.issues.query);
    assert!(app.issues.hits.len() <= before);
    app.key(code(KeyCode::Enter));
    // Filter as you type.
    app.key(key('/'));
    app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(&mut app, "label:ui");
    assert_eq!(app.issues.hits.len(), 1);
    typed(&mut app, " OR first");
    assert_eq!(app.issues.hits.len(), 2);
    app.key(code(KeyCode::Enter));
    // Close and reopen (a query that names no state shows both).
    app.key(key('g'));
    let sel = app.issues.selected_id().unwrap().to_hex();
    app.key(key('x'));
    assert_eq!(t.json("issue", &r, &["show", &sel])["state"], "closed");
    app.key(key('x'));
    assert_eq!(t.json("issue", &r, &["show", &sel])["state"], "open");
    // A bad query says why and keeps the list.
    app.key(key('/'));
    typed(&mut app, " (");
    assert!(app.issues.query_error.is_some());
    assert_eq!(app.issues.hits.len(), 2);
    app.key(code(KeyCode::Esc));
    // The mouse wheel moves the selection.
    let at = app.issues.selected;
    app.mouse_scroll(true);
    assert_eq!(app.issues.selected, at + 1);
    app.mouse_scroll(false);
    assert_eq!(app.issues.selected, at);
    // A link's number jumps to the linked issue, in the list or pinned beside it.
    let other = t.create(&r, "the blocker");
    t.ok("issue", &r, &["link", &other, "blocks", &id]);
    t.ok("issue", &r, &["close", &other]);
    app.refresh_all();
    let here = app.issues.hits.iter().position(|h| h.0.to_hex() == id).unwrap();
    app.issues.selected = here;
    app.refresh_all();
    app.key(key('1'));
    assert_eq!(
        app.issues.selected_id().unwrap().to_hex(),
        other,
        "jumped to the closed blocker"
    );
    assert!(app.status.contains("not in this list"), "{}", app.status);
    // q quits; Ctrl-C too.
    assert_eq!(app.key(key('q')), Effect::Quit);
    assert_eq!(
        app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Effect::Quit
    );
}

#[test]
fn keys_drive_sandboxes_and_locks() {
    hermetic();
    let t = TestEnv::new();
    let r = t.repo("r");
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    t.git(&r, &["add", "."]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    t.ok(
        "sandbox",
        &r,
        &["run", "s1", "--keep", "--", "sh", "-c", "echo hi > new.txt"],
    );
    let mut app = App::new(r.clone(), Tab::Sandboxes, Theme { color: false }).unwrap();
    assert_eq!(app.sandboxes.list.len(), 1);
    // The diff, per file.
    app.key(code(KeyCode::Enter));
    let d = app.sandboxes.diff.as_ref().expect("a diff");
    assert!(d.lines.iter().any(|l| l == "+hi"), "{:?}", d.lines);
    assert_eq!(d.files.len(), 1);
    app.key(code(KeyCode::Esc));
    assert!(app.sandboxes.diff.is_none());
    // Rerun and shell hand the terminal over.
    assert_eq!(app.key(key('r')), Effect::Repeat("s1".into()));
    assert!(matches!(app.key(key('s')), Effect::Shell(p) if p.ends_with("s1")));
    // Commit, with the message pre-filled.
    app.key(key('c'));
    assert_eq!(
        app.prompt.as_ref().unwrap().input,
        "sandbox s1: sh -c echo hi > new.txt"
    );
    app.key(code(KeyCode::Enter));
    assert!(
        t.git(&r, &["log", "-1", "--format=%s", "sandbox/s1"])
            .starts_with("sandbox s1: sh -c")
    );
    // Merge asks first, after a preview.
    app.key(key('M'));
    assert!(
        app.prompt.as_ref().unwrap().question.contains("no conflicts"),
        "{:?}",
        app.prompt
    );
    app.key(key('n'));
    app.key(code(KeyCode::Enter));
    assert!(app.status.contains("cancelled"));
    // Remove names what would be lost.
    app.key(key('D'));
    let q = app.prompt.as_ref().unwrap().question.clone();
    assert!(q.contains("1 unmerged commit(s) stay on sandbox/s1"), "{q}");
    app.key(key('y'));
    app.key(code(KeyCode::Enter));
    assert!(app.sandboxes.list.is_empty(), "{}", app.status);
    assert!(
        !t.git(&r, &["branch", "--list", "sandbox/s1"]).is_empty(),
        "the commit stays on its branch"
    );

    // Locks: yours is released at once; another's only after a yes.
    t.ok("lock", &r, &["acquire", "path:mine/"]);
    t.ok("wal", &r, &["actor", "new", "bob"]);
    t.cmd("lock", &r)
        .args(["acquire", "path:bobs/"])
        .env("GRIT_ACTOR", "bob")
        .assert()
        .success();
    app.tab = Tab::Locks;
    app.refresh_all();
    assert_eq!(app.locks.rows.len(), 2);
    let bobs = app.locks.rows.iter().position(|l| l.resource == "path:bobs/").unwrap();
    app.locks.selected = bobs;
    app.key(key('x'));
    assert!(app.prompt.as_ref().unwrap().question.contains("force-release"));
    app.key(key('y'));
    app.key(code(KeyCode::Enter));
    assert_eq!(app.locks.rows.len(), 1, "{}", app.status);
    app.locks.selected = 0;
    app.key(key('x'));
    assert!(app.prompt.is_none(), "your own lease needs no confirmation");
    assert!(app.locks.rows.is_empty(), "{}", app.status);
}

#[test]
fn outside_a_terminal_it_refuses_with_a_hint() {
    let t = TestEnv::new();
    let r = t.repo("r");
    t.cmd("issue", &r)
        .arg("ui")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("needs a terminal"))
        .stderr(predicates::str::contains("git issue list"));
}

/// Whether tmux can run here (a test that needs it says so and skips when not).
fn tmux_here() -> bool {
    let ok = std::process::Command::new("tmux").arg("-V").output().is_ok();
    if !ok {
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

/// An executable shell script at `name` in the test's directory: an editor for the tests.
fn script(t: &TestEnv, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = t.tmp.path().join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_real_binary_under_tmux_filters_comments_quits_and_restores_the_terminal() {
    let t = TestEnv::new();
    if !tmux_here() {
        return;
    }
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    t.create(&r, "crash on start");
    t.create(&r, "slow search");
    let editor = script(&t, "editor.sh", "#!/bin/sh\nprintf 'written in tmux\\n' > \"$1\"\n");
    let sock = t.tmp.path().join("tmux.sock");
    let before = t.tmp.path().join("stty.before");
    let after = t.tmp.path().join("stty.after");
    let tmux = |args: &[&str]| {
        let out = t.wrapped("tmux", &r).arg("-S").arg(&sock).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A session that outlives the others keeps the server up: a server that exits with its last
    // session races the next `new-session` on the same socket, which then starts nothing.
    tmux(&["new-session", "-d", "-s", "keep", "sleep 600"]);
    let script = format!(
        "stty -g > {b}; EDITOR={e} {ui} ui; stty -g > {a}; sleep 60",
        b = before.display(),
        a = after.display(),
        e = editor.display(),
        ui = crate::env::exe("issue"),
    );
    tmux(&["new-session", "-d", "-s", "ui", "-x", "100", "-y", "30", &script]);
    let wait_for = |what: &str| {
        for _ in 0..100 {
            if tmux(&["capture-pane", "-p", "-t", "ui"]).contains(what) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("never saw {what:?}:\n{}", tmux(&["capture-pane", "-p", "-t", "ui"]));
    };
    wait_for("crash on start");
    // Live: an issue made elsewhere shows up.
    t.create(&r, "made while it was open");
    wait_for("made while it was open");
    tmux(&["send-keys", "-t", "ui", "/", "C-u"]);
    tmux(&["send-keys", "-t", "ui", "-l", "crash"]);
    tmux(&["send-keys", "-t", "ui", "Enter"]);
    wait_for("1 issue(s)");
    tmux(&["send-keys", "-t", "ui", "m"]);
    wait_for("written in tmux");
    tmux(&["send-keys", "-t", "ui", "q"]);
    for _ in 0..100 {
        if after.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let alt = tmux(&["display", "-p", "-t", "ui", "#{alternate_on} #{cursor_flag}"]);
    tmux(&["kill-session", "-t", "ui"]);
    assert_eq!(
        std::fs::read_to_string(&before).unwrap(),
        std::fs::read_to_string(&after).unwrap(),
        "the terminal's modes are as they were"
    );
    assert_eq!(alt.trim(), "0 1", "main screen, cursor shown");
    let list = t.json("issue", &r, &["list", "-S", "crash"]);
    let id = list[0]["id"].as_str().unwrap();
    assert_eq!(
        t.json("issue", &r, &["show", id])["comments"][0]["body"],
        "written in tmux"
    );

    // NO_COLOR: no colour on the screen (the selection is shown reversed); colour without it.
    let colours = |no_color: bool| {
        let script = format!(
            "{}{} ui; sleep 60",
            if no_color { "NO_COLOR=1 " } else { "" },
            crate::env::exe("issue")
        );
        tmux(&["new-session", "-d", "-s", "col", "-x", "100", "-y", "30", &script]);
        let mut screen = String::new();
        for _ in 0..100 {
            screen = tmux(&["capture-pane", "-p", "-e", "-t", "col"]);
            if screen.contains("crash on start") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        tmux(&["kill-session", "-t", "col"]);
        // A foreground or background colour: SGR 30-38, 40-48, 90-97 (39 and 49 are the defaults).
        let sgr = screen
            .split("\u{1b}[")
            .skip(1)
            .filter_map(|s| s.split('m').next())
            .collect::<Vec<_>>();
        sgr.iter().any(|p| {
            p.split(';')
                .filter_map(|n| n.parse::<u32>().ok())
                .any(|n| (30..=48).contains(&n) && n != 39 || (90..=97).contains(&n))
        })
    };
    assert!(!colours(true), "NO_COLOR draws without colour");
    assert!(colours(false), "colour on a terminal otherwise");

    // SIGTERM: the terminal comes back all the same.
    let pid = t.tmp.path().join("ui.pid");
    let (before, after) = (t.tmp.path().join("stty2.before"), t.tmp.path().join("stty2.after"));
    let script = format!(
        "stty -g > {b}; sh -c 'echo $$ > {p}; exec {ui} ui'; stty -g > {a}; sleep 60",
        b = before.display(),
        a = after.display(),
        p = pid.display(),
        ui = crate::env::exe("issue"),
    );
    tmux(&["new-session", "-d", "-s", "term", "-x", "80", "-y", "24", &script]);
    for _ in 0..100 {
        if tmux(&["capture-pane", "-p", "-t", "term"]).contains("crash on start") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ui_pid: i32 = std::fs::read_to_string(&pid).unwrap().trim().parse().unwrap();
    // SAFETY: a signal to the process this test started.
    unsafe { libc::kill(ui_pid, libc::SIGTERM) };
    for _ in 0..100 {
        if after.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let alt = tmux(&["display", "-p", "-t", "term", "#{alternate_on} #{cursor_flag}"]);
    tmux(&["kill-server"]);
    assert_eq!(
        std::fs::read_to_string(&before).unwrap(),
        std::fs::read_to_string(&after).unwrap(),
        "after SIGTERM the terminal's modes are as they were"
    );
    assert_eq!(alt.trim(), "0 1");
}

#[test]
fn a_title_and_a_label_that_begin_with_a_dash_are_text_not_flags() {
    hermetic();
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let mut app = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    let Effect::Edit { purpose, .. } = app.key(key('c')) else {
        panic!("c opens the editor")
    };
    app.edited(purpose, Some("--help me: -rf is not a flag\n\n--body too\n".into()));
    assert!(!app.status_error, "{}", app.status);
    let list = t.json("issue", &r, &["list"]);
    assert_eq!(list[0]["title"], "--help me: -rf is not a flag", "{list}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(t.json("issue", &r, &["show", &id])["body"], "--body too");
    app.key(key('l'));
    typed(&mut app, "-x, --remove-label");
    app.key(code(KeyCode::Enter));
    assert!(!app.status_error, "{}", app.status);
    assert_eq!(
        t.json("issue", &r, &["show", &id])["labels"],
        serde_json::json!(["--remove-label", "-x"])
    );
}

/// On a terminal, `create` without --title and `comment` without --body open git's editor (here
/// `GIT_EDITOR`); a text left empty writes nothing; outside a terminal both still refuse.
#[test]
fn create_and_comment_open_the_editor_on_a_terminal() {
    let t = TestEnv::new();
    if !tmux_here() {
        return;
    }
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let target = t.create(&r, "needs a comment");
    let editor = script(
        &t,
        "editor.sh",
        "#!/bin/sh\n\
         if grep -q 'Write the comment' \"$1\"; then printf 'said in the editor\\n# left out\\n' > \"$1\";\n\
         elif [ -n \"$CANCEL\" ]; then : > \"$1\";\n\
         else printf '\\nTitle from the editor\\n\\nThe body,\\nin two lines.\\n# left out\\n' > \"$1\"; fi\n",
    );
    let sock = t.tmp.path().join("tmux.sock");
    let done = t.tmp.path().join("done");
    let tmux = |args: &[&str]| {
        let out = t.wrapped("tmux", &r).arg("-S").arg(&sock).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    tmux(&["new-session", "-d", "-s", "keep", "sleep 600"]);
    let issue = crate::env::exe("issue");
    let script = format!(
        "export GIT_EDITOR={e}; {issue} create -l bug; a=$?; {issue} comment {target}; b=$?; \
         CANCEL=1 {issue} create; c=$?; echo \"$a $b $c\" > {d}.tmp; mv {d}.tmp {d}; sleep 60",
        e = editor.display(),
        d = done.display(),
    );
    tmux(&["new-session", "-d", "-s", "ed", "-x", "100", "-y", "30", &script]);
    for _ in 0..400 {
        if done.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let screen = tmux(&["capture-pane", "-p", "-t", "ed"]);
    tmux(&["kill-server"]);
    let codes = std::fs::read_to_string(&done).unwrap_or_else(|_| panic!("never finished:\n{screen}"));
    assert_eq!(codes.trim(), "0 0 2", "{screen}");
    assert!(screen.contains("left empty; nothing was written"), "{screen}");
    let made = t.json("issue", &r, &["list", "-S", "label:bug"]);
    assert_eq!(made[0]["title"], "Title from the editor", "{made}");
    let shown = t.json("issue", &r, &["show", made[0]["id"].as_str().unwrap()]);
    assert_eq!(shown["body"], "The body,\nin two lines.");
    assert_eq!(
        t.json("issue", &r, &["show", &target])["comments"][0]["body"],
        "said in the editor"
    );
    assert_eq!(
        t.json("issue", &r, &["list"]).as_array().unwrap().len(),
        2,
        "the cancelled one was not made"
    );
    // Outside a terminal: refused, with the hint.
    t.cmd("issue", &r)
        .args(["create"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a title is required"));
    t.cmd("issue", &r)
        .args(["comment", &target])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a comment needs a body"));
}

/// `x` on an issue another agent has claimed asks first; `n` leaves it open, `y` closes it.
/// On an unclaimed issue it closes at once.
#[test]
fn closing_an_issue_another_agent_claimed_asks_first() {
    hermetic();
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let id = t.create(&r, "being worked on");
    let out = t
        .std_cmd("issue", &r)
        .args(["claim", &id])
        .env("GRIT_ACTOR", "agent-7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut app = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    assert!(matches!(app.key(key('x')), Effect::None));
    let question = app.prompt.as_ref().map(|p| p.question.clone()).unwrap_or_default();
    assert!(
        question.contains("claimed by") && question.contains("close it anyway"),
        "{question}"
    );
    typed(&mut app, "n");
    app.key(code(KeyCode::Enter));
    assert_eq!(t.json("issue", &r, &["show", &id])["state"], "open", "n keeps it open");
    app.key(key('x'));
    typed(&mut app, "y");
    app.key(code(KeyCode::Enter));
    assert_eq!(t.json("issue", &r, &["show", &id])["state"], "closed", "y closes it");
    // Reopening asks nothing, nor does closing an issue nobody claimed.
    let mut all = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    typed(&mut all, "/");
    all.key(code(KeyCode::Backspace));
    for _ in 0..12 {
        all.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    }
    typed(&mut all, "is:closed");
    all.key(code(KeyCode::Enter));
    all.key(key('x'));
    assert!(all.prompt.is_none());
    assert_eq!(t.json("issue", &r, &["show", &id])["state"], "open", "reopened at once");
    let free = t.create(&r, "nobody's");
    let mut app = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    for _ in 0..app.issues.hits.len() {
        if app.issues.selected_id().map(|i| i.to_hex()) == Some(free.clone()) {
            break;
        }
        app.key(code(KeyCode::Down));
    }
    assert_eq!(app.issues.selected_id().map(|i| i.to_hex()), Some(free.clone()));
    app.key(key('x'));
    assert!(app.prompt.is_none());
    assert_eq!(t.json("issue", &r, &["show", &free])["state"], "closed");
}

/// `e` edits the title, body, priority, type and assignees in the editor's text; `s` steps the
/// sort; `b` goes back after a link jump; `y` copies the id.
#[test]
fn keys_edit_fields_sort_go_back_and_copy() {
    hermetic();
    let t = TestEnv::new();
    let r = t.repo("r");
    t.git(&r, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let blocker = t.create(&r, "the blocker");
    let id = t.json(
        "issue",
        &r,
        &["create", "-t", "to edit", "-b", "old body", "--blocked-by", &blocker],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut app = App::new(r.clone(), Tab::Issues, Theme { color: false }).unwrap();
    for _ in 0..app.issues.hits.len() {
        if app.issues.selected_id().map(|i| i.to_hex()) == Some(id.clone()) {
            break;
        }
        app.key(code(KeyCode::Down));
    }
    // e: the fields, edited.
    let Effect::Edit { template, purpose } = app.key(key('e')) else {
        panic!("e opens the editor")
    };
    assert!(
        template.starts_with("title: to edit\npriority: 2\ntype: task\nassignees: \n---\nold body"),
        "{template}"
    );
    let edited = template
        .replace("title: to edit", "title: edited in the UI")
        .replace("priority: 2", "priority: 0")
        .replace("type: task", "type: bug")
        .replace("assignees: ", "assignees: ann, bo")
        .replace("old body", "new body\nsecond line");
    app.edited(purpose, Some(edited));
    let v = t.json("issue", &r, &["show", &id]);
    assert_eq!(v["title"], "edited in the UI", "{v}");
    assert_eq!(
        (v["priority"].as_u64(), v["type"].as_str()),
        (Some(0), Some("bug")),
        "{v}"
    );
    assert_eq!(v["assignees"], serde_json::json!(["ann", "bo"]), "{v}");
    assert_eq!(v["body"], "new body\nsecond line", "{v}");
    // A field that does not read writes nothing, and says why.
    let Effect::Edit { template, purpose } = app.key(key('e')) else {
        panic!()
    };
    app.edited(purpose, Some(template.replace("priority: 0", "priority: urgent")));
    assert!(app.status.contains("nothing was written"), "{:?}", app.status);
    assert_eq!(t.json("issue", &r, &["show", &id])["priority"], 0);
    // s: sort by updated, priority, created, then none.
    for want in ["sort:updated", "sort:priority", "sort:created"] {
        app.key(key('s'));
        assert!(app.issues.query.ends_with(want), "{}", app.issues.query);
    }
    app.key(key('s'));
    assert!(!app.issues.query.contains("sort:"), "{}", app.issues.query);
    // 1 jumps to the blocker; b comes back.
    let here = app.issues.selected_id();
    app.key(key('1'));
    assert_eq!(app.issues.selected_id().map(|i| i.to_hex()), Some(blocker.clone()));
    app.key(key('b'));
    assert_eq!(app.issues.selected_id(), here);
    // y: the full id, for the clipboard.
    let Effect::Copy(copied) = app.key(key('y')) else {
        panic!("y copies")
    };
    assert_eq!(Some(copied), here.map(|i| i.to_hex()));
}

#[test]
fn the_conflict_view_resolves_a_sandbox_against_main_hunk_by_hunk_and_it_then_merges_cleanly() {
    hermetic();
    let t = TestEnv::new();
    let r = t.repo("r");
    std::fs::write(r.join(".gitignore"), ".sandboxes/\n").unwrap();
    std::fs::write(r.join("f.txt"), "one\ntwo\nthree\n").unwrap();
    t.git(&r, &["add", "."]);
    t.git(&r, &["commit", "-q", "-m", "init"]);
    t.git(&r, &["config", "sandbox.root", ".sandboxes"]);
    t.git(&r, &["config", "sandbox.backend", "copy"]);
    // Two sandboxes change the same line; one of them lands first.
    for (name, line) in [("a", "TWO-a"), ("b", "TWO-b")] {
        t.ok(
            "sandbox",
            &r,
            &[
                "run",
                name,
                "--keep",
                "--sh",
                "--",
                &format!("sed -i s/two/{line}/ f.txt"),
            ],
        );
        t.ok("sandbox", &r, &["commit", name, "-m", &format!("{name} changes two")]);
    }
    t.ok("sandbox", &r, &["merge", "a"]);
    let mut app = App::new(r.clone(), Tab::Sandboxes, Theme { color: false }).unwrap();
    app.sandboxes.selected = app.sandboxes.list.iter().position(|s| s.name == "b").unwrap();
    // The plan of every sandbox says which one conflicts with main.
    app.key(key('G'));
    let plan = app.sandboxes.diff.as_ref().expect("the plan").lines.join("\n");
    assert!(plan.contains("conflicts with main: b — over f.txt"), "{plan}");
    app.key(code(KeyCode::Esc));
    // R merges main into the sandbox and shows the hunk: the sandbox's side and main's.
    app.key(key('R'));
    let v = app
        .sandboxes
        .resolve
        .as_ref()
        .unwrap_or_else(|| panic!("{}", app.status));
    assert_eq!(v.files.len(), 1);
    let h = v.files[0].hunks().next().unwrap();
    assert_eq!(
        (h.ours.clone(), h.theirs.clone()),
        (vec!["TWO-b".to_owned()], vec!["TWO-a".to_owned()])
    );
    let s = screen(&mut app, 100, 24);
    assert!(
        s.contains("resolving main into sandbox b") && s.contains("TWO-a"),
        "{s}"
    );
    // An editor or mergetool is handed the file; C refuses while it is unmerged.
    assert!(matches!(app.key(key('e')), Effect::Tool { argv, .. } if argv.last().unwrap() == "f.txt"));
    app.key(key('C'));
    assert!(app.status.contains("still unmerged"), "{}", app.status);
    // Both sides, then commit: the resolution is on the sandbox's branch, which then merges
    // into main without a conflict.
    app.key(key('b'));
    assert!(
        app.sandboxes.resolve.as_ref().unwrap().files.is_empty(),
        "{}",
        app.status
    );
    app.key(key('C'));
    assert!(app.sandboxes.resolve.is_none());
    assert!(
        app.status.contains("committed the resolution on sandbox/b"),
        "{}",
        app.status
    );
    assert_eq!(t.git(&r, &["show", "sandbox/b:f.txt"]), "one\nTWO-b\nTWO-a\nthree\n");
    app.key(key('M'));
    assert!(
        app.prompt.as_ref().unwrap().question.contains("no conflicts"),
        "{:?}",
        app.prompt
    );
    app.key(key('y'));
    app.key(code(KeyCode::Enter));
    assert_eq!(
        std::fs::read_to_string(r.join("f.txt")).unwrap(),
        "one\nTWO-b\nTWO-a\nthree\n"
    );
    // Abandoning puts a sandbox back as it was.
    t.ok(
        "sandbox",
        &r,
        &["run", "c", "--keep", "--sh", "--", "sed -i s/one/ONE-c/ f.txt"],
    );
    t.ok("sandbox", &r, &["commit", "c", "-m", "c changes one"]);
    std::fs::write(r.join("f.txt"), "ONE-main\nTWO-b\nTWO-a\nthree\n").unwrap();
    t.git(&r, &["commit", "-q", "-am", "main changes one"]);
    app.refresh_all();
    app.sandboxes.selected = app.sandboxes.list.iter().position(|s| s.name == "c").unwrap();
    let before = t.git(&r, &["rev-parse", "sandbox/c"]);
    app.key(key('R'));
    assert!(app.sandboxes.resolve.is_some(), "{}", app.status);
    app.key(key('A'));
    assert!(app.sandboxes.resolve.is_none());
    assert_eq!(t.git(&r, &["rev-parse", "sandbox/c"]), before);
    let c = app.sandboxes.list.iter().find(|s| s.name == "c").unwrap();
    assert!(!c.dirty, "{}", app.status);
}
