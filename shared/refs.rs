//! grit's refs. In the files backend: listed, read and deleted through gix, written as git's files
//! backend writes them (each through its `<ref>.lock`, created exclusively and renamed over the
//! ref). In a reftable repository, which gix cannot read: through git itself, one process per
//! listing or transaction (`for-each-ref`, `update-ref --stdin`).

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gix::ObjectId;
use gix::refs::Target;
use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};

use crate::error::{Error, Result};
use crate::repo::{RefFormat, Repo};

/// Where remote-tracking copies of other clones' refs live: `refs/grit/remotes/<remote>/…`.
pub const TRACKING_ROOT: &str = "refs/grit/remotes/";

/// Where the grit refs of `remote` are mirrored: `refs/grit/remotes/<remote>/`.
pub fn tracking_prefix(remote: &str) -> String {
    format!("{TRACKING_ROOT}{remote}/")
}

/// Where snapshots are kept (`snapshot`).
pub const SNAPSHOTS_PREFIX: &str = "refs/grit/snapshots/";

/// This clone's lock on the tracking refs of one remote (`refs/grit/remotes/<remote>/`), held
/// while a grit process fetches into them or pushes (which updates them too). Two `git fetch`
/// or `git push` that update the same tracking ref at once fail with "cannot lock ref": grit's
/// own processes in one clone take turns instead. Released when dropped.
pub struct TrackingLock(#[allow(dead_code)] std::fs::File);

/// Takes [`TrackingLock`] for `remote`, waiting for another process that holds it.
pub fn tracking_lock(repo: &Repo, remote: &str) -> Result<TrackingLock> {
    // Remote names may hold `/`; the lock's name must be one file name.
    let safe: String = remote
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                b as char
            } else {
                '%'
            }
        })
        .collect();
    let path = repo.git.common_dir().join("grit").join(format!("tracking-{safe}.lock"));
    crate::sys::lock_file(&path).map(TrackingLock)
}

/// How long an update waits for another process's `<ref>.lock` to go away. git waits 100 ms
/// (`core.filesRefLockTimeout`); writers hold the lock for microseconds, but a loaded machine
/// can deschedule one while it does, and many writers of one actor queue on it.
const REF_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// A `<ref>.lock` this old (by its mtime) that does not change while an update waits was left by
/// a writer that died between creating and renaming it: the update takes it over. Writers hold
/// a lock for microseconds, so a live one is never this old.
pub const STALE_LOCK_AGE: Duration = Duration::from_secs(10);

/// Points the ref `name` (under `refs/grit/`) at `new` if it still holds
/// `expected` (`None`: must not exist): create `<name>.lock` exclusively, read the current value
/// (the loose file, else `packed-refs`), write the new one and rename the lock over the ref. No
/// reflog: the commit chain is the history.
///
/// Not through gix: once `packed-refs` exists, a gix transaction also locks it for every update,
/// so the appends of all actors would queue on one lock (and on `git pack-refs`), each paying a
/// fifth file, and a stale `packed-refs.lock` would stop them all. git takes that lock only to
/// delete.
pub fn swap_ref(repo: &Repo, name: &str, expected: Option<ObjectId>, new: ObjectId) -> Result<Swap> {
    update(repo, vec![(name, Some(expected), new)])
}

/// Moves each `(name, expected, new)` as [`swap_ref`] does, all or none of them, the way git
/// commits a transaction: every lock first (in name order, so that two transactions never wait
/// for each other), then every expected value checked, every new value written, and only then
/// each lock renamed over its ref. As with git, a crash between two renames leaves the refs
/// renamed so far moved.
pub fn swap_refs(repo: &Repo, updates: &[(&str, Option<ObjectId>, ObjectId)]) -> Result<Swap> {
    update(
        repo,
        updates
            .iter()
            .map(|&(name, expected, new)| (name, Some(expected), new))
            .collect(),
    )
}

/// Points the ref `name` at `new` whatever it held before, as [`swap_ref`] does.
pub fn set_ref(repo: &Repo, name: &str, new: ObjectId) -> Result<()> {
    update(repo, vec![(name, None, new)]).map(|_| ())
}

/// [`set_ref`] of many refs, all or none, in one transaction.
pub fn set_refs(repo: &Repo, updates: &[(&str, ObjectId)]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    update(repo, updates.iter().map(|&(name, new)| (name, None, new)).collect()).map(|_| ())
}

