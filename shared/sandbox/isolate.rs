//! Running a sandbox's command isolated: new user, mount, PID, IPC and UTS namespaces (and
//! network, unless allowed), through bubblewrap, or through util-linux's `unshare` where
//! bubblewrap is not installed (`sandbox.isolateWith` chooses). Everything is read-only but the
//! sandbox, its git directory, a private /tmp and the paths the user adds. Through bubblewrap the
//! command also runs under a seccomp filter (`seccomp.rs`; `--seccomp off`, `sandbox.seccomp`). Where neither tool
//! can make the namespaces, the command does not run at all.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a run is isolated, as recorded for `repeat` and provenance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Isolate {
    /// Keep the host's network.
    pub net: bool,
    /// More paths the command may write.
    pub allow: Vec<PathBuf>,
    /// The tool that makes the namespaces.
    #[serde(default)]
    pub with: Tool,
    /// The seccomp filter (bubblewrap only).
    #[serde(default)]
    pub seccomp: super::seccomp::Profile,
    /// The only hosts it may reach, through the allowlist's proxy (`proxy.rs`); empty: none,
    /// or all with `net`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<super::proxy::Allowed>,
}

/// What makes the namespaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// bubblewrap.
    #[default]
    Bwrap,
    /// util-linux's `unshare`, with a script that sets up the mounts.
    Unshare,
}

impl Tool {
    /// The tool's program name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Bwrap => "bwrap",
            Tool::Unshare => "unshare",
        }
    }
}

/// `unshare`'s part of the command line: every namespace, the user mapped to root inside (so it
/// may mount), and a /proc of the new PID namespace.
const UNSHARE: [&str; 9] = [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--pid",
    "--fork",
    "--ipc",
    "--uts",
    "--mount-proc",
];

/// Paths `unshare` isolation can bind (descriptors 3 to 9 of the script that mounts them).
const UNSHARE_PATHS: usize = 7;

/// Chooses the tool (`preference`: `sandbox.isolateWith`, auto when unset) and checks that it may
/// make namespaces here. Returns the tool, and why it was chosen when that is not the default.
pub fn choose(preference: Option<&str>) -> Result<(Tool, Option<String>)> {
    match preference.map(str::trim) {
        None | Some("" | "auto") => {}
        Some("bwrap") => return probe().map(|()| (Tool::Bwrap, None)),
        Some("unshare") => {
            return probe_unshare().map(|()| (Tool::Unshare, Some("sandbox.isolateWith=unshare".into())));
        }
        Some(other) => {
            return Err(Error::invalid(
                format!("sandbox.isolateWith is '{other}'; nothing was run"),
                "set it to auto, bwrap or unshare",
            ));
        }
    }
    match probe() {
        Ok(()) => Ok((Tool::Bwrap, None)),
        Err(bwrap) if !installed("bwrap") => match probe_unshare() {
            Ok(()) => Ok((
                Tool::Unshare,
                Some("bubblewrap (bwrap) is not installed; isolating through unshare".into()),
            )),
            Err(_) => Err(bwrap),
        },
        Err(e) => Err(e),
    }
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}

/// Checks that `unshare` may make the namespaces and mount in them.
fn probe_unshare() -> Result<()> {
    let mut args = UNSHARE[1..].to_vec();
    args.extend(["sh", "-c", "mount -t tmpfs tmpfs /tmp"]);
    probe_with(
        "unshare",
        &args,
        "--isolate needs bubblewrap (bwrap) or util-linux's unshare, and neither is installed; nothing was run",
    )
}

