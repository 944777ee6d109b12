//! The store: an open repository with its index, and the one write path every command uses.
//! A write signs events as the current actor, appends them to its WAL ref, then folds them in.

use std::path::Path;

use crate::actor::{self, Actor};
use crate::error::Result;
use crate::event::{Event, FORMAT_VERSION, Id, Kind, SignedEvent};
use crate::index::{FoldStats, Index};
use crate::repo::{Repo, now_ms};
use crate::wal;

pub struct Store {
    pub repo: Repo,
    pub index: Index,
    /// What opening folded in (the CLI warns about rejected events).
    pub folded: FoldStats,
}

impl Store {
    /// Opens the repository at or above `dir` and brings its index up to date.
    pub fn open(dir: &Path) -> Result<Store> {
        let repo = Repo::discover(dir)?;
        let index = Index::open(&repo)?;
        let folded = index.refresh(&repo)?;
        Ok(Store { repo, index, folded })
    }

    /// Opens the repository and its index without folding new events in: for commands that use
    /// the index only as a cache keyed by object id (locks), never for issue queries.
    pub fn open_unfolded(dir: &Path) -> Result<Store> {
        let repo = Repo::discover(dir)?;
        let index = Index::open(&repo)?;
        Ok(Store {
            repo,
            index,
            folded: FoldStats::default(),
        })
    }

    /// Writes a snapshot of every WAL ref this clone has, except remote-tracking ones that
    /// carried a forged event.
    pub fn snapshot(&self) -> Result<Option<crate::snapshot::SnapshotRef>> {
        let actor = self.actor()?;
        crate::snapshot::create(&self.repo, &actor.author(now_ms()), |name| {
            self.index.rejected(name).ok().flatten().is_some()
        })
    }

    pub fn actor(&self) -> Result<Actor> {
        actor::current(&self.repo)
    }

    /// Writes `kinds` as one chunk of causally chained events about `entity` (`None`: the first
    /// event creates a new entity, whose id is that event's id). Returns the signed events.
    pub fn write(&self, entity: Option<Id>, kinds: Vec<Kind>) -> Result<Vec<SignedEvent>> {
        let actor = self.actor()?;
        let mut parents = match entity {
            Some(id) => self.index.issue(&id)?.map(|s| s.heads).unwrap_or_default(),
            None => Vec::new(),
        };
        let now = now_ms();
        let mut entity = entity;
        let mut out = Vec::with_capacity(kinds.len());
        for (lamport, kind) in (self.index.lamport()? + 1..).zip(kinds) {
            let ev = Event {
                version: FORMAT_VERSION,
                entity,
                actor: actor.id(),
                lamport,
                wall_ms: now,
                parents,
                kind,
            }
            .sign(&actor.key);
            parents = vec![ev.id];
            entity = Some(entity.unwrap_or(ev.id));
            out.push(ev);
        }
        if out.is_empty() {
            return Ok(out);
        }
        let appended = wal::append(&self.repo, &actor.id(), &actor.author(now), &out)?;
        // Our own events need no reading back, unless someone else moved the ref in between.
        // A first write also published the actor's record, which only a full refresh folds in.
        let known = self.index.author(&actor.id())?.name.is_some();
        if !known || !self.index.fold_own_append(&appended, out.clone())? {
            self.index.refresh(&self.repo)?;
        }
        crate::maintenance::after_write(&self.repo);
        if crate::snapshot::due(&self.repo, self.index.event_count()?)? {
            self.snapshot()?;
        }
        Ok(out)
    }
}