/// `expected`: `None` to take any value, `Some(None)` for a ref that must not exist.
fn update(repo: &Repo, mut updates: Vec<(&str, Option<Option<ObjectId>>, ObjectId)>) -> Result<Swap> {
    updates.sort_by_key(|u| u.0);
    if repo.refs == RefFormat::Reftable {
        let mut script = String::new();
        for (name, expected, new) in &updates {
            ref_name(name)?;
            script.push_str(&match expected {
                None => format!("update {name} {new}\n"),
                Some(None) => format!("create {name} {new}\n"),
                Some(Some(old)) => format!("update {name} {new} {old}\n"),
            });
        }
        return reftable_transaction(repo, &script);
    }
    let mut locks = Vec::with_capacity(updates.len());
    // Thousands of locks at once (a push of every actor's ref) must not hold a descriptor each.
    let many = updates.len() > 64;
    for (name, ..) in &updates {
        ref_name(name)?;
        let mut lock = RefLock::acquire(name, repo.git.common_dir().join(name))?;
        if many {
            lock.file = None;
        }
        locks.push(lock);
    }
    for (name, expected, _) in &updates {
        if let Some(expected) = expected
            && ref_tip(repo, name)? != *expected
        {
            return Ok(Swap::Moved);
        }
    }
    for (lock, (.., new)) in locks.iter_mut().zip(&updates) {
        lock.write(&format!("{new}\n"))?;
    }
    for lock in locks {
        lock.commit()?;
    }
    Ok(Swap::Done)
}

/// Deletes `name` if it still holds `expected`. Through gix, which takes git's `packed-refs`
/// lock as git does to delete (the ref may be packed); a lock still held once gix has waited
/// for it (`core.packedRefsTimeout`) is reported, not taken for a lost race.
pub fn delete_ref(repo: &Repo, name: &str, expected: ObjectId) -> Result<Swap> {
    if repo.refs == RefFormat::Reftable {
        ref_name(name)?;
        return reftable_transaction(repo, &format!("delete {name} {expected}\n"));
    }
    let edit = RefEdit {
        change: Change::Delete {
            expected: PreviousValue::MustExistAndMatch(Target::Object(expected)),
            log: RefLog::AndReference,
        },
        name: ref_name(name)?,
        deref: false,
    };
    let err = match repo.git.edit_references_as(Some(edit), None) {
        Ok(_) => return Ok(Swap::Done),
        Err(err) => err,
    };
    let text = format!("{err:?}");
    if err.is_conflict() || text.contains("ReferenceOutOfDate") || text.contains("MustExist") {
        return Ok(Swap::Moved);
    }
    let common = repo.git.common_dir();
    for lock in [common.join(format!("{name}.lock")), common.join("packed-refs.lock")] {
        if lock.exists() {
            return Err(Error::RefLocked {
                reference: name.to_owned(),
                lock: std::path::absolute(&lock).unwrap_or(lock),
            });
        }
    }
    if text.contains("lock") {
        // Released between gix giving up and the check above: someone else was writing.
        return Ok(Swap::Moved);
    }
    Err(err.into())
}

/// The current target of `name`, if the ref exists.
pub fn ref_tip(repo: &Repo, name: &str) -> Result<Option<ObjectId>> {
    if repo.refs == RefFormat::Reftable {
        // A full name matches itself (and refs below it, which a ref cannot have).
        return Ok(reftable_matching(repo, name, name)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id));
    }
    Ok(repo
        .git
        .try_find_reference(name)?
        .and_then(|r| r.target().try_id().map(ToOwned::to_owned)))
}

/// What a compare-and-swap found.
pub enum Swap {
    /// The ref moved.
    Done,
    /// The ref was not at the expected value (another writer got there first).
    Moved,
}

/// Whether any ref starts with `prefix` (stops at the first).
pub fn has_refs(repo: &Repo, prefix: &str) -> Result<bool> {
    if repo.refs == RefFormat::Reftable {
        return Ok(!reftable_list(repo, prefix)?.is_empty());
    }
    let platform = repo.git.references()?;
    let mut iter = platform.prefixed(prefix)?;
    Ok(iter.next().transpose()?.is_some())
}

