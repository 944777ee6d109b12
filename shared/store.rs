//! The store: an open repository with its index, and the one write path every command uses.
//! A write signs events as the current actor, appends them to its WAL ref, then folds them in.

use std::path::Path;

use crate::actor::{self, Actor};
use crate::error::{Error, Result};
use crate::event::{Event, FORMAT_VERSION, Id, Kind, MAX_LAMPORT, SignedEvent};
use crate::index::{FoldStats, Index};
use crate::repo::{Repo, now_ms};
use crate::wal;

/// A repository opened for grit: its git side and its index, folded up to date when opened.
pub struct Store {
    /// The repository.
    pub repo: Repo,
    /// Its index.
    pub index: Index,
    /// What opening folded in (the CLI warns about rejected events).
    pub folded: FoldStats,
    /// Set when a write landed in the WAL but the index could not take it in: the write is
    /// done (its ref moved), the index catches up on the next command.
    pub index_behind: std::cell::RefCell<Option<String>>,
    /// What opening it met and dealt with (a damaged index rebuilt), for the face to say.
    pub warnings: Vec<String>,
}

/// What a grit binary does each time it opens a store (start the daemon when
/// `grit.daemon.autoStart` asks): set once by `grit::arm_binary`, never by the library itself.
static ON_OPEN: std::sync::OnceLock<fn(&Repo)> = std::sync::OnceLock::new();

/// Sets what opening a store does besides (once per process; later calls change nothing).
pub fn on_open(hook: fn(&Repo)) {
    let _ = ON_OPEN.set(hook);
}

impl Store {
    /// Opens the repository at or above `dir` and brings its index up to date.
    pub fn open(dir: &Path) -> Result<Store> {
        let repo = Repo::discover(dir)?;
        let index = Index::open(&repo)?;
        let mut warnings = Vec::new();
        let (index, folded) = match index.refresh(&repo) {
            Ok(folded) => (index, folded),
            Err(e) if e.is_index_damage() => {
                warnings.push(format!("the index is damaged ({e}); rebuilt it from the refs"));
                index.rebuild(&repo, true)?
            }
            Err(e) => return Err(e),
        };
        if let Some(hook) = ON_OPEN.get() {
            hook(&repo);
        }
        Ok(Store {
            repo,
            index,
            folded,
            index_behind: Default::default(),
            warnings,
        })
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
            index_behind: Default::default(),
            warnings: Vec::new(),
        })
    }

    /// Writes a snapshot of this clone's WAL refs, signed by the current actor.
    pub fn snapshot(&self) -> Result<Option<crate::snapshot::SnapshotRef>> {
        let actor = self.actor()?;
        let quarantine = crate::quarantine::Quarantine::lookup(&self.repo)?;
        crate::snapshot::create(&self.repo, &actor.author(now_ms()), &actor.key, &quarantine)
    }

    /// The actor this process writes as (`GRIT_ACTOR`, `grit.actor`, or the default), made on first
    /// use.
    pub fn actor(&self) -> Result<Actor> {
        actor::current(&self.repo)
    }

    /// Writes `kinds` as one chunk of causally chained events about `entity` (`None`: the first
    /// event creates a new entity, whose id is that event's id). Returns the signed events.
    pub fn write(&self, entity: Option<Id>, kinds: Vec<Kind>) -> Result<Vec<SignedEvent>> {
        self.write_many(vec![(entity, kinds)])
    }

    /// `write` for several entities at once, in one chunk (one commit): each entity's events
    /// chained as `write` chains them. Returns every signed event, in order.
    pub fn write_many(&self, writes: Vec<(Option<Id>, Vec<Kind>)>) -> Result<Vec<SignedEvent>> {
        let actor = self.actor()?;
        let now = now_ms();
        let total: usize = writes.iter().map(|(_, k)| k.len()).sum();
        let mut out = Vec::with_capacity(total);
        // The index holds only events within the format's bounds, so this cannot wrap; it can
        // only reach the bound, and then the write is refused, never silently lost.
        let first = self.index.lamport()? + 1;
        if first + total as u64 > MAX_LAMPORT + 1 {
            return Err(Error::ClockExhausted { lamport: first - 1 });
        }
        let mut lamports = first..;
        for (entity, kinds) in writes {
            let mut parents = match entity {
                Some(id) => self.index.issue(&id)?.map(|s| s.heads).unwrap_or_default(),
                None => Vec::new(),
            };
            let mut entity = entity;
            for kind in kinds {
                let ev = Event {
                    version: FORMAT_VERSION,
                    entity,
                    actor: actor.id(),
                    lamport: lamports.next().expect("an unbounded range"),
                    wall_ms: now,
                    parents,
                    kind,
                }
                .sign(&actor.key);
                parents = vec![ev.id];
                entity = Some(entity.unwrap_or(ev.id));
                out.push(ev);
            }
        }
        if out.is_empty() {
            return Ok(out);
        }
        let appended = wal::append(&self.repo, &actor.id(), &actor.author(now), &out)?;
        crate::index::write_landed();
        // The write is done: its ref moved. What follows only brings caches up to date, and a
        // failure there must not invite a retry that would write the events twice.
        if let Err(e) = self.after_append(&actor, &appended, &out) {
            *self.index_behind.borrow_mut() = Some(e.to_string());
        }
        crate::maintenance::after_write(&self.repo);
        Ok(out)
    }

    fn after_append(&self, actor: &Actor, appended: &wal::Appended, out: &[SignedEvent]) -> Result<()> {
        // Fault injection for the tests (the `fault-injection` feature, which only they build).
        #[cfg(feature = "fault-injection")]
        if std::env::var("GRIT_TEST_FAIL").is_ok_and(|v| v == "index-after-append") {
            return Err(Error::Io {
                path: self.repo.grit_dir.join("index"),
                source: std::io::Error::other("injected failure (GRIT_TEST_FAIL)"),
            });
        }
        // Our own events need no reading back, unless someone else moved the ref in between.
        // A first write also publishes the actor's record (again, if a crash cut the first
        // try short), which only a full refresh folds in.
        let known = self.index.author(&actor.id())?.name.is_some();
        let folded = if known {
            self.index.fold_own_append(&self.repo, appended, out.to_vec(), None)?
        } else {
            // A record this write published is folded along with the events; one that was
            // there already (published by a crashed write) takes the full refresh.
            match actor::publish(&self.repo, actor)? {
                Some(commit) => {
                    let record = (&actor.record, commit);
                    self.index
                        .fold_own_append(&self.repo, appended, out.to_vec(), Some(record))?
                }
                None => false,
            }
        };
        if !folded {
            self.index.refresh(&self.repo)?;
        }
        if crate::snapshot::due(&self.repo, self.index.event_count()?)? {
            crate::maintenance::snapshot_in_background(&self.repo);
        }
        Ok(())
    }
}