/// Checks that bubblewrap is installed and may make namespaces here; the error says which not.
/// A success is remembered for this boot and this bubblewrap (a stamp in the user's private
/// directory), so runs after the first skip the probe's 15 ms; should namespaces be turned off
/// since, bubblewrap itself then refuses, and nothing runs unisolated either way.
pub fn probe() -> Result<()> {
    let stamp = probe_stamp();
    let remembered = stamp.as_ref().and_then(|(path, want)| {
        let have = std::fs::read_to_string(path).ok()?;
        (have == *want).then_some(())
    });
    if remembered.is_some() {
        return Ok(());
    }
    probe_with(
        "bwrap",
        &["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
        "--isolate runs the command through bubblewrap (bwrap), which is not installed; nothing was run",
    )?;
    if let Some((path, want)) = stamp {
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        if std::fs::write(&tmp, want).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(())
}

/// Where a successful probe is remembered, and what it says: this boot, and the bubblewrap
/// on `PATH` (its path, size and modification time).
fn probe_stamp() -> Option<(PathBuf, String)> {
    use std::os::unix::fs::MetadataExt;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let bwrap = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())?;
    let m = std::fs::metadata(&bwrap).ok()?;
    let want = format!("{} {} {} {}\n", boot.trim(), bwrap.display(), m.size(), m.mtime());
    Some((crate::sys::private_tmp()?.join("bwrap-probe"), want))
}

/// Runs `program args` (a command that makes namespaces and does nothing in them); the error
/// says whether the program is missing (`missing`) or may not make them.
fn probe_with(program: &str, args: &[&str], missing: &str) -> Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(
            missing,
            "install bubblewrap (Debian and Ubuntu: `apt install bubblewrap`; Fedora: `dnf install bubblewrap`)",
        )),
        Err(e) => Err(Error::io(program.to_owned())(e)),
        Ok(o) if !o.status.success() => Err(Error::invalid(
            format!(
                "this system does not let {program} make namespaces ({}); nothing was run",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            "unprivileged user namespaces are off here (kernel.unprivileged_userns_clone, or a container's seccomp \
             policy); run without --isolate, or where they are allowed",
        )),
        Ok(_) => Ok(()),
    }
}

/// What isolation hides from the command and what it must not change, beyond the sandbox and
/// its git directory (writable) and the repository's common git directory (read-only):
/// - files git reads to find the repository (`.git` in the sandbox, `commondir`, `gitdir` and
///   `config.worktree` in its git directory) are read-only, so the command cannot point the host's
///   next `git` at a repository of its own making (whose config could run a program);
/// - the actors' keys (`<common>/grit/actors`) and `$HOME` are hidden behind empty directories;
///   with bubblewrap, the directories on `PATH` under `$HOME` and `~/.rustup` come back
///   read-only, so tools installed there still run.
struct Guard {
    ro_files: Vec<PathBuf>,
    /// `$HOME`, hidden.
    home: Option<PathBuf>,
    /// The actors' keys, hidden.
    keys: Option<PathBuf>,
    /// What comes back read-only under `$HOME` (bubblewrap only).
    shown: Vec<PathBuf>,
}

fn guard(sandbox: &Path, git_dir: Option<&Path>, common_dir: Option<&Path>) -> Guard {
    let mut ro_files = vec![sandbox.join(".git")];
    if let Some(g) = git_dir.filter(|g| *g != common_dir.unwrap_or(Path::new(""))) {
        for f in ["commondir", "gitdir", "config.worktree"] {
            let p = g.join(f);
            // Made empty where missing, so that the command cannot make it (git reads it only
            // with extensions.worktreeConfig, which the read-only common config decides).
            if !p.exists() {
                let _ = std::fs::write(&p, "");
            }
            ro_files.push(p);
        }
    }
    ro_files.retain(|p| p.is_file());
    let keys = common_dir.map(|c| c.join("grit").join("actors")).filter(|k| k.is_dir());
    // Not a $HOME that is `/`, or lies in the sandbox.
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute() && h.is_dir() && h.parent().is_some())
        .filter(|h| !h.starts_with(sandbox));
    let mut shown = Vec::new();
    if let Some(h) = &home {
        let under = |p: &Path| p.starts_with(h) && p != h.as_path() && p.is_dir();
        shown.extend(
            std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter(|p| under(p)),
        );
        let rustup = std::env::var_os("RUSTUP_HOME").map_or_else(|| h.join(".rustup"), PathBuf::from);
        if under(&rustup) {
            shown.push(rustup);
        }
        shown.sort();
        shown.dedup();
    }
    Guard {
        ro_files,
        home,
        keys,
        shown,
    }
}

/// The descriptor bubblewrap reports its setup on (`--json-status-fd`).
pub const STATUS_FD: i32 = 12;

/// What bubblewrap says of a run's setup. It writes `{ "exit-code": N }` only for a command it
/// started: a run without one failed before the command, in bubblewrap's own setup. That setup
/// binds the host's every mount and then makes each read-only one by one, so a mount that goes
/// in between (another sandbox removed, a probe) fails it; such a run is worth one more try.
pub struct Setup {
    reader: std::io::PipeReader,
    writer: std::os::fd::OwnedFd,
}

impl Setup {
    /// A pipe for bubblewrap's `--json-status-fd`.
    pub fn new() -> Result<Self> {
        let (reader, writer) = std::io::pipe().map_err(Error::io("pipe"))?;
        use std::os::fd::AsFd;
        crate::sys::set_nonblocking(reader.as_fd()).map_err(Error::io("pipe"))?;
        Ok(Setup {
            reader,
            writer: writer.into(),
        })
    }