/// All refs under `prefix` with their tips, sorted by name.
pub fn list_refs(repo: &Repo, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
    if repo.refs == RefFormat::Reftable {
        return reftable_list(repo, prefix);
    }
    // A loose ref can vanish between the directory listing and the read when `git pack-refs`
    // (run by background maintenance) moves it into packed-refs: list again, and a fresh
    // listing finds it packed. What still fails after that is a broken ref.
    let (mut out, mut broken) = (Vec::new(), Vec::new());
    for _ in 0..LIST_ATTEMPTS {
        out.clear();
        broken.clear();
        for r in repo.git.references()?.prefixed(prefix)? {
            match r {
                Ok(r) => {
                    if let Some(id) = r.target().try_id() {
                        out.push((r.name().as_bstr().to_string(), id.to_owned()));
                    }
                }
                Err(e) => broken.push(e.to_string()),
            }
        }
        if broken.is_empty() {
            break;
        }
    }
    broken
        .iter()
        .filter(|e| still_broken(repo, e))
        .for_each(|e| warn_broken_ref(e));
    out.sort();
    Ok(out)
}

/// Whether the loose ref a listing could not read is broken now, read on its own. A ref that
/// another process is writing, packing or deleting at that moment is not: its file is gone, or
/// reads as a ref. Only a file that still fails to read as one is worth a warning.
fn still_broken(repo: &Repo, error: &str) -> bool {
    // gix names the ref (`"refs/grit/…"`) or its file (an absolute path).
    let named = error
        .split('"')
        .find(|w| w.starts_with("refs/") || w.starts_with('/'))
        .or_else(|| {
            error
                .find('/')
                .map(|at| error[at..].split([' ', ',', ')']).next().unwrap_or_default())
        });
    let Some(named) = named else { return true };
    let path = if named.starts_with('/') {
        std::path::PathBuf::from(named)
    } else {
        repo.git.common_dir().join(named)
    };
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => true,
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let t = text.trim_end_matches('\n');
            let hex = matches!(t.len(), 40 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit());
            !(hex || t.starts_with("ref: refs/"))
        }
    }
}

const LIST_ATTEMPTS: u32 = 3;

/// The commit HEAD points at, if any, in either backend.
pub fn head_commit(repo: &Repo) -> Option<ObjectId> {
    if repo.refs == RefFormat::Reftable {
        let out = repo
            .git_output(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .ok()?;
        return ObjectId::from_hex(String::from_utf8_lossy(&out.stdout).trim().as_bytes()).ok();
    }
    repo.git.head_id().ok().map(|id| id.detach())
}

/// `git` for grit's own ref work in a reftable repository. It starts no hooks, as grit's own
/// writes in the files backend start none, and waits for the table stack's lock as long as a
/// files-backend update waits for a ref's (writers of every actor share that one lock).
fn reftable_git(repo: &Repo, args: &[&str], stdin: &str) -> Result<std::process::Output> {
    let timeout = format!("reftable.lockTimeout={}", REF_LOCK_TIMEOUT.as_millis());
    repo.git_with_input(&["core.hooksPath=/dev/null", &timeout], args, stdin)
}

/// Adds `refs` (none of which exists yet) to `packed-refs` in one write, as `git pack-refs`
/// writes it: under `packed-refs.lock`, created exclusively, renamed over the file. The lines
/// already there are kept as they are. Files backend only. Returns false, having written
/// nothing, when the lock is held or one of the refs exists loose.
pub fn add_packed(repo: &Repo, refs: &[(String, ObjectId)]) -> Result<bool> {
    let common = repo.git.common_dir();
    let path = common.join("packed-refs");
    let lock = common.join("packed-refs.lock");
    for (name, _) in refs {
        ref_name(name)?;
        if common.join(name).exists() {
            return Ok(false);
        }
    }
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(Error::io("packed-refs.lock")(e)),
    };
    let written = (|| -> Result<()> {
        let old = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("packed-refs")(e)),
        };
        // A new file says what git's own says; an old one keeps its header, or its lack of one
        // (which tells git to assume nothing about peeling or order).
        let mut header = if old.is_empty() {
            "# pack-refs with: peeled fully-peeled sorted \n".to_owned()
        } else {
            String::new()
        };
        // Each ref with the peeled line that may follow it, kept verbatim.
        let mut entries: Vec<(String, String)> = Vec::new();
        for line in old.lines() {
            if line.starts_with('#') {
                header = format!("{line}\n");
            } else if line.starts_with('^') {
                if let Some(last) = entries.last_mut() {
                    last.1.push_str(line);
                    last.1.push('\n');
                }
            } else if let Some((_, name)) = line.split_once(' ') {
                entries.push((name.to_owned(), format!("{line}\n")));
            }
        }
        let known: HashSet<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        if refs.iter().any(|(n, _)| known.contains(n.as_str())) {
            return Err(Error::invalid(
                "a ref to add is already packed",
                "this is a bug in grit; please report it",
            ));
        }
        entries.extend(refs.iter().map(|(n, id)| (n.clone(), format!("{id} {n}\n"))));
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out = String::with_capacity(header.len() + entries.iter().map(|e| e.1.len()).sum::<usize>());
        out.push_str(&header);
        entries.iter().for_each(|(_, lines)| out.push_str(lines));
        file.write_all(out.as_bytes()).map_err(Error::io("packed-refs.lock"))?;
        drop(file);
        std::fs::rename(&lock, &path).map_err(Error::io("packed-refs"))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&lock);
    }
    written.map(|()| true)
}

