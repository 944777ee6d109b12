//! The bulk fold: every event into an empty index (a first fold, a rebuild). Its result is the
//! same as `apply`'s, and what it holds is bounded by `Limits` whatever the number of events:
//! 1. The events, checked, are sorted by (entity, id) through an external sort (`spill`): held
//!    as their stored bytes, written to runs on disk past `Limits::events`.
//! 2. The sorted stream is read entity by entity; each folding thread decodes and folds a batch
//!    of whole entities and encodes what the tables need. The tables keyed by entity (states,
//!    facts, parents) are written as the batches come, in order; the others' records go through
//!    sorts of their own, spilled past `Limits::records`.
//! 3. Each of those tables is written from its sorted records.
//!
//! Every table is written once, in key order, with MDB_APPEND. When the caller lets it, the
//! write transaction is committed every `Limits::dirty` bytes, so that LMDB's copies of the
//! pages written do not pile up until the end.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::spill::{Merged, Sorter};
use super::*;
use crate::event::Event;

/// Events a folding thread takes at a time (whole entities, so a batch may hold more).
const BATCH_EVENTS: usize = 2048;

/// What a bulk fold may hold, in bytes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Stored events held in memory before they are sorted and written to a run.
    pub events: usize,
    /// Records of the tables not keyed by entity held before the largest sort is spilled.
    pub records: usize,
    /// Bytes written between two commits, when the caller lets the fold commit.
    pub dirty: usize,
}

impl Limits {
    /// The limits within `grit.foldMemory`.
    pub fn within(budget: usize) -> Limits {
        Limits {
            events: budget / 2,
            records: budget / 4,
            dirty: budget / 8,
        }
    }
}

/// Events on their way into an empty index, sorted by (entity, id) as they come.
pub(super) struct Bulk {
    events: Sorter,
    limits: Limits,
    pub(super) lamport: u64,
    dir: std::path::PathBuf,
}

impl Bulk {
    pub fn new(dir: &std::path::Path, limits: Limits) -> Bulk {
        Bulk {
            events: Sorter::new(dir),
            limits,
            lamport: 0,
            dir: dir.to_path_buf(),
        }
    }

    /// Adds checked events. Only their stored bytes are kept: they are decoded again when
    /// folded, which costs less than holding them decoded.
    pub fn add(&mut self, events: Vec<SignedEvent>) -> Result<()> {
        let mut key = [0u8; 64];
        for ev in events {
            key[..32].copy_from_slice(&ev.entity().0);
            key[32..].copy_from_slice(&ev.id.0);
            self.lamport = self.lamport.max(ev.event.lamport);
            if ev.body.is_empty() {
                self.events.push(&key, &ev.event.encode());
            } else {
                self.events.push(&key, &ev.body);
            }
        }
        if self.events.held() > self.limits.events {
            self.events.spill()?;
        }
        Ok(())
    }

    /// How many runs the events were sorted in: more than one when they did not fit in memory.
    pub fn runs(&self) -> usize {
        self.events.runs()
    }
}

/// Lets a bulk fold commit its write transaction part way, and gives it the next one.
pub(super) type Commit<'a, 'e> = &'a mut dyn FnMut(RwTxn<'e>) -> Result<RwTxn<'e>>;

