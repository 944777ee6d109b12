//! Loose objects and refs as git writes them: an object in a zlib stream of stored blocks (as with
//! `core.looseCompression=0`), a ref through its `.lock` file; each in a file renamed into place.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use gix::ObjectId;
use gix::objs::{Kind, WriteTo};

use crate::error::{Error, Result};
use crate::repo::Repo;
use crate::wal::Swap;

/// How long an update waits for another process's `<ref>.lock` to go away. git waits 100 ms
/// (`core.filesRefLockTimeout`); writers hold the lock for microseconds, but a loaded machine
/// can deschedule one while it does.
const REF_LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// Writes `object` unless the repository has it already; returns its id.
pub fn write(repo: &Repo, object: &impl WriteTo) -> Result<ObjectId> {
    let mut data = Vec::with_capacity(object.size() as usize);
    object.write_to(&mut data).expect("writing to a Vec cannot fail");
    write_buf(repo, object.kind(), &data)
}

/// Writes an object of `kind` with `data` unless the repository has it already; returns its id.
///
/// Not through gix: it compresses each object with a fresh deflate state (256 KiB, zeroed), and
/// three per WAL append cost about 0.4 ms of every `git issue create`. These objects are small
/// and mostly signatures and hashes, so deflate saved little; `git gc` compresses them when it
/// packs them.
pub fn write_buf(repo: &Repo, kind: Kind, data: &[u8]) -> Result<ObjectId> {
    let id = gix::objs::compute_hash(repo.git.object_hash(), kind, data)?;
    if repo.git.objects.exists_without_refresh(&id) {
        return Ok(id);
    }
    let mut raw = gix::objs::encode::loose_header(kind, data.len() as u64).to_vec();
    raw.extend_from_slice(data);
    let objects = repo.git.objects.store_ref().path();
    // Named as git names its own, so that `git prune` clears what a crash leaves behind.
    let mut file = tempfile::Builder::new()
        .prefix("tmp_obj_")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
        .tempfile_in(objects)
        .map_err(Error::io(objects))?;
    file.write_all(&stored_zlib(&raw)).map_err(Error::io(file.path()))?;
    let hex = id.to_hex().to_string();
    let dir = objects.join(&hex[..2]);
    let path = dir.join(&hex[2..]);
    // The fan-out directory may not exist yet, and `git prune-packed` (run by a repack, ours in
    // the background too) removes those it empties: make it again until the rename lands.
    for attempt in 1.. {
        match file.persist(&path) {
            Ok(_) => break,
            Err(e) if e.error.kind() == std::io::ErrorKind::NotFound && attempt < 100 => file = e.file,
            Err(e) => return Err(Error::io(&path)(e.error)),
        }
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(Error::io(&dir)(e)),
            _ => {}
        }
    }
    Ok(id)
}

/// `data` as a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, 3.2.4).
fn stored_zlib(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = u16::MAX as usize;
    let mut out = Vec::with_capacity(data.len() + 6 + 5 * data.len().div_ceil(MAX_BLOCK).max(1));
    // CMF: deflate with a 32 KiB window; FLG: no dictionary, fastest, and CMF·256 + FLG ≡ 0 mod 31.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(MAX_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = block.len() as u16;
        out.push(u8::from(blocks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&zlib_rs::adler32::adler32(1, data).to_be_bytes());
    out
}

/// Points the ref `name` (under `refs/`, shared by all worktrees) at `new` if it still holds
/// `expected` (`None`: must not exist), the way git's files backend does: create `<name>.lock`
/// exclusively, read the current value (the loose file, else `packed-refs`), write the new one
/// and rename the lock over the ref. No reflog: the commit chain is the history.
///
/// Not through gix: once `packed-refs` exists, a gix transaction also locks it for every update,
/// so the appends of all actors would queue on one lock (and on `git pack-refs`), each paying a
/// fifth file. git takes that lock only to delete.
pub fn swap_ref(repo: &Repo, name: &str, expected: Option<ObjectId>, new: ObjectId) -> Result<Swap> {
    update_ref(repo, name, Some(expected), new)
}

/// Points the ref `name` at `new` whatever it held before, as [`swap_ref`] does.
pub fn set_ref(repo: &Repo, name: &str, new: ObjectId) -> Result<()> {
    update_ref(repo, name, None, new).map(|_| ())
}

fn update_ref(repo: &Repo, name: &str, expected: Option<Option<ObjectId>>, new: ObjectId) -> Result<Swap> {
    // Checked as git checks it: no `..`, no `.lock` component, nothing that leaves `refs/`.
    ref_name(name)?;
    let path = repo.git.common_dir().join(name);
    let lock = RefLock::acquire(name, &path)?;
    if let Some(expected) = expected
        && crate::wal::ref_tip(repo, name)? != expected
    {
        return Ok(Swap::Moved);
    }
    lock.commit(&format!("{new}\n"))?;
    Ok(Swap::Done)
}

/// `name` as a full ref name, or an error if git would refuse it.
pub fn ref_name(name: &str) -> Result<gix::refs::FullName> {
    name.try_into().map_err(|e: gix::validate::reference::name::Error| {
        Error::invalid(
            format!("'{name}' is not a valid reference name: {e}"),
            "this is a bug in grit; please report it",
        )
    })
}

/// `<ref>.lock`, held while it exists; removed on drop unless renamed over the ref.
struct RefLock<'a> {
    path: &'a Path,
    lock: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl<'a> RefLock<'a> {
    fn acquire(name: &str, path: &'a Path) -> Result<RefLock<'a>> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = std::path::PathBuf::from(lock);
        let start = Instant::now();
        let mut pause = Duration::from_micros(100);
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(file) => {
                    return Ok(RefLock {
                        path,
                        lock,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let dir = path.parent().expect("a ref path has a parent");
                    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if start.elapsed() >= REF_LOCK_TIMEOUT {
                        return Err(Error::RefLocked {
                            reference: name.to_owned(),
                            lock: std::path::absolute(&lock).unwrap_or(lock),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => return Err(Error::io(&lock)(e)),
            }
        }
    }

    fn commit(mut self, content: &str) -> Result<()> {
        let mut file = self.file.take().expect("a held lock has its file");
        file.write_all(content.as_bytes()).map_err(Error::io(&self.lock))?;
        drop(file);
        std::fs::rename(&self.lock, self.path).map_err(Error::io(self.path))?;
        self.lock.clear();
        Ok(())
    }
}

impl Drop for RefLock<'_> {
    fn drop(&mut self) {
        if !self.lock.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stored_zlib;

    #[test]
    fn stored_streams_inflate_to_their_input() {
        for len in [0, 1, 100, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = vec![0; len + 1];
            let (inflated, status) = zlib_rs::decompress_slice(&mut out, &stored_zlib(&data), Default::default());
            assert_eq!(status, zlib_rs::ReturnCode::Ok, "{len} bytes");
            assert_eq!(inflated, &data[..], "{len} bytes");
        }
    }
}