/// Every ref under `prefix` (a ref name or the start of one), sorted, through `for-each-ref`.
fn reftable_list(repo: &Repo, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
    // for-each-ref matches whole path components: ask for the directory, keep the prefix.
    let pattern = &prefix[..prefix.rfind('/').map_or(prefix.len(), |i| i + 1)];
    reftable_matching(repo, pattern, prefix)
}

/// The refs for-each-ref `pattern` matches that start with `prefix`.
fn reftable_matching(repo: &Repo, pattern: &str, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
    let out = reftable_git(
        repo,
        &["for-each-ref", "--format=%(objectname) %(refname)", pattern],
        "",
    )?;
    if !out.status.success() {
        return Err(Error::Subprocess {
            command: format!("git for-each-ref {pattern}"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let mut refs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((id, name)) = line.split_once(' ') else {
            continue;
        };
        if let (true, Ok(id)) = (name.starts_with(prefix), ObjectId::from_hex(id.as_bytes())) {
            refs.push((name.to_owned(), id));
        }
    }
    refs.sort();
    Ok(refs)
}

/// Runs `script` (`update`/`create`/`delete` lines) as one `git update-ref --stdin`
/// transaction: all of it or none. A ref that did not hold its expected value is [`Swap::Moved`].
fn reftable_transaction(repo: &Repo, script: &str) -> Result<Swap> {
    let out = reftable_git(repo, &["update-ref", "--stdin"], script)?;
    if out.status.success() {
        return Ok(Swap::Done);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let moved = [
        "but expected",
        "already exists",
        "unable to resolve reference",
        "reference is missing",
    ];
    if moved.iter().any(|m| stderr.contains(m)) {
        return Ok(Swap::Moved);
    }
    Err(Error::Subprocess {
        command: "git update-ref --stdin".into(),
        stderr,
    })
}

/// A ref file that does not parse (a stray file, a crash of a tool that writes refs in place)
/// is skipped with a warning, as git does, rather than failing every command that lists refs.
fn warn_broken_ref(error: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.iter().any(|s| s == error) {
        return;
    }
    let hint = if seen.is_empty() {
        "\nhint: a ref is a file under .git/refs/; move the broken one aside (`git update-ref` refuses to touch it)"
    } else {
        ""
    };
    crate::warnings::warn(format!("ignoring broken ref: {error}{hint}"));
    seen.push(error.to_owned());
}

/// A cheap summary of the refs a fold reads (everything under `refs/grit/` but lock refs): equal
/// stamps mean none of them changed, so a command can skip listing thousands of refs.
///
/// `packed-refs` counts by its identity: git and gix only ever replace it by renaming a new file
/// over it, so a change gives it a new inode (and a size and mtime of its own). Each loose ref
/// counts by its name and content, read from the file. A stamp only ever claims "unchanged" for
/// what it saw; a stamp taken while something moves differs from the next one, which costs a
/// full listing, never a missed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    packed: [u64; 4],
    /// XOR of a hash of each loose ref's name and value: one ref's change can be applied to it.
    loose: [u8; 16],
}

impl Stamp {
    /// The bytes of a stamp as `to_bytes` writes it.
    pub const LEN: usize = 48;

    /// The stamp of the refs now.
    pub fn now(repo: &Repo) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let common = repo.git.common_dir();
        if repo.refs == RefFormat::Reftable {
            // Every transaction and every compaction rewrites the stack's list of tables.
            let list = std::fs::read(common.join("reftable/tables.list")).unwrap_or_default();
            let hash = crate::event::blake2b256(&list);
            let mut packed = [0; 4];
            for (v, chunk) in packed.iter_mut().zip(hash.chunks(8)) {
                *v = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
            }
            return Stamp { packed, loose: [0; 16] };
        }
        let packed = std::fs::metadata(common.join("packed-refs")).map_or([0; 4], |m| {
            [
                m.dev() ^ m.ino().rotate_left(32),
                m.size(),
                m.mtime() as u64,
                m.mtime_nsec() as u64,
            ]
        });
        let mut loose = [0; 16];
        let root = common.join("refs/grit");
        let mut dirs = vec![(root.clone(), 0usize)];
        while let Some((dir, depth)) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    // refs/grit/locks and refs/grit/remotes/<remote>/locks: not the fold's.
                    let locks =
                        name == "locks" && (depth == 0 || (depth == 2 && path.starts_with(root.join("remotes"))));
                    if !locks {
                        dirs.push((path, depth + 1));
                    }
                } else if !name.ends_with(".lock") {
                    let value = std::fs::read(&path).unwrap_or_default();
                    let rel = path
                        .strip_prefix(common)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned();
                    xor(&mut loose, &entry_hash(&rel, value.trim_ascii()));
                }
            }
        }
        Stamp { packed, loose }
    }

    /// This stamp with `name` moved from `old` (`None`: packed or absent) to the loose `new`.
    pub fn moved(mut self, name: &str, old: Option<ObjectId>, new: ObjectId) -> Stamp {
        if let Some(old) = old {
            xor(&mut self.loose, &entry_hash(name, old.to_string().as_bytes()));
        }
        xor(&mut self.loose, &entry_hash(name, new.to_string().as_bytes()));
        self
    }

    /// The stamp as bytes, for the index to keep.
    pub fn to_bytes(self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        for (chunk, v) in out.chunks_mut(8).zip(self.packed) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        out[32..].copy_from_slice(&self.loose);
        out
    }

    /// A stamp `to_bytes` wrote; `None` for other bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Stamp> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut packed = [0; 4];
        for (v, chunk) in packed.iter_mut().zip(bytes.chunks(8)) {
            *v = u64::from_be_bytes(chunk.try_into().ok()?);
        }
        Some(Stamp {
            packed,
            loose: bytes[32..].try_into().ok()?,
        })
    }
}

