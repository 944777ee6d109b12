//! Live: what reached this clone as a stream of JSON records, read from the feed (events with
//! their issue's summary, lock changes, sandbox steps), filtered by a query and by kinds; and
//! the wait for more, on the kernel's change notification (inotify) on the refs and the feed.
//! `git wal watch`, the daemon's subscriptions and webhooks all read through `Stream`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::event::{Id, Kind, SignedEvent};
use crate::feed::{Cursor, Entry, Feed};
use crate::index::search::SearchContext;
use crate::query::Query;
use crate::repo::{Repo, format_time};
use crate::store::Store;

pub mod daemon;
pub mod rpc;
pub mod webhook;

/// One event, as `git wal log --json` and the live records show it.
#[derive(Serialize, Clone)]
pub struct EventJson {
    /// The event's id in hex.
    pub id: String,
    /// The issue it is about, in hex.
    pub entity: String,
    /// Its kind (`issue.title_set`).
    pub kind: &'static str,
    /// Its kind's code.
    pub code: u64,
    /// The actor that signed it, in hex.
    pub actor: String,
    /// Its Lamport clock.
    pub lamport: u64,
    /// Its writer's time (RFC 3339).
    pub time: String,
    /// The ids of its parents.
    pub parents: Vec<String>,
    /// The WAL commit it was read from.
    pub commit: String,
    /// The ref that commit is on.
    pub reference: String,
    /// What it did, in a line.
    pub summary: String,
}

impl EventJson {
    /// The view of `ev`, read from `commit` on `reference`.
    pub fn of(ev: &SignedEvent, commit: String, reference: String) -> EventJson {
        EventJson {
            id: ev.id.to_hex(),
            entity: ev.entity().to_hex(),
            kind: ev.event.kind.name(),
            code: ev.event.kind.code(),
            actor: ev.event.actor.to_hex(),
            lamport: ev.event.lamport,
            time: format_time(ev.event.wall_ms),
            parents: ev.event.parents.iter().map(|p| p.to_hex()).collect(),
            commit,
            reference,
            summary: summary(&ev.event.kind),
        }
    }
}

/// A one-line account of what an event did.
pub fn summary(k: &Kind) -> String {
    match k {
        Kind::IssueCreated { title, .. } => title.clone(),
        Kind::TitleSet { title } => title.clone(),
        Kind::BodySet { body } | Kind::CommentAdded { body } => body.lines().next().unwrap_or("").to_owned(),
        Kind::StateSet { state, reason } => format!(
            "{state:?}{}",
            reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        )
        .to_lowercase(),
        Kind::LabelAdded { label } | Kind::LabelRemoved { label } => label.clone(),
        Kind::AssigneeAdded { assignee } | Kind::AssigneeRemoved { assignee } => assignee.clone(),
        Kind::PrioritySet { priority } => format!("P{priority}"),
        Kind::TypeSet { issue_type } => issue_type.clone(),
        Kind::ParentSet { parent } => parent.map_or_else(|| "none".to_owned(), |p| p.to_hex()[..12].to_owned()),
        Kind::LinkAdded { link, target } | Kind::LinkRemoved { link, target } => {
            format!("{link} {}", &target.to_hex()[..12])
        }
        Kind::Imported { origin } => origin.source.clone(),
        Kind::CommentImported { body, origin } => {
            format!("{}: {}", origin.author, body.lines().next().unwrap_or(""))
        }
        Kind::CommitReferenced {
            commit,
            subject,
            closes,
            ..
        } => {
            format!(
                "{} by {}: {subject}",
                if *closes { "closed" } else { "referenced" },
                &commit[..12.min(commit.len())]
            )
        }
        Kind::Unknown { code, .. } => format!("kind {code} from a newer version"),
    }
}

/// Which records a consumer wants.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Events of the issues this matches (the `list -S` language); with a query, lock and
    /// sandbox records are left out (they belong to no issue).
    pub query: Option<Query>,
    /// Record kinds: an event kind (`issue.created`), a prefix of one ending in `.` or `*`
    /// (`issue.*`), `lock` or `sandbox`. Empty: all.
    pub kinds: Vec<String>,
}

