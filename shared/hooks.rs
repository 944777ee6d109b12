//! Git hooks: installing the POSIX sh shims from `hooks/` into the hooks directory git uses
//! (honouring `core.hooksPath`), chaining or backing up a hook that is already there, and
//! restoring it on uninstall. What the hooks do when they run is `cli::wal`'s `hook` command.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::repo::Repo;

/// The shims, as shipped in the repository's `hooks/` directory.
pub const SHIMS: [(&str, &str); 5] = [
    ("reference-transaction", include_str!("../hooks/reference-transaction")),
    ("pre-push", include_str!("../hooks/pre-push")),
    ("pre-commit", include_str!("../hooks/pre-commit")),
    ("post-commit", include_str!("../hooks/post-commit")),
    ("post-merge", include_str!("../hooks/post-merge")),
];
/// Where a foreign hook kept and run first by our shim lives: a directory of its own, so that it
/// keeps its name (`<hooks>/grit-chained/pre-commit`).
pub const CHAINED_DIR: &str = "grit-chained";
/// Where versions before 2 kept a chained hook (`<hook>.grit-chained`); moved on install.
const OLD_CHAINED_SUFFIX: &str = ".grit-chained";
/// Where other hook managers (the pre-commit framework) move a hook they replace, and run it.
pub const LEGACY_SUFFIX: &str = ".legacy";
/// A foreign hook set aside by `--force`; uninstall puts it back.
pub const BACKUP_SUFFIX: &str = ".grit-backup";
const MARKER: &str = "# grit-hook: ";

/// What to do with a hook that is not ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Foreign {
    /// Refuse, naming the hook and the flags.
    #[default]
    Refuse,
    /// Keep it and run it first; its exit status counts.
    Chain,
    /// Set it aside (restored by uninstall) and put ours in its place.
    Replace,
}

/// What holds a hook's place now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Nothing.
    Absent,
    /// Our shim, current version.
    Installed,
    /// Our shim, with a foreign hook chained before it.
    Chained,
    /// Our shim, an older or edited version.
    Outdated,
    /// Someone else's hook.
    Foreign,
    /// Someone else's hook, which moved ours to `<hook>.legacy` and runs it from there (the
    /// pre-commit framework does this): grit's hook runs, once.
    Moved,
}

/// What install or uninstall did to a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Ours was put in.
    Installed,
    /// Ours was brought up to date.
    Updated,
    /// Ours was already current.
    UpToDate,
    /// Ours was put in, with the foreign hook chained before it.
    Chained,
    /// The foreign hook was moved to `<hook>.grit-backup`.
    Replaced,
    /// Ours was taken out.
    Removed,
    /// The hook that was there before us is back.
    Restored,
    /// Not ours: left alone.
    LeftAlone,
    /// Ours was not there to take out.
    NotInstalled,
}

/// One hook, as install, uninstall or status reports it.
#[derive(Debug, Clone, Serialize)]
pub struct HookReport {
    /// The hook's name (`post-merge`).
    pub name: &'static str,
    /// Its file.
    pub path: String,
    /// What holds its place (after the action).
    pub state: State,
    /// What was done, if anything.
    pub action: Option<Action>,
    /// Anything else install or uninstall did that the user should know (an orphaned chained
    /// hook adopted or kept aside, a shim another manager moved).
    pub note: Option<String>,
}

/// The hooks directory git uses for this repository (`core.hooksPath` honoured).
pub fn hooks_dir(repo: &Repo) -> Result<PathBuf> {
    let out = repo.git_command(&["rev-parse", "--path-format=absolute", "--git-path", "hooks"])?;
    Ok(PathBuf::from(out.trim_end_matches(['\n', '\r'])))
}

/// Whether a hook's text is a shim grit wrote for `name`.
pub fn is_ours(text: &str, name: &str) -> bool {
    text.lines().take(3).any(|l| l.starts_with(&format!("{MARKER}{name} ")))
}