impl Index {
    /// Writes every event of `bulk` into this empty index; the number of distinct events.
    /// `commit`, when given, is called every `Limits::dirty` bytes written.
    pub(super) fn apply_bulk<'e>(
        &'e self,
        wtxn: RwTxn<'e>,
        bulk: Bulk,
        mut commit: Option<Commit<'_, 'e>>,
    ) -> Result<(RwTxn<'e>, usize)> {
        let err = self.err();
        let Bulk {
            mut events,
            limits,
            lamport,
            dir,
        } = bulk;
        // Events that did not fit are read from runs: the rest go to a run too, and the memory
        // they held is the records'.
        let records = if events.spills > 0 {
            events.spill()?;
            limits.records + limits.events
        } else {
            limits.records
        };
        let mut w = Writer {
            txn: Some(wtxn),
            written: 0,
            limits,
            commit: &mut commit,
        };
        let (mut applied, mut closed) = (0usize, 0u64);
        let sorts = std::thread::scope(|scope| -> Result<Vec<[Sorter; SORTED]>> {
            let threads = crate::parallel::threads();
            // Bounded both ways: folded batches wait for the writer, not in memory.
            let (out_tx, out_rx) = sync_channel::<(usize, Result<Output>)>(threads * 2);
            let (mut inputs, mut workers) = (Vec::new(), Vec::new());
            for _ in 0..threads {
                let (tx, rx) = sync_channel::<(usize, Vec<Group>)>(2);
                let out = out_tx.clone();
                let dir = &dir;
                let limit = records / threads;
                workers.push(scope.spawn(move || fold_batches(rx, out, dir, limit)));
                inputs.push(tx);
            }
            drop(out_tx);
            let feeder = scope.spawn(move || feed(events, inputs));
            // Batches come back in any order; they are written in the order they were cut.
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0;
            for (seq, out) in out_rx {
                waiting.insert(seq, out);
                while let Some(out) = waiting.remove(&next) {
                    next += 1;
                    let out = out?;
                    applied += out.events;
                    closed += out.closed;
                    let direct = [
                        self.issues,
                        self.facts,
                        self.parented.remap_data_type::<Bytes>(),
                        self.history,
                    ];
                    for (db, recs) in direct.into_iter().zip(&out.direct) {
                        w.append(db, |t| recs.iter().try_for_each(|(k, v)| t.put(k, v)))
                            .map_err(&err)?;
                        w.wrote(recs.bytes.len())?;
                    }
                }
            }
            feeder.join().expect("feeding does not panic")?;
            workers
                .into_iter()
                .map(|w| w.join().expect("folding does not panic"))
                .collect()
        })?;
        // The tables not keyed by entity, from the sorts of every folding thread.
        let mut tables: Vec<Vec<Sorter>> = (0..SORTED).map(|_| Vec::new()).collect();
        for thread in sorts {
            for (table, sort) in tables.iter_mut().zip(thread) {
                table.push(sort);
            }
        }
        let dbs = [
            (self.events, false),
            (self.rows, false),
            (self.labels.remap_data_type::<Bytes>(), false),
            (self.assigned.remap_data_type::<Bytes>(), false),
            (self.sources, true),
            (self.edges.remap_data_type::<Bytes>(), false),
            (self.words, true),
        ];
        for (table, ((db, dup), sorts)) in dbs.into_iter().zip(tables).enumerate() {
            let mut merged = Sorter::merge(sorts, false, &dir)?;
            if table == WORDS {
                w.write_postings(db, &mut merged, &err)?;
                continue;
            }
            w.write_sorted(db, dup, merged, &err)?;
        }
        let mut wtxn = w.txn.take().expect("a transaction");
        self.meta.put(&mut wtxn, CLOSED, &closed.to_be_bytes()).map_err(&err)?;
        let old = meta_u64(self.meta.get(&wtxn, "lamport").map_err(&err)?);
        self.meta
            .put(&mut wtxn, "lamport", &lamport.max(old).to_be_bytes())
            .map_err(&err)?;
        Ok((wtxn, applied))
    }

    /// `apply` into an empty index, in one transaction, holding everything in memory.
    pub(super) fn apply_to_empty<'e>(
        &'e self,
        wtxn: RwTxn<'e>,
        events: Vec<SignedEvent>,
    ) -> Result<(RwTxn<'e>, usize)> {
        let unbounded = Limits {
            events: usize::MAX,
            records: usize::MAX,
            dirty: usize::MAX,
        };
        let mut bulk = Bulk::new(&self.path, unbounded);
        bulk.add(events)?;
        self.apply_bulk(wtxn, bulk, None)
    }
}

#[cfg(test)]
impl Index {
    /// A bulk fold that spills everything it can: each event to a run of its own, each batch's
    /// records, and a commit after every write.
    pub(crate) fn apply_spilling(&self, events: Vec<SignedEvent>) -> Result<usize> {
        let tiny = Limits {
            events: 1,
            records: 1,
            dirty: 1,
        };
        let mut bulk = Bulk::new(&self.path, tiny);
        for ev in events {
            bulk.add(vec![ev])?;
        }
        let (_held, wtxn) = self.write().map_err(self.err())?;
        let mut commit = |txn: RwTxn<'_>| -> Result<RwTxn<'_>> {
            txn.commit().map_err(self.err())?;
            self.env.write_txn().map_err(self.err())
        };
        let (wtxn, n) = self.apply_bulk(wtxn, bulk, Some(&mut commit))?;
        wtxn.commit().map_err(self.err())?;
        Ok(n)
    }
}

/// The sorted tables, in the order of `Output::sorted`.
const SORTED: usize = 7;
const EVENTS: usize = 0;
const ROWS: usize = 1;
const LABELS: usize = 2;
const ASSIGNED: usize = 3;
const SOURCES: usize = 4;
const EDGES: usize = 5;
const WORDS: usize = 6;

