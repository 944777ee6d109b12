//! Quarantine: events (and whole chunks) found invalid on a WAL ref — forged, owned by another
//! actor, out of bounds, or unreadable. They are never applied, and every command names them
//! until someone resolves them. The list is local state beside the keys (`<grit-dir>/quarantine`,
//! JSON Lines, append-only), not part of the index cache, so a rebuild skips them too.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use gix::ObjectId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::Id;
use crate::repo::{Repo, now_ms};

const FILE: &str = "quarantine";

/// One quarantined event, or a whole chunk when `event` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The event's id in hex; absent when the chunk itself could not be read.
    pub event: Option<String>,
    /// The WAL commit it was found in, in hex.
    pub commit: String,
    /// The ref that commit is on.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Why it is quarantined.
    pub reason: String,
    /// When this clone found it (RFC 3339).
    pub found_at: String,
}

impl Entry {
    /// An entry found now.
    pub fn new(event: Option<Id>, commit: ObjectId, reference: &str, reason: impl Into<String>) -> Entry {
        Entry {
            event: event.map(|e| e.to_hex()),
            commit: commit.to_string(),
            reference: reference.to_owned(),
            reason: reason.into(),
            found_at: crate::repo::format_time(now_ms()),
        }
    }

    /// What names it: the event id, or the commit for an unreadable chunk.
    pub fn key(&self) -> &str {
        self.event.as_deref().unwrap_or(&self.commit)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Quarantined(Entry),
    Resolved { key: String, at: String },
}

/// The quarantine as this clone knows it.
///
/// [`Quarantine::load`] reads the whole list (for listing and checking). [`Quarantine::lookup`]
/// reads only a derived file beside it (`quarantine.idx`): the sorted ids of what is
/// quarantined, how many entries are unresolved, and the first few of them. That is what every
/// command needs (a fold skips quarantined events; every command names the unresolved ones), so a
/// flood of forged events costs its reading once, where it is found, and a binary search after.
#[derive(Debug, Default)]
pub struct Quarantine {
    /// Every entry after [`Quarantine::load`]; after [`Quarantine::lookup`], only the first
    /// unresolved ones (see [`Quarantine::unresolved_count`]).
    pub entries: Vec<Entry>,
    resolved: HashSet<String>,
    keys: HashSet<String>,
    /// Sorted, without duplicates.
    events: Vec<[u8; 32]>,
    /// Sorted, without duplicates; an id shorter than 32 bytes is padded with zeros.
    commits: Vec<[u8; 32]>,
    unresolved: usize,
    /// Whether `entries` is the whole list.
    complete: bool,
}

fn path(repo: &Repo) -> PathBuf {
    repo.grit_dir.join(FILE)
}

fn idx_path(repo: &Repo) -> PathBuf {
    repo.grit_dir.join(IDX)
}

/// The derived lookup file, rebuilt from the list whenever the list's length differs from the one
/// it records: `GQI1`, the list's length (u64), the unresolved count (u64), the number of event
/// ids and of commit ids (u32 each), the ids (32 bytes each, sorted), then the first unresolved
/// entries as JSON Lines.
const IDX: &str = "quarantine.idx";
const IDX_MAGIC: &[u8; 4] = b"GQI1";
/// How many unresolved entries the lookup file keeps whole, for the warning every command prints.
const FIRST: usize = 3;

fn padded(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let n = b.len().min(32);
    out[..n].copy_from_slice(&b[..n]);
    out
}

/// The lookup file's head, for a list of `len` bytes: (unresolved, event ids, commit ids);
/// `None` when it is not one, or was written for another length of the list.
fn idx_head(head: &[u8], len: u64) -> Option<(usize, usize, usize)> {
    let u64_at = |i: usize| {
        head.get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let u32_at = |i: usize| {
        head.get(i..i + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    if head.get(..4)? != IDX_MAGIC || u64_at(4)? != len {
        return None;
    }
    Some((
        usize::try_from(u64_at(12)?).ok()?,
        u32_at(20)? as usize,
        u32_at(24)? as usize,
    ))
}

fn list_len(repo: &Repo) -> Option<u64> {
    std::fs::metadata(path(repo)).ok().map(|m| m.len())
}

impl Quarantine {
    /// Reads the list; a missing file is an empty quarantine, a line that does not parse is
    /// skipped (a torn last line after a crash).
    pub fn load(repo: &Repo) -> Result<Quarantine> {
        let path = path(repo);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Quarantine {
                    complete: true,
                    ..Quarantine::default()
                });
            }
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        let mut q = Quarantine {
            complete: true,
            ..Quarantine::default()
        };
        let mut found = Vec::new();
        for line in text.lines() {
            match serde_json::from_str::<Line>(line) {
                Ok(Line::Quarantined(e)) => found.push(e),
                Ok(Line::Resolved { key, .. }) => {
                    q.resolved.insert(key);
                }
                Err(_) => {}
            }
        }
        q.extend(found);
        q.unresolved = q.entries.iter().filter(|e| !q.resolved.contains(e.key())).count();
        Ok(q)
    }

    /// What every command needs, cheaply: the ids, the unresolved count and the first unresolved
    /// entries, from the lookup file; rebuilt (one reading of the list) when the list changed.
    pub fn lookup(repo: &Repo) -> Result<Quarantine> {
        let Some(len) = list_len(repo) else {
            return Ok(Quarantine::default());
        };
        if let Some(q) = Self::read_idx(repo, len) {
            return Ok(q);
        }
        let q = Self::load(repo)?;
        q.write_idx(repo, len);
        Ok(q)
    }

    /// Only how many entries are unresolved and the first of them, for the warning every
    /// command prints: the lookup file's head and tail, not its ids. [`Quarantine::lookup`]
    /// when the lookup file is stale.
    pub fn summary(repo: &Repo) -> Result<Quarantine> {
        use std::io::{Read, Seek, SeekFrom};
        let Some(len) = list_len(repo) else {
            return Ok(Quarantine::default());
        };
        let quick = || -> Option<Quarantine> {
            let mut f = std::fs::File::open(idx_path(repo)).ok()?;
            let mut head = [0u8; 28];
            f.read_exact(&mut head).ok()?;
            let (unresolved, n_events, n_commits) = idx_head(&head, len)?;
            f.seek(SeekFrom::Start(28 + (n_events + n_commits) as u64 * 32)).ok()?;
            let mut tail = String::new();
            f.take(1 << 20).read_to_string(&mut tail).ok()?;
            let entries = tail
                .lines()
                .map(|l| serde_json::from_str::<Entry>(l).ok())
                .collect::<Option<Vec<_>>>()?;
            Some(Quarantine {
                entries,
                unresolved,
                ..Quarantine::default()
            })
        };
        match quick() {
            Some(q) => Ok(q),
            None => Self::lookup(repo),
        }
    }

    fn read_idx(repo: &Repo, len: u64) -> Option<Quarantine> {
        let bytes = std::fs::read(idx_path(repo)).ok()?;
        let (head, rest) = bytes.split_at_checked(28)?;
        let (unresolved, n_events, n_commits) = idx_head(head, len)?;
        let ids = (n_events + n_commits).checked_mul(32)?;
        let (ids, tail) = rest.split_at_checked(ids)?;
        let chunk = |b: &[u8]| -> [u8; 32] { b.try_into().expect("32 bytes") };
        let events: Vec<[u8; 32]> = ids[..n_events * 32].chunks_exact(32).map(chunk).collect();
        let commits: Vec<[u8; 32]> = ids[n_events * 32..].chunks_exact(32).map(chunk).collect();
        let sorted = |v: &[[u8; 32]]| v.windows(2).all(|w| w[0] < w[1]);
        if !sorted(&events) || !sorted(&commits) {
            return None;
        }
        let entries = std::str::from_utf8(tail)
            .ok()?
            .lines()
            .map(|l| serde_json::from_str::<Entry>(l).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Quarantine {
            entries,
            events,
            commits,
            unresolved,
            ..Quarantine::default()
        })
    }

    /// Writes the lookup file for a list of `len` bytes (best effort: it is derived, and a
    /// reader that finds it stale or missing reads the list).
    fn write_idx(&self, repo: &Repo, len: u64) {
        let mut out = Vec::with_capacity(28 + 32 * (self.events.len() + self.commits.len()));
        out.extend_from_slice(IDX_MAGIC);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(self.unresolved as u64).to_le_bytes());
        out.extend_from_slice(&(self.events.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.commits.len() as u32).to_le_bytes());
        for id in self.events.iter().chain(&self.commits) {
            out.extend_from_slice(id);
        }
        for e in self.unresolved().take(FIRST) {
            out.extend_from_slice(serde_json::to_string(e).expect("entries serialise").as_bytes());
            out.push(b'\n');
        }
        let path = idx_path(repo);
        let tmp = path.with_extension(format!("idx.{}", std::process::id()));
        if std::fs::write(&tmp, &out).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Adds entries not there yet (by key), keeping the id lists sorted: one sort per call, so a
    /// flood of N costs O(N log N) once.
    fn extend(&mut self, found: Vec<Entry>) {
        let before = (self.events.len(), self.commits.len());
        for e in found {
            if self.complete && !self.keys.insert(e.key().to_owned()) {
                continue;
            }
            match e.event.as_deref().and_then(Id::from_hex) {
                Some(id) => self.events.push(id.0),
                None => {
                    if let Ok(c) = ObjectId::from_hex(e.commit.as_bytes()) {
                        self.commits.push(padded(c.as_bytes()));
                    }
                }
            }
            self.entries.push(e);
        }
        if (self.events.len(), self.commits.len()) != before {
            self.events.sort_unstable();
            self.events.dedup();
            self.commits.sort_unstable();
            self.commits.dedup();
        }
    }

    fn has_key(&self, e: &Entry) -> bool {
        if self.complete {
            return self.keys.contains(e.key());
        }
        match e.event.as_deref().and_then(Id::from_hex) {
            Some(id) => self.has_event(&id),
            None => ObjectId::from_hex(e.commit.as_bytes()).is_ok_and(|c| self.has_commit(&c)),
        }
    }

    /// Whether event `id` is quarantined.
    pub fn has_event(&self, id: &Id) -> bool {
        self.events.binary_search(&id.0).is_ok()
    }

    /// Whether the chunk of `commit` as a whole is quarantined (it could not be read).
    pub fn has_commit(&self, commit: &ObjectId) -> bool {
        self.commits.binary_search(&padded(commit.as_bytes())).is_ok()
    }

    /// Whether nothing is quarantined, resolved or not.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.commits.is_empty() && self.entries.is_empty()
    }

    /// Entries nobody has resolved yet, in the order they were found (after
    /// [`Quarantine::lookup`], only the first few: [`Quarantine::unresolved_count`] has them all).
    pub fn unresolved(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !self.resolved.contains(e.key()))
    }

