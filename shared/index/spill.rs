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

/// Where a record sits, with the first bytes of its key, which decide most comparisons.
#[derive(Clone, Copy)]
struct Rec {
    prefix: u64,
    block: u32,
    at: u32,
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

fn prefix(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
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
        if self.blocks.last().is_none_or(|b| b.capacity() - b.len() < need) {
            self.blocks.push(Vec::with_capacity(BLOCK.max(need)));
        }
        let block = self.blocks.last_mut().expect("pushed above");
        let at = block.len();
        block.extend_from_slice(&(key.len() as u16).to_le_bytes());
        block.extend_from_slice(&(value.len() as u32).to_le_bytes());
        block.extend_from_slice(key);
        block.extend_from_slice(value);
        self.recs.push(Rec {
            prefix: prefix(key),
            block: (self.blocks.len() - 1) as u32,
            at: at as u32,
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
        record(&self.blocks[r.block as usize], r.at as usize)
    }

    fn sort(&mut self) {
        let (blocks, recs) = (&self.blocks, &mut self.recs);
        recs.sort_unstable_by(|a, b| {
            a.prefix.cmp(&b.prefix).then_with(|| {
                compare(
                    record(&blocks[a.block as usize], a.at as usize),
                    record(&blocks[b.block as usize], b.at as usize),
                )
            })
        });
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
    pub fn into_sorted(mut self, by_key: bool) -> Result<Merged> {
        self.sort();
        let mut merged = Merged::of_runs(std::mem::take(&mut self.runs), by_key, &self.dir)?;
        merged.memory = Some((self, 0));
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
    /// The records still in memory, sorted, and the position of the next.
    memory: Option<(Sorter, usize)>,
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
            memory: None,
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
            // The smallest head: `None` for the records in memory, else a run's position.
            let mut best: Option<(Option<usize>, Record<'_>)> = None;
            if let Some((s, at)) = &self.memory
                && let Some(r) = s.recs.get(*at)
            {
                best = Some((None, s.get(*r)));
            }
            for (i, run) in self.runs.iter().enumerate() {
                if let Some(head) = run.current()
                    && best.is_none_or(|(_, b)| compare(head, b) == Ordering::Less)
                {
                    best = Some((Some(i), head));
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
                None => {
                    if let Some((_, at)) = &mut self.memory {
                        *at += 1;
                    }
                }
                Some(i) => self.runs[i].advance().map_err(Error::io(&self.dir))?,
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
        let mut got = Vec::new();
        while let Some((k, v)) = merged.next().unwrap() {
            got.push((k.to_vec(), v.to_vec()));
        }
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
        let mut got = Vec::new();
        while let Some((k, v)) = merged.next().unwrap() {
            got.push((k.to_vec(), v.to_vec()));
        }
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
