//! A hermetic environment for running the binaries: cleared env, temp HOME, no system or
//! global git config, fixed identity, clock and key seed.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use tempfile::TempDir;

pub const NOW: &str = "1763700000";

pub struct TestEnv {
    pub tmp: TempDir,
}

/// The path of `git-<tool>`, as built for the tests.
pub fn exe(tool: &str) -> String {
    bin_dir().join(format!("git-{tool}")).display().to_string()
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_git-issue"))
        .parent()
        .expect("binaries live in a directory")
        .to_owned()
}

/// The ref format the tests' repositories are made with, when not git's default.
pub fn ref_format() -> Option<String> {
    std::env::var("GIT_DEFAULT_REF_FORMAT").ok().filter(|f| !f.is_empty())
}

/// True (and says so) when the tests run in reftable repositories: for the few tests of what
/// only the files backend has (loose ref files, `packed-refs` and their locks).
pub fn skip_unless_files_backend(test: &str) -> bool {
    if ref_format().as_deref() == Some("reftable") {
        eprintln!("skipped: {test} tests loose ref files, which a reftable repository does not have");
        return true;
    }
    false
}

pub fn path_var() -> String {
    format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default())
}

/// What a test's sandboxes left mounted in its directory (an overlay the test did not remove) is
/// unmounted with it: left, each would stay in the mount table of every later process, which
/// every isolated run's setup then walks.
impl Drop for TestEnv {
    fn drop(&mut self) {
        let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return;
        };
        let roots = [
            self.tmp.path().to_path_buf(),
            self.tmp.path().canonicalize().unwrap_or_default(),
        ];
        let mut mounted: Vec<PathBuf> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(|m| PathBuf::from(m.replace("\\040", " ")))
            .filter(|m| roots.iter().any(|r| !r.as_os_str().is_empty() && m.starts_with(r)))
            .collect();
        // The deepest first.
        mounted.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        for m in mounted {
            let _ = grit::sandbox::overlay::unmount(&m);
        }
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn home(&self) -> PathBuf {
        let h = self.tmp.path().join("home");
        std::fs::create_dir_all(&h).unwrap();
        h
    }

