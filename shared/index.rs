//! The index: an LMDB projection of every WAL ref, kept at `<git-common-dir>/grit/index/`.
//! Each command folds in only the commits that arrived since the stored tips; the whole index
//! is a cache that can be deleted at any time (or is wiped on a schema change) and rebuilt.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gix::ObjectId;
use heed::types::{Bytes, Str, Unit};
use heed::{Database, DatabaseFlags, Env, EnvFlags, EnvOpenOptions, PutFlags, RoTxn, RwTxn};

use crate::actor::{self, ACTORS_PREFIX, Record};
use crate::error::{Error, Result};
use crate::event::{ActorId, Id, IdMap, SignedEvent, State};
use crate::hex;
use crate::issue::{AuthorView, IssueState, IssueView};
use crate::repo::Repo;
use crate::{snapshot, wal};

/// Bump when the stored layout or the merge rules change: the index then rebuilds itself.
pub const SCHEMA_VERSION: u32 = 10;
/// Shortest id prefix ever printed.
pub const MIN_SHORT: usize = 7;
const MAP_SIZE: usize = 16 << 30;

/// The map to reserve for the index at `path`: [`MAP_SIZE`] of address space (reserved, not
/// used), or, under an address-space limit (`ulimit -v`), a third of that limit; never less than
/// what the data file already holds, with headroom.
fn map_size(path: &Path) -> usize {
    let data = std::fs::metadata(path.join("data.mdb")).map_or(0, |m| m.len() as usize);
    let size = match crate::sys::address_limit() {
        Some(limit) => MAP_SIZE.min(limit / 3),
        None => MAP_SIZE,
    };
    let floor = data + data / 2 + (64 << 20);
    size.max(floor).next_multiple_of(1 << 20)
}

/// The largest a map may grow to (`Index::grow`): half the address-space limit, or 1 TiB.
fn map_ceiling() -> usize {
    crate::sys::address_limit().map_or(1 << 40, |l| l / 2)
}

/// Held shared by each of this process's transactions while it is open, and exclusively to move
/// the map: LMDB may resize a map only while no transaction of the process is open
/// (`mdb_env_set_mapsize`). Only `pause` takes it exclusively, and never waits in line for it,
/// so a thread that holds it shared and begins another transaction is never blocked.
static MAP_GATE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A transaction's hold on the map: kept until the transaction ends.
type Held = std::sync::RwLockReadGuard<'static, ()>;