fn read(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// Where a foreign hook chained before grit's `name` lives.
pub fn chained_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(CHAINED_DIR).join(name)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn state_of(path: &Path, name: &str, shim: &str) -> Result<State> {
    let dir = path.parent().expect("a hook path has a directory");
    Ok(match read(path)? {
        None => State::Absent,
        Some(text) if !is_ours(&text, name) => match read(&sibling(path, LEGACY_SUFFIX))? {
            Some(legacy) if is_ours(&legacy, name) => State::Moved,
            _ => State::Foreign,
        },
        Some(text) if text != shim => State::Outdated,
        Some(_) if chained_path(dir, name).exists() => State::Chained,
        Some(_) => State::Installed,
    })
}

/// Moves a hook chained the way versions before 2 did into its directory.
fn migrate_chained(dir: &Path, name: &str) -> Result<()> {
    let old = sibling(&dir.join(name), OLD_CHAINED_SUFFIX);
    if old.exists() {
        let new = chained_path(dir, name);
        fs::create_dir_all(new.parent().expect("has a parent")).map_err(Error::io(dir))?;
        fs::rename(&old, &new).map_err(Error::io(&old))?;
    }
    Ok(())
}

/// Chains the foreign hook at `path`: it moves to its directory, and runs first. A chained hook
/// already there, left when another tool overwrote our shim (an orphan: `git lfs update
/// --force` does this), is dropped when it is the same hook and kept aside otherwise.
fn chain(dir: &Path, name: &str, path: &Path) -> Result<Option<String>> {
    let target = chained_path(dir, name);
    fs::create_dir_all(target.parent().expect("has a parent")).map_err(Error::io(dir))?;
    let mut note = None;
    if let Some(orphan) = read(&target)? {
        if read(path)?.as_deref() == Some(orphan.as_str()) {
            fs::remove_file(&target).map_err(Error::io(&target))?;
            note = Some(format!(
                "{} was left over from an earlier chain and is the same hook; adopted the current one",
                target.display()
            ));
        } else {
            let aside = sibling(&target, ".orphan");
            fs::rename(&target, &aside).map_err(Error::io(&target))?;
            note = Some(format!(
                "{} was left over from an earlier chain (another tool replaced grit's hook); it differs from \
                 the current one, which is now chained, and was kept at {}",
                target.display(),
                aside.display()
            ));
        }
    }
    fs::rename(path, &target).map_err(Error::io(path))?;
    Ok(note)
}

/// The state of every hook grit installs.
pub fn status(repo: &Repo) -> Result<Vec<HookReport>> {
    let dir = hooks_dir(repo)?;
    SHIMS
        .iter()
        .map(|(name, shim)| {
            let path = dir.join(name);
            Ok(HookReport {
                name,
                state: state_of(&path, name, shim)?,
                path: path.display().to_string(),
                action: None,
                note: None,
            })
        })
        .collect()
}

/// Foreign hooks that `install` with `Foreign::Refuse` would stop at.
pub fn conflicts(repo: &Repo) -> Result<Vec<HookReport>> {
    Ok(status(repo)?
        .into_iter()
        .filter(|h| h.state == State::Foreign)
        .collect())
}

fn write_shim(path: &Path, shim: &str) -> Result<()> {
    let tmp = sibling(path, ".grit-tmp");
    fs::write(&tmp, shim).map_err(Error::io(&tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).map_err(Error::io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(Error::io(path))
}

/// Installs every shim. Foreign hooks are refused (nothing is written), chained or set aside,
/// per `foreign`; our own older shims are replaced; current ones are left as they are.
pub fn install(repo: &Repo, foreign: Foreign) -> Result<Vec<HookReport>> {
    let dir = hooks_dir(repo)?;
    let before = status(repo)?;
    if foreign == Foreign::Refuse
        && let Some(h) = before.iter().find(|h| h.state == State::Foreign)
    {
        return Err(Error::invalid(
            format!("{} is a hook grit did not write", h.path),
            "`git wal hooks install --chain` keeps it and runs it first; `--force` sets it aside \
             (uninstall restores it)",
        ));
    }
    fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let mut out = Vec::new();
    for (mut report, (name, shim)) in before.into_iter().zip(SHIMS) {
        let path = dir.join(name);
        migrate_chained(&dir, name)?;
        let action = match report.state {
            State::Absent => Action::Installed,
            State::Installed | State::Chained => Action::UpToDate,
            State::Outdated => Action::Updated,
            // Another manager runs ours from `.legacy`: keep it current there, chain nothing.
            State::Moved => {
                let legacy = sibling(&path, LEGACY_SUFFIX);
                report.note = Some(format!(
                    "runs from {}, called by the hook manager at {name}",
                    legacy.display()
                ));
                if read(&legacy)?.as_deref() == Some(shim) {
                    Action::UpToDate
                } else {
                    write_shim(&legacy, shim)?;
                    Action::Updated
                }
            }
            State::Foreign => match foreign {
                Foreign::Chain => {
                    report.note = chain(&dir, name, &path)?;
                    Action::Chained
                }
                _ => {
                    let aside = sibling(&path, BACKUP_SUFFIX);
                    if aside.exists() {
                        return Err(Error::invalid(
                            format!("{} already exists; it would be overwritten", aside.display()),
                            "move it away, then run `git wal hooks install` again",
                        ));
                    }
                    fs::rename(&path, &aside).map_err(Error::io(&path))?;
                    Action::Replaced
                }
            },
        };
        if matches!(
            action,
            Action::Installed | Action::Updated | Action::Chained | Action::Replaced
        ) && report.state != State::Moved
        {
            write_shim(&path, shim)?;
        }
        report.state = state_of(&path, name, shim)?;
        report.action = Some(action);
        out.push(report);
    }
    Ok(out)
}

/// Removes our shims and puts back whatever they chained or replaced. Hooks that are not ours
/// are left alone.
pub fn uninstall(repo: &Repo) -> Result<Vec<HookReport>> {
    let dir = hooks_dir(repo)?;
    let mut out = Vec::new();
    for (mut report, (name, shim)) in status(repo)?.into_iter().zip(SHIMS) {
        let path = dir.join(name);
        migrate_chained(&dir, name)?;
        let chained = chained_path(&dir, name);
        let action = match report.state {
            State::Absent => Action::NotInstalled,
            State::Foreign => Action::LeftAlone,
            // Ours was moved by another manager: take it out of `.legacy`, and put back there
            // what ours chained, which that manager then runs as before.
            State::Moved => {
                let legacy = sibling(&path, LEGACY_SUFFIX);
                if chained.exists() {
                    fs::rename(&chained, &legacy).map_err(Error::io(&chained))?;
                    Action::Restored
                } else {
                    fs::remove_file(&legacy).map_err(Error::io(&legacy))?;
                    Action::Removed
                }
            }
            State::Installed | State::Chained | State::Outdated => {
                let backup = sibling(&path, BACKUP_SUFFIX);
                if chained.exists() {
                    fs::rename(&chained, &path).map_err(Error::io(&chained))?;
                    Action::Restored
                } else if backup.exists() {
                    fs::rename(&backup, &path).map_err(Error::io(&backup))?;
                    Action::Restored
                } else {
                    fs::remove_file(&path).map_err(Error::io(&path))?;
                    Action::Removed
                }
            }
        };
        let _ = fs::remove_dir(dir.join(CHAINED_DIR));
        report.state = state_of(&path, name, shim)?;
        report.action = Some(action);
        out.push(report);
    }
    Ok(out)
}

/// grit's hooks that another tool has written over since `git wal init` (a hook manager that
/// rewrites the hooks directory: husky on every `npm install`), read without running git: the
/// hooks directory from `core.hooksPath` or the common git directory. A hook that is absent is
/// not counted (uninstalled on purpose), nor one another manager moved and still runs. Empty
/// where the repository was never set up by `git wal init`.
pub fn displaced(repo: &Repo) -> Vec<&'static str> {
    if repo.config_bool("grit.pushWithCode").is_none() {
        return Vec::new();
    }
    let dir = match repo.config_string("core.hooksPath") {
        Some(p) if Path::new(&p).is_absolute() => PathBuf::from(p),
        Some(p) => match repo.git.workdir() {
            Some(root) => root.join(p),
            None => return Vec::new(),
        },
        None => repo.git.common_dir().join("hooks"),
    };
    SHIMS
        .iter()
        .filter(|(name, shim)| matches!(state_of(&dir.join(name), name, shim), Ok(State::Foreign)))
        .map(|(name, _)| *name)
        .collect()
}

/// `displaced`, said once per change: the names are kept in `<grit>/hooks.displaced`, and a
/// warning is returned only when they differ from what was said last time (cleared once the
/// hooks are back).
pub fn displaced_warning(repo: &Repo) -> Option<String> {
    let names = displaced(repo);
    let said = repo.grit_dir.join("hooks.displaced");
    let now = names.join(" ");
    let before = fs::read_to_string(&said).unwrap_or_default();
    if names.is_empty() {
        if !before.is_empty() {
            let _ = fs::remove_file(&said);
        }
        return None;
    }
    if before.trim() == now {
        return None;
    }
    let _ = fs::write(&said, &now);
    Some(format!(
        "grit's {} hook(s) were replaced by another tool ({now}): issues named by Fixes: are not closed and \
         pushes are not checked against locks until `git wal init --chain` puts them back (it keeps the other \
         tool's hooks and runs them first)",
        names.len()
    ))
}

/// The hook manager that wrote a hook, when its text says: the pre-commit framework, husky or
/// git-lfs. `git wal init` chains such a hook without being asked (each is a dispatcher that
/// must keep running), and refuses only hooks it cannot tell.
pub fn manager(path: &Path) -> Option<&'static str> {
    let text = read(path).ok()??;
    if text.contains("File generated by pre-commit") {
        Some("the pre-commit framework")
    } else if text.contains("husky") || text.contains("\"$(dirname \"$0\")/h\"") {
        Some("husky")
    } else if text.contains("git lfs ") || text.contains("git-lfs") {
        Some("git-lfs")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shim_carries_its_marker_and_is_posix_sh() {
        for (name, shim) in SHIMS {
            assert!(shim.starts_with("#!/bin/sh\n"), "{name}");
            assert!(is_ours(shim, name), "{name}");
            assert!(!is_ours(shim, "post-checkout"), "{name}");
        }
    }
}
