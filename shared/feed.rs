//! The feed: an append-only log, local to this clone, of what reached it in the order it
//! arrived (WAL commits as the index folds them, lock changes, sandbox lifecycle), read from a
//! cursor by `git wal watch`, the daemon's subscriptions and webhooks.
//!
//! It lives in `<grit-dir>/feed/`, beside the index and not in it: the index is a cache that a
//! schema change wipes, and every consumer's place must survive that. The log is a series of
//! segment files named by the global byte offset they start at (`00000000000000000000.log`),
//! so an offset stays valid when old segments are dropped. Each line is one record:
//!
//! - `w <commit> <ref>`: a WAL commit the index folded in (its events are read from git);
//! - `l <json>`: a lock change this clone made;
//! - `s <json>`: a sandbox lifecycle step.
//!
//! Appends take an exclusive lock on `feed/lock` and write each batch with one `write`, so
//! readers never see a line half written except at the end, which they leave for later. A
//! cursor is `<epoch>:<offset>:<n>`: the record at byte `offset`, of which `n` items were
//! delivered; the epoch names this feed, so a cursor from a deleted one is recognised.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::error::{Error, Result};
use crate::repo::Repo;

/// A segment is closed once it holds this many bytes (`grit.feed.segmentBytes`).
const SEGMENT_BYTES: u64 = 32 << 20;
/// Segments kept (`grit.feed.segments`); older ones are deleted as new ones open.
const SEGMENTS: usize = 8;

/// One record of the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A WAL commit landed on a ref.
    Wal {
        /// The commit.
        commit: ObjectId,
        /// The ref.
        reference: String,
    },
    /// A lock changed: `{"change": …, "lock": …}`, the lock as `git lock status --json` prints one.
    Lock(serde_json::Value),
    /// A sandbox changed: what happened to it.
    Sandbox(serde_json::Value),
}

impl Entry {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Entry::Wal { commit, reference } => {
                let _ = writeln!(out, "w {commit} {reference}");
            }
            Entry::Lock(v) => {
                let _ = writeln!(out, "l {v}");
            }
            Entry::Sandbox(v) => {
                let _ = writeln!(out, "s {v}");
            }
        }
    }

    fn parse(line: &str) -> Option<Entry> {
        let (tag, rest) = line.split_once(' ')?;
        Some(match tag {
            "w" => {
                let (commit, reference) = rest.split_once(' ')?;
                Entry::Wal {
                    commit: ObjectId::from_hex(commit.as_bytes()).ok()?,
                    reference: reference.to_owned(),
                }
            }
            "l" => Entry::Lock(serde_json::from_str(rest).ok()?),
            "s" => Entry::Sandbox(serde_json::from_str(rest).ok()?),
            _ => return None,
        })
    }
}

/// A place in the feed: the record at `offset`, of which `n` items were delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Names this feed: a cursor of a deleted feed is recognised.
    pub epoch: String,
    /// Where the record starts, in bytes.
    pub offset: u64,
    /// How many of its items were delivered.
    pub n: u32,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.epoch, self.offset, self.n)
    }
}

impl Cursor {
    /// Reads a cursor as `epoch:offset:n`.
    pub fn parse(s: &str) -> Result<Cursor> {
        let bad = || {
            Error::invalid(
                format!("'{s}' is not a feed cursor"),
                "pass a cursor exactly as `git wal watch --json` printed it (epoch:offset:n), or `now` or `start`",
            )
        };
        let mut parts = s.split(':');
        let (Some(epoch), Some(offset), Some(n), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Cursor {
            epoch: epoch.to_owned(),
            offset: offset.parse().map_err(|_| bad())?,
            n: n.parse().map_err(|_| bad())?,
        })
    }
}

/// A record read back, with where it is.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where it starts, in bytes.
    pub offset: u64,
    /// Where the next record starts.
    pub next: u64,
    /// What it records.
    pub entry: Entry,
}

/// The feed of one repository.
pub struct Feed {
    dir: PathBuf,
    segment_bytes: u64,
    segments: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

impl Feed {
    /// The feed of `repo`, with `grit.feed.segmentBytes` and `grit.feed.segments` applied.
    pub fn of(repo: &Repo) -> Feed {
        let num = |key: &str| repo.config_string(key).and_then(|v| v.trim().parse::<u64>().ok());
        Feed {
            dir: Self::dir(&repo.grit_dir),
            segment_bytes: num("grit.feed.segmentBytes")
                .filter(|n| *n > 0)
                .unwrap_or(SEGMENT_BYTES),
            segments: num("grit.feed.segments")
                .filter(|n| *n > 0)
                .map_or(SEGMENTS, |n| n as usize),
        }
    }

    /// Where the feed of the repository whose grit directory is `grit_dir` lives.
    pub fn dir(grit_dir: &Path) -> PathBuf {
        grit_dir.join("feed")
    }

