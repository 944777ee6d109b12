//! The seccomp filter `--isolate` runs a command under (unless `--seccomp off`): the system
//! calls an untrusted build has no business making fail with EPERM — tracing other processes,
//! mounting, the kernel keyring, BPF, performance counters, new user namespaces, loading kernel
//! code or modules, rebooting, swap, joining other namespaces, the clock — and `clone3` fails
//! with ENOSYS (its flags sit in memory a filter cannot read; C libraries fall back to `clone`,
//! whose flags it can). Compiled to BPF by `seccompiler`; bubblewrap loads the two programs
//! (`--add-seccomp-fd`) just before it runs the command, so its own set-up is not filtered.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a filter starts from: a built-in profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    /// The filter above.
    #[default]
    Default,
    /// The filter above, and more: io_uring, `personality`, `chroot`, every kind of new
    /// namespace, sockets other than unix, IP and netlink ones, and a few more calls a build has
    /// no use for.
    Strict,
    /// The filter above without its tracing lines: `ptrace`, `process_vm_readv/writev` and
    /// `perf_event_open` work, so a debugger, `strace` or `perf` runs inside.
    Trace,
    /// None (`--seccomp off`).
    Off,
}

impl Base {
    const ALL: [Base; 4] = [Base::Default, Base::Strict, Base::Trace, Base::Off];

    /// The profile's name as config and `--seccomp` give it.
    pub fn name(self) -> &'static str {
        match self {
            Base::Default => "default",
            Base::Strict => "strict",
            Base::Trace => "trace",
            Base::Off => "off",
        }
    }

    fn parse(s: &str) -> Option<Base> {
        match s {
            "on" => Some(Base::Default),
            "none" => Some(Base::Off),
            s => Base::ALL.into_iter().find(|b| b.name() == s),
        }
    }
}

/// Which filter a run has: a built-in one, or one git config names
/// (`sandbox.seccomp.<name>.extends`, `.deny`, `.allow`), resolved when the run starts and kept
/// whole in its record. It reads as its name alone when it is a built-in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Repr", into = "Repr")]
pub struct Profile {
    /// The profile's name: a built-in one's, or the one git config gives.
    pub name: String,
    /// The built-in profile it extends.
    pub base: Base,
    /// Calls that fail with EPERM besides the base's.
    pub deny: Vec<String>,
    /// The base's calls that are let through.
    pub allow: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Name(String),
    Named {
        name: String,
        base: Base,
        #[serde(default)]
        deny: Vec<String>,
        #[serde(default)]
        allow: Vec<String>,
    },
}

impl From<Repr> for Profile {
    fn from(r: Repr) -> Profile {
        match r {
            Repr::Name(n) => Profile::builtin(Base::parse(&n).unwrap_or_default()),
            Repr::Named {
                name,
                base,
                deny,
                allow,
            } => Profile {
                name,
                base,
                deny,
                allow,
            },
        }
    }
}

impl From<Profile> for Repr {
    fn from(p: Profile) -> Repr {
        if p.deny.is_empty() && p.allow.is_empty() && p.name == p.base.name() {
            Repr::Name(p.name)
        } else {
            Repr::Named {
                name: p.name,
                base: p.base,
                deny: p.deny,
                allow: p.allow,
            }
        }
    }
}

impl Default for Profile {
    fn default() -> Profile {
        Profile::builtin(Base::Default)
    }
}

impl Profile {
    /// The built-in profile `base`, unchanged.
    pub fn builtin(base: Base) -> Profile {
        Profile {
            name: base.name().to_owned(),
            base,
            deny: Vec::new(),
            allow: Vec::new(),
        }
    }

    /// No filter at all.
    pub fn is_off(&self) -> bool {
        self.base == Base::Off
    }

