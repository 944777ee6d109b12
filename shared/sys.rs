//! The platform calls the library makes, in one place: whether a process is alive, and ending
//! a process group. Everything `unsafe` about processes is here.

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