impl Filter {
    /// Parses a comma-separated list of record kinds, refusing one that names nothing.
    pub fn parse_kinds(list: &str) -> Result<Vec<String>> {
        let kinds: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        for k in &kinds {
            let known = k == "lock"
                || k == "sandbox"
                || k == "*"
                || k.ends_with('*')
                || k.ends_with('.')
                || crate::event::KIND_NAMES.contains(&k.as_str());
            if !known {
                return Err(Error::invalid(
                    format!("'{k}' is not a record kind"),
                    format!(
                        "kinds are lock, sandbox, issue.* or an event kind: {}",
                        crate::event::KIND_NAMES.join(", ")
                    ),
                ));
            }
        }
        Ok(kinds)
    }

    /// Whether a record of `kind` passes.
    pub fn wants(&self, kind: &str) -> bool {
        if self.query.is_some() && (kind == "lock" || kind == "sandbox") {
            return false;
        }
        self.kinds.is_empty()
            || self.kinds.iter().any(|k| {
                k == "*"
                    || k == kind
                    || k.strip_suffix('*').is_some_and(|p| kind.starts_with(p))
                    || (k.ends_with('.') && kind.starts_with(k.as_str()))
            })
    }
}

/// Where a stream starts.
#[derive(Debug, Clone)]
pub enum Since {
    /// Only what arrives from now on.
    Now,
    /// Every record the feed still holds.
    Start,
    /// Right after this cursor.
    At(Cursor),
}

impl Since {
    /// `now`, `start` (or `0`), or a cursor.
    pub fn parse(s: &str) -> Result<Since> {
        Ok(match s {
            "now" => Since::Now,
            "start" | "0" => Since::Start,
            c => Since::At(Cursor::parse(c)?),
        })
    }
}

/// One record for a consumer, and the cursor that resumes right after it.
#[derive(Debug, Clone)]
pub struct Item {
    /// Resumes right after this record.
    pub cursor: Cursor,
    /// `event`, `lock` or `sandbox`, then the event's kind for events.
    pub kind: String,
    /// The issue an event is about.
    pub issue: Option<Id>,
    /// The record, as the feed holds it.
    pub record: Value,
}

/// A reader of the feed from a cursor, turning its records into items.
pub struct Stream {
    feed: Feed,
    pos: Cursor,
}

impl Stream {
    /// A stream from `since`, with a warning when the cursor could not be honoured exactly.
    pub fn open(repo: &Repo, since: &Since) -> Result<(Stream, Option<String>)> {
        let feed = Feed::of(repo);
        let (pos, warning) = match since {
            Since::Now => (feed.end()?, None),
            Since::Start => (feed.start()?, None),
            Since::At(c) => feed.resume(c)?,
        };
        Ok((Stream { feed, pos }, warning))
    }

    /// The cursor after everything delivered so far.
    pub fn cursor(&self) -> &Cursor {
        &self.pos
    }