    /// The profile `name` means here: a built-in one, or the one this repository's git config
    /// defines — `sandbox.seccomp.<name>.extends` (a built-in one; default when unset), and
    /// `.deny` and `.allow` (repeatable; names of system calls, several to a line with commas).
    pub fn resolve(main: &super::Main, name: &str) -> Result<Profile> {
        let key = |k: &str| format!("sandbox.seccomp.{name}.{k}");
        let snapshot = main.repo.git.config_snapshot();
        let list = |k: &str| -> Vec<String> {
            snapshot
                .strings(key(k).as_str())
                .unwrap_or_default()
                .iter()
                .flat_map(|v| {
                    v.to_string()
                        .split([',', ' ', '\t'])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (extends, deny, allow) = (main.repo.config_string(&key("extends")), list("deny"), list("allow"));
        let defined = extends.is_some() || !deny.is_empty() || !allow.is_empty();
        if let Some(base) = Base::parse(name) {
            if defined {
                return Err(Error::invalid(
                    format!("sandbox.seccomp.{name}.* redefines a built-in profile"),
                    "give your profile another name, and extend this one: sandbox.seccomp.NAME.extends",
                ));
            }
            return Ok(Profile::builtin(base));
        }
        if !defined {
            return Err(Error::invalid(
                format!("'{name}' is not a seccomp profile"),
                "use default, strict, trace or off, or define one: git config sandbox.seccomp.NAME.deny SYSCALL",
            ));
        }
        let base = match extends {
            None => Base::Default,
            Some(e) => match Base::parse(&e) {
                Some(Base::Off) | None => {
                    return Err(Error::invalid(
                        format!("sandbox.seccomp.{name}.extends is '{e}'"),
                        "a profile extends default, strict or trace",
                    ));
                }
                Some(b) => b,
            },
        };
        for call in deny.iter().chain(&allow) {
            number(call)?;
        }
        Ok(Profile {
            name: name.to_owned(),
            base,
            deny,
            allow,
        })
    }

    /// The calls that fail with EPERM whatever their arguments, and those that do only with
    /// some (each rule a way to match).
    fn rules(&self) -> Result<BTreeMap<i64, Vec<SeccompRule>>> {
        let masked = |arg: u8, bits: u64| -> Result<SeccompRule> {
            let c =
                SeccompCondition::new(arg, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(bits), bits).map_err(bad)?;
            SeccompRule::new(vec![c]).map_err(bad)
        };
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = denied().into_iter().map(|n| (n, Vec::new())).collect();
        let newuser = libc::CLONE_NEWUSER as u64;
        rules.insert(libc::SYS_unshare, vec![masked(0, newuser)?]);
        rules.insert(libc::SYS_clone, vec![masked(0, newuser)?]);
        match self.base {
            Base::Default | Base::Off => {}
            Base::Trace => {
                for n in TRACING {
                    rules.remove(&n);
                }
            }
            Base::Strict => {
                rules.extend(STRICT.iter().map(|&n| (n, Vec::new())));
                // Any new namespace: each flag a rule of its own (a rule's conditions all hold).
                let flags = [
                    libc::CLONE_NEWNS,
                    libc::CLONE_NEWCGROUP,
                    libc::CLONE_NEWUTS,
                    libc::CLONE_NEWIPC,
                    libc::CLONE_NEWUSER,
                    libc::CLONE_NEWPID,
                    libc::CLONE_NEWNET,
                ];
                let any = flags.iter().map(|&f| masked(0, f as u64)).collect::<Result<Vec<_>>>()?;
                rules.insert(libc::SYS_unshare, any.clone());
                rules.insert(libc::SYS_clone, any);
                // Sockets of any family but unix, IPv4, IPv6 and netlink (which the C library's
                // name lookup opens).
                let not = |family: i32| {
                    SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, family as u64).map_err(bad)
                };
                let conditions = [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK]
                    .into_iter()
                    .map(not)
                    .collect::<Result<Vec<_>>>()?;
                rules.insert(libc::SYS_socket, vec![SeccompRule::new(conditions).map_err(bad)?]);
            }
        }
        for call in &self.allow {
            rules.remove(&number(call)?);
        }
        for call in &self.deny {
            rules.insert(number(call)?, Vec::new());
        }
        Ok(rules)
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

/// The default list's lines `trace` lets through.
const TRACING: [i64; 4] = [
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_perf_event_open,
];

/// What `strict` denies besides the default list (and its namespaces and socket families).
const STRICT: &[i64] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_personality,
    libc::SYS_chroot,
    libc::SYS_name_to_handle_at,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_fanotify_init,
    libc::SYS_mbind,
    libc::SYS_set_mempolicy,
    libc::SYS_migrate_pages,
    libc::SYS_move_pages,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_vhangup,
];

macro_rules! known {
    ($($n:ident),* $(,)?) => { &[$((stringify!($n), libc::$n)),*] };
}

/// The system calls a profile in git config may name (`.deny`, `.allow`): every one the
/// built-in profiles name, and the common ones a stricter policy may want to take away.
const KNOWN: &[(&str, i64)] = known![
    SYS_accept,
    SYS_accept4,
    SYS_acct,
    SYS_add_key,
    SYS_adjtimex,
    SYS_bind,
    SYS_bpf,
    SYS_capset,
    SYS_chroot,
    SYS_clock_adjtime,
    SYS_clock_settime,
    SYS_clone,
    SYS_clone3,
    SYS_connect,
    SYS_delete_module,
    SYS_execve,
    SYS_execveat,
    SYS_fanotify_init,
    SYS_finit_module,
    SYS_fsconfig,
    SYS_fsmount,
    SYS_fsopen,
    SYS_fspick,
    SYS_init_module,
    SYS_inotify_init1,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_io_uring_setup,
    SYS_ioprio_set,
    SYS_kcmp,
    SYS_kexec_file_load,
    SYS_kexec_load,
    SYS_keyctl,
    SYS_kill,
    SYS_landlock_add_rule,
    SYS_landlock_create_ruleset,
    SYS_landlock_restrict_self,
    SYS_listen,
    SYS_mbind,
    SYS_memfd_create,
    SYS_migrate_pages,
    SYS_mlock,
    SYS_mlockall,
    SYS_mount,
    SYS_move_mount,
    SYS_move_pages,
    SYS_name_to_handle_at,
    SYS_open_by_handle_at,
    SYS_open_tree,
    SYS_perf_event_open,
    SYS_personality,
    SYS_pidfd_getfd,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_pivot_root,
    SYS_prctl,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_ptrace,
    SYS_quotactl,
    SYS_reboot,
    SYS_request_key,
    SYS_sched_setaffinity,
    SYS_sched_setscheduler,
    SYS_seccomp,
    SYS_set_mempolicy,
    SYS_setdomainname,
    SYS_setgid,
    SYS_setgroups,
    SYS_sethostname,
    SYS_setns,
    SYS_setpriority,
    SYS_setresgid,
    SYS_setresuid,
    SYS_settimeofday,
    SYS_setuid,
    SYS_socket,
    SYS_socketpair,
    SYS_swapoff,
    SYS_swapon,
    SYS_syslog,
    SYS_tgkill,
    SYS_umount2,
    SYS_unshare,
    SYS_userfaultfd,
    SYS_vhangup,
];

/// The number of the system call `name` on this machine.
fn number(name: &str) -> Result<i64> {
    KNOWN
        .iter()
        .find(|(n, _)| n.strip_prefix("SYS_") == Some(name))
        .map(|&(_, nr)| nr)
        .ok_or_else(|| {
            let names: Vec<&str> = KNOWN.iter().map(|(n, _)| n.trim_start_matches("SYS_")).collect();
            Error::invalid(
                format!("'{name}' is not a system call a seccomp profile here can name"),
                format!("name one of: {}", names.join(" ")),
            )
        })
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

/// The two programs for `profile`: its EPERM list, and `clone3`'s ENOSYS.
pub fn programs(profile: &Profile) -> Result<[BpfProgram; 2]> {
    let arch = arch()?;
    let eperm = SeccompFilter::new(
        profile.rules()?,
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
pub fn files(profile: &Profile) -> Result<Vec<OwnedFd>> {
    programs(profile)?
        .iter()
        .map(|p| crate::sys::memory_file(c"grit-seccomp", &bytes(p)).map_err(Error::io("memfd")))
        .collect()
}

/// Gives the child `files` as `FDS`.
pub fn attach(cmd: &mut std::process::Command, files: Vec<OwnedFd>) {
    crate::sys::give_fds(cmd, files.into_iter().zip(FDS).collect());
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_programs_build_and_end_in_a_return() {
        let [a, b] = super::programs(&super::Profile::default()).unwrap();
        assert!(a.len() > 40 && b.len() > 3);
        // BPF_RET | BPF_K
        assert_eq!(a.last().unwrap().code, 0x06);
        assert_eq!(super::bytes(&a).len(), a.len() * 8);
    }

    /// A built-in profile is its name in a record, as before profiles had more; one from git
    /// config is kept whole.
    #[test]
    fn a_profile_reads_back_as_it_was_written() {
        use super::{Base, Profile};
        assert_eq!(serde_json::to_value(Profile::default()).unwrap(), "default");
        let off: Profile = serde_json::from_value(serde_json::json!("off")).unwrap();
        assert!(off.is_off());
        let mine = Profile {
            name: "debug".into(),
            base: Base::Trace,
            deny: vec!["personality".into()],
            allow: Vec::new(),
        };
        let v = serde_json::to_value(&mine).unwrap();
        assert_eq!(v["base"], "trace");
        assert_eq!(serde_json::from_value::<Profile>(v).unwrap(), mine);
    }

    #[test]
    fn each_base_denies_its_own_list() {
        use super::{Base, Profile};
        let rules = |b| Profile::builtin(b).rules().unwrap();
        assert!(rules(Base::Default).contains_key(&libc::SYS_ptrace));
        assert!(!rules(Base::Default).contains_key(&libc::SYS_personality));
        assert!(!rules(Base::Trace).contains_key(&libc::SYS_ptrace));
        assert!(rules(Base::Strict).contains_key(&libc::SYS_personality));
        assert_eq!(rules(Base::Strict)[&libc::SYS_unshare].len(), 7);
        let mine = Profile {
            name: "x".into(),
            base: Base::Default,
            deny: vec!["execveat".into()],
            allow: vec!["bpf".into()],
        };
        let r = mine.rules().unwrap();
        assert!(r.contains_key(&libc::SYS_execveat) && !r.contains_key(&libc::SYS_bpf));
        assert!(super::number("nosuch").is_err());
    }
}