/// This process's transactions, paused so the map may move: `None` when one stays open past a
/// few seconds (a thread that asks while it holds one).
fn pause() -> Option<std::sync::RwLockWriteGuard<'static, ()>> {
    use std::sync::TryLockError;
    let until = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match MAP_GATE.try_write() {
            Ok(all) => return Some(all),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

/// A transaction of `env`, with its hold on the map. A map another process grew past this
/// one's (MDB_MAP_RESIZED) is adopted first.
#[allow(unsafe_code)]
fn begin<'e, T>(env: &'e Env, open: impl Fn(&'e Env) -> heed::Result<T>) -> heed::Result<(Held, T)> {
    let mut adopted = false;
    loop {
        let held = MAP_GATE.read().unwrap_or_else(|p| p.into_inner());
        match open(env) {
            Err(heed::Error::Mdb(heed::MdbError::MapResized)) if !adopted => {
                drop(held);
                adopted = true;
                if let Some(_all) = pause() {
                    // SAFETY: no transaction of this process is open (`pause`); size 0 adopts
                    // the size the environment's meta page records.
                    unsafe { env.resize(0)? };
                }
            }
            other => return other.map(|t| (held, t)),
        }
    }
}
/// The `meta` key counting closed rows, so `list` can say how many rows of a state it left out
/// without walking them (the open ones are the rest).
const CLOSED: &str = "closed";

/// The environments this process has open, by canonical path.
static OPEN_ENVS: std::sync::LazyLock<std::sync::Mutex<HashMap<PathBuf, Env>>> =
    std::sync::LazyLock::new(Default::default);

/// The open index of one repository.
pub struct Index {
    env: Env,
    path: PathBuf,
    meta: Database<Str, Bytes>,
    /// ref name → tip commit applied.
    tips: Database<Str, Bytes>,
    /// A scratch directory holding this index when the repository's own could not be opened
    /// for writing (a read-only `.git`): deleted when the index is dropped.
    _scratch: Option<std::sync::Arc<tempfile::TempDir>>,
    /// commit id → (): every WAL commit folded in.
    commits: Database<Bytes, Unit>,
    /// event id → entity id: every event folded in.
    events: Database<Bytes, Bytes>,
    /// entity id ++ event id → (): events another event of the same entity names as a parent.
    parented: Database<Bytes, Unit>,
    /// issue id → `IssueState`, in the form `IssueState::encode` writes.
    issues: Database<Bytes, Bytes>,
    /// created_ms (BE) ++ issue id → state byte ++ author ++ JSON fragment, for `list`.
    rows: Database<Bytes, Bytes>,
    /// label ++ 0 ++ issue id → (): issues currently carrying a label.
    labels: Database<Bytes, Unit>,
    /// actor id → CBOR `[name, email]` from the published records.
    actors: Database<Bytes, Bytes>,
    /// lock commit id → its message (the lease): lock commits never change, so neither does this.
    leases: Database<Bytes, Bytes>,
    /// issue id → the fixed-width facts queries filter and sort on (`tables::Facts`).
    facts: Database<Bytes, Bytes>,
    /// issue ++ link byte ++ other issue → (): every link, from both ends (`tables`).
    edges: Database<Bytes, Unit>,
    /// assignee ++ 0 ++ issue id → (): issues currently assigned to someone.
    assigned: Database<Bytes, Unit>,
    /// source id (`github:owner/name#12`) → issue ids (sorted duplicates): where imported
    /// issues came from, so a second import finds them (the smallest id, should two claim one).
    sources: Database<Bytes, Bytes>,
    /// word → the first `tables::POSTING` bytes of each issue id whose text holds it (sorted
    /// duplicates of a fixed size): the full-text index.
    words: Database<Bytes, Bytes>,
    /// entity id ++ event id → the event's step in the issue's history (`history`).
    history: Database<Bytes, Bytes>,
}

/// What one fold did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FoldStats {
    /// WAL refs whose tips moved since the last fold.
    pub refs_changed: usize,
    /// WAL commits read.
    pub commits: usize,
    /// Events applied.
    pub events: usize,
    /// How long it took, in milliseconds.
    pub millis: f64,
    /// The snapshot a first fold started from.
    pub snapshot: Option<String>,
    /// Events from other clones that failed verification and were not applied.
    pub rejected: Vec<Rejected>,
    /// So many events arrived that the fold rebuilt the index in bulk (`grit.rebuildThreshold`).
    pub rebuilt: bool,
    /// How many sorted runs a bulk fold's events made (more than one when they did not fit in
    /// `grit.foldMemory` at once), or 1 for a merge into the index.
    pub batches: usize,
    /// Writes of this clone's actors that concurrent writes of others overrode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<crate::issue::Overridden>,
}

/// An event that did not verify, and where it was found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rejected {
    /// The ref it was found on.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The WAL commit holding it, in hex.
    pub commit: String,
    /// None when the whole chunk was unreadable.
    pub event: Option<String>,
    /// Why it was refused (a bad signature, another actor's ref, out of bounds…).
    pub reason: String,
}

/// Events read from one WAL commit, with where they came from.
struct Fetched<'a> {
    events: Vec<SignedEvent>,
    reference: &'a str,
    commit: ObjectId,
}

