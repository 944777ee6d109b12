//! Running a sandbox's command isolated: new user, mount, PID, IPC and UTS namespaces (and
//! network, unless allowed), through bubblewrap. Everything is read-only but the sandbox, its
//! git directory, a private /tmp and the paths the user adds. Where bubblewrap is missing or
//! namespaces are not permitted, the command does not run at all.

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
}

/// Checks that bubblewrap is installed and may make namespaces here; the error says which not.
pub fn probe() -> Result<()> {
    let out = std::process::Command::new("bwrap")
        .args(["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(
            "--isolate runs the command through bubblewrap (bwrap), which is not installed; nothing was run",
            "install it (Debian and Ubuntu: `apt install bubblewrap`; Fedora: `dnf install bubblewrap`)",
        )),
        Err(e) => Err(Error::io("bwrap")(e)),
        Ok(o) if !o.status.success() => Err(Error::invalid(
            format!(
                "this system does not let bubblewrap make namespaces ({}); nothing was run",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            "unprivileged user namespaces are off here (kernel.unprivileged_userns_clone, or a container's seccomp \
             policy); run without --isolate, or where they are allowed",
        )),
        Ok(_) => Ok(()),
    }
}

/// The bubblewrap command line that runs what follows it inside `sandbox`. Its git directory
/// (a worktree's lives in the repository's) is writable too, and the repository's common git
/// directory readable even where the private /tmp would hide it.
pub fn wrapper(sandbox: &Path, git_dir: Option<&Path>, common_dir: Option<&Path>, iso: &Isolate) -> Vec<String> {
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
    ]
    .map(String::from)
    .to_vec();
    if !iso.net {
        v.push("--unshare-net".into());
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
    v.extend(["--chdir".into(), s(sandbox), "--".into()]);
    v
}
