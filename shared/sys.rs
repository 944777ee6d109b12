//! The platform calls the library makes, in one place: whether a process is alive, ending a
//! process group, exclusive lock files, signal masks (blocking the terminal's signals in a
//! face, unblocking them in a child before it execs), descriptors given to a child, and
//! whether the mount table changed. Everything `unsafe` about processes is
//! here.

/// Whether process `pid` exists (as this user or another: EPERM says it does).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Opens (creating it and its directory) the lock file at `path` and takes an exclusive lock on
/// it, waiting for another holder (std's `File::lock`). Released when the file is dropped, or by
/// the OS when the process dies.
pub fn lock_file(path: &std::path::Path) -> crate::Result<std::fs::File> {
    use crate::Error;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(Error::io(path))?;
    f.lock().map_err(Error::io(path))?;
    Ok(f)
}

/// A directory of this user's alone under the temporary directory (`grit-<uid>`, mode 0700,
/// owned by the user, not a link): for sockets, whose paths must be short, and for what this
/// user's processes share. `None` when it cannot be made or trusted.
pub fn private_tmp() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("grit-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let m = std::fs::symlink_metadata(&dir).ok()?;
    (m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0).then_some(dir)
}

/// Runs `cmd` (a git command) and returns its output whatever its exit status; runs it again
/// when it failed only because it read a linked worktree's admin directory that a `git worktree
/// add` of another process was still writing. git writes `commondir` in two steps (create, then
/// write), and every command that walks all worktrees (a fetch's connectivity check, `--all`)
/// dies on the empty file in between: a window of microseconds that a fleet creating sandboxes
/// in one clone while others fetch does hit. Such a command wrote nothing, so running it again
/// is safe.
pub fn git_output(cmd: &mut std::process::Command) -> std::io::Result<std::process::Output> {
    let mut tries = 0;
    loop {
        let out = cmd.output()?;
        if out.status.success() || tries == 20 || !half_made_worktree(&out.stderr) {
            return Ok(out);
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(5 * tries));
    }
}

/// Whether git's stderr says it read a half-written worktree admin file.
fn half_made_worktree(stderr: &[u8]) -> bool {
    let s = String::from_utf8_lossy(stderr);
    s.lines()
        .any(|l| l.contains("failed to read ") && l.contains("/worktrees/") && l.ends_with(": Success"))
}

/// Sends SIGKILL to every process of group `pgid` (a child started with `process_group(0)`),
/// if there is one.
pub fn kill_group(pgid: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: a negative pid names a process group; SIGKILL has no handler to run here.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// The signals a terminal sends that must not cut an operation in half: a face blocks them,
/// then looks at them between steps.
pub const GUARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        set
    }
}

/// Blocks `signals` in this thread and the threads it starts from now on.
pub fn block_signals(signals: &[libc::c_int]) {
    let set = sigset(signals);
    // SAFETY: blocking signals for this thread (and threads spawned after) with a valid set.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The first of `signals` that arrived while blocked, if any.
pub fn pending_signal(signals: &[libc::c_int]) -> Option<i32> {
    // SAFETY: sigpending fills a sigset_t we own; sigismember reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        signals.iter().copied().find(|s| libc::sigismember(&set, *s) == 1)
    }
}

/// Takes the pending ones of `signals` (a child got its own copy of a Ctrl-C); returns the
/// first.
pub fn drain_signals(signals: &[libc::c_int]) -> Option<i32> {
    let first = pending_signal(signals)?;
    let set = sigset(signals);
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: sigtimedwait with a zero timeout takes pending signals from a valid set.
    unsafe { while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) > 0 {} }
    Some(first)
}

/// Waits until one of `signals` (blocked in every thread) arrives; returns it.
pub fn wait_for_signal(signals: &[libc::c_int]) -> i32 {
    let set = sigset(signals);
    let mut sig = 0;
    // SAFETY: waiting on a valid set for signals every thread blocks.
    unsafe {
        libc::sigwait(&set, &mut sig);
    }
    sig
}

/// Makes the child of `cmd` start with no signal blocked, whatever this process blocks (a
/// face's Ctrl-C guard, the daemon's signal thread): a command run in a sandbox answers Ctrl-C
/// and SIGTERM as it would from a shell.
pub fn unblock_signals_on_exec(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls: restore an empty mask.
    unsafe {
        cmd.pre_exec(|| {
            let empty = sigset(&[]);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        })
    }
}