/// `git wal stats`.
#[derive(Debug, serde::Serialize)]
pub struct Stats {
    /// Events in the index.
    pub events: u64,
    /// Issues in the index.
    pub issues: u64,
    /// Actors with a published record.
    pub actors: u64,
    /// WAL refs folded in.
    pub refs: u64,
    /// The index's size on disk.
    pub index_bytes: u64,
    /// Where the index is.
    pub index_path: String,
    /// The layout it was written in ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// When the last fold ran (RFC 3339).
    pub last_fold_at: Option<String>,
    /// How long it took, in milliseconds.
    pub last_fold_ms: Option<f64>,
    /// The highest Lamport clock seen.
    pub lamport: u64,
    /// Bytes of LMDB pages each table uses (branch, leaf and overflow pages).
    pub tables: std::collections::BTreeMap<&'static str, u64>,
}

/// What `list` keeps: issues in a state, with labels, an assignee or an author.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Open or closed; `None` for both.
    pub state: Option<State>,
    /// Issues carrying every one of these labels.
    pub labels: Vec<String>,
    /// Issues assigned to this one (an email, or `@me` resolved).
    pub assignee: Option<String>,
    /// Issues opened by this actor.
    pub author: Option<ActorId>,
    /// Issues left out (e.g. claimed ones, for `ready`).
    pub exclude: std::collections::HashSet<Id>,
    /// 0: no limit.
    pub limit: usize,
}

/// One row of `list`, borrowed from the index.
pub struct Row<'a> {
    /// The issue's id.
    pub id: Id,
    /// The id in full hex.
    pub hex: &'a str,
    /// Its shortest unique prefix.
    pub short_id: &'a str,
    /// Its author, as a JSON object.
    pub author_json: &'a str,
    /// The rest of its `list --json` object, as JSON members.
    pub fragment: &'a [u8],
}

fn lmdb(path: &Path) -> impl Fn(heed::Error) -> Error + '_ {
    move |source| Error::Index {
        path: path.to_owned(),
        source,
    }
}