/// The write side of a bulk fold: its transaction, committed every `Limits::dirty` bytes when
/// the caller lets it.
struct Writer<'c, 'a, 'e> {
    txn: Option<RwTxn<'e>>,
    written: usize,
    limits: Limits,
    commit: &'c mut Option<Commit<'a, 'e>>,
}

impl<'e> Writer<'_, '_, 'e> {
    fn append(
        &mut self,
        db: Database<Bytes, Bytes>,
        fill: impl FnOnce(&mut Appender) -> heed::Result<()>,
    ) -> heed::Result<()> {
        append(db, self.txn.as_mut().expect("a transaction"), fill)
    }

    /// Counts `bytes` written, and commits when they pass the limit.
    fn wrote(&mut self, bytes: usize) -> Result<()> {
        self.written += bytes;
        if self.written > self.limits.dirty
            && let Some(commit) = self.commit.as_mut()
        {
            let txn = self.txn.take().expect("a transaction");
            self.txn = Some(commit(txn)?);
            self.written = 0;
        }
        Ok(())
    }

    /// Writes the word index from records of a word and postings end to end: the lists of one
    /// word (from several threads and runs) are merged, each posting written once, in order.
    fn write_postings(
        &mut self,
        db: Database<Bytes, Bytes>,
        merged: &mut Merged,
        err: &impl Fn(heed::Error) -> Error,
    ) -> Result<()> {
        let (mut word, mut postings): (Vec<u8>, Vec<[u8; tables::POSTING]>) = (Vec::new(), Vec::new());
        let write = |w: &mut Self, word: &[u8], postings: &mut Vec<[u8; tables::POSTING]>| -> Result<()> {
            postings.sort_unstable();
            postings.dedup();
            w.append(db, |t| {
                t.put(word, &postings[0])?;
                postings[1..].iter().try_for_each(|p| t.put_dup(word, p))
            })
            .map_err(err)?;
            w.wrote(postings.len() * tables::POSTING + word.len())
        };
        while let Some((k, v)) = merged.next()? {
            if k != word.as_slice() && !postings.is_empty() {
                write(self, &word, &mut postings)?;
                postings.clear();
            }
            word.clear();
            word.extend_from_slice(k);
            postings.extend(v.chunks_exact(tables::POSTING).map(|p| {
                let p: [u8; tables::POSTING] = p.try_into().expect("a posting");
                p
            }));
        }
        if !postings.is_empty() {
            write(self, &word, &mut postings)?;
        }
        Ok(())
    }

    /// Writes `db` from sorted records; for a table of sorted duplicates, a record whose key is
    /// the one before's is added as its next value.
    fn write_sorted(
        &mut self,
        db: Database<Bytes, Bytes>,
        dup: bool,
        mut merged: Merged,
        err: &impl Fn(heed::Error) -> Error,
    ) -> Result<()> {
        let mut last: Option<Vec<u8>> = None;
        loop {
            let (mut bytes, limit) = (0, self.limits.dirty);
            let mut failed = None;
            let mut done = false;
            self.append(db, |t| {
                while bytes < limit {
                    let (k, v) = match merged.next() {
                        Ok(Some(r)) => r,
                        Ok(None) => {
                            done = true;
                            return Ok(());
                        }
                        Err(e) => {
                            failed = Some(e);
                            return Ok(());
                        }
                    };
                    if dup && last.as_deref() == Some(k) {
                        t.put_dup(k, v)?;
                    } else {
                        t.put(k, v)?;
                        if dup {
                            let l = last.get_or_insert_with(Vec::new);
                            l.clear();
                            l.extend_from_slice(k);
                        }
                    }
                    bytes += k.len() + v.len();
                }
                Ok(())
            })
            .map_err(err)?;
            if let Some(e) = failed {
                return Err(e);
            }
            self.wrote(bytes)?;
            if done {
                return Ok(());
            }
        }
    }
}

/// (key, value) records end to end in one buffer.
#[derive(Default)]
struct Records {
    bytes: Vec<u8>,
    /// Where each record's key ends, and where its value ends.
    ends: Vec<(u32, u32)>,
}

