//! The bulk fold: every event into an empty index (a first fold, a rebuild), on every core,
//! each table written once in key order with MDB_APPEND. Its result is the same as `apply`'s.

use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

use super::*;

/// How many encoded states a folding thread hands over at a time.
const BATCH: usize = 256;

impl Index {
    /// Nothing is looked up, since every key is new. Each thread takes the entities of one range
    /// of ids, folds and encodes each entity at once and hands the states over in key order;
    /// this thread meanwhile writes the parent and event tables, then the states as they come,
    /// then the rows and labels each thread sorted. Copies of an event (same bytes, same id)
    /// count once.
    pub(super) fn apply_to_empty(&self, wtxn: &mut RwTxn, chunks: Vec<Vec<SignedEvent>>) -> Result<usize> {
        let err = self.err();
        let all: Vec<&SignedEvent> = chunks.iter().flatten().collect();
        let threads = crate::parallel::threads();
        let mut shares: Vec<Vec<u32>> = vec![Vec::with_capacity(all.len() / threads + 1); threads];
        for (i, ev) in all.iter().enumerate() {
            shares[usize::from(ev.entity().0[0]) * threads / 256].push(i as u32);
        }
        let parented = OnceLock::new();
        let (applied, lamport, folded) = std::thread::scope(|scope| -> Result<(usize, u64, Vec<Folded>)> {
            let (all, parented) = (&all, &parented);
            let (workers, receivers): (Vec<_>, Vec<_>) = shares
                .into_iter()
                .map(|share| {
                    let (tx, rx) = channel();
                    (scope.spawn(move || fold_share(share, all, parented, &tx)), rx)
                })
                .unzip();
            // The folding threads wait for the parent set: make it first, before anything can
            // fail, then sort it for the table while they sort their shares.
            let set: &IdSet =
                parented.get_or_init(|| all.iter().flat_map(|e| e.event.parents.iter().copied()).collect());
            let mut ids: Vec<&Id> = set.iter().collect();
            ids.sort_unstable();
            append(self.parented, wtxn, |t| ids.iter().try_for_each(|id| t.put(&id.0, &[]))).map_err(&err)?;
            let mut events: Vec<(Id, Id)> = all.iter().map(|e| (e.id, e.entity())).collect();
            events.sort_unstable_by_key(|(id, _)| *id);
            events.dedup_by_key(|(id, _)| *id);
            append(self.events, wtxn, |t| {
                events.iter().try_for_each(|(id, entity)| t.put(&id.0, &entity.0))
            })
            .map_err(&err)?;
            append(self.issues, wtxn, |t| {
                for part in receivers.iter().flatten() {
                    for (i, id) in part.ids.iter().enumerate() {
                        t.put(&id.0, part.states.get(i))?;
                    }
                }
                Ok(())
            })
            .map_err(&err)?;
            let folded = workers.into_iter().map(|w| w.join().expect("folding does not panic"));
            Ok((
                events.len(),
                all.iter().map(|e| e.event.lamport).max().unwrap_or(0),
                folded.collect(),
            ))
        })?;
        drop(all);
        std::thread::scope(|scope| -> Result<()> {
            // Freeing the events takes a while: do it alongside the last two tables.
            scope.spawn(move || drop(chunks));
            // Each thread's share is sorted already: a stable sort merges the runs.
            let mut rows: Vec<(&[u8; 40], &[u8])> = folded
                .iter()
                .flat_map(|f| f.rows.iter().map(|(key, i)| (key, f.row_bytes.get(*i as usize))))
                .collect();
            rows.sort_by_key(|(key, _)| *key);
            append(self.rows, wtxn, |t| {
                rows.iter().try_for_each(|(key, row)| t.put(*key, row))
            })
            .map_err(&err)?;
            let mut labels: Vec<&[u8]> = folded
                .iter()
                .flat_map(|f| f.labels.iter().map(|i| f.label_keys.get(*i as usize)))
                .collect();
            labels.sort();
            append(self.labels, wtxn, |t| labels.iter().try_for_each(|key| t.put(key, &[]))).map_err(&err)?;
            Ok(())
        })?;
        let old = meta_u64(self.meta.get(wtxn, "lamport").map_err(&err)?);
        self.meta
            .put(wtxn, "lamport", &lamport.max(old).to_be_bytes())
            .map_err(&err)?;
        Ok(applied)
    }
}

/// Byte strings end to end in one buffer, each found by its position: one allocation for
/// thousands of small ones.
#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Arena {
    /// Adds the bytes `write` appends; returns their position.
    fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> u32 {
        write(&mut self.bytes);
        self.ends.push(self.bytes.len());
        (self.ends.len() - 1) as u32
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        &self.bytes[start..self.ends[i]]
    }
}

/// Encoded states of consecutive entities, as one thread hands them over.
struct States {
    ids: Vec<Id>,
    states: Arena,
}

/// What a folding thread leaves for the last two tables: rows and label keys, each sorted.
struct Folded {
    rows: Vec<([u8; 40], u32)>,
    row_bytes: Arena,
    labels: Vec<u32>,
    label_keys: Arena,
}

/// Folds the entities of `share` (positions in `all`) into their states and encodes them,
/// sending the states in entity order a batch at a time. Whether an event has a child is
/// looked up in `parented` once this thread has sorted its share and the other has set it.
fn fold_share(share: Vec<u32>, all: &[&SignedEvent], parented: &OnceLock<IdSet>, out: &Sender<States>) -> Folded {
    let mut sorted: Vec<(Id, Id, u32)> = share
        .into_iter()
        .map(|i| (all[i as usize].entity(), all[i as usize].id, i))
        .collect();
    sorted.sort_unstable();
    sorted.dedup_by(|a, b| a.1 == b.1);
    let parented = parented.wait();
    let mut folded = Folded {
        rows: Vec::new(),
        row_bytes: Arena::default(),
        labels: Vec::new(),
        label_keys: Arena::default(),
    };
    let batch = || States {
        ids: Vec::with_capacity(BATCH),
        states: Arena::default(),
    };
    let mut part = batch();
    for group in sorted.chunk_by(|a, b| a.0 == b.0) {
        let id = group[0].0;
        let mut state = IssueState::new(id);
        for (_, ev, i) in group {
            state.apply(all[*i as usize], parented.contains(ev));
        }
        part.ids.push(id);
        part.states.push(|out| state.encode(out));
        if state.created.is_some() {
            for l in state.labels() {
                let key = folded.label_keys.push(|out| write_label_key(&l, &id, out));
                folded.labels.push(key);
            }
        }
        let mut key = None;
        let row = folded.row_bytes.push(|out| key = write_row(&id, &state, out));
        if let Some(key) = key {
            folded.rows.push((key, row));
        }
        if part.ids.len() == BATCH && out.send(std::mem::replace(&mut part, batch())).is_err() {
            break;
        }
    }
    let _ = out.send(part);
    folded.rows.sort_unstable_by_key(|(key, _)| *key);
    let keys = &folded.label_keys;
    folded
        .labels
        .sort_unstable_by(|a, b| keys.get(*a as usize).cmp(keys.get(*b as usize)));
    folded
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

impl Appender<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> heed::Result<()> {
        // SAFETY: nothing read from the table is held while it is written.
        unsafe {
            self.cursor
                .put_current_with_options::<Bytes>(PutFlags::APPEND, key, value)
        }
    }
}