fn meta_u64(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

fn oid_bytes(id: &ObjectId) -> &[u8] {
    id.as_bytes()
}

/// An `Index` whose databases `$db!(name)` opens or creates.
macro_rules! databases {
    ($db:ident, $path:expr, $env:expr) => {
        Index {
            meta: $db!("meta"),
            tips: $db!("tips"),
            commits: $db!("commits"),
            events: $db!("events"),
            parented: $db!("parented"),
            issues: $db!("issues"),
            rows: $db!("rows"),
            labels: $db!("labels"),
            actors: $db!("actors"),
            leases: $db!("leases"),
            facts: $db!("facts"),
            edges: $db!("edges"),
            assigned: $db!("assigned"),
            sources: $db!("sources", DatabaseFlags::DUP_SORT | DatabaseFlags::DUP_FIXED),
            words: $db!("words", DatabaseFlags::DUP_SORT | DatabaseFlags::DUP_FIXED),
            history: $db!("history"),
            path: $path.to_owned(),
            env: $env.clone(),
            _scratch: None,
        }
    };
}

/// Lets opening an index install the fault guard in this process (`grit::arm_binary`).
pub fn enable_fault_guard() {
    guard::enable();
}

impl Index {
    fn dir(repo: &Repo) -> PathBuf {
        repo.grit_dir.join("index")
    }

    /// Opens (creating if needed) the repository's index. An index written by another schema
    /// version, or one LMDB cannot read, is deleted and started afresh: it is only a cache.
    pub fn open(repo: &Repo) -> Result<Index> {
        match Self::reopen_checked(&Self::dir(repo)) {
            Err(e) if is_read_only(&e) => Self::open_scratch(),
            other => other,
        }
    }

    /// An empty index in a scratch directory, for reading a repository this process may not
    /// write to: every command that only reads works there, folding what it needs.
    fn open_scratch() -> Result<Index> {
        let dir = tempfile::Builder::new()
            .prefix("grit-index-")
            .tempdir()
            .map_err(Error::io(std::env::temp_dir()))?;
        let mut index = Self::open_at(dir.path())?;
        index._scratch = Some(std::sync::Arc::new(dir));
        Ok(index)
    }

    fn reopen_checked(path: &Path) -> Result<Index> {
        let path = path.to_owned();
        // Opening goes under a lock beside the index: shared while the index looks whole, and
        // exclusive to create one, or to judge and wipe one that does not look whole. A new
        // index's file is empty until LMDB has written its meta pages, and another process
        // checking it in that moment must wait, not take it for a damaged one and wipe it.
        // Where the lock cannot be had (a read-only repository), opening goes on without it.
        let lock = path.file_name().and_then(|n| {
            let lock_path = path.with_file_name(format!("{}.open.lock", n.to_string_lossy()));
            // A new clone's grit directory may not be there yet.
            std::fs::create_dir_all(lock_path.parent()?).ok()?;
            std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(lock_path)
                .ok()
        });
        let data = path.join("data.mdb");
        let whole = || {
            path.symlink_metadata().is_ok_and(|m| m.is_dir())
                && data.metadata().is_ok_and(|m| m.len() > 0)
                && guard::precheck(&data).is_none()
        };
        if let Some(l) = &lock {
            let _ = l.lock_shared();
            if !whole() {
                let _ = l.unlock();
                let _ = l.lock();
            }
        }
        if path.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
            crate::warnings::warn("the index is not a directory; rebuilding it from the refs");
            Self::wipe(&path)?;
        }
        if let Some(why) = guard::precheck(&data) {
            crate::warnings::warn(format!("the index is damaged ({why}); rebuilding it from the refs"));
            Self::wipe(&path)?;
        }
        let opened = Self::open_checked_schema(&path);
        drop(lock);
        opened
    }

    /// Opens the index at `path`, starting it afresh when another schema wrote it or LMDB
    /// cannot read it.
    fn open_checked_schema(path: &Path) -> Result<Index> {
        let path = path.to_owned();
        match Self::open_settled(&path) {
            Ok(index) if index.schema()? == SCHEMA_VERSION => Ok(index),
            Ok(index) => {
                index.close();
                Self::wipe(&path)?;
                Self::open_at(&path)
            }
            Err(Error::Index {
                source: heed::Error::Mdb(_),
                ..
            }) => {
                Self::wipe(&path)?;
                Self::open_at(&path)
            }
            Err(e) => Err(e),
        }
    }

    /// [`Index::open_at`], again when the directory went away under it: another process wiping
    /// the index (a rebuild, a damaged one) renames it aside between this one's making the
    /// directory and opening the environment in it. The next try makes it anew.
    fn open_settled(path: &Path) -> Result<Index> {
        let gone = |e: &Error| match e {
            Error::Io { source, .. }
            | Error::Index {
                source: heed::Error::Io(source),
                ..
            } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        };
        let mut tries = 0;
        loop {
            match Self::open_at(path) {
                Err(e) if gone(&e) && tries < 20 => tries += 1,
                other => return other,
            }
        }
    }

    /// Gets the index out of the way: renamed aside in one step, then deleted. Another process
    /// may be creating a file in it at that moment (its lock file, a fold's lock): deleting in
    /// place would then fail with "Directory not empty", while the rename always moves the whole
    /// directory, and that process's file goes with it. What cannot be deleted now (such a
    /// process still writing) is left aside and deleted by a later wipe.
    fn wipe(path: &Path) -> Result<()> {
        static AT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(());
        };
        let prefix = format!("{}.old-", name.to_string_lossy());
        let aside = parent.join(format!(
            "{prefix}{}-{}",
            std::process::id(),
            AT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        match std::fs::rename(path, &aside) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    source: e,
                });
            }
            Ok(()) => {}
        }
        // This one, and any left aside by an earlier wipe.
        if let Ok(entries) = std::fs::read_dir(parent) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        }
        Ok(())
    }

    fn open_at(path: &Path) -> Result<Index> {
        Self::open_sized(path, map_size(path))
    }

    /// [`Index::open_at`] with a map of `size` bytes (where this process opens it first).
    fn open_sized(path: &Path, size: usize) -> Result<Index> {
        if !path.is_dir() {
            std::fs::create_dir_all(path).map_err(Error::io(path))?;
        }
        let err = lmdb(path);
        let env = Self::shared_env(path, size)?;
        guard::arm(path);
        // Every database exists after the first open: open them in a read transaction, so that
        // a command does not wait for (or hold up) a writer just to start.
        let (_held, rtxn) = match begin(&env, Env::read_txn) {
            // Full of slots of processes that died since this one opened: free them, once.
            Err(heed::Error::Mdb(heed::MdbError::ReadersFull)) => {
                let _ = env.clear_stale_readers();
                begin(&env, Env::read_txn)
            }
            other => other,
        }
        .map_err(&err)?;
        let opened = (|| -> heed::Result<Option<Index>> {
            macro_rules! open {
                ($name:literal) => {
                    open!($name, DatabaseFlags::empty())
                };
                ($name:literal, $flags:expr) => {
                    match env
                        .database_options()
                        .types()
                        .name($name)
                        .flags($flags)
                        .open(&rtxn)?
                    {
                        Some(db) => db,
                        None => return Ok(None),
                    }
                };
            }
            Ok(Some(databases!(open, path, env)))
        })()
        .map_err(&err)?;
        rtxn.commit().map_err(&err)?;
        drop(_held);
        if let Some(index) = opened {
            return Ok(index);
        }
        let (_held, mut wtxn) = begin(&env, Env::write_txn).map_err(&err)?;
        macro_rules! create {
            ($name:literal) => {
                create!($name, DatabaseFlags::empty())
            };
            ($name:literal, $flags:expr) => {
                env.database_options()
                    .types()
                    .name($name)
                    .flags($flags)
                    .create(&mut wtxn)
                    .map_err(&err)?
            };
        }
        let index = databases!(create, path, env);
        if index.meta.get(&wtxn, "schema").map_err(&err)?.is_none() {
            index
                .meta
                .put(&mut wtxn, "schema", &SCHEMA_VERSION.to_be_bytes())
                .map_err(&err)?;
        }
        wtxn.commit().map_err(&err)?;
        Ok(index)
    }

    /// The environment at `path`, opened once per process and shared by every `Index` of it
    /// (a long-running process, the daemon, opens one per thread).
    #[allow(unsafe_code)]
    fn shared_env(path: &Path, size: usize) -> Result<Env> {
        let err = lmdb(path);
        let key = path.canonicalize().map_err(Error::io(path))?;
        let mut open = OPEN_ENVS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(env) = open.get(&key) {
            return Ok(env.clone());
        }
        // SAFETY: LMDB requires that the same environment is not opened twice in one process
        // (heed enforces it, and `OPEN_ENVS` shares the one) and that the files are not
        // modified by other means.
        let env = unsafe {
            EnvOpenOptions::new()
                .map_size(size)
                .max_dbs(24)
                // One reader slot per thread with a read open: a fleet of agents on one machine
                // runs hundreds of processes at once (LMDB's default is 126).
                .max_readers(2048)
                // The index is a cache of the refs: a power loss may cost it, never the refs,
                // and a damaged index is rebuilt. Process crashes lose nothing either way.
                .flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC)
                .open(path)
        }
        .map_err(&err)?;
        // A process that exits without closing the environment (every short-lived command)
        // leaves its reader slot marked with its pid; LMDB frees such slots only when asked.
        // Ten thousand commands in a row would fill the table: each opening process frees the
        // slots of the dead (a scan of the table, microseconds).
        let _ = env.clear_stale_readers();
        open.insert(key, env.clone());
        Ok(env)
    }

    fn close(self) {
        if let Ok(key) = self.path.canonicalize() {
            OPEN_ENVS.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
        self.env.prepare_for_closing().wait();
    }

    fn err(&self) -> impl Fn(heed::Error) -> Error + '_ {
        lmdb(&self.path)
    }

    /// A read transaction (see [`begin`]).
    fn read(&self) -> heed::Result<(Held, RoTxn<'_, heed::WithTls>)> {
        begin(&self.env, Env::read_txn)
    }

    /// A write transaction (see [`begin`]).
    fn write(&self) -> heed::Result<(Held, RwTxn<'_>)> {
        begin(&self.env, Env::write_txn)
    }

    /// Runs `op`, and again each time a write of it found the map full (MDB_MAP_FULL) and the
    /// map could grow: such a write is undone whole, and the map grows between transactions.
    pub(crate) fn growing<T>(&self, mut op: impl FnMut() -> Result<T>) -> Result<T> {
        loop {
            match op() {
                Err(e) if e.is_map_full() && self.grow()? => {}
                other => return other,
            }
        }
    }

    /// Makes the map twice as large, within [`map_ceiling`]. False when it cannot grow (the
    /// ceiling reached, or a transaction of this process stays open).
    #[allow(unsafe_code)]
    fn grow(&self) -> Result<bool> {
        let now = self.env.info().map_size;
        let want = now.saturating_mul(2).min(map_ceiling()).next_multiple_of(1 << 20);
        if want <= now {
            return Ok(false);
        }
        let Some(_all) = pause() else { return Ok(false) };
        // SAFETY: no transaction of this process is open (`pause`).
        unsafe { self.env.resize(want) }.map_err(self.err())?;
        Ok(true)
    }

    fn schema(&self) -> Result<u32> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let v = self.meta.get(&rtxn, "schema").map_err(self.err())?;
        Ok(v.and_then(|b| b.try_into().ok()).map_or(0, u32::from_be_bytes))
    }

    /// The error for a stored record that does not have the shape this code writes.
    fn damaged(&self, what: &str) -> Error {
        Error::Index {
            path: self.path.clone(),
            source: heed::Error::Decoding(what.to_owned().into()),
        }
    }

    fn load_issue(&self, txn: &RoTxn, id: &Id) -> Result<Option<IssueState>> {
        match self.issues.get(txn, &id.0).map_err(self.err())? {
            None => Ok(None),
            Some(bytes) => match IssueState::decode(bytes) {
                Some(state) => Ok(Some(state)),
                None => Err(Error::Index {
                    path: self.path.clone(),
                    source: heed::Error::Decoding(format!("issue {} is stored malformed", id.to_hex()).into()),
                }),
            },
        }
    }

    /// Opens an index in an arbitrary directory (tests, benchmarks).
    pub fn open_dir(path: &Path) -> Result<Index> {
        Self::open_at(path)
    }
}