    fn apply_env(&self, c: &mut StdCommand) {
        c.env_clear()
            .env("PATH", path_var())
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_DATE", "2025-11-21T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2025-11-21T00:00:00Z")
            .env("GRIT_TEST_SEED", "grit-tests")
            .env("GRIT_NOW", NOW)
            .env("LANG", "C");
        // `GIT_DEFAULT_REF_FORMAT=reftable cargo test` runs every test in reftable repositories.
        if let Some(format) = ref_format() {
            c.env("GIT_DEFAULT_REF_FORMAT", format);
        }
        // Under tools/coverage the binaries write their profiles where cargo-llvm-cov says,
        // not into the repository the test is looking at.
        if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
            c.env("LLVM_PROFILE_FILE", profile);
        }
    }

    /// A directory holding only the `git` the tests run (the first on PATH, which may be newer
    /// than /usr/bin's), for tests that run programs with a short PATH of their own.
    pub fn git_only_bin(&self) -> PathBuf {
        let bin = self.tmp.path().join("git-only");
        if !bin.exists() {
            std::fs::create_dir_all(&bin).unwrap();
            let mut c = StdCommand::new("sh");
            self.apply_env(&mut c);
            let git = c.args(["-c", "command -v git"]).output().unwrap().stdout;
            std::os::unix::fs::symlink(String::from_utf8(git).unwrap().trim(), bin.join("git")).unwrap();
        }
        bin
    }

    /// A new repository with a fixed identity in its own config.
    pub fn repo(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.git(&dir, &["init", "-q", "-b", "main"]);
        self.git(&dir, &["config", "user.name", "Ann Example"]);
        self.git(&dir, &["config", "user.email", "ann@example.com"]);
        dir
    }

    /// Runs git in `dir` and returns its stdout; panics on failure.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = StdCommand::new("git");
        self.apply_env(&mut c);
        let out = c.args(args).current_dir(dir).output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A `git-<tool>` command in `dir`, in the hermetic environment.
    pub fn cmd(&self, tool: &str, dir: &Path) -> Command {
        Command::from_std(self.std_cmd(tool, dir))
    }

    /// The same as a plain `std::process::Command`, for spawning several at once.
    pub fn std_cmd(&self, tool: &str, dir: &Path) -> StdCommand {
        let mut c = StdCommand::new(bin_dir().join(format!("git-{tool}")));
        self.apply_env(&mut c);
        c.current_dir(dir);
        c
    }

    /// Another program (a shell, `script`, `setpriv`) in `dir`, in the same hermetic environment,
    /// for running the binaries under it; `exe(tool)` names a binary for its command line.
    pub fn wrapped(&self, program: &str, dir: &Path) -> StdCommand {
        let mut c = StdCommand::new(program);
        self.apply_env(&mut c);
        c.current_dir(dir);
        c
    }

    /// Runs `git-<tool> args…` expecting success; returns stdout.
    pub fn ok(&self, tool: &str, dir: &Path, args: &[&str]) -> String {
        let out = self.cmd(tool, dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {tool} {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs with `--json` and parses stdout.
    pub fn json(&self, tool: &str, dir: &Path, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.ok(tool, dir, &a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Creates an issue and returns its full id.
    /// `show --json` of the issue titled `title` (in any state).
    pub fn show_titled(&self, dir: &Path, title: &str) -> serde_json::Value {
        let list = self.json("issue", dir, &["list", "--state", "all"]);
        let id = list
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("no issue titled {title:?}"))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.json("issue", dir, &["show", &id])
    }

    pub fn create(&self, dir: &Path, title: &str) -> String {
        self.json("issue", dir, &["create", "--title", title])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every ref under refs/grit/, as `git for-each-ref` prints them.
    pub fn grit_refs(&self, dir: &Path) -> String {
        self.git(dir, &["for-each-ref", "refs/grit/"])
    }

    /// The refs under `prefix`, loose or packed, as (name, object id), sorted by name.
    pub fn refs(&self, dir: &Path, prefix: &str) -> Vec<(String, String)> {
        self.git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", prefix])
            .lines()
            .map(|l| l.split_once(' ').expect("name and id"))
            .map(|(name, id)| (name.to_owned(), id.to_owned()))
            .collect()
    }

    /// Where git keeps object `id` when it is loose.
    pub fn loose_object(&self, dir: &Path, id: &str) -> PathBuf {
        dir.join(".git/objects").join(&id[..2]).join(&id[2..])
    }
}

impl TestEnv {
    /// Runs git with `input` on stdin; returns stdout.
    pub fn git_stdin(&self, dir: &Path, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut c = StdCommand::new("git");
        self.apply_env(&mut c);
        let mut child = c
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("git runs");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }
}

impl TestEnv {
    /// A bare repository to sync through, holding one commit on `main`.
    pub fn remote(&self) -> PathBuf {
        let seed = self.repo("seed");
        self.git(&seed, &["commit", "-q", "--allow-empty", "-m", "init"]);
        let bare = self.tmp.path().join("remote.git");
        self.git(
            self.tmp.path(),
            &["clone", "-q", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()],
        );
        bare
    }

    /// A clone of `remote` writing as `user` with actor label `actor` (the test key seed makes
    /// equal labels the same actor in every clone).
    pub fn clone(&self, remote: &Path, name: &str, user: &str, actor: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        self.git(
            self.tmp.path(),
            &["clone", "-q", remote.to_str().unwrap(), dir.to_str().unwrap()],
        );
        self.git(&dir, &["config", "user.name", user]);
        self.git(
            &dir,
            &["config", "user.email", &format!("{}@example.com", user.to_lowercase())],
        );
        self.git(&dir, &["config", "grit.actor", actor]);
        dir
    }

    /// A bare remote and two clones (Ann writing as `ann`, Bob as `bob`), both set up with
    /// `git wal init`: (remote, a, b).
    pub fn pair(&self) -> (PathBuf, PathBuf, PathBuf) {
        let remote = self.remote();
        let a = self.clone(&remote, "a", "Ann", "ann");
        let b = self.clone(&remote, "b", "Bob", "bob");
        self.ok("wal", &a, &["init"]);
        self.ok("wal", &b, &["init"]);
        (remote, a, b)
    }

    /// Writes `bytes` as the one file `file` of a commit with `parents` and `message`, made by
    /// git directly (a forgery, or a record grit would not write); returns the commit id.
    pub fn commit_one_file(&self, repo: &Path, file: &str, bytes: &[u8], parents: &[&str], message: &str) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = self
            .tmp
            .path()
            .join(format!("blob-{}", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&path, bytes).unwrap();
        let blob = self.git(repo, &["hash-object", "-w", path.to_str().unwrap()]);
        let tree = self.git_stdin(repo, &["mktree"], &format!("100644 blob {}\t{file}\n", blob.trim()));
        let mut args = vec![
            "-c",
            "user.name=M",
            "-c",
            "user.email=m@example.com",
            "commit-tree",
            tree.trim(),
        ];
        for p in parents {
            args.extend(["-p", p]);
        }
        args.extend(["-m", message]);
        self.git(repo, &args).trim().to_owned()
    }

    /// Runs git with extra environment; returns (success, stdout, stderr).
    pub fn git_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let mut c = StdCommand::new("git");
        self.apply_env(&mut c);
        let out = c
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir)
            .output()
            .expect("git runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The titles of a `list --json` array, in its order.
pub fn titles(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Opens `dir` and every directory above it to other users (read and search): what a test
/// that runs something as `nobody` needs to reach it.
pub fn open_to_others(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut p = dir.to_owned();
    while p != Path::new("/") {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | 0o005)).unwrap();
        p.pop();
    }
}

/// An HTTP request as `read_request` reads it: method, target, headers, body.
pub type Request = (String, String, std::collections::HashMap<String, String>, Vec<u8>);

/// One HTTP/1.1 request read from a connection (`Content-Length` bodies, as ureq sends them):
/// method, target, headers (names lower-cased) and body. `None` when the peer closed it.
pub fn read_request(r: &mut impl std::io::BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut it = line.split_whitespace();
    let (method, target) = (it.next()?.to_owned(), it.next()?.to_owned());
    let mut headers = std::collections::HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers.get("content-length").map_or(0, |v| v.parse().unwrap_or(0));
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((method, target, headers, body))
}

/// Whether `tool` is a command here.
pub fn on_path(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What a fake API answers: status, headers and a JSON body.
pub type Answer = (u16, Vec<(String, String)>, serde_json::Value);

/// A local HTTP server on 127.0.0.1 that answers every request (kept-alive connections, one
/// thread each) with `answer(request, its base URL)`, as a recorded API would. Returns the
/// base URL (`http://127.0.0.1:PORT`).
pub fn json_server(answer: impl Fn(&Request, &str) -> Answer + Send + Sync + 'static) -> String {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    let b = base.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (answer, b) = (answer.clone(), b.clone());
            std::thread::spawn(move || {
                let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                while let Some(req) = read_request(&mut r) {
                    let (status, headers, out) = answer(&req, &b);
                    let out = serde_json::to_vec(&out).unwrap();
                    let mut resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                        out.len()
                    );
                    for (k, v) in headers {
                        resp.push_str(&format!("{k}: {v}\r\n"));
                    }
                    resp.push_str("\r\n");
                    if w.write_all(resp.as_bytes()).is_err() || w.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

/// A tool the tests use from outside: `var` names it, else it is in target/test-tools.
pub fn test_tool(var: &str, under_test_tools: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-tools")
        .join(under_test_tools);
    p.exists().then_some(p)
}