    /// The segments, by starting offset, oldest first.
    fn list(&self) -> Vec<(u64, PathBuf)> {
        let mut out: Vec<(u64, PathBuf)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let start = name.to_str()?.strip_suffix(".log")?.parse().ok()?;
                Some((start, e.path()))
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// This feed's epoch, made on first use.
    pub fn epoch(&self) -> Result<String> {
        let path = self.dir.join("epoch");
        if let Ok(e) = fs::read_to_string(&path) {
            let e = e.trim();
            if !e.is_empty() {
                return Ok(e.to_owned());
            }
        }
        self.make_dir()?;
        let _lock = self.lock()?;
        if let Ok(e) = fs::read_to_string(&path)
            && !e.trim().is_empty()
        {
            return Ok(e.trim().to_owned());
        }
        let mut b = [0u8; 8];
        getrandom::getrandom(&mut b).expect("the OS has randomness");
        let epoch = crate::hex::encode(&b);
        let tmp = self.dir.join(format!(".epoch.{}", std::process::id()));
        fs::write(&tmp, format!("{epoch}\n")).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(epoch)
    }

    /// Makes the feed's directory. Something else in its place (a plain file, from a careless
    /// hand or a broken tool) is moved away with a warning, as a damaged index is: the feed is
    /// local state that a watcher resumes from, not the log.
    fn make_dir(&self) -> Result<()> {
        if self.dir.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
            crate::warnings::warn(format!(
                "{} is not a directory; it is moved aside and the feed starts again",
                self.dir.display()
            ));
            let aside = self.dir.with_extension(format!("damaged-{}", std::process::id()));
            fs::rename(&self.dir, &aside).map_err(io(&self.dir))?;
            let _ = fs::remove_file(&aside);
        }
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))
    }

    fn lock(&self) -> Result<fs::File> {
        self.make_dir()?;
        crate::sys::lock_file(&self.dir.join("lock"))
    }

    /// Appends records, in order, as one write.
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(entries.len() * 96);
        for e in entries {
            e.write(&mut buf);
        }
        if !self.dir.join("epoch").exists() {
            self.epoch()?;
        }
        let _lock = self.lock()?;
        let segments = self.list();
        let (start, path) = match segments.last() {
            Some((start, path)) => {
                let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                if len >= self.segment_bytes {
                    (start + len, self.segment_path(start + len))
                } else {
                    (*start, path.clone())
                }
            }
            None => (0, self.segment_path(0)),
        };
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(&buf).map_err(io(&path))?;
        // Drop what is past the retention, oldest first (never the one just written).
        let mut kept: Vec<&(u64, PathBuf)> = segments.iter().filter(|(s, _)| *s != start).collect();
        while kept.len() + 1 > self.segments {
            let (_, old) = kept.remove(0);
            let _ = fs::remove_file(old);
        }
        Ok(())
    }

    fn segment_path(&self, start: u64) -> PathBuf {
        self.dir.join(format!("{start:020}.log"))
    }

    /// Whether nothing was ever recorded (or everything recorded was dropped).
    pub fn is_empty(&self) -> bool {
        self.list()
            .iter()
            .all(|(_, p)| fs::metadata(p).map_or(true, |m| m.len() == 0))
    }

    /// Where the feed ends now: a cursor that delivers only what comes after.
    pub fn end(&self) -> Result<Cursor> {
        let epoch = self.epoch()?;
        let offset = match self.list().last() {
            Some((start, path)) => start + fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            None => 0,
        };
        Ok(Cursor { epoch, offset, n: 0 })
    }

    /// Where the oldest record kept starts.
    pub fn start(&self) -> Result<Cursor> {
        Ok(Cursor {
            epoch: self.epoch()?,
            offset: self.list().first().map_or(0, |(s, _)| *s),
            n: 0,
        })
    }

    /// Checks a consumer's cursor against this feed: a cursor from another epoch, or one
    /// pointing before what is kept, resumes from the oldest record kept (at least once, never
    /// a gap that can be avoided), with the reason; a cursor past the end waits at the end.
    pub fn resume(&self, c: &Cursor) -> Result<(Cursor, Option<String>)> {
        let start = self.start()?;
        if c.epoch != start.epoch {
            return Ok((
                start.clone(),
                Some(format!(
                    "cursor {c} is from another feed (this one is {}): replaying every record kept",
                    start.epoch
                )),
            ));
        }
        if c.offset < start.offset {
            return Ok((
                start.clone(),
                Some(format!(
                    "records before offset {} were dropped (grit.feed.segments): resuming at the oldest kept",
                    start.offset
                )),
            ));
        }
        let end = self.end()?;
        if c.offset > end.offset {
            return Ok((
                end,
                Some(format!("cursor {c} is past the end of the feed: resuming at its end")),
            ));
        }
        Ok((c.clone(), None))
    }

    /// Reads whole records from byte `from` on, at most about `max_bytes` of them.
    pub fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<Record>> {
        let segments = self.list();
        let mut out = Vec::new();
        let Some(i) = segments.iter().rposition(|(s, _)| *s <= from) else {
            return Ok(out);
        };
        let mut pos = from;
        let mut budget = max_bytes.max(1) as u64;
        for (start, path) in &segments[i..] {
            if pos < *start {
                pos = *start;
            }
            let mut f = match fs::File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::Io {
                        path: path.clone(),
                        source: e,
                    });
                }
            };
            f.seek(SeekFrom::Start(pos - start)).map_err(io(path))?;
            let mut buf = Vec::new();
            (&mut f).take(budget).read_to_end(&mut buf).map_err(io(path))?;
            let mut at = 0;
            while let Some(nl) = buf[at..].iter().position(|b| *b == b'\n') {
                let line = &buf[at..at + nl];
                let offset = pos + at as u64;
                at += nl + 1;
                // A line this version does not know is skipped, not fatal.
                if let Some(entry) = std::str::from_utf8(line).ok().and_then(Entry::parse) {
                    out.push(Record {
                        offset,
                        next: pos + at as u64,
                        entry,
                    });
                }
            }
            pos += at as u64;
            budget -= buf.len() as u64;
            if at < buf.len() || budget == 0 {
                // A partial line (being written, or cut by the budget): the rest waits.
                break;
            }
        }
        Ok(out)
    }
}