/// Whether `e` says the index's directory or files may not be written here.
fn is_read_only(e: &Error) -> bool {
    let io = match e {
        Error::Io { source, .. } => source,
        Error::Index {
            source: heed::Error::Io(source),
            ..
        } => source,
        _ => return false,
    };
    io.kind() == std::io::ErrorKind::PermissionDenied || io.raw_os_error() == Some(libc::EROFS)
}

/// WAL refs: `refs/grit/wal/<actor>` and remote-tracking copies `refs/grit/remotes/<r>/wal/<actor>`.
pub fn is_wal_ref(name: &str) -> bool {
    name.starts_with(wal::WAL_PREFIX)
        || (name.starts_with(crate::refs::TRACKING_ROOT) && name.contains("/wal/"))
        || name.starts_with(RETIRED_PREFIX)
}

/// Where the index keeps the retired chains that snapshots name, as if each were a WAL ref:
/// `refs/grit/retired/<tip>/<actor>`. No such ref exists in git; the fold reads each chain from
/// its tip, a parent of the snapshot commit that retired it.
pub const RETIRED_PREFIX: &str = "refs/grit/retired/";

/// The commits of the chain `name` points at (`tip`) that `known` does not cover: a WAL ref's
/// history, or a retired chain's, walked as its owner's alone (`wal::owned_commits`).
pub fn chain_commits(
    repo: &Repo,
    name: &str,
    tip: ObjectId,
    known: impl Fn(&ObjectId) -> Result<bool>,
) -> Result<Vec<(ObjectId, ObjectId)>> {
    match name.strip_prefix(RETIRED_PREFIX).and_then(|_| wal_owner(name)) {
        Some(owner) => wal::owned_commits(repo, tip, &owner, known),
        None => wal::new_commits_with_trees(repo, tip, known),
    }
}

