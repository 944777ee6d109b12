//! Repository discovery, git config, the clock, and where grit keeps its local state.
//! Everything canonical lives in refs; `grit_dir()` holds only caches and private keys.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// An open repository and the paths grit derives from it.
pub struct Repo {
    /// The repository, through gix.
    pub git: gix::Repository,
    /// `<git-common-dir>/grit`: shared by every worktree and sandbox of the repository.
    pub grit_dir: PathBuf,
    /// How the repository stores its refs (`extensions.refStorage`).
    pub refs: RefFormat,
}

/// The ref backends grit reads and writes. Files: loose files and `packed-refs`, read through
/// gix and written as git writes them. Reftable: through git itself (`for-each-ref`,
/// `update-ref --stdin` transactions), which is the only reader and writer of its tables here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefFormat {
    /// Loose files and `packed-refs`.
    Files,
    /// A reftable.
    Reftable,
}

/// Opens handles on one repository, for other threads (`Repo::opener`).
pub struct Opener {
    dir: PathBuf,
    options: gix::open::Options,
}

impl Opener {
    /// This thread's handle, opened into `slot` the first time.
    pub fn handle_in<'s>(&self, slot: &'s mut Option<Repo>) -> Result<&'s Repo> {
        Ok(match slot {
            Some(repo) => repo,
            None => slot.insert(Repo::from_gix(gix::open_opts(&self.dir, self.options.clone())?)?),
        })
    }
}

impl Repo {
    /// Finds the repository containing `dir`, honouring `GIT_DIR` and friends as git does, and
    /// the `git -c key=value` overrides git passes down to the commands and hooks it runs.
    pub fn discover(dir: &Path) -> Result<Repo> {
        // From inside `.git`, gix takes a relative `.` for a work tree: hand it the absolute path.
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        let dir = absolute.as_path();
        let overrides = config_overrides();
        let git = if overrides.is_empty() {
            gix::discover_with_environment_overrides(dir)
        } else {
            let mut trust = gix::sec::trust::Mapping::<gix::open::Options>::default();
            trust.full = trust.full.cli_overrides(overrides.clone());
            trust.reduced = trust.reduced.cli_overrides(overrides);
            gix::ThreadSafeRepository::discover_with_environment_overrides_opts(dir, Default::default(), trust)
                .map(gix::Repository::from)
        }
        .map_err(|_| Error::NotARepo { path: dir.to_owned() })?;
        Repo::from_gix(git)
    }

    /// Wraps an open repository. A ref format grit cannot write is refused here, before
    /// anything is read or written: written around, git would neither see grit's refs nor keep
    /// what they hold through `git gc`.
    pub fn from_gix(mut git: gix::Repository) -> Result<Repo> {
        let refs = match git.config_snapshot().string("extensions.refStorage") {
            None => RefFormat::Files,
            Some(f) if f.eq_ignore_ascii_case(b"files") => RefFormat::Files,
            Some(f) if f.eq_ignore_ascii_case(b"reftable") => RefFormat::Reftable,
            Some(f) => return Err(Error::UnsupportedRefFormat { format: f.to_string() }),
        };
        // Loose objects are written once and read rarely; a larger cache helps folds of many chunks.
        git.object_cache_size_if_unset(4 * 1024 * 1024);
        let grit_dir = git.common_dir().join("grit");
        Ok(Repo { git, grit_dir, refs })
    }

    /// What opens more handles on this repository, one per thread (gix's handles are not
    /// shared across threads).
    pub fn opener(&self) -> Opener {
        Opener {
            dir: self.git.git_dir().to_path_buf(),
            options: self.git.open_options().clone(),
        }
    }