    /// Reads what the feed holds past the cursor (about `max_bytes` of records at most), and
    /// returns the items `filter` wants. The cursor moves past every record read, wanted or not.
    pub fn poll(&mut self, store: &Store, filter: &Filter, max_bytes: usize) -> Result<Vec<Item>> {
        let records = self.feed.read(self.pos.offset, max_bytes)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let epoch = self.pos.epoch.clone();
        let wal: Vec<(&str, gix::ObjectId)> = records
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Wal { commit, reference } => Some((reference.as_str(), *commit)),
                _ => None,
            })
            .collect();
        if !wal.is_empty() {
            // The feed holds a fold's commits before the fold commits: let it finish first.
            store.index.wait_for_writer()?;
        }
        let mut chunks = crate::wal::read_chunks(&store.repo, &wal)?.into_iter();
        let quarantine = if wal.is_empty() {
            None
        } else {
            Some(crate::quarantine::Quarantine::lookup(&store.repo)?)
        };
        // Every candidate item, in order, with what events need looked up afterwards.
        let mut pending: Vec<(Cursor, Pending)> = Vec::new();
        for r in &records {
            let skip = if r.offset == self.pos.offset { self.pos.n } else { 0 } as usize;
            match &r.entry {
                Entry::Wal { commit, reference } => {
                    // A commit gone (or not readable) since it was folded has nothing to give.
                    let events = match chunks.next() {
                        Some(Ok(chunk)) => chunk.events,
                        _ => Vec::new(),
                    };
                    for (i, ev) in events.into_iter().enumerate().skip(skip) {
                        if quarantine.as_ref().is_some_and(|q| q.has_event(&ev.id))
                            || !filter.wants(ev.event.kind.name())
                        {
                            continue;
                        }
                        let at = Cursor {
                            epoch: epoch.clone(),
                            offset: r.offset,
                            n: i as u32 + 1,
                        };
                        pending.push((at, Pending::Event(Box::new(ev), commit.to_string(), reference.clone())));
                    }
                }
                Entry::Lock(v) | Entry::Sandbox(v) if skip == 0 => {
                    let kind = if matches!(r.entry, Entry::Lock(_)) {
                        "lock"
                    } else {
                        "sandbox"
                    };
                    if filter.wants(kind) {
                        let at = Cursor {
                            epoch: epoch.clone(),
                            offset: r.offset,
                            n: 1,
                        };
                        pending.push((at, Pending::Other(kind, v.clone())));
                    }
                }
                _ => {}
            }
        }
        let last = records.last().expect("not empty");
        self.pos = Cursor {
            epoch: epoch.clone(),
            offset: last.next,
            n: 0,
        };
        let ids: Vec<Id> = pending
            .iter()
            .filter_map(|(_, p)| match p {
                Pending::Event(ev, ..) => Some(ev.entity()),
                Pending::Other(..) => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let matching = match &filter.query {
            Some(q) if !ids.is_empty() => {
                // Who holds claims now, for `claimed:`: the same context a search from any face
                // gets (`ops::query`), read as each batch is matched.
                let ctx = if crate::ops::query::mentions_claims(q) {
                    crate::ops::query::context(store)?
                } else {
                    SearchContext::default()
                };
                Some(store.index.matching(q, &ctx, &ids)?)
            }
            _ => None,
        };
        let summaries = if ids.is_empty() {
            Default::default()
        } else {
            store.index.summaries(&ids)?
        };
        let mut out = Vec::with_capacity(pending.len());
        for (cursor, p) in pending {
            match p {
                Pending::Event(ev, commit, reference) => {
                    let issue = ev.entity();
                    if matching.as_ref().is_some_and(|m| !m.contains(&issue)) {
                        continue;
                    }
                    let kind = ev.event.kind.name().to_owned();
                    let record = json!({
                        "type": "event",
                        "cursor": cursor.to_string(),
                        "event": EventJson::of(&ev, commit, reference),
                        "issue": summaries.get(&issue),
                    });
                    out.push(Item {
                        cursor,
                        kind,
                        issue: Some(issue),
                        record,
                    });
                }
                Pending::Other(kind, v) => out.push(Item {
                    record: json!({ "type": kind, "cursor": cursor.to_string(), kind: v }),
                    cursor,
                    kind: kind.to_owned(),
                    issue: None,
                }),
            }
        }
        Ok(out)
    }
}

enum Pending {
    Event(Box<SignedEvent>, String, String),
    Other(&'static str, Value),
}

/// Wakes a consumer when something may have arrived: a ref changed under the git dir (a
/// write, a fetch, a sync, a lock) or the feed grew. Kernel notification, no polling.
pub struct Waker {
    _watcher: notify::RecommendedWatcher,
    rx: mpsc::Receiver<notify::Result<notify::Event>>,
}

/// What woke a waker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Woken {
    /// Refs changed: a fold may have something to take in.
    pub refs: bool,
    /// The repository's config changed (webhooks, intervals).
    pub config: bool,
    /// Anything changed at all (the feed grew, when nothing else did).
    pub any: bool,
}