/// Commits a walk reads between two releases of the pages it mapped.
const RELEASE_WALKED: usize = 1 << 16;

/// `chain_commits` of each chain, every one walked whole (nothing known), on every core.
pub fn walk_chains(repo: &Repo, chains: &[(&str, ObjectId)]) -> Result<Vec<Vec<(ObjectId, ObjectId)>>> {
    let opener = repo.opener();
    crate::parallel::map_with(
        chains,
        || (None, 0usize),
        |(handle, walked): &mut (Option<Repo>, usize), (name, tip)| {
            let commits = chain_commits(opener.handle_in(handle)?, name, *tip, |_| Ok(false))?;
            // The pages of the packs read stay cached by the kernel, not counted to this
            // process: let go every so many commits (not per chain: there may be 10,000).
            *walked += commits.len();
            if *walked > RELEASE_WALKED {
                fold::release_mappings(None);
                *walked = 0;
            }
            Ok(commits)
        },
    )
    .into_iter()
    .collect()
}

/// The name under which the fold reads a retired chain.
pub fn retired_ref(actor: &ActorId, tip: &ObjectId) -> String {
    format!("{RETIRED_PREFIX}{tip}/{}", actor.to_hex())
}

/// The actor whose WAL a ref is (the last part of its name), if it names one.
pub fn wal_owner(name: &str) -> Option<ActorId> {
    if !is_wal_ref(name) {
        return None;
    }
    ActorId::from_hex(name.rsplit('/').next()?)
}

