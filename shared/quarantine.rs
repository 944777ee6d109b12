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
    pub commit: String,
    #[serde(rename = "ref")]
    pub reference: String,
    pub reason: String,
    /// When this clone found it (RFC 3339).
    pub found_at: String,
}

impl Entry {
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
#[derive(Debug, Default)]
pub struct Quarantine {
    pub entries: Vec<Entry>,
    resolved: HashSet<String>,
    events: HashSet<Id>,
    commits: HashSet<ObjectId>,
}

fn path(repo: &Repo) -> PathBuf {
    repo.grit_dir.join(FILE)
}

impl Quarantine {
    /// Reads the list; a missing file is an empty quarantine, a line that does not parse is
    /// skipped (a torn last line after a crash).
    pub fn load(repo: &Repo) -> Result<Quarantine> {
        let path = path(repo);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Quarantine::default()),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        let mut q = Quarantine::default();
        for line in text.lines() {
            match serde_json::from_str::<Line>(line) {
                Ok(Line::Quarantined(e)) => q.insert(e),
                Ok(Line::Resolved { key, .. }) => {
                    q.resolved.insert(key);
                }
                Err(_) => {}
            }
        }
        Ok(q)
    }

    fn insert(&mut self, e: Entry) {
        if self.entries.iter().any(|x| x.key() == e.key()) {
            return;
        }
        match e.event.as_deref().and_then(Id::from_hex) {
            Some(id) => {
                self.events.insert(id);
            }
            None => {
                if let Ok(c) = ObjectId::from_hex(e.commit.as_bytes()) {
                    self.commits.insert(c);
                }
            }
        }
        self.entries.push(e);
    }

    pub fn has_event(&self, id: &Id) -> bool {
        self.events.contains(id)
    }

    /// Whether the chunk of `commit` as a whole is quarantined (it could not be read).
    pub fn has_commit(&self, commit: &ObjectId) -> bool {
        self.commits.contains(commit)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries nobody has resolved yet, in the order they were found.
    pub fn unresolved(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !self.resolved.contains(e.key()))
    }

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

/// Records newly found entries (those already listed are left as they are).
pub fn add(repo: &Repo, known: &mut Quarantine, found: Vec<Entry>) -> Result<Vec<Entry>> {
    let mut new = Vec::new();
    for e in found {
        if known.entries.iter().any(|x| x.key() == e.key()) || new.iter().any(|x: &Entry| x.key() == e.key()) {
            continue;
        }
        new.push(e);
    }
    match append(repo, &new.iter().cloned().map(Line::Quarantined).collect::<Vec<_>>()) {
        // A reader of a repository it may not write to still never applies them.
        Err(Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied || source.raw_os_error() == Some(libc::EROFS) => {}
        other => other?,
    }
    for e in &new {
        known.insert(e.clone());
    }
    Ok(new)
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