    /// The end bubblewrap writes, for [`STATUS_FD`].
    pub fn writer(&self) -> Result<std::os::fd::OwnedFd> {
        self.writer.try_clone().map_err(Error::io("pipe"))
    }

    /// Whether the command of the run that just ended started (what bubblewrap wrote since the
    /// last call says so).
    pub fn started(&self) -> bool {
        use std::io::Read;
        let mut said = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = (&self.reader).read(&mut buf) {
            if n == 0 {
                break;
            }
            said.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&said).contains("\"exit-code\"")
    }
}

/// The bubblewrap command line that runs what follows it inside `sandbox`. Its git directory
/// (a worktree's lives in the repository's) is writable too, and the repository's common git
/// directory readable even where the private /tmp would hide it; see [`Guard`] for what is
/// hidden and what is read-only within those.
pub fn wrapper(
    sandbox: &Path,
    git_dir: Option<&Path>,
    common_dir: Option<&Path>,
    iso: &Isolate,
    proxy: Option<&Path>,
) -> Result<Vec<String>> {
    let g = guard(sandbox, git_dir, common_dir);
    if iso.with == Tool::Unshare {
        return unshare_wrapper(sandbox, git_dir, common_dir, iso, &g);
    }
    let s = |p: &Path| p.display().to_string();
    let mut v: Vec<String> = [
        "bwrap",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--json-status-fd",
    ]
    .map(String::from)
    .to_vec();
    v.push(STATUS_FD.to_string());
    if !iso.net {
        v.push("--unshare-net".into());
    }
    // $HOME first (an empty one), then what comes back into it, then the repository's
    // directories, which may live under it.
    if let Some(h) = &g.home {
        v.extend(["--tmpfs".into(), s(h)]);
    }
    for p in &g.shown {
        v.extend(["--ro-bind".into(), s(p), s(p)]);
    }
    if let Some(c) = common_dir {
        v.extend(["--ro-bind".into(), s(c), s(c)]);
    }
    for p in std::iter::once(sandbox)
        .chain(git_dir)
        .chain(iso.allow.iter().map(PathBuf::as_path))
    {
        v.extend(["--bind".into(), s(p), s(p)]);
    }
    for f in &g.ro_files {
        v.extend(["--ro-bind".into(), s(f), s(f)]);
    }
    if let Some(k) = &g.keys {
        v.extend(["--tmpfs".into(), s(k)]);
    }
    if !iso.seccomp.is_off() {
        for fd in super::seccomp::FDS {
            v.extend(["--add-seccomp-fd".into(), fd.to_string()]);
        }
    }
    // The allowlist: the proxy's directory, the forwarder bound read-only into it, and the
    // command run by the forwarder.
    let inside = Path::new(super::proxy::INSIDE_DIR);
    let shim = match proxy {
        Some(dir) => {
            let exe = super::proxy::shim_exe()?;
            // Read-only: the command connects to the socket, and cannot change what is there.
            v.extend(["--ro-bind".into(), s(dir), s(inside)]);
            v.extend(["--ro-bind".into(), s(&exe), s(&inside.join("shim"))]);
            Some(inside.join("shim"))
        }
        None => None,
    };
    v.extend(["--chdir".into(), s(sandbox), "--".into()]);
    if let Some(shim) = shim {
        v.extend([s(&shim), "__netshim".into(), s(&inside.join("proxy.sock")), "--".into()]);
    }
    Ok(v)
}