impl Records {
    fn push(&mut self, key: &[u8], value: &[u8]) {
        self.bytes.extend_from_slice(key);
        let k = self.bytes.len() as u32;
        self.bytes.extend_from_slice(value);
        self.ends.push((k, self.bytes.len() as u32));
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0;
        self.ends.iter().map(move |&(k, v)| {
            let r = (&self.bytes[start..k as usize], &self.bytes[k as usize..v as usize]);
            start = v as usize;
            r
        })
    }
}

/// One entity's events, as stored: its id, then each event's id and bytes.
struct Group {
    entity: Id,
    events: Vec<(Id, Vec<u8>)>,
}

/// What folding a batch gives the writer: the records of the tables keyed by entity (states,
/// facts, parents, history), in key order. The other tables' records stay in the folding thread's sorts.
struct Output {
    direct: [Records; 4],
    events: usize,
    closed: u64,
}

/// Reads the sorted events, cuts them into batches of whole entities and hands the batches to
/// the folding threads in turn.
fn feed(events: Sorter, inputs: Vec<SyncSender<(usize, Vec<Group>)>>) -> Result<()> {
    let mut merged = events.into_sorted_on(inputs.len(), true)?;
    let (mut batch, mut size, mut seq) = (Vec::new(), 0, 0);
    let send = |batch: Vec<Group>, seq: &mut usize| -> bool {
        let ok = inputs[*seq % inputs.len()].send((*seq, batch)).is_ok();
        *seq += 1;
        ok
    };
    while let Some((key, body)) = merged.next()? {
        let entity = Id(key[..32].try_into().expect("an entity"));
        let id = Id(key[32..].try_into().expect("an id"));
        match batch.last_mut() {
            Some(Group { entity: e, events }) if *e == entity => events.push((id, body.to_vec())),
            _ => {
                if size >= BATCH_EVENTS {
                    if !send(std::mem::take(&mut batch), &mut seq) {
                        // The writer stopped (it failed): it reports why.
                        return Ok(());
                    }
                    size = 0;
                }
                batch.push(Group {
                    entity,
                    events: vec![(id, body.to_vec())],
                });
            }
        }
        size += 1;
    }
    if !batch.is_empty() {
        send(batch, &mut seq);
    }
    Ok(())
}

/// A folding thread: each batch it is given, folded, back with its number. The records of the
/// tables not keyed by entity go to its own sorts, spilled past `limit`, and sorted at the end.
fn fold_batches(
    input: Receiver<(usize, Vec<Group>)>,
    out: SyncSender<(usize, Result<Output>)>,
    dir: &std::path::Path,
    limit: usize,
) -> Result<[Sorter; SORTED]> {
    let mut sorts: [Sorter; SORTED] = std::array::from_fn(|_| Sorter::new(dir));
    let mut words = Words::default();
    for (seq, batch) in input {
        if out.send((seq, fold_batch(batch, &mut sorts, &mut words))).is_err() {
            break;
        }
        if sorts.iter().map(Sorter::held).sum::<usize>() + words.held > limit {
            if words.held * 2 > limit {
                words.flush(&mut sorts[WORDS]);
                sorts[WORDS].spill()?;
            } else {
                let largest = sorts.iter_mut().max_by_key(|s| s.held()).expect("tables");
                largest.spill()?;
            }
        }
    }
    words.flush(&mut sorts[WORDS]);
    for s in &mut sorts {
        s.sort();
    }
    Ok(sorts)
}

/// The postings of the word index a folding thread has found, by word: sorted as they come,
/// since a thread's batches come in entity order. They go to the sort as one record per word,
/// its postings end to end, not one per posting.
#[derive(Default)]
struct Words {
    at: HashMap<String, usize>,
    lists: Vec<Vec<u8>>,
    held: usize,
}

impl Words {
    fn add(&mut self, word: &str, posting: &[u8]) {
        let i = match self.at.get(word) {
            Some(i) => *i,
            None => {
                self.at.insert(word.to_owned(), self.lists.len());
                self.lists.push(Vec::new());
                self.held += 2 * word.len() + 96;
                self.lists.len() - 1
            }
        };
        let list = &mut self.lists[i];
        // Two issues may share a posting (an id prefix): it is listed once.
        if list.len() < posting.len() || &list[list.len() - posting.len()..] != posting {
            list.extend_from_slice(posting);
            self.held += posting.len();
        }
    }

    /// Moves every word's postings to `sort`, one record each.
    fn flush(&mut self, sort: &mut Sorter) {
        for (word, i) in self.at.drain() {
            sort.push(word.as_bytes(), &self.lists[i]);
        }
        self.lists.clear();
        self.held = 0;
    }
}

