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
