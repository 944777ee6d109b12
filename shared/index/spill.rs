//! An external sort of (key, value) records, as `sort(1)` and git's index-pack do it: records
//! are held in memory up to a limit, then sorted and written to a run in an unnamed temporary
//! file; reading merges the runs and what is still in memory, in order. A bulk fold sorts
//! through it, so that what it holds stays bounded whatever the number of events.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Bytes of records per block: records are packed into blocks so that growing never copies
/// what is held (a vector that doubles would briefly hold twice as much).
const BLOCK: usize = 1 << 20;

/// Runs kept at most before they are merged into one: a merge compares the head of each.
const MAX_RUNS: usize = 16;

/// I/O buffer of a run, each way.
const RUN_BUFFER: usize = 64 << 10;

/// Where a record sits, with what decides most comparisons without reading it: the first
/// 8 bytes of its key and of its value (zero-padded, big-endian), and each one's length up to 9.
/// Two keys of at most 8 bytes with the same padded prefix are equal when their lengths are,
/// and the shorter is the smaller when not; only keys (or values) longer than 8 bytes with the
/// same prefix are compared in full.
#[derive(Clone, Copy)]
struct Rec {
    key: u64,
    value: u64,
    /// The block (32 bits), the position in it (20 bits: a block is 1 MiB, and a larger
    /// record has a block of its own) and the two lengths up to 9 (4 bits each).
    at: u64,
}

impl Rec {
    fn block(&self) -> usize {
        (self.at >> 32) as usize
    }

    fn offset(&self) -> usize {
        ((self.at >> 8) & 0xf_ffff) as usize
    }

    fn lengths(&self) -> (u64, u64) {
        ((self.at >> 4) & 0xf, self.at & 0xf)
    }
}

/// Records in order of (key, value), bytewise, as LMDB orders keys and sorted duplicates.
pub(super) struct Sorter {
    dir: PathBuf,
    blocks: Vec<Vec<u8>>,
    recs: Vec<Rec>,
    runs: Vec<File>,
    /// How many times the records in memory were written out.
    pub spills: usize,
}