/// Decodes and folds each entity of `batch` into its state, and encodes what each table needs.
/// Whether an event has a child depends on its entity's events only, so each entity's events
/// tell.
fn fold_batch(batch: Vec<Group>, sorts: &mut [Sorter; SORTED], words: &mut Words) -> Result<Output> {
    let mut out = Output {
        direct: Default::default(),
        events: 0,
        closed: 0,
    };
    let mut key = Vec::new();
    let (mut word, mut doc, mut named, mut parents) = (String::new(), Vec::<String>::new(), Vec::new(), Vec::new());
    let (mut row, mut step) = (Vec::new(), Vec::new());
    for Group { entity: id, events } in batch {
        let events: Vec<SignedEvent> = events
            .into_iter()
            .map(|(eid, body)| {
                let event = Event::decode(&body).map_err(|source| Error::Corrupt {
                    reference: "the fold's sorted events".to_owned(),
                    commit: eid.to_hex(),
                    source,
                })?;
                Ok(SignedEvent {
                    id: eid,
                    body: Vec::new(),
                    signature: [0; 64],
                    event,
                })
            })
            .collect::<Result<_>>()?;
        out.events += events.len();
        named.clear();
        named.extend(events.iter().flat_map(|ev| ev.event.parents.iter().copied()));
        named.sort_unstable();
        named.dedup();
        parents.clear();
        parents.extend(named.iter().map(|p| parent_key(&id, p)));
        for key in &parents {
            out.direct[2].push(key, &[]);
        }
        let mut state = IssueState::new(id);
        for ev in &events {
            state.apply(ev, named.binary_search(&ev.id).is_ok());
            sorts[EVENTS].push(&ev.id.0, &id.0);
            // The events come sorted by id: so do their keys.
            history::encode(ev, &mut step);
            out.direct[3].push(&history::key(&id, &ev.id), &step);
        }
        row.clear();
        state.encode(&mut row);
        out.direct[0].push(&id.0, &row);
        if let Some(sec) = tables::Secondary::of(&id, &state, false) {
            out.direct[1].push(&id.0, &sec.facts);
            for (table, names) in [(LABELS, &sec.labels), (ASSIGNED, &sec.assigned)] {
                for name in names {
                    key.clear();
                    write_label_key(name, &id, &mut key);
                    sorts[table].push(&key, &[]);
                }
            }
            if let Some(src) = &sec.source {
                sorts[SOURCES].push(src.as_bytes(), &id.0);
            }
            for e in &sec.edges {
                sorts[EDGES].push(e, &[]);
            }
            let posting = &id.0[..tables::POSTING];
            doc.clear();
            for text in tables::text_parts(&state) {
                crate::text::for_each_word(text, &mut word, |w| {
                    doc.push(w.to_owned());
                    true
                });
            }
            doc.sort_unstable();
            doc.dedup();
            for w in &doc {
                words.add(w, posting);
            }
        }
        row.clear();
        if let Some(key) = write_row(&id, &state, &mut row) {
            out.closed += u64::from(row[0] == state_byte(State::Closed));
            sorts[ROWS].push(&key, &row);
        }
    }
    Ok(out)
}

/// Lets `fill` write after the last key of `db`, through one cursor, in strictly increasing
/// key order (`put` with MDB_APPEND opens a cursor and searches from the root every time).
fn append<D>(
    db: Database<Bytes, D>,
    wtxn: &mut RwTxn,
    fill: impl FnOnce(&mut Appender) -> heed::Result<()>,
) -> heed::Result<()> {
    let cursor = db.remap_data_type::<Bytes>().iter_mut(wtxn)?;
    fill(&mut Appender { cursor })
}

struct Appender<'t> {
    cursor: heed::RwIter<'t, Bytes, Bytes>,
}

/// LMDB's appending writes are `unsafe` in heed: the one other place the index uses it.
#[allow(unsafe_code)]
impl Appender<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> heed::Result<()> {
        // SAFETY: nothing read from the table is held while it is written.
        unsafe {
            self.cursor
                .put_current_with_options::<Bytes>(PutFlags::APPEND, key, value)
        }
    }

    /// Another value, after the last one, for the key `put` wrote last (a table of sorted
    /// duplicates).
    fn put_dup(&mut self, key: &[u8], value: &[u8]) -> heed::Result<()> {
        // SAFETY: as for `put`.
        unsafe {
            self.cursor
                .put_current_with_options::<Bytes>(PutFlags::APPEND_DUP, key, value)
        }
    }
}
