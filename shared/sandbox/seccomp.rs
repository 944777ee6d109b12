//! The seccomp filter `--isolate` runs a command under (unless `--seccomp off`): the system
//! calls an untrusted build has no business making fail with EPERM — tracing other processes,
//! mounting, the kernel keyring, BPF, performance counters, new user namespaces, loading kernel
//! code or modules, rebooting, swap, joining other namespaces, the clock — and `clone3` fails
//! with ENOSYS (its flags sit in memory a filter cannot read; C libraries fall back to `clone`,
//! whose flags it can). Compiled to BPF by `seccompiler`; bubblewrap loads the two programs
//! (`--add-seccomp-fd`) just before it runs the command, so its own set-up is not filtered.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which filter a run has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The filter above.
    #[default]
    Default,
    /// None (`--seccomp off`).
    Off,
}

impl Profile {
    pub fn parse(s: &str) -> Result<Profile> {
        match s {
            "default" | "on" => Ok(Profile::Default),
            "off" | "none" => Ok(Profile::Off),
            other => Err(Error::invalid(
                format!("'{other}' is not a seccomp profile"),
                "use default (the filter --isolate applies) or off",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Off => "off",
        }
    }
}

/// The descriptors bubblewrap reads the programs from, in the child.
pub const FDS: [i32; 2] = [10, 11];

/// The system calls that fail with EPERM, whatever their arguments.
fn denied() -> Vec<i64> {
    use libc::*;
    vec![
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_move_mount,
        SYS_open_tree,
        SYS_fsopen,
        SYS_fsconfig,
        SYS_fsmount,
        SYS_fspick,
        SYS_keyctl,
        SYS_add_key,
        SYS_request_key,
        SYS_bpf,
        SYS_perf_event_open,
        SYS_kexec_load,
        SYS_kexec_file_load,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_reboot,
        SYS_swapon,
        SYS_swapoff,
        SYS_setns,
        SYS_open_by_handle_at,
        SYS_userfaultfd,
        SYS_acct,
        SYS_quotactl,
        SYS_syslog,
        SYS_settimeofday,
        SYS_clock_settime,
        SYS_clock_adjtime,
        SYS_adjtimex,
    ]
}

fn arch() -> Result<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        Error::invalid(
            format!("no seccomp filter is built for {}", std::env::consts::ARCH),
            "run with --seccomp off (isolation without the filter)",
        )
    })
}

fn bad(e: impl std::fmt::Display) -> Error {
    Error::invalid(
        format!("the seccomp filter does not build: {e}"),
        "run with --seccomp off",
    )
}

/// The two programs: the EPERM list (with `unshare` and `clone` of a new user namespace), and
/// `clone3`'s ENOSYS.
pub fn programs() -> Result<[BpfProgram; 2]> {
    let arch = arch()?;
    let newuser = || -> Result<Vec<SeccompRule>> {
        let c = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(libc::CLONE_NEWUSER as u64),
            libc::CLONE_NEWUSER as u64,
        )
        .map_err(bad)?;
        Ok(vec![SeccompRule::new(vec![c]).map_err(bad)?])
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = denied().into_iter().map(|n| (n, Vec::new())).collect();
    rules.insert(libc::SYS_unshare, newuser()?);
    rules.insert(libc::SYS_clone, newuser()?);
    let eperm = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(bad)?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(bad)?;
    Ok([eperm.try_into().map_err(bad)?, clone3.try_into().map_err(bad)?])
}

/// A program as the kernel (and bubblewrap) reads it: `struct sock_filter`s, native byte order.
fn bytes(p: &BpfProgram) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len() * 8);
    for i in p {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

/// Each program in an anonymous file, read from its start: what `FDS` become in the child.
pub fn files() -> Result<Vec<OwnedFd>> {
    programs()?
        .iter()
        .map(|p| {
            use std::io::{Seek, Write};
            let name = c"grit-seccomp";
            // SAFETY: a valid name; the result is checked and owned below.
            let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
            if fd < 0 {
                return Err(Error::io("memfd_create")(std::io::Error::last_os_error()));
            }
            // SAFETY: a fresh descriptor this process owns.
            let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            f.write_all(&bytes(p)).map_err(Error::io("memfd"))?;
            f.rewind().map_err(Error::io("memfd"))?;
            Ok(OwnedFd::from(f))
        })
        .collect()
}

/// Gives the child `files` as `FDS`.
pub fn attach(cmd: &mut std::process::Command, files: Vec<OwnedFd>) {
    attach_at(cmd, files, FDS);
}

/// Gives the child `files` as the descriptors `to`, inheritable. A file may already sit on one
/// of `to` (a busy process such as the daemon opens many): each is first copied above them all,
/// so a copy never lands on a file not yet placed, and `dup2` onto a different number always
/// clears close-on-exec (onto its own number it would not, and bubblewrap would find it closed).
fn attach_at<const N: usize>(cmd: &mut std::process::Command, files: Vec<OwnedFd>, to: [i32; N]) {
    use std::os::unix::process::CommandExt;
    let above = to.iter().max().map_or(0, |m| m + 1);
    // SAFETY: only fcntl and dup2, which are async-signal-safe, run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let mut moved = [0; N];
            for (f, m) in files.iter().zip(moved.iter_mut()) {
                *m = libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above);
                if *m < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (m, to) in moved.into_iter().zip(to) {
                if libc::dup2(m, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_programs_build_and_end_in_a_return() {
        let [a, b] = super::programs().unwrap();
        assert!(a.len() > 40 && b.len() > 3);
        // BPF_RET | BPF_K
        assert_eq!(a.last().unwrap().code, 0x06);
        assert_eq!(super::bytes(&a).len(), a.len() * 8);
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
            super::attach_at(&mut cmd, files, to);
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
