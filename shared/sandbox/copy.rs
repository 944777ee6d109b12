//! Copying trees with their metadata: files (reflinked where the filesystem can, else copied
//! in the kernel), symlinks as symlinks, directories including empty ones, and every entry's
//! mode and modification time, on all cores. Stops early when asked to (a pending signal).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// How file contents are copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// FICLONE: the copy shares blocks with the original until either is written.
    Reflink,
    /// A real copy (copy_file_range inside the kernel).
    Copy,
}

/// What was copied.
#[derive(Debug, Default)]
pub struct Copied {
    /// Regular files copied.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Directories made.
    pub dirs: u64,
    /// Symbolic links made.
    pub symlinks: u64,
    /// Files made as hard links to a file copied before them: links within the copied set are
    /// kept, as `cp -a` keeps them (a cargo `target/` holds hundreds).
    pub hardlinks: u64,
}

enum Entry {
    Dir(PathBuf, fs::Metadata),
    File(PathBuf, fs::Metadata),
    Link(PathBuf, fs::Metadata),
}

/// Lists `rel` (a file, symlink or directory under `src`) and everything below it.
fn walk(src: &Path, rel: &Path, out: &mut Vec<Entry>, skip: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    if skip(rel) {
        return Ok(());
    }
    let meta = match fs::symlink_metadata(src.join(rel)) {
        Ok(m) => m,
        // Gone since git listed it (a build running in the main tree): nothing to copy.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        let mut children: Vec<PathBuf> = fs::read_dir(src.join(rel))?
            .map(|e| e.map(|e| rel.join(e.file_name())))
            .collect::<io::Result<_>>()?;
        children.sort();
        out.push(Entry::Dir(rel.to_owned(), meta));
        for c in children {
            walk(src, &c, out, skip)?;
        }
    } else if ft.is_symlink() {
        out.push(Entry::Link(rel.to_owned(), meta));
    } else if ft.is_file() {
        out.push(Entry::File(rel.to_owned(), meta));
    }
    Ok(())
}

/// Sets a path's access and modification times without following a symlink.
pub fn set_times(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    crate::sys::set_times_nofollow(path, meta)
}

fn reflink_fd(src: &fs::File, dst: &fs::File) -> io::Result<()> {
    crate::sys::reflink(src, dst)
}

fn reflink(from: &Path, to: &Path) -> io::Result<()> {
    let src = fs::File::open(from)?;
    let dst = fs::OpenOptions::new().write(true).create_new(true).open(to)?;
    reflink_fd(&src, &dst).inspect_err(|_| {
        drop(dst);
        let _ = fs::remove_file(to);
    })
}

/// Whether FICLONE works from `dir`'s filesystem to itself.
pub fn probe_reflink(dir: &Path) -> bool {
    let a = dir.join(format!(".grit-probe-{}", std::process::id()));
    let b = dir.join(format!(".grit-probe-{}.clone", std::process::id()));
    let ok = fs::write(&a, b"probe").is_ok() && reflink(&a, &b).is_ok();
    let _ = fs::remove_file(&a);
    let _ = fs::remove_file(&b);
    ok
}

/// Copies `len` bytes inside the kernel, falling back to a read/write copy where the kernel or
/// filesystem cannot (an old kernel, or two filesystems it will not copy between).
fn copy_contents(src: &mut fs::File, dst: &mut fs::File, len: u64) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        let want = left.min(1 << 30) as usize;
        let n = match crate::sys::copy_file_range(src, dst, want) {
            Ok(n) => n,
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EXDEV | libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL) if left == len => {
                    io::copy(src, dst)?;
                    return Ok(());
                }
                _ => return Err(e),
            },
        };
        if n == 0 {
            // The file shrank since it was listed: it is copied as it is now.
            break;
        }
        left -= n as u64;
    }
    Ok(())
}

/// Copies one file with its mode and times, all through its descriptors: the stat from the
/// listing gives the length, so nothing is read past it and no path is resolved twice.
fn copy_file(from: &Path, to: &Path, meta: &fs::Metadata, method: Method) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = meta.mode() & 0o7777;
    let mut src = fs::File::open(from)?;
    let create = || fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(to);
    let mut dst = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(to)?;
            create()?
        }
        r => r?,
    };
    let copied = match method {
        Method::Reflink => reflink_fd(&src, &dst),
        Method::Copy if meta.len() == 0 => Ok(()),
        Method::Copy => copy_contents(&mut src, &mut dst, meta.len()),
    };
    if let Err(e) = copied {
        drop(dst);
        let _ = fs::remove_file(to);
        return Err(e);
    }
    // The umask may have narrowed the mode given to open(2).
    dst.set_permissions(fs::Permissions::from_mode(mode))?;
    dst.set_times(
        fs::FileTimes::new()
            .set_accessed(meta.accessed()?)
            .set_modified(meta.modified()?),
    )
}