fn entry_hash(name: &str, value: &[u8]) -> [u8; 16] {
    let mut buf = Vec::with_capacity(name.len() + 1 + value.len());
    buf.extend_from_slice(name.as_bytes());
    buf.push(0);
    buf.extend_from_slice(value);
    let full = crate::event::blake2b256(&buf);
    full[..16].try_into().expect("16 of 32 bytes")
}

fn xor(into: &mut [u8; 16], other: &[u8; 16]) {
    into.iter_mut().zip(other).for_each(|(a, b)| *a ^= b);
}

/// `name` as a full ref name, or an error if git would refuse it or it is not one of grit's
/// (all are under `refs/grit/`, shared by every worktree): these names become paths to write.
pub fn ref_name(name: &str) -> Result<gix::refs::FullName> {
    let bug = |why: String| Error::invalid(why, "this is a bug in grit; please report it");
    if !name.starts_with("refs/grit/") {
        return Err(bug(format!("'{name}' is not under refs/grit/")));
    }
    name.try_into()
        .map_err(|e: gix::validate::reference::name::Error| bug(format!("'{name}' is not a valid reference name: {e}")))
}

/// `<ref>.lock`, held while it exists; removed on drop unless renamed over the ref.
struct RefLock {
    path: PathBuf,
    lock: PathBuf,
    file: Option<std::fs::File>,
}