    /// A git config value, as text.
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.git.config_snapshot().string(key).map(|s| s.to_string())
    }

    /// A git config value, as a boolean.
    pub fn config_bool(&self, key: &str) -> Option<bool> {
        self.git.config_snapshot().boolean(key)
    }

    /// Sets a key in the repository's own config file through `git config`.
    pub fn set_local_config(&self, key: &str, value: &str) -> Result<()> {
        self.git_command(&["config", "--local", key, value])?;
        Ok(())
    }

    /// Runs `git` in this repository; returns stdout, or the command's stderr as the error.
    pub fn git_command(&self, args: &[&str]) -> Result<String> {
        let out = self.git_output(args)?;
        if !out.status.success() {
            return Err(Error::Subprocess {
                command: format!("git {}", args.join(" ")),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `git` in this repository and returns its output whatever its exit status. grit's
    /// own git calls never re-enter grit's hooks (`GRIT_NO_HOOKS`).
    pub fn git_output(&self, args: &[&str]) -> Result<std::process::Output> {
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir").arg(self.git.git_dir());
        // A fetch or push of grit's refs updates thousands of refs one transaction each, and git
        // would start the reference-transaction hook twice for every one: grit folds once
        // afterwards itself, and runs no one else's hooks for its own refs.
        if matches!(args.first(), Some(&"fetch" | &"push" | &"pack-refs")) {
            cmd.args(["-c", "core.hooksPath=/dev/null"]);
        }
        if let Some(dir) = self.git.workdir() {
            cmd.current_dir(dir);
        }
        cmd.args(args)
            .env("GRIT_NO_HOOKS", "1")
            .stdin(std::process::Stdio::null());
        crate::sys::git_output(&mut cmd).map_err(Error::io("git"))
    }

    /// Runs `git` with `-c` settings and `input` on its stdin (written from a thread, so that a
    /// script of thousands of lines never fills the pipe while git fills its own); starts no
    /// hooks of grit's. Returns the output whatever the exit status.
    pub fn git_with_input(&self, config: &[&str], args: &[&str], input: &str) -> Result<std::process::Output> {
        use std::io::Write;
        use std::process::Stdio;
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir").arg(self.git.git_dir());
        for c in config {
            cmd.args(["-c", c]);
        }
        if let Some(dir) = self.git.workdir() {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .args(args)
            .env("GRIT_NO_HOOKS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io("git"))?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = input.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().map_err(Error::io("git"))?;
        let _ = writer.join();
        Ok(out)
    }

    /// The name and email new actors take: git's author identity (env, then config).
    pub fn identity(&self) -> Result<(String, String)> {
        let name = self.config_string("user.name").filter(|s| !s.trim().is_empty());
        let email = self.config_string("user.email").filter(|s| !s.trim().is_empty());
        let name = std::env::var("GIT_AUTHOR_NAME").ok().filter(|s| !s.is_empty()).or(name);
        let email = std::env::var("GIT_AUTHOR_EMAIL")
            .ok()
            .filter(|s| !s.is_empty())
            .or(email);
        match (name, email) {
            (Some(n), Some(e)) => Ok((n, e)),
            (None, _) => Err(Error::NoIdentity { missing: "user.name" }),
            (_, None) => Err(Error::NoIdentity { missing: "user.email" }),
        }
    }
}

/// The `-c` settings git passes to the commands it runs: `GIT_CONFIG_PARAMETERS` (each entry
/// shell-quoted, `'key'='value'` or the older `'key=value'`) and `GIT_CONFIG_COUNT` with
/// `GIT_CONFIG_KEY_<n>` / `GIT_CONFIG_VALUE_<n>`. Returned as `key=value`.
pub fn config_overrides() -> Vec<String> {
    let mut out = std::env::var("GIT_CONFIG_PARAMETERS")
        .map(|p| parse_config_parameters(&p))
        .unwrap_or_default();
    let count: usize = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    for i in 0..count {
        if let (Ok(k), Ok(v)) = (
            std::env::var(format!("GIT_CONFIG_KEY_{i}")),
            std::env::var(format!("GIT_CONFIG_VALUE_{i}")),
        ) {
            out.push(format!("{k}={v}"));
        }
    }
    out
}

fn parse_config_parameters(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '\'') => quoted = false,
            (true, c) => cur.push(c),
            (false, '\'') => {
                quoted = true;
                any = true;
            }
            (false, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (false, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (false, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Milliseconds since the Unix epoch; `GRIT_NOW` (seconds, or milliseconds when it has 13+
/// digits) pins it so tests and reproducible demos get stable output.
pub fn now_ms() -> u64 {
    if let Some(pinned) = std::env::var("GRIT_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return if pinned >= 1_000_000_000_000 {
            pinned
        } else {
            pinned * 1000
        };
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// RFC 3339 in UTC with second precision, as `gh` prints times.
pub fn format_time(ms: u64) -> String {
    let mut out = Vec::with_capacity(20);
    write_time(ms, &mut out);
    String::from_utf8(out).expect("digits and separators are ASCII")
}

/// `format_time`, appended to `out` without formatting machinery: a fold writes two per issue.
pub fn write_time(ms: u64, out: &mut Vec<u8>) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant), valid for the whole u64 millisecond range we accept.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let digits = |out: &mut Vec<u8>, n: i64, width: u32| {
        let width = width.max(n.checked_ilog10().unwrap_or(0) + 1);
        for p in (0..width).rev() {
            out.push(b'0' + (n / 10_i64.pow(p) % 10) as u8);
        }
    };
    digits(out, y, 4);
    for (sep, n) in [
        (b'-', m),
        (b'-', d),
        (b'T', rem / 3600),
        (b':', rem % 3600 / 60),
        (b':', rem % 60),
    ] {
        out.push(sep);
        digits(out, n, 2);
    }
    out.push(b'Z');
}

/// Reads what `format_time` writes (`YYYY-MM-DDTHH:MM:SSZ`, UTC), into milliseconds.
pub fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days-from-civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// The repository's remotes, by name.
pub fn remote_names(repo: &Repo) -> Vec<String> {
    repo.git.remote_names().into_iter().map(|n| n.to_string()).collect()
}

/// An error with a hint unless `remote` names one of the repository's remotes.
pub fn check_remote(repo: &Repo, remote: &str) -> Result<()> {
    if remote_names(repo).iter().any(|n| n == remote) {
        return Ok(());
    }
    Err(Error::invalid(
        format!("no remote named '{remote}'"),
        "`git remote -v` lists the remotes; grit syncs with named remotes only",
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_parse_back() {
        for ms in [0, 1_764_460_800_000, 1_767_225_599_000, 951_782_400_000] {
            let s = super::format_time(ms);
            assert_eq!(super::parse_time(&s), Some(ms), "{s}");
        }
        assert_eq!(super::parse_time("2026-13-01T00:00:00Z"), None);
        assert_eq!(super::parse_time("2026-11-01"), None);
    }

    #[test]
    fn git_dash_c_parameters_are_unquoted_as_git_writes_them() {
        assert_eq!(
            super::parse_config_parameters("'lock.policy'='require' 'user.name=Old Style' 'a.b'='it'\\''s'"),
            ["lock.policy=require", "user.name=Old Style", "a.b=it's"]
        );
        assert!(super::parse_config_parameters("").is_empty());
    }

    #[test]
    fn times_format_as_rfc3339_utc() {
        assert_eq!(super::format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_time(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(super::format_time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_time(253_402_300_799_000), "9999-12-31T23:59:59Z");
        assert_eq!(super::format_time(253_402_300_800_000), "10000-01-01T00:00:00Z");
        assert_eq!(super::format_time(u64::MAX), "584556019-04-03T14:25:51Z");
    }
}