/// Actor records: `refs/grit/actors/<id>` and their remote-tracking copies.
pub fn is_actor_ref(name: &str) -> bool {
    name.starts_with(ACTORS_PREFIX) || (name.starts_with(crate::refs::TRACKING_ROOT) && name.contains("/actors/"))
}

/// Appends the `rows` value of an issue whose creation event has arrived, and returns its key.
fn write_row(id: &Id, state: &IssueState, out: &mut Vec<u8>) -> Option<[u8; 40]> {
    let created = state.created.as_ref()?;
    out.push(state_byte(state.state()));
    out.extend_from_slice(&created.author);
    state.row_fragment(out);
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&state.created_ms()?.to_be_bytes());
    key[8..].copy_from_slice(&id.0);
    Some(key)
}

/// The state byte of an issue's row, if it has one (its creation event has arrived).
fn row_state(state: &IssueState) -> Option<u8> {
    state.created.as_ref().map(|_| state_byte(state.state()))
}

fn state_byte(s: State) -> u8 {
    match s {
        State::Open => b'o',
        State::Closed => b'c',
    }
}

/// The `parented` key saying that an event of `entity` names `parent`.
fn parent_key(entity: &Id, parent: &Id) -> [u8; 64] {
    let mut key = [0; 64];
    key[..32].copy_from_slice(&entity.0);
    key[32..].copy_from_slice(&parent.0);
    key
}

/// Appends the `labels` key of an issue carrying `label`.
fn write_label_key(label: &str, id: &Id, out: &mut Vec<u8>) {
    out.extend_from_slice(label.as_bytes());
    out.push(0);
    out.extend_from_slice(&id.0);
}

mod bulk;
mod fold;
#[allow(unsafe_code)]
mod guard;
pub mod history;
mod query;
pub mod search;
mod spill;
pub mod tables;

pub use guard::write_landed;

