//! The write side of the index: folding in what changed under `refs/grit/`, checking what came
//! from other clones, and applying events one batch at a time.

use super::*;

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

    /// `refresh`, choosing whether a first fold may start from a snapshot.
    pub fn refresh_with(&self, repo: &Repo, use_snapshot: bool) -> Result<FoldStats> {
        let start = Instant::now();
        // Lock refs (there may be thousands) are not the fold's business: list around them.
        let mut refs = Vec::new();
        for prefix in [
            wal::WAL_PREFIX,
            ACTORS_PREFIX,
            snapshot::SNAPSHOTS_PREFIX,
            sync::TRACKING_ROOT,
        ] {
            refs.extend(crate::refs::list_refs(repo, prefix)?);
        }
        let relevant: Vec<&(String, ObjectId)> = refs
            .iter()
            .filter(|(name, _)| is_wal_ref(name) || is_actor_ref(name))
            .collect();
        if !self.changed(&relevant)? {
            return Ok(FoldStats::default());
        }
        let err = self.err();
        let mut wtxn = self.env.write_txn().map_err(&err)?;
        let mut stats = FoldStats::default();
        let fresh_index = self.tips.is_empty(&wtxn).map_err(&err)? && self.commits.is_empty(&wtxn).map_err(&err)?;
        let snap = match use_snapshot && fresh_index {
            true => snapshot::newest(&refs),
            false => None,
        };
        // Events, with where they came from when that was another clone (they get verified).
        let mut batch: Vec<Fetched<'_>> = Vec::new();
        if let Some(snap) = &snap {
            let loaded = snapshot::read(repo, snap)?;
            for commit in &loaded.commits {
                self.commits.put(&mut wtxn, oid_bytes(commit), &()).map_err(&err)?;
            }
            let origin = snap
                .name
                .starts_with(sync::TRACKING_ROOT)
                .then_some((snap.name.as_str(), snap.commit));
            batch.push((loaded.events, origin));
            stats.snapshot = Some(snap.name.clone());
        }
        let mut current = BTreeSet::new();
        // The commits to read, by position in `relevant`. Each is marked known as soon as it is
        // found, so a ref sharing history with one walked before stops there.
        let mut jobs: Vec<(usize, ObjectId)> = Vec::new();
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
                let fresh = wal::new_commits(repo, *tip, |c| {
                    Ok(self.commits.get(&wtxn, oid_bytes(c)).map_err(&err)?.is_some())
                })?;
                for commit in fresh {
                    self.commits.put(&mut wtxn, oid_bytes(&commit), &()).map_err(&err)?;
                    jobs.push((i, commit));
                }
            }
            self.tips.put(&mut wtxn, name, oid_bytes(tip)).map_err(&err)?;
        }
        let items: Vec<(&str, ObjectId)> = jobs.iter().map(|(i, c)| (relevant[*i].0.as_str(), *c)).collect();
        for ((name, commit), chunk) in items.iter().zip(wal::read_chunks(repo, &items)?) {
            let foreign = name.starts_with(sync::TRACKING_ROOT);
            match chunk {
                Ok(chunk) => {
                    batch.push((chunk.events, foreign.then_some((*name, *commit))));
                    stats.commits += 1;
                }
                // Another clone's garbage must not stop this one: skip it, say so, and look at
                // it again next time.
                Err(Error::Corrupt { source, .. }) if foreign => {
                    self.commits.delete(&mut wtxn, oid_bytes(commit)).map_err(&err)?;
                    self.reject(&mut wtxn, &mut stats, name, *commit, None, source.to_string())?;
                }
                Err(e) => return Err(e),
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
        let events = self.verified(&mut wtxn, batch, &mut stats)?;
        stats.events = if fresh_index && self.events.is_empty(&wtxn).map_err(&err)? {
            self.apply_to_empty(&mut wtxn, events)?
        } else {
            self.apply(&mut wtxn, events.into_iter().flatten().collect())?
        };
        stats.millis = start.elapsed().as_secs_f64() * 1000.0;
        self.meta
            .put(&mut wtxn, "folded_at", &crate::repo::now_ms().to_be_bytes())
            .map_err(&err)?;
        self.meta
            .put(
                &mut wtxn,
                "fold_micros",
                &((stats.millis * 1000.0) as u64).to_be_bytes(),
            )
            .map_err(&err)?;
        wtxn.commit().map_err(&err)?;
        Ok(stats)
    }

    /// Checks the ids and signatures of events that came from another clone (our own writes
    /// and refs already in this repository are trusted, as git trusts its object store). An
    /// event that fails is not applied; its ref is remembered as rejected so sync will not
    /// carry it into the local refs.
    fn verified(
        &self,
        wtxn: &mut RwTxn,
        batch: Vec<Fetched<'_>>,
        stats: &mut FoldStats,
    ) -> Result<Vec<Vec<SignedEvent>>> {
        let (foreign, trusted): (Vec<_>, Vec<_>) = batch.into_iter().partition(|(_, o)| o.is_some());
        let mut out: Vec<Vec<SignedEvent>> = trusted.into_iter().map(|(evs, _)| evs).collect();
        let mut candidates = Vec::new();
        let mut origins = Vec::new();
        for (events, origin) in foreign {
            for ev in events {
                origins.push(origin.expect("partitioned on origin"));
                candidates.push(ev);
            }
        }
        let bad = crate::event::verify_all(&candidates);
        for (i, reason) in &bad {
            let (reference, commit) = origins[*i];
            let event = Some(candidates[*i].id);
            self.reject(wtxn, stats, reference, commit, event, reason.to_string())?;
        }
        let bad: std::collections::HashSet<usize> = bad.into_iter().map(|(i, _)| i).collect();
        out.push(
            candidates
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(i))
                .map(|(_, e)| e)
                .collect(),
        );
        Ok(out)
    }

    fn reject(
        &self,
        wtxn: &mut RwTxn,
        stats: &mut FoldStats,
        reference: &str,
        commit: ObjectId,
        event: Option<Id>,
        reason: String,
    ) -> Result<()> {
        self.meta
            .put(wtxn, &format!("{REJECTED}{reference}"), oid_bytes(&commit))
            .map_err(self.err())?;
        stats.rejected.push(Rejected {
            reference: reference.to_owned(),
            commit: commit.to_string(),
            event: event.map(|e| e.to_hex()),
            reason,
        });
        Ok(())
    }

    /// The commit at which a remote-tracking ref was found to carry a forged or damaged event.
    pub fn rejected(&self, reference: &str) -> Result<Option<ObjectId>> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let v = self
            .meta
            .get(&rtxn, &format!("{REJECTED}{reference}"))
            .map_err(self.err())?;
        Ok(v.and_then(|b| ObjectId::try_from(b).ok()))
    }

    /// Folds in a commit this process just appended, without reading it back from git. Returns
    /// false (and does nothing) unless the index had applied exactly the tip it was put on.
    pub fn fold_own_append(&self, appended: &wal::Appended, events: Vec<SignedEvent>) -> Result<bool> {
        let err = self.err();
        let mut wtxn = self.env.write_txn().map_err(&err)?;
        let applied = self.tips.get(&wtxn, &appended.reference).map_err(&err)?;
        if applied != appended.parent.as_ref().map(oid_bytes) {
            return Ok(false);
        }
        self.apply(&mut wtxn, events)?;
        self.commits
            .put(&mut wtxn, oid_bytes(&appended.commit), &())
            .map_err(&err)?;
        self.tips
            .put(&mut wtxn, &appended.reference, oid_bytes(&appended.commit))
            .map_err(&err)?;
        wtxn.commit().map_err(&err)?;
        Ok(true)
    }

    fn changed(&self, refs: &[&(String, ObjectId)]) -> Result<bool> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
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
    pub fn apply(&self, wtxn: &mut RwTxn, mut batch: Vec<SignedEvent>) -> Result<usize> {
        let err = self.err();
        // Sorted keys make LMDB's inserts sequential; the result does not depend on order.
        batch.sort_unstable_by_key(|e| e.id);
        batch.dedup_by(|a, b| a.id == b.id);
        // Each touched issue with its labels and its row's state byte (if it had a row) before.
        let mut touched: HashMap<Id, (IssueState, Vec<String>, Option<u8>)> = HashMap::new();
        let mut lamport = meta_u64(self.meta.get(wtxn, "lamport").map_err(&err)?);
        let mut applied = 0;
        for ev in &batch {
            if self.events.get(wtxn, &ev.id.0).map_err(&err)?.is_some() {
                continue;
            }
            let entity = ev.entity();
            self.events.put(wtxn, &ev.id.0, &entity.0).map_err(&err)?;
            for p in &ev.event.parents {
                self.parented.put(wtxn, &parent_key(&entity, p), &()).map_err(&err)?;
            }
            let parented = self
                .parented
                .get(wtxn, &parent_key(&entity, &ev.id))
                .map_err(&err)?
                .is_some();
            let (state, ..) = match touched.entry(entity) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let state = self
                        .load_issue(wtxn, &entity)?
                        .unwrap_or_else(|| IssueState::new(entity));
                    let labels = if state.created.is_some() {
                        state.labels()
                    } else {
                        Vec::new()
                    };
                    let row = row_state(&state);
                    v.insert((state, labels, row))
                }
            };
            state.apply(ev, parented);
            lamport = lamport.max(ev.event.lamport);
            applied += 1;
        }
        // How many more rows are closed than before.
        let mut closed: i64 = 0;
        let is_closed = |row: Option<u8>| i64::from(row == Some(state_byte(State::Closed)));
        for (id, (state, old_labels, old_row)) in touched {
            self.store_issue(wtxn, &id, &state, &old_labels)?;
            closed += is_closed(row_state(&state)) - is_closed(old_row);
        }
        if closed != 0 {
            let n = meta_u64(self.meta.get(wtxn, CLOSED).map_err(&err)?);
            let n = n.saturating_add_signed(closed);
            self.meta.put(wtxn, CLOSED, &n.to_be_bytes()).map_err(&err)?;
        }
        self.meta.put(wtxn, "lamport", &lamport.to_be_bytes()).map_err(&err)?;
        Ok(applied)
    }

    fn store_issue(&self, wtxn: &mut RwTxn, id: &Id, state: &IssueState, old_labels: &[String]) -> Result<()> {
        let err = self.err();
        let mut buf = Vec::with_capacity(512);
        state.encode(&mut buf);
        self.issues.put(wtxn, &id.0, &buf).map_err(&err)?;
        buf.clear();
        let Some(key) = write_row(id, state, &mut buf) else {
            return Ok(());
        };
        self.rows.put(wtxn, &key, &buf).map_err(&err)?;
        let new_labels = state.labels();
        let label_key = |l: &str| {
            let mut key = Vec::with_capacity(l.len() + 33);
            write_label_key(l, id, &mut key);
            key
        };
        for l in old_labels.iter().filter(|l| !new_labels.contains(l)) {
            self.labels.delete(wtxn, &label_key(l)).map_err(&err)?;
        }
        for l in new_labels.iter().filter(|l| !old_labels.contains(l)) {
            self.labels.put(wtxn, &label_key(l), &()).map_err(&err)?;
        }
        Ok(())
    }

    /// Applies events directly (no git), in one transaction, the way a fold does (in bulk when
    /// the index is empty). For tests and benchmarks of the fold.
    pub fn apply_batch(&self, batch: Vec<SignedEvent>) -> Result<usize> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        let n = match self.events.is_empty(&wtxn).map_err(self.err())? {
            true => self.apply_to_empty(&mut wtxn, vec![batch])?,
            false => self.apply(&mut wtxn, batch)?,
        };
        wtxn.commit().map_err(self.err())?;
        Ok(n)
    }
}
