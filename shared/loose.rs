//! Loose objects as git writes them with `core.looseCompression=0`: the object in a zlib stream
//! of stored blocks, in a temporary file renamed into place.

use std::io::Write;

use gix::ObjectId;
use gix::objs::{Kind, WriteTo};

use crate::error::{Error, Result};
use crate::repo::Repo;

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