/// Copies each of `roots` (relative to `src`) to the same place under `dst`, skipping what
/// `skip` rejects. `cancel` is polled; when it returns true the copy stops with `Interrupted`.
/// `progress` sees bytes copied so far.
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    roots: &[PathBuf],
    method: Method,
    skip: &(dyn Fn(&Path) -> bool + Sync),
    cancel: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> io::Result<Copied> {
    let mut entries = Vec::new();
    for r in roots {
        walk(src, r, &mut entries, skip)?;
    }
    let total: u64 = entries
        .iter()
        .map(|e| match e {
            Entry::File(_, m) => m.len(),
            _ => 0,
        })
        .sum();
    let mut copied = Copied::default();
    // Directories first (and their parents, which may be outside the roots). The listing puts a
    // directory before what it holds, so each parent is made once.
    let mut made: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    for e in &entries {
        match e {
            Entry::Dir(rel, m) => {
                fs::create_dir_all(dst.join(rel))?;
                fs::set_permissions(dst.join(rel), fs::Permissions::from_mode(m.mode() & 0o7777))?;
                made.insert(rel);
                copied.dirs += 1;
            }
            Entry::File(rel, _) | Entry::Link(rel, _) => {
                if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty())
                    && made.insert(parent)
                {
                    fs::create_dir_all(dst.join(parent))?;
                }
            }
        }
    }
    // A file with other names in the copied set is copied once, under its first name; the others
    // become hard links to that copy once every copy is made.
    let mut first_of: std::collections::HashMap<(u64, u64), &Path> = std::collections::HashMap::new();
    let mut links: Vec<(&Path, &Path)> = Vec::new();
    let mut files: Vec<&Entry> = Vec::with_capacity(entries.len());
    for e in &entries {
        match e {
            Entry::Dir(..) => {}
            Entry::File(rel, m) if m.nlink() > 1 => match first_of.entry((m.dev(), m.ino())) {
                std::collections::hash_map::Entry::Occupied(first) => links.push((first.get(), rel)),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(rel);
                    files.push(e);
                }
            },
            _ => files.push(e),
        }
    }
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 16) * 2;
    let results: Vec<io::Result<(u64, u64)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> io::Result<(u64, u64)> {
                    let (mut nfiles, mut nlinks) = (0, 0);
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            return Ok((nfiles, nlinks));
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(e) = files.get(i) else {
                            return Ok((nfiles, nlinks));
                        };
                        if i.is_multiple_of(64) && cancel() {
                            stop.store(true, Ordering::Relaxed);
                            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
                        }
                        match e {
                            Entry::File(rel, m) => {
                                let r = copy_file(&src.join(rel), &dst.join(rel), m, method);
                                if let Err(err) = r {
                                    stop.store(true, Ordering::Relaxed);
                                    return Err(io::Error::new(err.kind(), format!("{}: {err}", rel.display())));
                                }
                                nfiles += 1;
                                let done = bytes.fetch_add(m.len(), Ordering::Relaxed) + m.len();
                                if i.is_multiple_of(256) {
                                    progress(done, total);
                                }
                            }
                            Entry::Link(rel, m) => {
                                let target = fs::read_link(src.join(rel))?;
                                std::os::unix::fs::symlink(&target, dst.join(rel))?;
                                set_times(&dst.join(rel), m)?;
                                nlinks += 1;
                            }
                            Entry::Dir(..) => {}
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("copy threads do not panic"))
            .collect()
    });
    for r in results {
        let (f, l) = r?;
        copied.files += f;
        copied.symlinks += l;
    }
    copied.bytes = bytes.load(Ordering::Relaxed);
    for (first, rel) in links {
        if cancel() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        fs::hard_link(dst.join(first), dst.join(rel))
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", rel.display())))?;
        copied.hardlinks += 1;
    }
    // Directory times last, deepest first: creating their entries changed them.
    for e in entries.iter().rev() {
        if let Entry::Dir(rel, m) = e {
            set_times(&dst.join(rel), m)?;
        }
    }
    progress(copied.bytes, total);
    Ok(copied)
}

/// Matches `glob` (`*`, `?`, `**`) against a relative path; a glob without `/` also matches any
/// single component, as in .gitignore.
pub fn glob_match(glob: &str, path: &Path) -> bool {
    let p = path.to_string_lossy();
    let g = glob.trim_end_matches('/');
    if !g.contains('/') {
        return p.split('/').any(|c| wild(g.as_bytes(), c.as_bytes()));
    }
    wild(g.trim_start_matches('/').as_bytes(), p.as_bytes()) || (g.ends_with("/**") && p.starts_with(&g[..g.len() - 3]))
}

