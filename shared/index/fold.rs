//! The write side of the index: folding in what changed under `refs/grit/`, checking what came
//! from other clones, and applying events one batch at a time.

use super::bulk::{Bulk, Limits};
use super::*;
use crate::refs::Stamp;

/// The meta key of the refs' stamp as of the last full look at them.
const STAMP: &str = "refs_stamp";

/// The meta key a fold that commits batch by batch sets until its last commit. An index that has
/// it is incomplete: being folded by the process that holds the fold lock, or left by one that
/// died, and then folded again from nothing.
const PARTIAL: &str = "partial_fold";

/// Refs by name, with their tips.
type RefList = Vec<(String, ObjectId)>;

/// The meta key of the snapshot links whose retirements the fold has read (20-byte ids).
const RETIRED_LINKS: &str = "retired_links";

/// An exclusive lock (flock) on `<index>/fold.lock`, held by a fold that commits batch by batch,
/// from its first commit to its last; others wait on it rather than read half an index.
struct FoldLock(#[allow(dead_code)] std::fs::File);

/// Whether an actor (by id) is one of this clone's.
type IsLocal<'a> = &'a dyn Fn(&[u8; 32]) -> bool;

impl FoldLock {
    fn take(dir: &std::path::Path) -> Result<FoldLock> {
        crate::sys::lock_file(&dir.join("fold.lock")).map(FoldLock)
    }
}

impl Index {
    /// Deletes the index and folds every ref in again.
    /// With `use_snapshot`, it starts from the newest snapshot, as a fresh clone does.
    pub fn rebuild(self, repo: &Repo, use_snapshot: bool) -> Result<(Index, FoldStats)> {
        let path = self.path.clone();
        self.close();
        Self::wipe(&path)?;
        let index = Self::open_at(&path)?;
        let stats = index.refresh_with(repo, use_snapshot)?;
        Ok((index, stats))
    }

    /// Folds in whatever changed in `refs/grit/` since the last fold. Cheap when nothing did.
    /// A first fold starts from the newest snapshot, if there is one.
    pub fn refresh(&self, repo: &Repo) -> Result<FoldStats> {
        self.refresh_with(repo, true)
    }

    /// `refresh`, choosing whether a first fold may start from a snapshot. A fold that finds
    /// the map full grows it and folds again (`growing`).
    pub fn refresh_with(&self, repo: &Repo, use_snapshot: bool) -> Result<FoldStats> {
        self.growing(|| self.refresh_once(repo, use_snapshot))
    }

    fn refresh_once(&self, repo: &Repo, use_snapshot: bool) -> Result<FoldStats> {
        let start = Instant::now();
        let err = self.err();
        // Half an index, from a fold that commits in batches: wait for it to finish, or, when the
        // process folding it died, start again from nothing under its lock.
        let mut held = None;
        if self.partial()? {
            let lock = FoldLock::take(&self.path)?;
            if self.partial()? {
                self.clear()?;
                held = Some(lock);
            }
        }
        // Taken before the refs are listed: whatever moves after it makes the next stamp differ.
        let stamp = Stamp::now(repo);
        if self.stamp()? == Some(stamp) {
            return Ok(FoldStats::default());
        }
        let refs = Self::fold_refs(repo)?;
        let (owned, links_read) = self.relevant_refs(repo, &refs)?;
        let relevant: Vec<&(String, ObjectId)> = owned.iter().collect();
        if !self.changed(&relevant)? {
            // Something else moved (a lock ref packed, a ref rewritten to its value).
            let (_held, mut wtxn) = self.write().map_err(&err)?;
            // The refs may match because a fold in batches began meanwhile.
            if held.is_none() && self.marked_partial(&wtxn)? {
                drop(wtxn);
                return self.after_fold_elsewhere(repo, use_snapshot);
            }
            if let Some(read) = &links_read {
                self.meta.put(&mut wtxn, RETIRED_LINKS, read).map_err(&err)?;
            }
            self.meta.put(&mut wtxn, STAMP, &stamp.to_bytes()).map_err(&err)?;
            wtxn.commit().map_err(&err)?;
            return Ok(FoldStats::default());
        }
        let mut quarantine = crate::quarantine::Quarantine::lookup(repo)?;
        let (_held, mut wtxn) = self.write().map_err(&err)?;
        if held.is_none() && self.marked_partial(&wtxn)? {
            drop(wtxn);
            return self.after_fold_elsewhere(repo, use_snapshot);
        }
        let mut stats = FoldStats::default();
        // The latest clock this clone has: no event may run too far past it (`checked`).
        let mut clock = meta_u64(self.meta.get(&wtxn, "lamport").map_err(&err)?);
        let fresh_index = self.tips.is_empty(&wtxn).map_err(&err)? && self.commits.is_empty(&wtxn).map_err(&err)?;
        let budget = fold_memory(repo);
        // Into an empty index, checked events go to a bulk fold, which sorts them within the
        // budget (spilling to disk past it) and writes each table once; else they are merged.
        let mut bulk = (fresh_index && self.events.is_empty(&wtxn).map_err(&err)?)
            .then(|| Bulk::new(&self.path, Limits::within(budget)));
        // Events already checked (a snapshot's, verified as it was chosen), and per WAL commit.
        let mut checked: Vec<Vec<SignedEvent>> = Vec::new();
        let mut batch: Vec<Fetched<'_>> = Vec::new();
        let mut in_memory: usize = 0;
        if use_snapshot && fresh_index {
            let chosen = snapshot::choose(repo, &refs, &quarantine, budget, event_cost)?;
            for (snap, reason) in chosen.failed {
                stats.rejected.push(Rejected {
                    reference: snap.name,
                    commit: snap.commit.to_string(),
                    event: None,
                    reason,
                });
            }
            if let Some((snap, chain)) = chosen.snapshot {
                for commit in &chain.commits {
                    self.commits.put(&mut wtxn, oid_bytes(commit), &()).map_err(&err)?;
                }
                let bulk = bulk.as_mut().expect("a fresh index folds in bulk");
                match chain.events {
                    Some(events) => bulk.add(events)?,
                    // A chain larger than the budget streams too: a link at a time.
                    None => {
                        for link in &chain.links {
                            bulk.add(chain.link_events(repo, &snap, *link, &quarantine)?)?;
                        }
                    }
                }
                stats.snapshot = Some(snap.name);
                clock = clock.max(bulk.lamport);
            }
        }
        let mut current = BTreeSet::new();
        // The commits to read, by position in `relevant`. Each is marked known as soon as it is
        // found, so a ref sharing history with one walked before stops there. Remote-tracking
        // refs sort before the local ones, so what the two share is read, and checked, from
        // the stranger's copy.
        let mut jobs: Vec<(usize, ObjectId)> = Vec::new();
        // Into an empty index, the commits found are held in memory and written to their table
        // after the walk, in key order: a million inserts at random places of one write
        // transaction cost seconds of B-tree searches and dirty-page bookkeeping, in the thread
        // every other step waits on.
        let commits_empty = self.commits.is_empty(&wtxn).map_err(&err)?;
        let mut walked: Option<std::collections::HashSet<ObjectId>> = fresh_index.then(Default::default);
        // Each commit's tree, as the walk found it: the reading does not read the commit again.
        let mut trees: Vec<ObjectId> = Vec::new();
        // With nothing in the index to stop at, every chain is walked whole, all on every core;
        // each commit then goes to the first ref, in order, that reaches it, as in a walk of one
        // ref after another.
        let mut prewalked: HashMap<usize, Vec<(ObjectId, ObjectId)>> = HashMap::new();
        if walked.is_some() && commits_empty {
            let chains: Vec<(usize, (&str, ObjectId))> = relevant
                .iter()
                .enumerate()
                .filter(|(_, (name, _))| !is_actor_ref(name))
                .map(|(i, (name, tip))| (i, (name.as_str(), *tip)))
                .collect();
            // A ref at the tip of an earlier one (a local WAL ref and its remote-tracking copy)
            // reaches only commits the earlier one has: it is not walked.
            let mut tips = std::collections::HashSet::new();
            let (to_walk, same): (Vec<_>, Vec<_>) = chains
                .into_iter()
                .partition(|(_, (name, tip))| name.starts_with(RETIRED_PREFIX) || tips.insert(*tip));
            let walks = walk_chains(repo, &to_walk.iter().map(|c| c.1).collect::<Vec<_>>())?;
            prewalked = to_walk.iter().map(|c| c.0).zip(walks).collect();
            prewalked.extend(same.into_iter().map(|(i, _)| (i, Vec::new())));
        }
        for (i, (name, tip)) in relevant.iter().enumerate() {
            current.insert(name.as_str());
            if self.tips.get(&wtxn, name).map_err(&err)? == Some(oid_bytes(tip)) {
                continue;
            }
            stats.refs_changed += 1;
            if is_actor_ref(name) {
                if let Some(record) = actor::read_record(repo, *tip)? {
                    self.put_actor(&mut wtxn, &record)?;
                }
            } else {
                let known = |c: &ObjectId| -> Result<bool> {
                    if walked.as_ref().is_some_and(|w| w.contains(c)) {
                        return Ok(true);
                    }
                    Ok(!commits_empty && self.commits.get(&wtxn, oid_bytes(c)).map_err(&err)?.is_some())
                };
                let fresh = match prewalked.remove(&i) {
                    Some(walk) => walk,
                    None => chain_commits(repo, name, *tip, known)?,
                };
                for (commit, tree) in fresh {
                    match &mut walked {
                        // Reached first by an earlier ref (only when walked whole).
                        Some(w) => {
                            if !w.insert(commit) {
                                continue;
                            }
                        }
                        None => self.commits.put(&mut wtxn, oid_bytes(&commit), &()).map_err(&err)?,
                    }
                    jobs.push((i, commit));
                    trees.push(tree);
                }
            }
            self.tips.put(&mut wtxn, name, oid_bytes(tip)).map_err(&err)?;
        }
        if let Some(walked) = walked {
            let mut sorted: Vec<ObjectId> = walked.into_iter().collect();
            sorted.sort_unstable();
            let flags = if commits_empty {
                PutFlags::APPEND
            } else {
                PutFlags::empty()
            };
            for commit in &sorted {
                self.commits
                    .put_with_flags(&mut wtxn, flags, oid_bytes(commit), &())
                    .map_err(&err)?;
            }
        }
        let long = jobs.len() > READ_GROUP;
        if long {
            release_mapped_files(&self.path);
        }
        let mut found = Vec::new();
        // Chunks are read a group at a time. A first fold streams: each group is checked and
        // handed to the bulk fold, which keeps the events' stored bytes, within its limits.
        let threshold = rebuild_threshold(repo);
        let mut incoming = 0;
        // Groups are sized from what the commits read so far held, so that a group stays within
        // a quarter of the budget whatever the size of the chunks; the first few calibrate.
        let (mut at, mut read_cost, mut read_commits) = (0, 0usize, 0usize);
        while at < jobs.len() {
            let per_commit = read_cost.checked_div(read_commits).unwrap_or(0).max(1);
            let size = if read_commits == 0 { 16 } else { budget / 4 / per_commit };
            // Named a group at a time: a million commits' names at once would cost tens of MB.
            let end = (at + size.clamp(1, READ_GROUP)).min(jobs.len());
            let group: Vec<(&str, ObjectId, ObjectId)> = jobs[at..end]
                .iter()
                .zip(&trees[at..end])
                .map(|((i, c), tree)| (relevant[*i].0.as_str(), *c, *tree))
                .collect();
            at += group.len();
            let before = in_memory;
            for ((name, commit, _), chunk) in group.iter().zip(wal::read_tree_chunks(repo, &group)?) {
                match chunk {
                    Ok(chunk) => {
                        in_memory += chunk.events.iter().map(event_cost).sum::<usize>();
                        incoming += chunk.events.len();
                        batch.push(Fetched {
                            events: chunk.events,
                            reference: name,
                            commit: *commit,
                        });
                        stats.commits += 1;
                    }
                    // A chunk that does not decode is quarantined whole: it must not stop this clone.
                    Err(Error::Corrupt { source, .. }) => {
                        if !quarantine.has_commit(commit) {
                            found.push(crate::quarantine::Entry::new(None, *commit, name, source.to_string()));
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            read_cost += in_memory - before;
            read_commits += group.len();
            if long {
                release_mapped_files(&self.path);
            }
            // Checked a group at a time, what a bulk fold keeps of events is their stored bytes.
            if let Some(bulk) = &mut bulk {
                bulk.add(Self::checked(
                    std::mem::take(&mut batch),
                    &quarantine,
                    &mut found,
                    true,
                    &mut clock,
                ))?;
                in_memory = 0;
            }
            // So many events into a small index that a rebuild in bulk (streaming as above) is
            // cheaper: stop reading, and start over from an empty index.
            if !fresh_index && incoming > threshold {
                let existing = self.events.len(&wtxn).map_err(&err)?;
                if incoming as u64 > existing {
                    drop(wtxn);
                    crate::feed::Feed::of(repo).append(&feed_entries(&relevant, &jobs))?;
                    self.clear()?;
                    let mut stats = self.refresh_with(repo, use_snapshot)?;
                    stats.rebuilt = true;
                    return Ok(stats);
                }
            }
        }
        // Refs that disappeared stop being tracked; their events stay until the next rebuild.
        let gone: Vec<String> = self
            .tips
            .iter(&wtxn)
            .map_err(&err)?
            .filter_map(|r| r.ok().map(|(k, _)| k.to_owned()))
            .filter(|k| !current.contains(k.as_str()))
            .collect();
        for k in gone {
            self.tips.delete(&mut wtxn, &k).map_err(&err)?;
        }
        if let Some(bulk) = &mut bulk {
            bulk.add(Self::checked(batch, &quarantine, &mut found, true, &mut clock))?;
        } else {
            checked.push(Self::checked(batch, &quarantine, &mut found, false, &mut clock));
        }
        // The quarantine is written before the fold commits, and before sync can integrate what
        // it found: whatever sits in a local ref is either applied or listed there.
        for e in crate::quarantine::add(repo, &mut quarantine, found)? {
            stats.rejected.push(Rejected {
                reference: e.reference,
                commit: e.commit,
                event: e.event,
                reason: e.reason,
            });
        }
        // Everything folded is recorded in the feed before the fold commits, so a crash in
        // between repeats a record and never loses one. A first fold into a rebuilt index
        // finds history the feed already told: it records only into an empty feed (a new
        // repository or clone), never twice.
        let feed = crate::feed::Feed::of(repo);
        if !fresh_index || feed.is_empty() {
            feed.append(&feed_entries(&relevant, &jobs))?;
        }
        match bulk {
            Some(bulk) => {
                stats.batches += bulk.runs();
                let mut commits = 0;
                let mut commit = |txn| self.commit_partial(txn, &mut held, &mut commits);
                let applied;
                (wtxn, applied) = self.apply_bulk(wtxn, bulk, Some(&mut commit))?;
                stats.events += applied;
            }
            None => {
                let events: Vec<SignedEvent> = checked.into_iter().flatten().collect();
                if !events.is_empty() {
                    stats.batches += 1;
                }
                // Writes of this clone's actors that others' concurrent ones overrode are told.
                // Which actors are this clone's is read only when a field changed hands: it
                // reads every local key, and a clone of a fleet has thousands.
                let local = std::cell::OnceCell::new();
                let is_local = |a: &[u8; 32]| {
                    local
                        .get_or_init(|| {
                            crate::actor::list_local(repo)
                                .unwrap_or_default()
                                .iter()
                                .map(|a| a.id().0)
                                .collect::<std::collections::HashSet<[u8; 32]>>()
                        })
                        .contains(a)
                };
                let (n, overridden) = self.apply_noting(&mut wtxn, events, Some(&is_local))?;
                stats.events += n;
                stats.overridden = overridden;
            }
        }
        stats.millis = start.elapsed().as_secs_f64() * 1000.0;
        self.meta
            .put(&mut wtxn, "folded_at", &crate::repo::now_ms().to_be_bytes())
            .map_err(&err)?;
        self.meta.put(&mut wtxn, STAMP, &stamp.to_bytes()).map_err(&err)?;
        if let Some(read) = &links_read {
            self.meta.put(&mut wtxn, RETIRED_LINKS, read).map_err(&err)?;
        }
        self.meta.delete(&mut wtxn, PARTIAL).map_err(&err)?;
        self.meta
            .put(
                &mut wtxn,
                "fold_micros",
                &((stats.millis * 1000.0) as u64).to_be_bytes(),
            )
            .map_err(&err)?;
        wtxn.commit().map_err(&err)?;
        crate::overrides::record(repo, &stats.overridden)?;
        Ok(stats)
    }

    /// Commits part of a bulk fold, so that the pages it dirtied are written out and their
    /// memory used again, rather than the whole index held until the end. The index is marked
    /// incomplete (and the fold lock held) until the fold's last commit.
    fn commit_partial<'e>(
        &'e self,
        mut wtxn: RwTxn<'e>,
        held: &mut Option<FoldLock>,
        commits: &mut usize,
    ) -> Result<RwTxn<'e>> {
        let err = self.err();
        if held.is_none() {
            *held = Some(FoldLock::take(&self.path)?);
        }
        self.meta
            .put(&mut wtxn, PARTIAL, &std::process::id().to_be_bytes())
            .map_err(&err)?;
        wtxn.commit().map_err(&err)?;
        release_mapped_files(&self.path);
        *commits += 1;
        // Fault injection for the tests (the `fault-injection` feature, which only they build):
        // die, or pause, with half an index committed.
        #[cfg(feature = "fault-injection")]
        match std::env::var("GRIT_TEST_FAIL").as_deref() {
            Ok("fold-exit-after-batch") => std::process::exit(137),
            Ok("fold-pause-after-batch") if *commits == 1 => std::thread::sleep(std::time::Duration::from_millis(1500)),
            _ => {}
        }
        self.env.write_txn().map_err(&err)
    }

    /// The events of `batch` that may be applied. Every event must sit on its own actor's WAL
    /// ref and keep within the format's bounds; events from remote-tracking refs (other clones)
    /// must also verify (id and signature). Local refs hold only this clone's writes and what
    /// sync integrated after this check, so their signatures are not checked again (as git
    /// trusts its object store); what failed is in the quarantine and is skipped. Each failure
    /// not quarantined yet is added to `found`.
    fn checked(
        batch: Vec<Fetched<'_>>,
        quarantine: &crate::quarantine::Quarantine,
        found: &mut Vec<crate::quarantine::Entry>,
        keep_bodies: bool,
        clock: &mut u64,
    ) -> Vec<SignedEvent> {
        let mut out = Vec::new();
        let mut out_origins = Vec::new();
        let mut candidates = Vec::new();
        let mut origins = Vec::new();
        for f in batch {
            let owner = wal_owner(f.reference);
            // Retired chains are read as a stranger's, whoever retired them.
            let foreign =
                f.reference.starts_with(crate::refs::TRACKING_ROOT) || f.reference.starts_with(RETIRED_PREFIX);
            for ev in f.events {
                if quarantine.has_event(&ev.id) {
                    continue;
                }
                if let Err(why) = ev.check_structure(owner.as_ref()) {
                    found.push(crate::quarantine::Entry::new(
                        Some(ev.id),
                        f.commit,
                        f.reference,
                        why.reason(),
                    ));
                } else if foreign {
                    origins.push((f.reference, f.commit));
                    candidates.push(ev);
                } else {
                    out_origins.push((f.reference, f.commit));
                    out.push(ev);
                }
            }
        }
        let bad = crate::event::verify_all(&candidates);
        let mut skip = vec![false; candidates.len()];
        for (i, why) in bad {
            let (reference, commit) = origins[i];
            found.push(crate::quarantine::Entry::new(
                Some(candidates[i].id),
                commit,
                reference,
                why.reason(),
            ));
            skip[i] = true;
        }
        for ((ev, s), origin) in candidates.into_iter().zip(skip).zip(origins) {
            if !s {
                out.push(ev);
                out_origins.push(origin);
            }
        }
        // A clock may run ahead of every event this clone has (those before it in clock order)
        // by at most CLOCK_STEP: an honest writer's clock is one past what it had seen, so it
        // runs ahead only by what it saw and this clone has not. One far ahead (a validly signed
        // 2^53 - 1, say) would leave every later writer no clock to take; it is quarantined, and
        // reaching the format's bound a step at a time takes 2^29 signed events.
        let highest = out.iter().map(|e| e.event.lamport).max().unwrap_or(0);
        if highest <= clock.saturating_add(CLOCK_STEP) {
            // The common case, in one pass: nothing runs that far.
            *clock = (*clock).max(highest);
            out_origins.clear();
        }
        let mut order: Vec<usize> = (0..out_origins.len()).collect();
        order.sort_by_key(|&i| out[i].event.lamport);
        let mut far = vec![false; out.len()];
        for i in order {
            let l = out[i].event.lamport;
            if l > clock.saturating_add(CLOCK_STEP) {
                let (reference, commit) = out_origins[i];
                found.push(crate::quarantine::Entry::new(
                    Some(out[i].id),
                    commit,
                    reference,
                    format!("Lamport clock {l} runs more than {CLOCK_STEP} past every event before it ({clock})"),
                ));
                far[i] = true;
            } else {
                *clock = (*clock).max(l);
            }
        }
        let mut out: Vec<SignedEvent> = out.into_iter().zip(far).filter(|(_, f)| !f).map(|(e, _)| e).collect();
        // Checked, an event's stored bytes have served a merge: the index keeps what was decoded
        // from them. Freed now, they do not add to what a batch holds while it is applied. A
        // bulk fold keeps the bytes, and not the decoded form.
        if !keep_bodies {
            for ev in &mut out {
                ev.body = Vec::new();
            }
        }
        out
    }

    /// Empties every table, keeping the environment open (a fold then takes the bulk path).
    fn clear(&self) -> Result<()> {
        let err = self.err();
        let (_held, mut wtxn) = self.write().map_err(&err)?;
        self.meta.clear(&mut wtxn).map_err(&err)?;
        self.tips.clear(&mut wtxn).map_err(&err)?;
        self.commits.clear(&mut wtxn).map_err(&err)?;
        self.events.clear(&mut wtxn).map_err(&err)?;
        self.parented.clear(&mut wtxn).map_err(&err)?;
        self.issues.clear(&mut wtxn).map_err(&err)?;
        self.rows.clear(&mut wtxn).map_err(&err)?;
        self.labels.clear(&mut wtxn).map_err(&err)?;
        self.actors.clear(&mut wtxn).map_err(&err)?;
        self.facts.clear(&mut wtxn).map_err(&err)?;
        self.edges.clear(&mut wtxn).map_err(&err)?;
        self.assigned.clear(&mut wtxn).map_err(&err)?;
        self.sources.clear(&mut wtxn).map_err(&err)?;
        self.words.clear(&mut wtxn).map_err(&err)?;
        self.history.clear(&mut wtxn).map_err(&err)?;
        self.meta
            .put(&mut wtxn, "schema", &SCHEMA_VERSION.to_be_bytes())
            .map_err(&err)?;
        wtxn.commit().map_err(&err)
    }

    /// Whether a fold in batches left the index incomplete (it is running, or it died).
    fn partial(&self) -> Result<bool> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        self.marked_partial(&rtxn)
    }

    /// Whether the index, as `txn` sees it, carries the mark of a fold in batches.
    fn marked_partial(&self, txn: &RoTxn) -> Result<bool> {
        Ok(self.meta.get(txn, PARTIAL).map_err(self.err())?.is_some())
    }

    /// Another process began a fold in batches since this one looked: wait for it (or find it
    /// dead), then start over.
    fn after_fold_elsewhere(&self, repo: &Repo, use_snapshot: bool) -> Result<FoldStats> {
        drop(FoldLock::take(&self.path)?);
        self.refresh_with(repo, use_snapshot)
    }

    /// Whether the index has folded in every ref as it is now.
    pub fn is_current(&self, repo: &Repo) -> Result<bool> {
        if self.partial()? {
            return Ok(false);
        }
        let refs = Self::fold_refs(repo)?;
        let (owned, _) = self.relevant_refs(repo, &refs)?;
        Ok(!self.changed(&owned.iter().collect::<Vec<_>>())?)
    }

    /// The refs a fold reads, of those `fold_refs` lists: WAL and actor refs, and the retired
    /// chains the snapshots name (`RETIRED_PREFIX`), those folded before and those of links not
    /// read yet. Also returns the record of links read, when it grew, for the fold to store.
    fn relevant_refs(&self, repo: &Repo, refs: &[(String, ObjectId)]) -> Result<(RefList, Option<Vec<u8>>)> {
        let err = self.err();
        let mut out: Vec<(String, ObjectId)> = refs
            .iter()
            .filter(|(name, _)| is_wal_ref(name) || is_actor_ref(name))
            .cloned()
            .collect();
        let (_held, rtxn) = self.read().map_err(&err)?;
        let stored = self.meta.get(&rtxn, RETIRED_LINKS).map_err(&err)?.unwrap_or_default();
        let mut seen: std::collections::HashSet<ObjectId> = stored
            .chunks_exact(20)
            .filter_map(|c| ObjectId::try_from(c).ok())
            .collect();
        let mut names = std::collections::HashSet::new();
        for item in self.tips.prefix_iter(&rtxn, RETIRED_PREFIX).map_err(&err)? {
            let (name, tip) = item.map_err(&err)?;
            if let Ok(tip) = ObjectId::try_from(tip) {
                names.insert(name.to_owned());
                out.push((name.to_owned(), tip));
            }
        }
        drop(rtxn);
        let before = seen.len();
        for (actor, tip) in snapshot::retirements_since(repo, refs, &mut seen) {
            let name = retired_ref(&actor, &tip);
            if names.insert(name.clone()) {
                out.push((name, tip));
            }
        }
        let read = (seen.len() != before).then(|| seen.iter().flat_map(|c| c.as_bytes().to_vec()).collect());
        Ok((out, read))
    }

    /// The refs a fold looks at (lock refs, of which there may be thousands, are not its business).
    fn fold_refs(repo: &Repo) -> Result<Vec<(String, ObjectId)>> {
        let prefixes = [
            wal::WAL_PREFIX,
            ACTORS_PREFIX,
            snapshot::SNAPSHOTS_PREFIX,
            crate::refs::TRACKING_ROOT,
        ];
        if repo.refs == crate::repo::RefFormat::Reftable {
            // One git process for all of them rather than one per prefix.
            let mut refs = crate::refs::list_refs(repo, "refs/grit/")?;
            refs.retain(|(name, _)| prefixes.iter().any(|p| name.starts_with(p)));
            return Ok(refs);
        }
        let mut refs = Vec::new();
        for prefix in prefixes {
            refs.extend(crate::refs::list_refs(repo, prefix)?);
        }
        Ok(refs)
    }

    /// Whether the fold has applied (and so checked) `reference` at `tip`.
    pub fn has_applied(&self, reference: &str, tip: &ObjectId) -> Result<bool> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        Ok(self.tips.get(&rtxn, reference).map_err(self.err())? == Some(oid_bytes(tip)))
    }

    /// Folds in a commit this process just appended, without reading it back from git. Returns
    /// false (and does nothing) unless the index had applied exactly the tip it was put on, or
    /// when the map was full (it grows, and the next fold reads the commit).
    /// `record`: the actor's record and its commit, when this write also published it.
    pub fn fold_own_append(
        &self,
        repo: &Repo,
        appended: &wal::Appended,
        events: Vec<SignedEvent>,
        record: Option<(&Record, ObjectId)>,
    ) -> Result<bool> {
        match self.fold_own_append_once(repo, appended, events, record) {
            Err(e) if e.is_map_full() && self.grow()? => Ok(false),
            other => other,
        }
    }

    fn fold_own_append_once(
        &self,
        repo: &Repo,
        appended: &wal::Appended,
        events: Vec<SignedEvent>,
        record: Option<(&Record, ObjectId)>,
    ) -> Result<bool> {
        let err = self.err();
        let (_held, mut wtxn) = self.write().map_err(&err)?;
        let applied = self.tips.get(&wtxn, &appended.reference).map_err(&err)?;
        if applied != appended.parent.as_ref().map(oid_bytes) {
            return Ok(false);
        }
        let actor_ref = record.map(|(r, commit)| (format!("{ACTORS_PREFIX}{}", r.id), r, commit));
        if let Some((name, r, commit)) = &actor_ref {
            if self.tips.get(&wtxn, name).map_err(&err)?.is_some() {
                return Ok(false);
            }
            self.put_actor(&mut wtxn, r)?;
            self.tips.put(&mut wtxn, name, oid_bytes(commit)).map_err(&err)?;
        }
        crate::feed::Feed::of(repo).append(&[crate::feed::Entry::Wal {
            commit: appended.commit,
            reference: appended.reference.clone(),
        }])?;
        self.apply(&mut wtxn, events)?;
        self.commits
            .put(&mut wtxn, oid_bytes(&appended.commit), &())
            .map_err(&err)?;
        self.tips
            .put(&mut wtxn, &appended.reference, oid_bytes(&appended.commit))
            .map_err(&err)?;
        // If this append is all that moved since the stamp was taken, the index is as current
        // as before: the next command need not list every ref to find that out.
        let stored = self.meta.get(&wtxn, STAMP).map_err(&err)?.and_then(Stamp::from_bytes);
        if let Some(stored) = stored {
            let now = Stamp::now(repo);
            // The record's ref, if this write published it, is new and loose.
            let stored = match &actor_ref {
                Some((name, _, commit)) => stored.moved(name, None, *commit),
                None => stored,
            };
            let (name, new) = (appended.reference.as_str(), appended.commit);
            let only_ours = now == stored.moved(name, None, new)
                || appended
                    .parent
                    .is_some_and(|old| now == stored.moved(name, Some(old), new));
            if only_ours {
                self.meta.put(&mut wtxn, STAMP, &now.to_bytes()).map_err(&err)?;
            }
        }
        wtxn.commit().map_err(&err)?;
        Ok(true)
    }

    /// The stamp of the refs as of the last fold that looked at them all.
    fn stamp(&self) -> Result<Option<Stamp>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        Ok(self
            .meta
            .get(&rtxn, STAMP)
            .map_err(self.err())?
            .and_then(Stamp::from_bytes))
    }

    fn changed(&self, refs: &[&(String, ObjectId)]) -> Result<bool> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        if self.tips.len(&rtxn).map_err(self.err())? != refs.len() as u64 {
            return Ok(true);
        }
        for (name, tip) in refs {
            if self.tips.get(&rtxn, name).map_err(self.err())? != Some(oid_bytes(tip)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn put_actor(&self, wtxn: &mut RwTxn, r: &Record) -> Result<()> {
        let v = crate::event::to_cbor(&ciborium::value::Value::Array(vec![
            ciborium::value::Value::Text(r.name.clone()),
            ciborium::value::Value::Text(r.email.clone()),
        ]));
        self.actors.put(wtxn, &r.id.0, &v).map_err(self.err())
    }

    /// Applies a batch of events, each once, in any order. Returns how many were new.
    pub fn apply(&self, wtxn: &mut RwTxn, batch: Vec<SignedEvent>) -> Result<usize> {
        Ok(self.apply_noting(wtxn, batch, None)?.0)
    }

    /// `apply`, also returning the writes of the `local` actors that the batch overrode
    /// concurrently (see [`crate::issue::overridden`]).
    pub fn apply_noting(
        &self,
        wtxn: &mut RwTxn,
        mut batch: Vec<SignedEvent>,
        local: Option<IsLocal<'_>>,
    ) -> Result<(usize, Vec<crate::issue::Overridden>)> {
        let err = self.err();
        // Sorted keys make LMDB's inserts sequential; the result does not depend on order.
        batch.sort_unstable_by_key(|e| e.id);
        batch.dedup_by(|a, b| a.id == b.id);
        // Each touched issue, as it is now and as it was before this batch (if it existed).
        let mut touched: HashMap<Id, (IssueState, Option<IssueState>)> = HashMap::new();
        let mut lamport = meta_u64(self.meta.get(wtxn, "lamport").map_err(&err)?);
        let mut applied = 0;
        let mut step = Vec::with_capacity(128);
        for ev in &batch {
            if self.events.get(wtxn, &ev.id.0).map_err(&err)?.is_some() {
                continue;
            }
            let entity = ev.entity();
            self.events.put(wtxn, &ev.id.0, &entity.0).map_err(&err)?;
            history::encode(ev, &mut step);
            self.history
                .put(wtxn, &history::key(&entity, &ev.id), &step)
                .map_err(&err)?;
            for p in &ev.event.parents {
                self.parented.put(wtxn, &parent_key(&entity, p), &()).map_err(&err)?;
            }
            let parented = self
                .parented
                .get(wtxn, &parent_key(&entity, &ev.id))
                .map_err(&err)?
                .is_some();
            let (state, _) = match touched.entry(entity) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let old = self.load_issue(wtxn, &entity)?;
                    let state = old.clone().unwrap_or_else(|| IssueState::new(entity));
                    v.insert((state, old))
                }
            };
            state.apply(ev, parented);
            lamport = lamport.max(ev.event.lamport);
            applied += 1;
        }
        // How many more rows are closed than before.
        let mut closed: i64 = 0;
        let is_closed = |row: Option<u8>| i64::from(row == Some(state_byte(State::Closed)));
        let mut overridden = Vec::new();
        for (id, (state, old)) in touched {
            if let (Some(local), Some(old)) = (local, &old) {
                let named = |e: &Id| self.parented.get(wtxn, &parent_key(&id, e)).ok().flatten().is_some();
                overridden.extend(crate::issue::overridden(old, &state, local, &named));
            }
            self.store_issue(wtxn, &id, &state, old.as_ref())?;
            closed += is_closed(row_state(&state)) - is_closed(old.as_ref().and_then(row_state));
        }
        if closed != 0 {
            let n = meta_u64(self.meta.get(wtxn, CLOSED).map_err(&err)?);
            let n = n.saturating_add_signed(closed);
            self.meta.put(wtxn, CLOSED, &n.to_be_bytes()).map_err(&err)?;
        }
        self.meta.put(wtxn, "lamport", &lamport.to_be_bytes()).map_err(&err)?;
        Ok((applied, overridden))
    }

    /// Writes an issue's new state and the difference in its secondary entries from `old`.
    fn store_issue(&self, wtxn: &mut RwTxn, id: &Id, state: &IssueState, old: Option<&IssueState>) -> Result<()> {
        use tables::{Secondary, added, name_key};
        let err = self.err();
        let mut buf = Vec::with_capacity(512);
        state.encode(&mut buf);
        self.issues.put(wtxn, &id.0, &buf).map_err(&err)?;
        buf.clear();
        let Some(key) = write_row(id, state, &mut buf) else {
            return Ok(());
        };
        // An import's origin moves the row to the issue's original creation time.
        if let Some(old_created) = old.and_then(|o| o.created.as_ref().and(o.created_ms()))
            && old_created.to_be_bytes() != key[..8]
        {
            let mut old_key = key;
            old_key[..8].copy_from_slice(&old_created.to_be_bytes());
            self.rows.delete(wtxn, &old_key).map_err(&err)?;
        }
        self.rows.put(wtxn, &key, &buf).map_err(&err)?;
        let text_changed = !old.is_some_and(|o| o.created.is_some() && tables::same_text(o, state));
        let new = Secondary::of(id, state, text_changed).expect("an issue with a row has been created");
        let before = old.and_then(|o| Secondary::of(id, o, text_changed)).unwrap_or_default();
        self.facts.put(wtxn, &id.0, &new.facts).map_err(&err)?;
        for (db, old, new) in [
            (&self.labels, &before.labels, &new.labels),
            (&self.assigned, &before.assigned, &new.assigned),
        ] {
            for name in added(new, old) {
                buf.clear();
                name_key(name, id, &mut buf);
                db.delete(wtxn, &buf).map_err(&err)?;
            }
            for name in added(old, new) {
                buf.clear();
                name_key(name, id, &mut buf);
                db.put(wtxn, &buf, &()).map_err(&err)?;
            }
        }
        if before.source != new.source {
            if let Some(old) = &before.source {
                self.sources
                    .delete_one_duplicate(wtxn, old.as_bytes(), &id.0)
                    .map_err(&err)?;
            }
            if let Some(src) = &new.source {
                self.sources.put(wtxn, src.as_bytes(), &id.0).map_err(&err)?;
            }
        }
        for k in added(&new.edges, &before.edges) {
            self.edges.delete(wtxn, k).map_err(&err)?;
        }
        for k in added(&before.edges, &new.edges) {
            self.edges.put(wtxn, k, &()).map_err(&err)?;
        }
        if !text_changed {
            return Ok(());
        }
        let posting = &id.0[..tables::POSTING];
        // Another issue whose id starts with the same bytes shares the postings: keep them
        // (a search checks each issue such a posting names against its text).
        let shared = self.shares_posting(wtxn, id)?;
        if !shared {
            for w in added(&new.words, &before.words) {
                self.words
                    .delete_one_duplicate(wtxn, w.as_bytes(), posting)
                    .map_err(&err)?;
            }
        }
        for w in added(&before.words, &new.words) {
            self.words.put(wtxn, w.as_bytes(), posting).map_err(&err)?;
        }
        Ok(())
    }

    /// Whether another issue's id starts with the same `tables::POSTING` bytes as `id`.
    fn shares_posting(&self, txn: &RoTxn, id: &Id) -> Result<bool> {
        let mut low = [0u8; 32];
        low[..tables::POSTING].copy_from_slice(&id.0[..tables::POSTING]);
        let mut high = [0xffu8; 32];
        high[..tables::POSTING].copy_from_slice(&id.0[..tables::POSTING]);
        let range = (Bound::Included(&low[..]), Bound::Included(&high[..]));
        let mut n = 0;
        for item in self
            .issues
            .lazily_decode_data()
            .range(txn, &range)
            .map_err(self.err())?
        {
            item.map_err(self.err())?;
            n += 1;
            if n > 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Applies events directly (no git), in one transaction, the way a fold does (in bulk when
    /// the index is empty). For tests and benchmarks of the fold.
    pub fn apply_batch(&self, batch: Vec<SignedEvent>) -> Result<usize> {
        self.growing(|| self.apply_batch_once(batch.clone()))
    }

    fn apply_batch_once(&self, batch: Vec<SignedEvent>) -> Result<usize> {
        let (_held, mut wtxn) = self.write().map_err(self.err())?;
        let n;
        (wtxn, n) = match self.events.is_empty(&wtxn).map_err(self.err())? {
            true => self.apply_to_empty(wtxn, batch)?,
            false => {
                let n = self.apply(&mut wtxn, batch)?;
                (wtxn, n)
            }
        };
        wtxn.commit().map_err(self.err())?;
        Ok(n)
    }
}

/// `grit.rebuildThreshold` (default 50,000): a fold that would apply more new events than this,
/// and more than the index already holds, rebuilds the index in bulk instead.
/// The feed records of the commits a fold takes in: per ref, oldest first.
fn feed_entries(relevant: &[&(String, ObjectId)], jobs: &[(usize, ObjectId)]) -> Vec<crate::feed::Entry> {
    // `jobs` holds each ref's commits together, newest first.
    jobs.chunk_by(|a, b| a.0 == b.0)
        .flat_map(|run| run.iter().rev())
        .map(|(r, commit)| crate::feed::Entry::Wal {
            commit: *commit,
            reference: relevant[*r].0.clone(),
        })
        .collect()
}

/// How many WAL commits a streaming fold reads at a time (on every core).
const READ_GROUP: usize = 4096;

/// How far past every event before it one event's clock may run (see `checked`).
pub const CLOCK_STEP: u64 = 1 << 24;

/// What an event costs a fold in memory while it is decoded: its bytes and its decoded form
/// (measured: about 1.5 KiB for a short event). Read groups are sized from it.
fn event_cost(ev: &SignedEvent) -> usize {
    1280 + 2 * ev.body.len()
}

/// `grit.foldMemory` when unset: a rebuild of 1,000,000 events holds them in memory at once
/// (their stored bytes), and peaks under 600 MB.
const DEFAULT_FOLD_MEMORY: usize = 512 << 20;

/// `grit.foldMemory`: the memory a fold may hold events in before it applies them and drops them
/// (git's size suffixes: 256m, 1g).
pub fn fold_memory(repo: &Repo) -> usize {
    repo.git
        .config_snapshot()
        .integer("grit.foldMemory")
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_FOLD_MEMORY)
}

fn rebuild_threshold(repo: &Repo) -> usize {
    repo.git
        .config_snapshot()
        .integer("grit.rebuildThreshold")
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(50_000)
}

/// Lets the kernel take back the pages of read-only file mappings this process has touched: the
/// index's `data.mdb` and the repository's packs. A first fold of a long history reads through
/// all of both, and every page it touched would stay counted in its memory until it exits,
/// though the kernel holds them in its cache either way. Dropped from the mappings (as git
/// unmaps pack windows past `core.packedGitLimit`), they are read back from that cache when
/// touched again. Nothing is written through these mappings, so nothing is lost.
pub(crate) fn release_mapped_files(index_dir: &std::path::Path) {
    let data = index_dir.join("data.mdb");
    let data = std::fs::canonicalize(&data).unwrap_or(data);
    release_mappings(Some(&data.to_string_lossy()));
}

/// `release_mapped_files` of the packs only (and of `data`, a file's canonical path, if given).
#[allow(unsafe_code)]
pub(crate) fn release_mappings(data: Option<&str>) {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some(path) = fields.nth(3) else { continue };
        let pack = path.contains("/objects/pack/") && (path.ends_with(".pack") || path.ends_with(".idx"));
        if perms.contains('w') || !(Some(path) == data || pack || path.ends_with("/objects/pack/multi-pack-index")) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
            continue;
        };
        // SAFETY: the range is a whole read-only file mapping of this process, listed by the
        // kernel; MADV_DONTNEED on it only drops page-table entries, and the next access reads
        // the page again from the page cache.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