impl RefLock {
    fn acquire(name: &str, path: PathBuf) -> Result<RefLock> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let start = Instant::now();
        let mut pause = Duration::from_micros(100);
        let mut watch = StaleWatch::default();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(file) => {
                    return Ok(RefLock {
                        path,
                        lock,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let dir = path.parent().expect("a ref path has a parent");
                    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if watch.is_stale(&lock) {
                        take_over(&lock)?;
                        continue;
                    }
                    if start.elapsed() >= REF_LOCK_TIMEOUT {
                        return Err(Error::RefLocked {
                            reference: name.to_owned(),
                            lock: std::path::absolute(&lock).unwrap_or(lock),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => return Err(Error::io(&lock)(e)),
            }
        }
    }

    fn write(&mut self, content: &str) -> Result<()> {
        let mut file = match self.file.take() {
            Some(f) => f,
            None => std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.lock)
                .map_err(Error::io(&self.lock))?,
        };
        file.write_all(content.as_bytes()).map_err(Error::io(&self.lock))
    }

    fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.lock, &self.path).map_err(Error::io(&self.path))?;
        self.lock.clear();
        Ok(())
    }
}

/// Whether a file was last modified at least [`STALE_LOCK_AGE`] ago.
fn old_enough(mtime: std::time::SystemTime) -> bool {
    mtime.elapsed().is_ok_and(|age| age >= STALE_LOCK_AGE)
}

/// Whether the file at `path` exists and is old enough to be a dead writer's lock.
fn old_file(path: &std::path::Path) -> bool {
    std::fs::metadata(path).and_then(|m| m.modified()).is_ok_and(old_enough)
}

/// Watches a `<ref>.lock` held by someone else for the signs of a dead writer: old, and the
/// same file (inode, size, mtime) for at least a moment.
#[derive(Default)]
struct StaleWatch {
    seen: Option<((u64, u64, std::time::SystemTime), Instant)>,
}

impl StaleWatch {
    fn is_stale(&mut self, lock: &std::path::Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(lock) else {
            self.seen = None;
            return false;
        };
        let Ok(mtime) = meta.modified() else { return false };
        let old = old_enough(mtime);
        let id = (meta.ino(), meta.len(), mtime);
        match self.seen {
            Some((seen, since)) if seen == id => old && since.elapsed() >= Duration::from_millis(100),
            _ => {
                self.seen = Some((id, Instant::now()));
                false
            }
        }
    }
}

/// Removes a dead writer's lock: renamed aside first (atomic, so of several waiters exactly one
/// takes it, and a live writer's fresh lock is never touched), then deleted.
fn take_over(lock: &std::path::Path) -> Result<()> {
    let mut aside = lock.as_os_str().to_owned();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    aside.push(format!(".stale-{}-{n}", std::process::id()));
    match std::fs::rename(lock, &aside) {
        Ok(()) => {
            let _ = std::fs::remove_file(&aside);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(lock)(e)),
    }
}

/// `<ref>.lock` files under `refs/grit/`, and the locks of `packed-refs` and of a reftable
/// stack, that look left behind by a crash (older than [`STALE_LOCK_AGE`]), for `git wal doctor`.
pub fn stale_locks(repo: &Repo) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&path, out),
                Ok(_)
                    if path.extension().is_some_and(|x| x == "lock")
                        && e.metadata().and_then(|m| m.modified()).is_ok_and(old_enough) =>
                {
                    out.push(path);
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo.git.common_dir().join("refs/grit"), &mut out);
    // The files backend's packed-refs lock, and the reftable stack's: while either is left
    // behind, every write of a ref waits for it, then fails.
    for lock in ["packed-refs.lock", "reftable/tables.list.lock"] {
        let lock = repo.git.common_dir().join(lock);
        if old_file(&lock) {
            out.push(lock);
        }
    }
    out.sort();
    out
}

/// Removes a stale lock found by [`stale_locks`], if it is still the same stale file.
pub fn remove_stale_lock(lock: &std::path::Path) -> Result<bool> {
    let still = old_file(lock);
    if still {
        take_over(lock)?;
    }
    Ok(still)
}

impl Drop for RefLock {
    fn drop(&mut self) {
        if !self.lock.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ref_name;

    #[test]
    fn only_valid_names_under_refs_grit_become_paths() {
        assert!(ref_name("refs/grit/wal/0123abcd").is_ok());
        for bad in [
            "refs/heads/main",
            "HEAD",
            "refs/grit/../../config",
            "refs/grit/wal/x.lock",
            "refs/grit/wal//x",
            "refs/grit/wal/x y\u{7f}",
            "/etc/refs/grit/x",
        ] {
            assert!(ref_name(bad).is_err(), "{bad}");
        }
    }
}