fn wild(g: &[u8], s: &[u8]) -> bool {
    match (g.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) if g.get(1) == Some(&b'*') => {
            let rest = g[2..].strip_prefix(b"/").unwrap_or(&g[2..]);
            (0..=s.len()).any(|i| wild(rest, &s[i..]))
        }
        (Some(b'*'), _) => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| wild(&g[1..], &s[i..])),
        (Some(b'?'), Some(c)) if *c != b'/' => wild(&g[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wild(&g[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_gitignore() {
        assert!(glob_match("*.log", Path::new("a/b/x.log")));
        assert!(glob_match("node_modules", Path::new("web/node_modules")));
        assert!(glob_match("target/**", Path::new("target/debug/x")));
        assert!(glob_match("build/*.o", Path::new("build/a.o")));
        assert!(!glob_match("build/*.o", Path::new("build/sub/a.o")));
        assert!(!glob_match("*.log", Path::new("a/log")));
        assert!(glob_match("**/cache", Path::new("x/y/cache")));
    }

    #[test]
    fn trees_copy_with_modes_times_symlinks_and_empty_dirs() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join("d/empty")).unwrap();
        fs::write(s.join("d/run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(s.join("d/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("run.sh", s.join("d/link")).unwrap();
        let old = fs::File::options().write(true).open(s.join("d/run.sh")).unwrap();
        old.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
            .unwrap();
        let c = copy_tree(
            s,
            dst.path(),
            &[PathBuf::from("d")],
            Method::Copy,
            &|_| false,
            &|| false,
            &|_, _| {},
        )
        .unwrap();
        assert_eq!((c.files, c.symlinks, c.dirs), (1, 1, 2));
        let m = fs::metadata(dst.path().join("d/run.sh")).unwrap();
        assert_eq!(m.mode() & 0o777, 0o755);
        assert_eq!(m.mtime(), 1_000_000);
        assert_eq!(fs::read_link(dst.path().join("d/link")).unwrap(), Path::new("run.sh"));
        assert!(dst.path().join("d/empty").is_dir());
    }

    #[test]
    fn contents_and_modes_survive_whatever_the_size_and_umask() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join("t")).unwrap();
        fs::write(s.join("t/empty"), "").unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(s.join("t/big"), &big).unwrap();
        // Group- and world-writable: bits a usual umask (022) takes away at open(2).
        fs::set_permissions(s.join("t/big"), fs::Permissions::from_mode(0o777)).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let d = dst.path();
        fs::create_dir_all(d.join("t")).unwrap();
        // A file already at the destination is replaced, not appended to.
        fs::write(d.join("t/empty"), "stale").unwrap();
        let c = copy_tree(
            s,
            d,
            &[PathBuf::from("t")],
            Method::Copy,
            &|_| false,
            &|| false,
            &|_, _| {},
        )
        .unwrap();
        assert_eq!((c.files, c.bytes), (2, big.len() as u64));
        assert_eq!(fs::read(d.join("t/big")).unwrap(), big);
        assert_eq!(fs::read(d.join("t/empty")).unwrap(), b"");
        assert_eq!(fs::metadata(d.join("t/big")).unwrap().mode() & 0o7777, 0o777);
        let (a, b) = (
            fs::metadata(s.join("t/big")).unwrap(),
            fs::metadata(d.join("t/big")).unwrap(),
        );
        assert_eq!((a.mtime(), a.mtime_nsec()), (b.mtime(), b.mtime_nsec()));
    }

    #[test]
    fn hard_links_within_the_copied_set_stay_links() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join("t/deps")).unwrap();
        fs::write(s.join("t/deps/libx.rlib"), vec![7u8; 10_000]).unwrap();
        fs::hard_link(s.join("t/deps/libx.rlib"), s.join("t/libx.rlib")).unwrap();
        fs::hard_link(s.join("t/deps/libx.rlib"), s.join("t/deps/libx-2.rlib")).unwrap();
        fs::write(s.join("t/alone"), "x").unwrap();
        // A link to a file outside the copied set is copied as a file.
        fs::write(s.join("outside"), "o").unwrap();
        fs::hard_link(s.join("outside"), s.join("t/inside")).unwrap();
        for method in [Method::Copy, Method::Reflink] {
            let dst = tempfile::tempdir().unwrap();
            let d = dst.path();
            let r = copy_tree(s, d, &[PathBuf::from("t")], method, &|_| false, &|| false, &|_, _| {});
            let Ok(c) = r else {
                assert_eq!(method, Method::Reflink, "copying works everywhere");
                continue;
            };
            assert_eq!((c.files, c.hardlinks), (3, 2), "{method:?}");
            let ino = |p: &str| fs::metadata(d.join(p)).unwrap().ino();
            assert_eq!(ino("t/libx.rlib"), ino("t/deps/libx.rlib"));
            assert_eq!(ino("t/deps/libx-2.rlib"), ino("t/deps/libx.rlib"));
            assert_eq!(fs::metadata(d.join("t/deps/libx.rlib")).unwrap().nlink(), 3);
            assert_eq!(fs::metadata(d.join("t/inside")).unwrap().nlink(), 1);
            assert_ne!(ino("t/alone"), ino("t/libx.rlib"));
        }
    }
}