/// Appends to a repository's feed, reporting (never failing on) an error: the feed serves
/// watchers, and a write that landed must not be reported as failed because of it.
pub fn note(repo: &Repo, entries: &[Entry]) {
    if let Err(e) = Feed::of(repo).append(entries) {
        crate::warnings::warn(format!("could not add to the feed: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(dir: &Path, segment_bytes: u64, segments: usize) -> Feed {
        Feed {
            dir: dir.join("feed"),
            segment_bytes,
            segments,
        }
    }

    fn lock(n: u64) -> Entry {
        Entry::Lock(serde_json::json!({ "n": n }))
    }

    #[test]
    fn records_read_back_in_order_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let f = feed(dir.path(), 64, 100);
        for n in 0..20 {
            f.append(&[lock(n)]).unwrap();
        }
        let all = f.read(0, 1 << 20).unwrap();
        assert_eq!(all.len(), 20);
        for (n, r) in all.iter().enumerate() {
            assert_eq!(r.entry, lock(n as u64));
        }
        assert!(f.list().len() >= 3, "rotated into segments");
        // From the middle: exactly the rest.
        let rest = f.read(all[7].offset, 1 << 20).unwrap();
        assert_eq!(rest.len(), 13);
        assert_eq!(rest[0].entry, lock(7));
        assert_eq!(f.end().unwrap().offset, all[19].next);
    }

    #[test]
    fn a_partial_line_waits_and_a_dropped_segment_resumes_at_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let f = feed(dir.path(), 40, 2);
        for n in 0..10 {
            f.append(&[lock(n)]).unwrap();
        }
        let start = f.start().unwrap();
        assert!(start.offset > 0, "old segments were dropped");
        let (c, why) = f
            .resume(&Cursor {
                epoch: start.epoch.clone(),
                offset: 0,
                n: 0,
            })
            .unwrap();
        assert_eq!(c.offset, start.offset);
        assert!(why.unwrap().contains("dropped"));
        let (c, why) = f
            .resume(&Cursor {
                epoch: "00".into(),
                offset: 5,
                n: 0,
            })
            .unwrap();
        assert_eq!(c.offset, start.offset);
        assert!(why.unwrap().contains("another feed"));
        let end = f.end().unwrap();
        let (_, last) = f.list().pop().unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(last)
            .unwrap()
            .write_all(b"l {\"half")
            .unwrap();
        assert!(f.read(end.offset, 1 << 20).unwrap().is_empty());
    }

    #[test]
    fn a_cursor_past_the_end_resumes_at_the_end_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let f = feed(dir.path(), 64, 100);
        for n in 0..3 {
            f.append(&[lock(n)]).unwrap();
        }
        let end = f.end().unwrap();
        let (c, why) = f
            .resume(&Cursor {
                epoch: end.epoch.clone(),
                offset: end.offset + 1_000_000,
                n: 99,
            })
            .unwrap();
        assert_eq!(c.offset, end.offset, "not past the end");
        assert!(why.unwrap().contains("past the end of the feed"));
        // The next record is read from there: nothing is skipped.
        f.append(&[lock(3)]).unwrap();
        let next = f.read(c.offset, 1 << 20).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].entry, lock(3));
        // A cursor at the end is taken as it is.
        let (same, why) = f.resume(&end).unwrap();
        assert_eq!((same.offset, why), (end.offset, None));
    }

    #[test]
    fn cursors_print_and_parse() {
        let c = Cursor {
            epoch: "0a1b".into(),
            offset: 42,
            n: 3,
        };
        assert_eq!(Cursor::parse(&c.to_string()).unwrap(), c);
        for bad in ["", "x:1:2", "0a:1", "0a:1:2:3", "0a:-1:0"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