/// Gives the child of `cmd` each file as the descriptor number beside it, inheritable. A file
/// may already sit on one of the numbers (a busy process such as the daemon opens many): each is
/// first copied above them all, so a copy never lands on a file not yet placed, and `dup2` onto
/// a different number always clears close-on-exec (onto its own number it would not, and the
/// child would find it closed). A file that can seek is given from its start, so that a command
/// spawned again reads what the first read. At most eight.
pub fn give_fds(cmd: &mut std::process::Command, files: Vec<(std::os::fd::OwnedFd, i32)>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    const MAX: usize = 8;
    assert!(files.len() <= MAX, "at most {MAX} descriptors");
    let above = files.iter().map(|(_, to)| *to).max().map_or(0, |m| m + 1);
    // SAFETY: only fcntl, dup2 and lseek, which are async-signal-safe, run between fork and
    // exec, on a fixed array (nothing is allocated there).
    unsafe {
        cmd.pre_exec(move || {
            let mut moved = [0; MAX];
            for ((f, _), m) in files.iter().zip(moved.iter_mut()) {
                *m = libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above);
                if *m < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for ((_, to), m) in files.iter().zip(moved) {
                if libc::dup2(m, *to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // A pipe cannot seek: ESPIPE, and nothing to rewind.
                libc::lseek(*to, 0, libc::SEEK_SET);
            }
            Ok(())
        });
    }
}

/// Makes reads of `fd` return at once with what is there (`WouldBlock` when nothing is).
pub fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor the borrow keeps open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// This process's mount table, watched from when it was made: whether a mount came or went since
/// (the kernel marks `/proc/self/mountinfo` with a priority event on each change).
pub struct MountWatch(std::fs::File);

impl MountWatch {
    /// `None` where /proc cannot be read.
    pub fn new() -> Option<Self> {
        std::fs::File::open("/proc/self/mountinfo").ok().map(Self)
    }

    /// Whether a filesystem was mounted or unmounted since [`MountWatch::new`].
    pub fn changed(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut p = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: one pollfd on a descriptor this value owns; a zero timeout does not wait.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n > 0 && p.revents & (libc::POLLPRI | libc::POLLERR) != 0
    }
}

/// Opens the user's editor on `template` in `dir` and returns what was saved, or `None` when
/// the editor failed. The editor is git's own choice (`git var GIT_EDITOR`: `$GIT_EDITOR`,
/// `core.editor`, `$VISUAL`, `$EDITOR`, then `vi`), run as git runs it, through the shell. The
/// editor starts with no signal blocked, so Ctrl-C works in it.
pub fn edit_text(dir: &std::path::Path, template: &str) -> crate::Result<Option<String>> {
    let out = std::process::Command::new("git")
        .args(["var", "GIT_EDITOR"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(crate::Error::io("git var GIT_EDITOR"))?;
    let editor = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || editor.is_empty() {
        return Err(crate::Error::invalid(
            "no editor is set",
            "set $EDITOR or core.editor (e.g. `git config --global core.editor vim`), or pass the text as an option",
        ));
    }
    let file = tempfile::Builder::new()
        .prefix("grit-")
        .suffix(".md")
        .tempfile()
        .map_err(crate::Error::io("a temporary file"))?;
    std::fs::write(file.path(), template).map_err(crate::Error::io(file.path()))?;
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(&editor)
        .arg(file.path())
        .current_dir(dir);
    let status = unblock_signals_on_exec(&mut cmd)
        .status()
        .map_err(crate::Error::io("the editor"))?;
    if !status.success() {
        return Ok(None);
    }
    std::fs::read_to_string(file.path())
        .map(Some)
        .map_err(crate::Error::io(file.path()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_half_written_worktree_file_is_run_again() {
        let half = b"fatal: failed to read /r/.git/worktrees/t-1/commondir: Success\nerror: x did not send all necessary objects\n";
        assert!(super::half_made_worktree(half));
        assert!(!super::half_made_worktree(
            b"fatal: failed to read /r/.git/worktrees/t-1/commondir: Permission denied\n"
        ));
        assert!(!super::half_made_worktree(
            b"fatal: 'origin' does not appear to be a git repository\n"
        ));
    }

    #[test]
    fn this_process_is_alive_and_a_group_it_started_can_be_ended() {
        use std::os::unix::process::CommandExt;
        assert!(super::alive(std::process::id()));
        assert!(!super::alive(0));
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        super::kill_group(child.id() as i32);
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}