/// After a command failed on a damaged index at `path`: deletes it and runs the command again
/// (once, and never after a write landed). Returns when it cannot.
pub fn restart_after_damage(path: &Path) {
    guard::restart_after_damage(path)
}

#[cfg(test)]
#[path = "index_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_change_wipes_the_index_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        {
            let index = Index::open_at(&path).unwrap();
            let mut wtxn = index.env.write_txn().unwrap();
            index
                .meta
                .put(&mut wtxn, "schema", &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            index.meta.put(&mut wtxn, "lamport", &7u64.to_be_bytes()).unwrap();
            wtxn.commit().unwrap();
            index.close();
        }
        let index = Index::reopen_checked(&path).unwrap();
        assert_eq!(index.schema().unwrap(), SCHEMA_VERSION);
        assert_eq!(index.lamport().unwrap(), 0, "the old contents are gone");
    }

    /// `n` issue creations of about 3 KB each, one key, wall times from `from`.
    fn big_issues(from: u64, n: u64) -> Vec<crate::event::SignedEvent> {
        use crate::event::{ActorId, Event, FORMAT_VERSION, Kind};
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let body = "a body long enough to fill pages. ".repeat(90);
        (from..from + n)
            .map(|i| {
                Event {
                    version: FORMAT_VERSION,
                    entity: None,
                    actor: ActorId(key.verifying_key().to_bytes()),
                    lamport: 1,
                    wall_ms: 1000 + i,
                    parents: vec![],
                    kind: Kind::IssueCreated {
                        title: format!("issue {i}"),
                        body: body.clone(),
                        labels: vec![],
                    },
                }
                .sign(&key)
            })
            .collect()
    }

    /// A map sized small (as under `ulimit -v`) fills: each write that finds it full is undone,
    /// the map doubles, and the write runs again. Nothing is lost, and what the map holds
    /// afterwards reads back after the index is opened again.
    #[test]
    fn a_write_that_finds_the_map_full_grows_it_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let start = 1 << 20;
        let index = Index::open_sized(&path, start).unwrap();
        let mut applied = 0;
        for batch in 0..8u64 {
            applied += index.apply_batch(big_issues(batch * 1000, 200)).unwrap();
        }
        assert_eq!(applied, 1600);
        let grown = index.env.info().map_size;
        assert!(grown >= 8 * start, "the map grew from {start} to {grown}");
        assert_eq!(index.stats().unwrap().issues, 1600);
        index.set_meta_string("after", "growing").unwrap();
        index.close();
        // Opened again with the small size asked for, LMDB keeps the larger one it recorded.
        let index = Index::open_sized(&path, start).unwrap();
        assert_eq!(index.stats().unwrap().issues, 1600);
        assert_eq!(index.meta_string("after").unwrap().as_deref(), Some("growing"));
    }

    /// Another process writes past this one's map (with a larger one of its own): this one's
    /// next transaction adopts the size the index now records (MDB_MAP_RESIZED) and reads what
    /// the other wrote. The other process is this test binary again, running this test alone.
    #[test]
    fn a_map_another_process_grew_is_adopted() {
        const WRITER: &str = "GRIT_TEST_MAP_WRITER";
        if let Some(dir) = std::env::var_os(WRITER) {
            let index = Index::open_sized(Path::new(&dir), 64 << 20).unwrap();
            index.apply_batch(big_issues(100_000, 1600)).unwrap();
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let index = Index::open_sized(&path, 1 << 20).unwrap();
        assert_eq!(index.apply_batch(big_issues(0, 10)).unwrap(), 10);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "index::tests::a_map_another_process_grew_is_adopted"])
            .env(WRITER, &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the other process: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(index.env.info().map_size, 1 << 20, "this process's map is still small");
        assert_eq!(index.stats().unwrap().issues, 1610, "what the other wrote reads back");
        assert!(index.env.info().map_size >= 8 << 20, "the larger map was adopted");
        assert_eq!(
            index.apply_batch(big_issues(200_000, 10)).unwrap(),
            10,
            "and written to"
        );
    }
}