    /// How many entries nobody has resolved yet.
    pub fn unresolved_count(&self) -> usize {
        self.unresolved
    }

    /// Whether someone resolved `e`.
    pub fn is_resolved(&self, e: &Entry) -> bool {
        self.resolved.contains(e.key())
    }
}

fn append(repo: &Repo, lines: &[Line]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let path = path(repo);
    std::fs::create_dir_all(&repo.grit_dir).map_err(Error::io(&repo.grit_dir))?;
    let mut text = String::new();
    for l in lines {
        text.push_str(&serde_json::to_string(l).expect("entries serialise"));
        text.push('\n');
    }
    // One write of whole lines with O_APPEND: concurrent writers never interleave inside a line.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(Error::io(&path))?;
    f.write_all(text.as_bytes()).map_err(Error::io(&path))
}

/// Records newly found entries (those already listed are left as they are), and brings the
/// lookup file up to date with them.
pub fn add(repo: &Repo, known: &mut Quarantine, found: Vec<Entry>) -> Result<Vec<Entry>> {
    let mut new = Vec::new();
    let mut keys = HashSet::new();
    for e in found {
        if known.has_key(&e) || !keys.insert(e.key().to_owned()) {
            continue;
        }
        new.push(e);
    }
    if new.is_empty() {
        return Ok(new);
    }
    let before = list_len(repo).unwrap_or(0);
    match append(repo, &new.iter().cloned().map(Line::Quarantined).collect::<Vec<_>>()) {
        // A reader of a repository it may not write to still never applies them.
        Err(Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied || source.raw_os_error() == Some(libc::EROFS) => {}
        other => other?,
    }
    let first_open = known.unresolved().count();
    known.unresolved += new.len();
    if known.complete {
        known.extend(new.clone());
    } else {
        // Only the first few entries are kept whole; the ids of all.
        let keep = FIRST.saturating_sub(first_open);
        let mut whole = new.clone();
        let rest = whole.split_off(keep.min(whole.len()));
        known.extend(whole);
        let entries = std::mem::take(&mut known.entries);
        known.extend(rest);
        known.entries = entries;
    }
    // The lookup file follows, when nobody else appended in between (else the next reader
    // rebuilds it from the list).
    if let Some(after) = list_len(repo)
        && after == before + new.iter().map(line_len).sum::<u64>()
    {
        known.write_idx(repo, after);
    }
    Ok(new)
}

fn line_len(e: &Entry) -> u64 {
    serde_json::to_string(&Line::Quarantined(e.clone())).map_or(0, |s| s.len() as u64 + 1)
}

/// Marks entries resolved: they stay quarantined (never applied) but are no longer reported.
/// `keys` are unique prefixes of event ids or commit ids; empty means every unresolved one.
pub fn resolve(repo: &Repo, keys: &[String]) -> Result<Vec<Entry>> {
    let q = Quarantine::load(repo)?;
    let open: Vec<&Entry> = q.unresolved().collect();
    let mut chosen: Vec<Entry> = Vec::new();
    if keys.is_empty() {
        chosen.extend(open.iter().map(|e| (*e).clone()));
    }
    for k in keys {
        let k = k.to_ascii_lowercase();
        let hits: Vec<&&Entry> = open.iter().filter(|e| e.key().starts_with(&k)).collect();
        match hits.as_slice() {
            [one] => chosen.push((**one).clone()),
            [] => {
                return Err(Error::NotFound {
                    what: "unresolved quarantined event",
                    query: k,
                });
            }
            many => {
                return Err(Error::Ambiguous {
                    what: "quarantined event",
                    prefix: k,
                    candidates: many.iter().map(|e| e.key().to_owned()).collect(),
                });
            }
        }
    }
    let at = crate::repo::format_time(now_ms());
    let lines: Vec<Line> = chosen
        .iter()
        .map(|e| Line::Resolved {
            key: e.key().to_owned(),
            at: at.clone(),
        })
        .collect();
    append(repo, &lines)?;
    Ok(chosen)
}
