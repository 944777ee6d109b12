//! `git sandbox run --on`: a sandbox whose commands run on another machine over ssh, against a
//! real sshd on 127.0.0.1 logging in another local user by key.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::TestEnv;

/// The user the remote side logs in as (made when the tests run as root).
const REMOTE_USER: &str = "grit-remote";

/// An sshd on a free port of 127.0.0.1, with its keys and a directory the remote user writes
/// in; stopped when dropped.
struct Sshd {
    child: Child,
    /// Keys, config and the executors' directory: open to the remote user.
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // What the remote user made there (root removes it).
        let _ = std::fs::remove_dir_all(self.dir.path());
    }
}

fn run(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Sshd {
    /// `None`, with the reason printed, where this machine cannot run one.
    fn start(test: &str) -> Option<Sshd> {
        let sshd = Path::new("/usr/sbin/sshd");
        if !sshd.exists() || !crate::env::on_path("ssh") || !crate::env::on_path("ssh-keygen") {
            eprintln!("skipped: {test} needs openssh-server and its client (sshd, ssh, ssh-keygen)");
            return None;
        }
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let user = if root {
            let exists = run(Command::new("id").arg(REMOTE_USER));
            // A locked password ('!') would be refused; '*' has none and is not locked.
            if !exists
                && !run(Command::new("useradd").args(["-m", "-s", "/bin/sh", "-p", "*", REMOTE_USER]))
                && !run(Command::new("id").arg(REMOTE_USER))
            {
                eprintln!("skipped: {test} could not make the local user {REMOTE_USER}");
                return None;
            }
            REMOTE_USER.to_owned()
        } else {
            // Without root, sshd logs in only the user it runs as.
            std::env::var("USER").unwrap_or_else(|_| "nobody".into())
        };
        let dir = tempfile::Builder::new().prefix("grit-sshd").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for k in ["host_key", "client_key"] {
            assert!(run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(k))));
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::set_permissions(d.join("authorized_keys"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let work = d.join("work");
        std::fs::create_dir(&work).unwrap();
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 PidFile {pid}\nAllowUsers {user}\n",
                host = d.join("host_key").display(),
                keys = d.join("authorized_keys").display(),
                pid = d.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        if root {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let s = Sshd { child, dir, port, user };
        // Up when it accepts a login.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !run(Command::new("sh").args([
            "-c",
            &format!("{} \"$@\"", s.ssh_command()),
            "ssh",
            "-o",
            "BatchMode=yes",
            &s.destination(),
            "true",
        ])) {
            assert!(
                Instant::now() < deadline,
                "sshd did not come up: {}",
                std::fs::read_to_string(s.dir.path().join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(s)
    }

    fn ssh_command(&self) -> String {
        format!(
            "ssh -i {} -p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            self.dir.path().join("client_key").display(),
            self.port
        )
    }

    fn destination(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    /// The executors' directory (the remote user's sandboxes go in it).
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Sets executor `lo` in repository `r` to this sshd.
    fn configure(&self, t: &TestEnv, r: &Path) {
        t.git(r, &["config", "sandbox.executor.lo.ssh", &self.destination()]);
        t.git(r, &["config", "sandbox.executor.lo.sshCommand", &self.ssh_command()]);
        t.git(r, &["config", "sandbox.executor.lo.dir", self.work().to_str().unwrap()]);
    }

    /// The sandbox directories there.
    fn sandboxes(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.work())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".pid"))
            .collect();
        v.sort();
        v
    }

    /// The per-connection processes under the listener: killing them drops every connection.
    fn kill_connections(&self) {
        let listener = self.child.id();
        let mut killed = 0;
        for pid in descendants(listener) {
            // SAFETY: a plain kill of a process this test started (through sshd).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            killed += 1;
        }
        assert!(killed > 0, "no connection to kill");
    }
}

/// Every process below `pid` whose command line is an sshd (the connection's, not the
/// command it runs).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) else {
            continue;
        };
        for c in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            let cmdline = std::fs::read_to_string(format!("/proc/{c}/cmdline")).unwrap_or_default();
            if cmdline.starts_with("sshd") {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Polls `what` until it holds, for at most 60 s (generous under load).
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A repository with a commit, an uncommitted change and an untracked file.
fn project(t: &TestEnv) -> PathBuf {
    let r = t.repo("r");
    std::fs::write(r.join("a.txt"), "a\n").unwrap();
    std::fs::write(r.join("b.txt"), "b\n").unwrap();
    t.git(&r, &["add", "-A"]);
    t.git(&r, &["commit", "-qm", "files"]);
    std::fs::write(r.join("a.txt"), "a, changed here\n").unwrap();
    std::fs::write(r.join("untracked.txt"), "u\n").unwrap();
    r
}

#[test]
fn a_remote_run_streams_its_output_returns_its_code_and_its_commits_and_files_come_back() {
    let Some(sshd) = Sshd::start("the remote executor test") else {
        return;
    };
    let t = TestEnv::new();
    let r = project(&t);
    sshd.configure(&t, &r);
    let script = "echo out-$(whoami); echo err >&2; cat a.txt untracked.txt; \
                  git rm -q b.txt; echo new >new.txt; git add new.txt; \
                  git -c user.name=R -c user.email=r@h commit -qm 'made there'; \
                  echo later >later.txt; rm untracked.txt; exit 7";
    let out = t
        .cmd("sandbox", &r)
        .args(["run", "far", "--on", "lo", "--keep", "--sh", "--", script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // It ran there, as the remote user, on what the sandbox held (the carried change included).
    assert!(stdout.contains(&format!("out-{}", sshd.user)), "{stdout}");
    assert!(stdout.contains("a, changed here\nu\n"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err"));
    // Its commit is on sandbox/far here, and its files are in the sandbox.
    let log = t.git(&r, &["log", "--format=%s", "sandbox/far"]);
    assert_eq!(log.lines().next(), Some("made there"), "{log}");
    let listed = t.json("sandbox", &r, &["list"]);
    let s = &listed[0];
    assert_eq!(s["remote"]["on"], "lo", "{listed}");
    assert_eq!(s["remote"]["state"], "idle");
    let path = PathBuf::from(s["path"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(path.join("later.txt")).unwrap(), "later\n");
    assert!(!path.join("untracked.txt").exists(), "removed there, removed here");
    assert!(!path.join("b.txt").exists());
    let human = t.ok("sandbox", &r, &["list"]);
    assert!(human.contains("on lo"), "{human}");
    let diff = t.json("sandbox", &r, &["diff", "far"]).to_string();
    // Against what it was made with (the carried change is not the run's).
    assert!(diff.contains("later.txt") && diff.contains("untracked.txt"), "{diff}");
    // The run is in its history, with its code and output.
    let runs = t.json("sandbox", &r, &["logs", "far", "--list"]);
    assert_eq!(runs[0]["exit_code"], 7, "{runs}");
    // Another command runs there again, on the state now here.
    let again = t
        .cmd("sandbox", &r)
        .args(["exec", "far", "--", "cat", "later.txt"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(String::from_utf8_lossy(&again.stdout), "later\n");
    // commit and land as for any sandbox; rm removes its directory there.
    t.ok("sandbox", &r, &["commit", "far", "-m", "the rest", "--include-carried"]);
    std::fs::remove_file(r.join("untracked.txt")).unwrap();
    t.git(&r, &["checkout", "-q", "--", "a.txt"]);
    t.ok("sandbox", &r, &["land", "far"]);
    let landed = t.git(&r, &["log", "--format=%s", "-3"]);
    assert!(landed.starts_with("the rest\nmade there\n"), "{landed}");
    assert!(r.join("later.txt").exists() && !r.join("b.txt").exists());
    assert_eq!(sshd.sandboxes().len(), 1);
    t.ok("sandbox", &r, &["rm", "far"]);
    assert!(sshd.sandboxes().is_empty(), "{:?}", sshd.sandboxes());
}

#[test]
fn remote_runs_of_several_sandboxes_at_once_each_get_their_own_result() {
    let Some(sshd) = Sshd::start("the parallel remote executor test") else {
        return;
    };
    let t = TestEnv::new();
    let r = project(&t);
    sshd.configure(&t, &r);
    let children: Vec<_> = (0..4)
        .map(|i| {
            t.std_cmd("sandbox", &r)
                .args(["run", &format!("p{i}"), "--on", "lo", "--keep", "--sh", "--"])
                .arg(format!("echo {i} >mine.txt; exit {i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(i as i32),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for s in t.json("sandbox", &r, &["list"]).as_array().unwrap() {
        let i = &s["name"].as_str().unwrap()[1..];
        let mine = std::fs::read_to_string(Path::new(s["path"].as_str().unwrap()).join("mine.txt")).unwrap();
        assert_eq!(mine.trim(), i);
    }
    assert_eq!(sshd.sandboxes().len(), 4);
}

/// Starts `sandbox run NAME --on lo` of a command that writes its pid where the test reads it
/// and waits; returns the grit process (in its own process group) and the remote pid.
fn start_long_run(t: &TestEnv, r: &Path, sshd: &Sshd, name: &str, args: &[&str]) -> (Child, i32) {
    let pidfile = sshd.work().join(format!("{name}.pid"));
    use std::os::unix::process::CommandExt;
    let child = t
        .std_cmd("sandbox", r)
        .args(args)
        .args(["--sh", "--"])
        .arg(format!("echo $$ >{}; exec sleep 300", pidfile.display()))
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the remote command started", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|p| p.trim().parse::<i32>().is_ok())
    });
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    (child, pid)
}

#[test]
fn ctrl_c_stops_the_remote_command_and_removes_its_directory() {
    let Some(sshd) = Sshd::start("the remote Ctrl-C test") else {
        return;
    };
    let t = TestEnv::new();
    let r = project(&t);
    sshd.configure(&t, &r);
    let (child, pid) = start_long_run(&t, &r, &sshd, "int", &["run", "int", "--on", "lo", "--keep"]);
    assert!(alive(pid));
    // A terminal's Ctrl-C: SIGINT to the whole foreground process group.
    // SAFETY: a signal to the group this test made.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    eventually("the remote command is gone", || !alive(pid));
    eventually("the remote directory is removed", || {
        sshd.sandboxes().iter().all(|d| !d.starts_with("int-"))
    });
    // The sandbox here is as it was, and runs there again.
    let listed = t.json("sandbox", &r, &["list"]);
    assert_eq!(listed[0]["remote"]["state"], "idle", "{listed}");
    let again = t
        .cmd("sandbox", &r)
        .args(["exec", "int", "--", "cat", "untracked.txt"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "u\n",
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_connection_lost_mid_run_marks_the_sandbox_and_the_next_command_settles_it() {
    let Some(sshd) = Sshd::start("the lost-connection test") else {
        return;
    };
    let t = TestEnv::new();
    let r = project(&t);
    sshd.configure(&t, &r);
    t.ok("sandbox", &r, &["run", "cut", "--on", "lo", "--keep", "--", "true"]);
    let (child, pid) = start_long_run(&t, &r, &sshd, "cut", &["exec", "cut"]);
    sshd.kill_connections();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("connection to lo was lost"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let listed = t.json("sandbox", &r, &["list"]);
    assert_eq!(listed[0]["remote"]["state"], "lost", "{listed}");
    assert!(t.ok("sandbox", &r, &["list"]).contains("connection lost"));
    // There, the command is stopped when its connection goes.
    eventually("the remote command is gone", || !alive(pid));
    // The next command on it settles it, and says so.
    let next = t.cmd("sandbox", &r).args(["diff", "cut"]).output().unwrap();
    assert!(next.status.success());
    let said = String::from_utf8_lossy(&next.stderr);
    assert!(said.contains("lost its connection"), "{said}");
    let listed = t.json("sandbox", &r, &["list"]);
    assert_eq!(listed[0]["remote"]["state"], "idle", "{listed}");
    // And it runs there again.
    t.ok("sandbox", &r, &["exec", "cut", "--", "true"]);
}

#[test]
fn a_remote_sandbox_refuses_what_cannot_run_there_and_names_a_bad_executor() {
    let t = TestEnv::new();
    let r = project(&t);
    // A destination that is an option is refused before anything is made.
    t.cmd("sandbox", &r)
        .args(["run", "x", "--on=-oProxyCommand=touch /tmp/pwned", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "neither a configured executor nor an ssh destination",
        ))
        .stderr(predicates::str::contains("hint:"));
    assert!(t.json("sandbox", &r, &["list"]).as_array().unwrap().is_empty());
    // A host that cannot be reached: the run fails with a hint, the sandbox is kept.
    t.git(&r, &["config", "sandbox.executor.gone.ssh", "nobody@127.0.0.1"]);
    t.git(
        &r,
        &[
            "config",
            "sandbox.executor.gone.sshCommand",
            "ssh -p 1 -o ConnectTimeout=5",
        ],
    );
    t.cmd("sandbox", &r)
        .args(["run", "y", "--on", "gone", "--keep", "--", "true"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("could not reach"))
        .stderr(predicates::str::contains("hint:"));
}