/// What the `unshare` wrapper's shell does inside the new namespaces, before it runs the command:
/// it opens each directory to bind (so that the private /tmp cannot hide one that lives under
/// /tmp), mounts a private /tmp and /dev/shm, makes every other mount read-only, then, parents
/// first, binds the writable directories back read-write and the read-only ones read-only, mounts
/// an empty directory over each hidden one, and binds each guarded file read-only over itself. It
/// checks that nothing else is writable before it runs anything. Arguments: the sandbox, the
/// number of entries, each entry's mode (`rw`, `ro`, `hide` or `rofile`) and path, then the
/// command.
const UNSHARE_SCRIPT: &str = r#"set -e
dir=$1; n=$2; shift 2
i=0; f=3
while [ $i -lt "$n" ]; do
    case $1 in
    rw | ro) eval "exec $f<\"\$2\""; eval "fd$i=$f"; f=$((f + 1)) ;;
    esac
    eval "mode$i=\$1; p$i=\$2"
    shift 2; i=$((i + 1))
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# mountinfo escapes space, tab, newline and backslash as \ooo: unescaped (two processes) only
# where a path has one.
unescape() { printf '%b' "$(printf '%s' "$1" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')"; }
awk '{print $5}' /proc/self/mountinfo | while IFS= read -r m; do
    case $m in *\\*) m=$(unescape "$m") ;; esac
    case $m in /tmp | /tmp/* | /proc | /proc/* | /dev/shm) continue ;; esac
    mount -o remount,bind,ro "$m" 2>/dev/null || true
done
awk '{for (i = 7; $i != "-"; i++); print $(i + 1), $5, $6}' /proc/self/mountinfo | while IFS=' ' read -r type m opts; do
    case $m in *\\*) m=$(unescape "$m") ;; esac
    case $m in /tmp | /tmp/* | /proc | /proc/* | /dev/shm) continue ;; esac
    # Pseudo-terminals and message queues hold no files to write.
    case $type in devpts | mqueue) continue ;; esac
    case ,$opts, in *,ro,*) ;; *) echo "grit: could not make $m read-only; nothing was run" >&2; exit 125 ;; esac
done
i=0
while [ $i -lt "$n" ]; do
    eval "p=\$p$i; mode=\$mode$i"
    case $mode in
    # Under the private /tmp, a hidden directory is not there to hide.
    hide) if [ -d "$p" ]; then mount -t tmpfs -o mode=0700 tmpfs "$p"; fi ;;
    rofile) mount --bind "$p" "$p"; mount -o remount,bind,ro "$p" ;;
    *)
        eval "fd=\$fd$i"
        mkdir -p "$p"
        # Not canonicalized: the descriptor, not the path it was opened by (which /tmp may hide).
        mount --no-canonicalize --bind "/proc/self/fd/$fd" "$p"
        mount -o "remount,bind,$mode" "$p"
        eval "exec $fd<&-"
        ;;
    esac
    i=$((i + 1))
done
cd "$dir"
exec "$@""#;

/// The `unshare` command line that runs what follows it inside `sandbox`, as [`wrapper`]'s
/// (what bubblewrap brings back under `$HOME` stays hidden here).
fn unshare_wrapper(
    sandbox: &Path,
    git_dir: Option<&Path>,
    common_dir: Option<&Path>,
    iso: &Isolate,
    g: &Guard,
) -> Result<Vec<String>> {
    let s = |p: &Path| p.display().to_string();
    let mut binds: Vec<(&str, &Path)> = common_dir.map(|c| ("ro", c)).into_iter().collect();
    binds.extend(
        std::iter::once(sandbox)
            .chain(git_dir)
            .chain(iso.allow.iter().map(PathBuf::as_path))
            .map(|p| ("rw", p)),
    );
    // Parents before what lies in them, so that no bind hides another; a path bound twice
    // keeps its last (writable) mode.
    binds.sort_by_key(|(mode, p)| (p.components().count(), *p, *mode == "rw"));
    binds.dedup_by(|later, earlier| {
        let same = later.1 == earlier.1;
        if same {
            earlier.0 = later.0;
        }
        same
    });
    if binds.len() > UNSHARE_PATHS {
        return Err(Error::invalid(
            format!(
                "isolation through unshare binds at most {UNSHARE_PATHS} paths, and this run needs {}; nothing was run",
                binds.len()
            ),
            "allow fewer paths, or install bubblewrap",
        ));
    }
    binds.extend(g.home.iter().chain(&g.keys).map(|p| ("hide", p.as_path())));
    binds.extend(g.ro_files.iter().map(|p| ("rofile", p.as_path())));
    // Parents first again; at one depth an empty directory goes before what is bound into it.
    let rank = |mode: &str| match mode {
        "hide" => 0,
        "ro" | "rw" => 1,
        _ => 2,
    };
    binds.sort_by_key(|(mode, p)| (p.components().count(), rank(mode), *p));
    let mut v: Vec<String> = UNSHARE.map(String::from).to_vec();
    // With --net, every namespace but the network's.
    if !iso.net {
        v.push("--net".into());
    }
    v.extend(["sh".into(), "-c".into(), UNSHARE_SCRIPT.into(), "sh".into(), s(sandbox)]);
    v.push(binds.len().to_string());
    for (mode, p) in binds {
        v.extend([mode.to_owned(), s(p)]);
    }
    Ok(v)
}
/// The isolation a run gets: `--isolate` asked for it, or `sandbox.isolate=true` does for every
/// run, whichever face starts it (the CLI, the daemon's socket). Never `None` when isolation was
/// asked for and cannot be had: the error says why. The second value is a note for the face to
/// show (which tool isolates, when it is not the first choice).
pub fn resolve(
    main: &super::Main,
    isolate: bool,
    net: bool,
    allow: &[std::path::PathBuf],
    seccomp: Option<&str>,
) -> Result<(Option<Isolate>, Option<String>)> {
    if !isolate && main.repo.config_bool("sandbox.isolate") != Some(true) {
        return Ok((None, None));
    }
    let (with, mut why) = choose(main.repo.config_string("sandbox.isolateWith").as_deref())?;
    let allow = allow
        .iter()
        .map(|p| std::fs::canonicalize(p).map_err(crate::Error::io(p)))
        .collect::<Result<Vec<_>>>()?;
    // The one asked for, over sandbox.seccomp.
    let mut seccomp = match seccomp
        .map(str::to_owned)
        .or_else(|| main.repo.config_string("sandbox.seccomp"))
    {
        Some(name) => super::seccomp::Profile::resolve(main, &name)?,
        None => super::seccomp::Profile::default(),
    };
    if with == Tool::Unshare && !seccomp.is_off() {
        seccomp = super::seccomp::Profile::builtin(super::seccomp::Base::Off);
        why = Some(format!(
            "{}no seccomp filter: unshare cannot load one (bubblewrap does)",
            why.map(|w| format!("{w}; ")).unwrap_or_default()
        ));
    }
    let allow_hosts = main
        .repo
        .git
        .config_snapshot()
        .strings("sandbox.allowHost")
        .unwrap_or_default()
        .iter()
        .map(|h| super::proxy::Allowed::parse(&h.to_string()))
        .collect::<Result<Vec<_>>>()?;
    let mut iso = Isolate {
        net,
        allow,
        with,
        seccomp,
        allow_hosts: Vec::new(),
    };
    iso.allow_hosts(allow_hosts)?;
    Ok((Some(iso), why))
}

impl Isolate {
    /// Adds hosts to the allowlist: only bubblewrap can carry it, and `net` (every host)
    /// cannot be narrowed by it.
    pub fn allow_hosts(&mut self, hosts: Vec<super::proxy::Allowed>) -> Result<()> {
        if hosts.is_empty() {
            return Ok(());
        }
        if self.net {
            return Err(Error::invalid(
                "--net keeps every host reachable; an allowlist (--allow-host, sandbox.allowHost) narrows an isolated network",
                "give one or the other",
            ));
        }
        if self.with == Tool::Unshare {
            return Err(Error::invalid(
                "the network allowlist needs bubblewrap (unshare cannot bind its proxy in)",
                "install bubblewrap, or set sandbox.isolateWith=bwrap",
            ));
        }
        for h in hosts {
            if !self.allow_hosts.contains(&h) {
                self.allow_hosts.push(h);
            }
        }
        Ok(())
    }
}

/// The variables an isolated command gets from the caller's environment: what programs need to
/// run and print (`PATH`, `HOME`, the locale, the terminal, where toolchains live), never a
/// token or a key. `sandbox.env` (git config, repeatable: a name, or `NAME=VALUE`) and `--env`
/// add to it.
pub const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "RUSTUP_HOME",
    "CARGO_HOME",
    "RUSTUP_TOOLCHAIN",
];

/// What `sandbox.env` adds to an isolated command's environment: (name, value) pairs, a bare
/// name taking the caller's value.
pub fn configured_env(main: &super::Main) -> Vec<(String, String)> {
    main.repo
        .git
        .config_snapshot()
        .strings("sandbox.env")
        .unwrap_or_default()
        .iter()
        .map(|v| v.to_string())
        .filter_map(|v| match v.split_once('=') {
            Some((k, v)) => Some((k.trim().to_owned(), v.to_owned())),
            None => std::env::var(v.trim()).ok().map(|val| (v.trim().to_owned(), val)),
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Clears `cmd`'s environment down to [`PASSED_ENV`] and the `LC_*` variables, then adds `extra`.
pub fn scrub_env(cmd: &mut std::process::Command, extra: &[(String, String)]) {
    let kept: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            PASSED_ENV.contains(&k.as_ref()) || k.starts_with("LC_")
        })
        .collect();
    cmd.env_clear().envs(kept).envs(extra.iter().map(|(k, v)| (k, v)));
}