fn prefix(bytes: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = bytes.len().min(8);
    p[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(p)
}

/// The order of two records, reading them only when their prefixes cannot tell.
fn order(blocks: &[Vec<u8>], a: &Rec, b: &Rec) -> Ordering {
    let ((ak, av), (bk, bv)) = (a.lengths(), b.lengths());
    let full = |a: &Rec, b: &Rec| {
        (
            record(&blocks[a.block()], a.offset()),
            record(&blocks[b.block()], b.offset()),
        )
    };
    a.key
        .cmp(&b.key)
        .then(ak.cmp(&bk))
        .then_with(|| match ak {
            9 => {
                let (x, y) = full(a, b);
                x.0.cmp(y.0)
            }
            _ => Ordering::Equal,
        })
        .then(a.value.cmp(&b.value))
        .then(av.cmp(&bv))
        .then_with(|| match av {
            9 => {
                let (x, y) = full(a, b);
                x.1.cmp(y.1)
            }
            _ => Ordering::Equal,
        })
}

/// The key and value of the record at `at` in `block`: `[key length u16][value length u32]`,
/// then the bytes.
fn record(block: &[u8], at: usize) -> (&[u8], &[u8]) {
    let k = u16::from_le_bytes([block[at], block[at + 1]]) as usize;
    let v = u32::from_le_bytes(block[at + 2..at + 6].try_into().expect("4 bytes")) as usize;
    let key = at + 6;
    (&block[key..key + k], &block[key + k..key + k + v])
}

/// A record's key and value.
type Record<'a> = (&'a [u8], &'a [u8]);

fn compare(a: Record<'_>, b: Record<'_>) -> Ordering {
    a.0.cmp(b.0).then_with(|| a.1.cmp(b.1))
}

impl Sorter {
    /// A sorter whose runs go to unnamed files in `dir`.
    pub fn new(dir: &Path) -> Sorter {
        Sorter {
            dir: dir.to_path_buf(),
            blocks: Vec::new(),
            recs: Vec::new(),
            runs: Vec::new(),
            spills: 0,
        }
    }

    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(key.len() <= usize::from(u16::MAX));
        let need = 6 + key.len() + value.len();
        // A record starts within the first MiB of its block (`Rec::at` has 20 bits for it).
        if self
            .blocks
            .last()
            .is_none_or(|b| b.len() + need > BLOCK || b.capacity() - b.len() < need)
        {
            self.blocks.push(Vec::with_capacity(BLOCK.max(need)));
        }
        let block = self.blocks.last_mut().expect("pushed above");
        let at = block.len();
        block.extend_from_slice(&(key.len() as u16).to_le_bytes());
        block.extend_from_slice(&(value.len() as u32).to_le_bytes());
        block.extend_from_slice(key);
        block.extend_from_slice(value);
        let cap = |n: usize| n.min(9) as u64;
        self.recs.push(Rec {
            key: prefix(key),
            value: prefix(value),
            at: ((self.blocks.len() - 1) as u64) << 32 | (at as u64) << 8 | cap(key.len()) << 4 | cap(value.len()),
        });
    }

    /// The memory the records in memory take.
    pub fn held(&self) -> usize {
        self.blocks.iter().map(Vec::capacity).sum::<usize>() + self.recs.capacity() * std::mem::size_of::<Rec>()
    }

    /// How many sorted runs the records make: those written out, and those in memory.
    pub fn runs(&self) -> usize {
        self.spills + usize::from(!self.recs.is_empty())
    }

    fn get(&self, r: Rec) -> (&[u8], &[u8]) {
        record(&self.blocks[r.block()], r.offset())
    }

    /// Sorts the records in memory (where they stay).
    pub fn sort(&mut self) {
        let (blocks, recs) = (&self.blocks, &mut self.recs);
        recs.sort_unstable_by(|a, b| order(blocks, a, b));
    }

    /// Sorts the records in memory and writes them to a run, freeing their memory.
    pub fn spill(&mut self) -> Result<()> {
        if self.recs.is_empty() {
            return Ok(());
        }
        self.sort();
        let file = tempfile::tempfile_in(&self.dir).map_err(io_error(&self.dir))?;
        let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
        let io = io_error(&self.dir);
        for r in &self.recs {
            let (k, v) = self.get(*r);
            write_record(&mut out, k, v).map_err(&io)?;
        }
        let file = out.into_inner().map_err(|e| e.into_error()).map_err(&io)?;
        self.runs.push(file);
        self.blocks = Vec::new();
        self.recs = Vec::new();
        self.spills += 1;
        if self.runs.len() > MAX_RUNS {
            // Merged into one, so that reading compares a bounded number of heads.
            let runs = std::mem::take(&mut self.runs);
            let mut merged = Merged::of_runs(runs, false, &self.dir)?;
            let file = tempfile::tempfile_in(&self.dir).map_err(&io)?;
            let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
            while let Some((k, v)) = merged.next()? {
                write_record(&mut out, k, v).map_err(&io)?;
            }
            self.runs
                .push(out.into_inner().map_err(|e| e.into_error()).map_err(&io)?);
        }
        Ok(())
    }

    /// Every record in order. A record equal to the one before it is skipped; with `by_key`,
    /// so is one whose key equals the one before it (the first of a key wins, and sorting puts
    /// the smallest value first).
    #[cfg(test)]
    pub fn into_sorted(self, by_key: bool) -> Result<Merged> {
        let dir = self.dir.clone();
        Sorter::merge(vec![self], by_key, &dir)
    }

    /// `into_sorted`, with the records in memory sorted in `parts` on as many threads.
    pub fn into_sorted_on(self, parts: usize, by_key: bool) -> Result<Merged> {
        let dir = self.dir.clone();
        let mut split = vec![self];
        while split.len() < parts {
            let last = split.pop().expect("one at least");
            let (a, b) = last.split();
            split.extend([a, b]);
        }
        std::thread::scope(|scope| {
            for s in &mut split {
                scope.spawn(move || s.sort());
            }
        });
        Sorter::merge(split, by_key, &dir)
    }

    /// The records in memory in two sorters, at a block boundary (the runs go with the first).
    fn split(mut self) -> (Sorter, Sorter) {
        let at = self.blocks.len() / 2;
        let first = self.recs.partition_point(|r| r.block() < at);
        let mut other = Sorter::new(&self.dir);
        other.blocks = self.blocks.split_off(at);
        other.recs = self.recs.split_off(first);
        for r in &mut other.recs {
            r.at -= (at as u64) << 32;
        }
        (self, other)
    }

    /// `into_sorted` of the records of several sorters together.
    pub fn merge(sorters: Vec<Sorter>, by_key: bool, dir: &Path) -> Result<Merged> {
        let mut runs = Vec::new();
        let mut memory = Vec::new();
        for mut s in sorters {
            runs.append(&mut s.runs);
            // Already sorted (by the thread that filled it) costs one pass.
            s.sort();
            memory.push((s, 0));
        }
        let mut merged = Merged::of_runs(runs, by_key, dir)?;
        merged.memory = memory;
        Ok(merged)
    }
}

/// An I/O error on a run, reported against the directory the runs go to.
fn io_error(dir: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    }
}

fn write_record(out: &mut impl Write, k: &[u8], v: &[u8]) -> std::io::Result<()> {
    out.write_all(&(k.len() as u16).to_le_bytes())?;
    out.write_all(&(v.len() as u32).to_le_bytes())?;
    out.write_all(k)?;
    out.write_all(v)
}

/// A run being read: its current record (key, then value) in `head`.
struct Run {
    input: BufReader<File>,
    head: Vec<u8>,
    key_len: usize,
    done: bool,
}

impl Run {
    fn open(mut file: File, dir: &Path) -> Result<Run> {
        file.rewind().map_err(Error::io(dir))?;
        let mut run = Run {
            input: BufReader::with_capacity(RUN_BUFFER, file),
            head: Vec::new(),
            key_len: 0,
            done: false,
        };
        run.advance().map_err(Error::io(dir))?;
        Ok(run)
    }

