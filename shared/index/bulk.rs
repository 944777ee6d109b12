//! The bulk fold: every event into an empty index (a first fold, a rebuild), on every core,
//! each table written once in key order with MDB_APPEND. Its result is the same as `apply`'s.

use std::sync::mpsc::{Sender, channel};

use super::*;

/// How many encoded states a folding thread hands over at a time.
const BATCH: usize = 256;

impl Index {
    /// `apply` into an empty index, where nothing needs looking up. Each thread takes the
    /// entities of one range of ids and sorts their events and parents for the tables, then
    /// folds and encodes each entity at once and hands the states over in key order. This
    /// thread writes: the parents and events the threads sorted, merged, then the states as
    /// they come, then the rows and labels the threads sorted, merged. Copies of an event
    /// (same bytes, same id) count once.
    pub(super) fn apply_to_empty(&self, wtxn: &mut RwTxn, chunks: Vec<Vec<SignedEvent>>) -> Result<usize> {
        let err = self.err();
        let all: Vec<&SignedEvent> = chunks.iter().flatten().collect();
        let threads = crate::parallel::threads();
        let mut shares: Vec<Vec<u32>> = vec![Vec::with_capacity(all.len() / threads + 1); threads];
        for (i, ev) in all.iter().enumerate() {
            shares[usize::from(ev.entity().0[0]) * threads / 256].push(i as u32);
        }
        let (keys, folded) = std::thread::scope(|scope| -> Result<(Vec<Keys>, Vec<Folded>)> {
            let all = &all;
            let mut workers = Vec::new();
            let (mut keys, mut states) = (Vec::new(), Vec::new());
            for share in shares {
                let (keys_tx, keys_rx) = channel();
                let (states_tx, states_rx) = channel();
                workers.push(scope.spawn(move || fold_share(share, all, &keys_tx, &states_tx)));
                keys.push(keys_rx);
                states.push(states_rx);
            }
            let keys: Vec<Keys> = keys
                .iter()
                .map(|rx| rx.recv().expect("folding does not panic"))
                .collect();
            append(self.parented, wtxn, |t| {
                let mut last = None;
                for (_, pair) in merge(keys.iter().map(|k| &k.parents[..]).collect(), |_, pair| pair) {
                    if last.replace(pair) != Some(pair) {
                        t.put(&parent_key(&pair.0, &pair.1), &[])?;
                    }
                }
                Ok(())
            })
            .map_err(&err)?;
            append(self.events, wtxn, |t| {
                let events = merge(keys.iter().map(|k| &k.events[..]).collect(), |_, (id, _)| id);
                events
                    .into_iter()
                    .try_for_each(|(_, (id, entity))| t.put(&id.0, &entity.0))
            })
            .map_err(&err)?;
            append(self.issues, wtxn, |t| {
                for part in states.iter().flatten() {
                    for (i, id) in part.ids.iter().enumerate() {
                        t.put(&id.0, part.states.get(i))?;
                    }
                }
                Ok(())
            })
            .map_err(&err)?;
            let folded = workers.into_iter().map(|w| w.join().expect("folding does not panic"));
            Ok((keys, folded.collect()))
        })?;
        drop(all);
        let mut folded = folded;
        let terms = global_terms(&mut folded);
        let mut closed = 0;
        std::thread::scope(|scope| -> Result<()> {
            // Freeing the events takes a while: do it alongside the last two tables.
            scope.spawn(move || drop(chunks));
            append(self.rows, wtxn, |t| {
                let rows = merge(folded.iter().map(|f| &f.rows[..]).collect(), |_, (key, _)| key);
                rows.into_iter().try_for_each(|(f, (key, i))| {
                    let row = folded[f].row_bytes.get(*i as usize);
                    closed += u64::from(row[0] == state_byte(State::Closed));
                    t.put(key, row)
                })
            })
            .map_err(&err)?;
            for (db, keys, arena) in [
                (
                    self.labels,
                    Folded::labels as fn(&Folded) -> &[u32],
                    Folded::label_keys as fn(&Folded) -> &Arena,
                ),
                (
                    self.assigned,
                    |f: &Folded| &f.assigned[..],
                    |f: &Folded| &f.assigned_keys,
                ),
            ] {
                append(db, wtxn, |t| {
                    let merged = merge(folded.iter().map(keys).collect(), |f, i| {
                        arena(&folded[f]).get(*i as usize)
                    });
                    merged
                        .into_iter()
                        .try_for_each(|(f, i)| t.put(arena(&folded[f]).get(*i as usize), &[]))
                })
                .map_err(&err)?;
            }
            append(self.facts, wtxn, |t| {
                folded
                    .iter()
                    .flat_map(|f| &f.facts)
                    .try_for_each(|(id, facts)| t.put(&id.0, facts))
            })
            .map_err(&err)?;
            append(self.sources, wtxn, |t| {
                let mut last: Option<&str> = None;
                for (_, (src, id)) in merge(folded.iter().map(|f| &f.sources[..]).collect(), |_, (s, id)| {
                    (s.as_str(), id)
                }) {
                    // Two issues claiming one source (two imports raced): both kept, in order.
                    if last.replace(src) == Some(src) {
                        t.put_dup(src.as_bytes(), &id.0)?;
                    } else {
                        t.put(src.as_bytes(), &id.0)?;
                    }
                }
                Ok(())
            })
            .map_err(&err)?;
            append(self.edges, wtxn, |t| {
                let mut last = None;
                for (_, k) in merge(folded.iter().map(|f| &f.edges[..]).collect(), |_, k| k) {
                    if last.replace(k) != Some(k) {
                        t.put(k, &[])?;
                    }
                }
                Ok(())
            })
            .map_err(&err)?;
            append(self.words, wtxn, |t| {
                let merged = merge(folded.iter().map(|f| &f.postings[..]).collect(), |_, item| item);
                let mut last: Option<&(u32, [u8; tables::POSTING])> = None;
                for (_, item) in merged {
                    let word = terms[item.0 as usize].as_bytes();
                    match last {
                        Some(l) if l == item => continue,
                        Some(l) if l.0 == item.0 => t.put_dup(word, &item.1)?,
                        _ => t.put(word, &item.1)?,
                    }
                    last = Some(item);
                }
                Ok(())
            })
            .map_err(&err)?;
            Ok(())
        })?;
        self.meta.put(wtxn, CLOSED, &closed.to_be_bytes()).map_err(&err)?;
        let lamport = keys.iter().map(|k| k.lamport).max().unwrap_or(0);
        let old = meta_u64(self.meta.get(wtxn, "lamport").map_err(&err)?);
        self.meta
            .put(wtxn, "lamport", &lamport.max(old).to_be_bytes())
            .map_err(&err)?;
        Ok(keys.iter().map(|k| k.events.len()).sum())
    }
}