impl Waker {
    /// Watches the repository's refs and the feed.
    pub fn new(repo: &Repo) -> Result<Waker> {
        use notify::Watcher;
        let common = repo.git.common_dir().to_owned();
        let feed = Feed::dir(&repo.grit_dir);
        std::fs::create_dir_all(&feed).map_err(Error::io(&feed))?;
        let refs = common.join("refs/grit");
        std::fs::create_dir_all(&refs).map_err(Error::io(&refs))?;
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(tx).map_err(|e| watch_error(&common, e))?;
        let mut watch = |p: &PathBuf, mode| watcher.watch(p, mode).map_err(|e| watch_error(p, e));
        watch(&refs, notify::RecursiveMode::Recursive)?;
        // packed-refs, the reftable stack and the config change in the git dir itself.
        watch(&common, notify::RecursiveMode::NonRecursive)?;
        watch(&feed, notify::RecursiveMode::NonRecursive)?;
        Ok(Waker { _watcher: watcher, rx })
    }

    /// Waits until something changes or `timeout` passes; a burst of changes is one wake.
    /// Reading wakes nothing: a reader of the feed (this one's own poll, or another watcher's)
    /// opens its files, and the kernel reports that too.
    pub fn wait(&self, timeout: Duration) -> Woken {
        let deadline = std::time::Instant::now() + timeout;
        let mut woken = Woken::default();
        let note = |woken: &mut Woken, e: notify::Result<notify::Event>| {
            let Ok(e) = e else {
                // The kernel dropped events (a full queue): anything may have changed.
                woken.any = true;
                woken.refs = true;
                woken.config = true;
                return;
            };
            // A file closed after writing is a change; opening, reading or closing a file only
            // read is not.
            use notify::event::{AccessKind, AccessMode, EventKind};
            if matches!(e.kind, EventKind::Access(k) if k != AccessKind::Close(AccessMode::Write)) {
                return;
            }
            woken.any = true;
            for p in &e.paths {
                let s = p.to_string_lossy();
                if s.ends_with(".lock") {
                    continue;
                }
                woken.refs |= s.contains("/refs/grit/") || s.ends_with("/packed-refs") || s.contains("/reftable");
                woken.config |= s.ends_with("/config");
            }
        };
        while !woken.any {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(e) => note(&mut woken, e),
                Err(_) => return woken,
            }
            while let Ok(e) = self.rx.try_recv() {
                note(&mut woken, e);
            }
        }
        woken
    }
}

/// Folds what the refs bring a moment after they change. A writer in this clone folds its own
/// write at once (and records it in the feed, which wakes the watchers); a watcher that waits a
/// little finds nothing left to fold instead of racing the writer for the index. What a fetch
/// without hooks brought is folded when the moment passes.
#[derive(Default)]
pub struct FoldLater {
    due: Option<std::time::Instant>,
}

/// How long a changed ref waits for its writer to fold it.
const FOLD_DELAY: Duration = Duration::from_millis(100);

impl FoldLater {
    /// How long to wait for changes: at most `max`, less when a fold is due sooner.
    pub fn timeout(&self, max: Duration) -> Duration {
        self.due
            .map_or(max, |d| d.saturating_duration_since(std::time::Instant::now()).min(max))
    }

    /// Counts in what `w` saw: a changed ref makes a fold due.
    pub fn note(&mut self, w: &Woken) {
        if w.refs && self.due.is_none() {
            self.due = Some(std::time::Instant::now() + FOLD_DELAY);
        }
    }

    /// Whether the fold is due now (then it is no longer pending).
    pub fn due(&mut self) -> bool {
        if self.due.is_some_and(|d| std::time::Instant::now() >= d) {
            self.due = None;
            return true;
        }
        false
    }
}

fn watch_error(p: &std::path::Path, e: notify::Error) -> Error {
    Error::invalid(
        format!("cannot watch {} for changes: {e}", p.display()),
        "raise fs.inotify.max_user_watches (sysctl), or stop other watchers",
    )
}