    fn advance(&mut self) -> std::io::Result<()> {
        let mut header = [0u8; 6];
        // A run ends where a record would start.
        match self.input.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.done = true;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.key_len = u16::from_le_bytes([header[0], header[1]]) as usize;
        let v = u32::from_le_bytes(header[2..6].try_into().expect("4 bytes")) as usize;
        self.head.resize(self.key_len + v, 0);
        self.input.read_exact(&mut self.head)
    }

    fn current(&self) -> Option<(&[u8], &[u8])> {
        (!self.done).then(|| self.head.split_at(self.key_len))
    }
}

/// The records of a sorter in order, read one at a time.
pub(super) struct Merged {
    runs: Vec<Run>,
    /// The records still in memory, sorted, each sorter's with the position of its next.
    memory: Vec<(Sorter, usize)>,
    by_key: bool,
    last: Vec<u8>,
    last_key: usize,
    started: bool,
    dir: PathBuf,
}

impl Merged {
    fn of_runs(runs: Vec<File>, by_key: bool, dir: &Path) -> Result<Merged> {
        Ok(Merged {
            runs: runs.into_iter().map(|f| Run::open(f, dir)).collect::<Result<_>>()?,
            memory: Vec::new(),
            by_key,
            last: Vec::new(),
            last_key: 0,
            started: false,
            dir: dir.to_path_buf(),
        })
    }

    /// The next record, or `None` at the end.
    pub fn next(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        loop {
            // The smallest head, and where it is: `Ok` for the records in memory of a sorter,
            // `Err` for a run.
            let mut best: Option<(std::result::Result<usize, usize>, Record<'_>)> = None;
            for (m, (s, at)) in self.memory.iter().enumerate() {
                if let Some(r) = s.recs.get(*at) {
                    let head = s.get(*r);
                    if best.is_none_or(|(_, b)| compare(head, b) == Ordering::Less) {
                        best = Some((Ok(m), head));
                    }
                }
            }
            for (i, run) in self.runs.iter().enumerate() {
                if let Some(head) = run.current()
                    && best.is_none_or(|(_, b)| compare(head, b) == Ordering::Less)
                {
                    best = Some((Err(i), head));
                }
            }
            let Some((from, (k, v))) = best else {
                return Ok(None);
            };
            let (last_k, last_v) = self.last.split_at(self.last_key);
            let repeat = self.started && k == last_k && (self.by_key || v == last_v);
            if !repeat {
                self.last.clear();
                self.last.extend_from_slice(k);
                self.last.extend_from_slice(v);
                self.last_key = k.len();
                self.started = true;
            }
            match from {
                Ok(m) => self.memory[m].1 += 1,
                Err(i) => self.runs[i].advance().map_err(Error::io(&self.dir))?,
            }
            if !repeat {
                return Ok(Some(self.last.split_at(self.last_key)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record a merge gives, in order.
    fn drain(merged: &mut Merged) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut got = Vec::new();
        while let Some((k, v)) = merged.next().unwrap() {
            got.push((k.to_vec(), v.to_vec()));
        }
        got
    }

    /// Whatever the spills, the records come out sorted, once each, as a sort in memory gives.
    #[test]
    fn runs_and_memory_merge_into_one_sorted_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        let mut s = Sorter::new(dir.path());
        let mut seed = 7u64;
        for i in 0..5_000u32 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key = format!("k{}", (seed >> 33) % 700).into_bytes();
            let value = ((seed >> 20) % 3).to_be_bytes().to_vec();
            s.push(&key, &value);
            expected.push((key, value));
            if i % 97 == 0 {
                s.spill().unwrap();
            }
        }
        assert!(s.spills > MAX_RUNS, "runs were merged on the way");
        expected.sort();
        expected.dedup();
        let mut merged = s.into_sorted(false).unwrap();
        let got = drain(&mut merged);
        assert_eq!(got, expected);
    }

    /// Split at block boundaries and sorted on several threads, the records come out as one
    /// sort gives, runs included.
    #[test]
    fn records_sorted_in_parts_merge_as_one_sort() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path());
        let mut expected = Vec::new();
        for i in 0..60_000u32 {
            let key = (i.wrapping_mul(2654435761) % 50_000).to_be_bytes().repeat(3);
            let value = vec![(i % 7) as u8; 40];
            s.push(&key, &value);
            expected.push((key, value));
            if i == 10_000 {
                s.spill().unwrap();
            }
        }
        assert!(s.blocks.len() >= 3, "several blocks to split");
        expected.sort();
        expected.dedup();
        let mut merged = s.into_sorted_on(3, false).unwrap();
        let got = drain(&mut merged);
        assert_eq!(got, expected);
    }

    #[test]
    fn by_key_keeps_the_first_record_of_each_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path());
        s.push(b"b", b"2");
        s.push(b"a", b"9");
        s.spill().unwrap();
        s.push(b"a", b"1");
        s.push(b"", b"x");
        let mut merged = s.into_sorted(true).unwrap();
        let got = drain(&mut merged);
        assert_eq!(
            got,
            [
                (b"".to_vec(), b"x".to_vec()),
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
    }
}
