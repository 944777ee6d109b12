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

/// The user this process runs as (effective).
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Asks process `pid` to end (SIGTERM). False when it could not be signalled.
pub fn terminate(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: a signal to one process id; no handler runs in this process.
    pid > 0 && unsafe { libc::kill(pid, libc::SIGTERM) } == 0
}

/// An anonymous file in memory holding `bytes`, read from its start, closed on exec unless it
/// is given to a child ([`give_fds`]).
pub fn memory_file(name: &std::ffi::CStr, bytes: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::{Seek, Write};
    use std::os::fd::FromRawFd;
    // SAFETY: a valid NUL-terminated name; the result is checked and owned below.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor this process owns and nothing else does.
    let mut f = std::fs::File::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    f.write_all(bytes)?;
    f.rewind()?;
    Ok(f.into())
}

fn c_path(p: &std::path::Path) -> std::io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other)
}

fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Mounts an overlay of `lower` and `upper` (with `work`) at `target`.
pub fn mount_overlay(
    lower: &std::path::Path,
    upper: &std::path::Path,
    work: &std::path::Path,
    target: &std::path::Path,
) -> std::io::Result<()> {
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let data = std::ffi::CString::new(opts).map_err(std::io::Error::other)?;
    let tgt = c_path(target)?;
    let kind = c"overlay";
    // SAFETY: mount(2) with NUL-terminated strings that outlive the call.
    check(unsafe { libc::mount(kind.as_ptr(), tgt.as_ptr(), kind.as_ptr(), 0, data.as_ptr().cast()) })
}

/// Unmounts `target` now, or as soon as nothing uses it (MNT_DETACH).
pub fn unmount_detached(target: &std::path::Path) -> std::io::Result<()> {
    let t = c_path(target)?;
    // SAFETY: umount2(2) with a NUL-terminated path.
    check(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) })
}

/// Sets the access and modification times of `path` itself, a symbolic link included (std
/// sets a file's times only through an open file, which a link cannot be).
pub fn set_times_nofollow(path: &std::path::Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let c = c_path(path)?;
    let times = [
        libc::timespec {
            tv_sec: meta.atime() as libc::time_t,
            tv_nsec: meta.atime_nsec() as libc::c_long,
        },
        libc::timespec {
            tv_sec: meta.mtime() as libc::time_t,
            tv_nsec: meta.mtime_nsec() as libc::c_long,
        },
    ];
    // SAFETY: a valid NUL-terminated path and two timespecs, as utimensat(2) requires.
    check(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
}

/// Makes `dst` share `src`'s blocks (FICLONE), where the filesystem can.
pub fn reflink(src: &std::fs::File, dst: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: two open file descriptors; FICLONE takes the source's as its argument.
    check(unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE as _, src.as_raw_fd()) })
}

/// Copies up to `len` bytes from `src` to `dst` inside the kernel, from and advancing each
/// file's own offset; returns how many it copied (0 at the end of `src`).
pub fn copy_file_range(src: &std::fs::File, dst: &std::fs::File, len: usize) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: two open file descriptors and null offsets (both files' own offsets advance).
    let n = unsafe {
        libc::copy_file_range(
            src.as_raw_fd(),
            std::ptr::null_mut(),
            dst.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            0,
        )
    };
    usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
}

/// Makes the child of `cmd` die with this process (SIGKILL when it goes), and not start at all
/// when this process is already gone by then.
pub fn tie_to_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid is called before the fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: prctl, getppid and _exit are async-signal-safe, as a pre_exec hook requires.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The parent may have died between the fork and the prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Starts the child of `cmd` in a session of its own (no terminal to hang it up), with `keep`
/// left open across the exec.
pub fn detach_keeping(cmd: &mut std::process::Command, keep: std::os::fd::RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            let flags = libc::fcntl(keep, libc::F_GETFD);
            libc::fcntl(keep, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
}

/// The file behind descriptor `fd`, which the process that started this one left open for it
/// (named in the environment variable `var`, which is removed). Closed on exec from now on.
/// Call it before other threads start: it changes the environment.
pub fn inherited_file(var: &str) -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    let fd = std::env::var(var).ok()?.parse::<i32>().ok()?;
    // SAFETY: removing a variable before any other thread starts (the caller's promise).
    unsafe { std::env::remove_var(var) };
    // SAFETY: F_GETFD only asks whether the descriptor is open.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: the starter left this descriptor open for this process, and nothing else here
    // owns it; F_SETFD on it then.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        Some(std::fs::File::from_raw_fd(fd))
    }
}

/// Runs `f` with the process's file-creation mask set to `mask`, then puts the old one back.
/// The mask is process-wide: call it while no other thread creates files.
pub fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask cannot fail.
    let old = unsafe { libc::umask(mask as libc::mode_t) };
    let out = f();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    out
}

/// The user the peer of a Unix socket runs as (SO_PEERCRED).
pub fn peer_uid(conn: &std::os::unix::net::UnixStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED fills a ucred of the size given.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

/// Whether the peer of a connection hung up (a read would return end-of-file), without
/// waiting or taking what it sent.
pub fn peer_closed(conn: &std::os::unix::net::UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut b = [0u8; 1];
    // SAFETY: a non-blocking peek into a one-byte buffer this function owns.
    let n = unsafe {
        libc::recv(
            conn.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0
}

/// Points this process's stderr at `to`; returns the descriptor of the old one, for
/// [`restore_stderr`].
pub fn swap_stderr(to: &std::fs::File) -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: duplicating and replacing this process's standard error.
    unsafe {
        let saved = libc::dup(2);
        if saved < 0 {
            return None;
        }
        if libc::dup2(to.as_raw_fd(), 2) < 0 {
            libc::close(saved);
            return None;
        }
        Some(saved)
    }
}

/// Puts back the stderr [`swap_stderr`] saved.
pub fn restore_stderr(saved: std::os::fd::RawFd) {
    // SAFETY: putting back (and closing) the descriptor `swap_stderr` saved.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
}

/// This process's address-space limit (`ulimit -v`), if it has one.
pub fn address_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    (got && limit.rlim_cur != libc::RLIM_INFINITY).then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
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

    /// The daemon's descriptors are many: a program's file may already be on the number it
    /// goes to, or on the other's. Each still reaches the child, open, with its own content.
    #[test]
    fn files_reach_the_child_whatever_descriptors_they_start_on() {
        use std::io::{Seek, Write};
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let to = [900, 901];
        // Sitting on the wrong target each (swapped), and on its own target, close-on-exec.
        for starts in [[901, 900], [900, 901]] {
            let files: Vec<OwnedFd> = ["first", "second"]
                .iter()
                .zip(starts)
                .map(|(text, at)| {
                    let mut f = tempfile::tempfile().unwrap();
                    f.write_all(text.as_bytes()).unwrap();
                    f.rewind().unwrap();
                    // SAFETY: `at` is a number no other test uses; the copy is owned below.
                    let fd = unsafe { libc::dup3(f.as_raw_fd(), at, libc::O_CLOEXEC) };
                    assert_eq!(fd, at);
                    unsafe { OwnedFd::from_raw_fd(fd) }
                })
                .collect();
            let mut cmd = std::process::Command::new("sh");
            cmd.args(["-c", "cat /proc/self/fd/900; echo; cat /proc/self/fd/901"]);
            super::give_fds(&mut cmd, files.into_iter().zip(to).collect());
            let out = cmd.output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "first\nsecond",
                "started on {starts:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