/// The items of sorted runs in order of `key`, each with the position of its run (ties go to
/// the earlier run).
fn merge<'a, T, K: Ord>(runs: Vec<&'a [T]>, key: impl Fn(usize, &'a T) -> K) -> impl Iterator<Item = (usize, &'a T)> {
    let mut at = vec![0; runs.len()];
    std::iter::from_fn(move || {
        let (r, item) = (0..runs.len())
            .filter_map(|r| runs[r].get(at[r]).map(|item| (r, item)))
            .min_by(|(r, a), (s, b)| key(*r, a).cmp(&key(*s, b)))?;
        at[r] += 1;
        Some((r, item))
    })
}

/// Every thread's words in one sorted list, and each thread's postings renumbered to point
/// into it (the order they sort in stays the same), so merging compares numbers, not words.
fn global_terms(folded: &mut [Folded]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut maps: Vec<Vec<u32>> = folded.iter().map(|f| Vec::with_capacity(f.terms.len())).collect();
    for (f, t) in merge(folded.iter().map(|f| &f.terms[..]).collect(), |_, t| t.as_str()) {
        if terms.last() != Some(t) {
            terms.push(t.clone());
        }
        maps[f].push(terms.len() as u32 - 1);
    }
    for (f, map) in folded.iter_mut().zip(maps) {
        for p in &mut f.postings {
            p.0 = map[p.0 as usize];
        }
        f.terms = Vec::new();
    }
    terms
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

/// What a folding thread hands over before it folds: the keys of the parent and event tables
/// for its share, each sorted, and the largest Lamport clock.
struct Keys {
    /// (entity, a parent an event of it names)
    parents: Vec<(Id, Id)>,
    events: Vec<(Id, Id)>,
    lamport: u64,
}

/// What a folding thread leaves for the tables written last, each sorted: rows, label and
/// assignee keys, facts, links and words (each word once, in `terms`, and its postings).
struct Folded {
    rows: Vec<([u8; 40], u32)>,
    row_bytes: Arena,
    labels: Vec<u32>,
    label_keys: Arena,
    assigned: Vec<u32>,
    assigned_keys: Arena,
    facts: Vec<(Id, Vec<u8>)>,
    sources: Vec<(String, Id)>,
    edges: Vec<[u8; tables::EDGE_LEN]>,
    terms: Vec<String>,
    postings: Vec<(u32, [u8; tables::POSTING])>,
}

impl Folded {
    fn labels(&self) -> &[u32] {
        &self.labels
    }

    fn label_keys(&self) -> &Arena {
        &self.label_keys
    }
}

/// Folds the entities of `share` (positions in `all`) into their states and encodes them,
/// sending the sorted keys first, then the states in entity order a batch at a time. Whether
/// an event has a child depends on its entity's events only, so each entity's events tell.
fn fold_share(share: Vec<u32>, all: &[&SignedEvent], keys: &Sender<Keys>, out: &Sender<States>) -> Folded {
    let mut parents: Vec<(Id, Id)> = share
        .iter()
        .flat_map(|i| {
            let ev = all[*i as usize];
            ev.event.parents.iter().map(move |p| (ev.entity(), *p))
        })
        .collect();
    let lamport = share.iter().map(|i| all[*i as usize].event.lamport).max().unwrap_or(0);
    let mut sorted: Vec<(Id, Id, u32)> = share
        .into_iter()
        .map(|i| (all[i as usize].entity(), all[i as usize].id, i))
        .collect();
    sorted.sort_unstable();
    sorted.dedup_by(|a, b| a.1 == b.1);
    let mut events: Vec<(Id, Id)> = sorted.iter().map(|(entity, id, _)| (*id, *entity)).collect();
    events.sort_unstable();
    parents.sort_unstable();
    parents.dedup();
    let _ = keys.send(Keys {
        parents,
        events,
        lamport,
    });
    let mut folded = Folded {
        rows: Vec::new(),
        row_bytes: Arena::default(),
        labels: Vec::new(),
        label_keys: Arena::default(),
        assigned: Vec::new(),
        assigned_keys: Arena::default(),
        facts: Vec::new(),
        sources: Vec::new(),
        edges: Vec::new(),
        terms: Vec::new(),
        postings: Vec::new(),
    };
    let mut term_at: HashMap<String, u32> = HashMap::new();
    let (mut word, mut doc_terms) = (String::new(), Vec::<u32>::new());
    let batch = || States {
        ids: Vec::with_capacity(BATCH),
        states: Arena::default(),
    };
    let (mut part, mut named) = (batch(), Vec::new());
    for group in sorted.chunk_by(|a, b| a.0 == b.0) {
        let id = group[0].0;
        named.clear();
        named.extend(group.iter().flat_map(|(_, _, i)| all[*i as usize].event.parents.iter()));
        named.sort_unstable();
        let mut state = IssueState::new(id);
        for (_, ev, i) in group {
            state.apply(all[*i as usize], named.binary_search(&ev).is_ok());
        }
        part.ids.push(id);
        part.states.push(|out| state.encode(out));
        if let Some(sec) = tables::Secondary::of(&id, &state, false) {
            for l in &sec.labels {
                let key = folded.label_keys.push(|out| write_label_key(l, &id, out));
                folded.labels.push(key);
            }
            for a in &sec.assigned {
                let key = folded.assigned_keys.push(|out| write_label_key(a, &id, out));
                folded.assigned.push(key);
            }
            folded.facts.push((id, sec.facts));
            if let Some(src) = sec.source {
                folded.sources.push((src, id));
            }
            folded.edges.extend(sec.edges);
            let posting: [u8; tables::POSTING] = id.0[..tables::POSTING].try_into().expect("a prefix of an id");
            // Each word interned without an allocation unless it is new to this thread.
            doc_terms.clear();
            for text in tables::text_parts(&state) {
                crate::text::for_each_word(text, &mut word, |w| {
                    let at = match term_at.get(w) {
                        Some(at) => *at,
                        None => {
                            let at = folded.terms.len() as u32;
                            folded.terms.push(w.to_owned());
                            term_at.insert(w.to_owned(), at);
                            at
                        }
                    };
                    doc_terms.push(at);
                    true
                });
            }
            doc_terms.sort_unstable();
            doc_terms.dedup();
            folded.postings.extend(doc_terms.iter().map(|t| (*t, posting)));
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
    for (order, arena) in [
        (&mut folded.labels, &folded.label_keys),
        (&mut folded.assigned, &folded.assigned_keys),
    ] {
        order.sort_unstable_by(|a, b| arena.get(*a as usize).cmp(arena.get(*b as usize)));
    }
    folded.edges.sort_unstable();
    folded.sources.sort_unstable();
    // Words in byte order, then each word's postings in order.
    let mut by_name: Vec<u32> = (0..folded.terms.len() as u32).collect();
    by_name.sort_unstable_by(|a, b| folded.terms[*a as usize].cmp(&folded.terms[*b as usize]));
    let mut rank = vec![0u32; by_name.len()];
    for (r, t) in by_name.iter().enumerate() {
        rank[*t as usize] = r as u32;
    }
    folded.terms = by_name
        .iter()
        .map(|t| std::mem::take(&mut folded.terms[*t as usize]))
        .collect();
    for p in &mut folded.postings {
        p.0 = rank[p.0 as usize];
    }
    folded.postings.sort_unstable();
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
