//! A damaged index never stops a command. Truncation is caught before the file is mapped (its
//! size against the newer meta page's last page); damage inside, which LMDB meets as a fault in
//! its map, a failed assertion or an error, makes the process delete the index and start
//! itself again once, so the command rebuilds from the refs and does its work. A write that
//! already landed is never run twice: after one, the process only deletes the index and exits.

use std::ffi::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The environment variable a restarted process carries, so that it does not restart again.
const RETRY_VAR: &str = "GRIT_INDEX_REBUILT";
const PAGE_HEADER: usize = 16;
const MAGIC: u32 = 0xBEEF_C0DE;

/// Set once a write's ref moved in this process.
/// Set by a grit binary's entry point (`grit::arm_binary`): only then does opening an index
/// install the fault handlers. A program that embeds the library gets none.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Lets `arm` install the fault guard in this process (a grit binary's, not an embedder's).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

static WRITTEN: AtomicBool = AtomicBool::new(false);

/// Everything the signal handler needs, laid out beforehand in static memory: it may not
/// allocate, and a damaged page can make LMDB overrun a heap buffer before it faults, so
/// nothing it reads may live on the heap.
struct Restart {
    bytes: std::cell::UnsafeCell<[u8; AREA]>,
    argv: std::cell::UnsafeCell<[*const c_char; MAX_ARGS]>,
    envp: std::cell::UnsafeCell<[*const c_char; MAX_ENV]>,
    /// Offsets of the index's data and lock file paths in `bytes`; 0 until armed.
    data: AtomicUsize,
    lock: AtomicUsize,
    /// Whether `argv` and `envp` were filled (they fit), so the process can start again.
    can_restart: AtomicBool,
    retried: AtomicBool,
}

const AREA: usize = 1 << 17;
const MAX_ARGS: usize = 512;
const MAX_ENV: usize = 2048;

// SAFETY: written once by `arm` (guarded by ARMED) before any handler can read it.
unsafe impl Sync for Restart {}

static RESTART: Restart = Restart {
    bytes: std::cell::UnsafeCell::new([0; AREA]),
    argv: std::cell::UnsafeCell::new([std::ptr::null(); MAX_ARGS]),
    envp: std::cell::UnsafeCell::new([std::ptr::null(); MAX_ENV]),
    data: AtomicUsize::new(0),
    lock: AtomicUsize::new(0),
    can_restart: AtomicBool::new(false),
    retried: AtomicBool::new(false),
};
static ARMED: AtomicBool = AtomicBool::new(false);
const EXE: &std::ffi::CStr = c"/proc/self/exe";

impl Restart {
    fn at(&self, offset: usize) -> *const c_char {
        // SAFETY: offsets point at NUL-terminated strings written by `arm`.
        unsafe { (*self.bytes.get()).as_ptr().add(offset).cast() }
    }

    /// The NUL-terminated string at `offset`, without its NUL.
    fn text(&self, offset: usize) -> &[u8] {
        // SAFETY: as `at`.
        let all = unsafe { &*self.bytes.get() };
        let rest = &all[offset..];
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(0)]
    }
}

/// Copies NUL-terminated strings into the static area, returning their offsets (None when
/// they do not fit or hold a NUL).
fn lay_out(strings: &[&[u8]], at: &mut usize) -> Option<Vec<usize>> {
    // SAFETY: only `arm` writes, once, before the handler is installed.
    let area = unsafe { &mut *RESTART.bytes.get() };
    let mut out = Vec::with_capacity(strings.len());
    for s in strings {
        if s.contains(&0) || *at + s.len() + 1 > area.len() {
            return None;
        }
        area[*at..*at + s.len()].copy_from_slice(s);
        area[*at + s.len()] = 0;
        out.push(*at);
        *at += s.len() + 1;
    }
    Some(out)
}

/// Why the index file at `data` cannot be what LMDB wrote, checked before it is mapped: a
/// reader of a truncated map dies of SIGBUS.
pub fn precheck(data: &Path) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(data).ok()?;
    let len = file.metadata().ok()?.len();
    if len == 0 {
        return Some("it is empty".into());
    }
    let mut head = [0u8; 0x98];
    if file.read_exact_at(&mut head, 0).is_err() {
        return Some("it is shorter than its first page".into());
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let psize = u64::from(u32_at(&head, PAGE_HEADER + 0x18));
    if !(512..=65536).contains(&psize) || !psize.is_power_of_two() {
        return Some("its first meta page is damaged".into());
    }
    let mut second = [0u8; 0x98];
    if file.read_exact_at(&mut second, psize).is_err() {
        return Some("it is shorter than its two meta pages".into());
    }
    let mut newest: Option<(u64, u64)> = None;
    for page in [&head, &second] {
        if u32_at(page, PAGE_HEADER) != MAGIC || u32_at(page, PAGE_HEADER + 4) != 1 {
            return Some("a meta page is damaged".into());
        }
        let (last, txn) = (u64_at(page, 0x88), u64_at(page, 0x90));
        if newest.is_none_or(|(_, t)| txn > t) {
            newest = Some((last, txn));
        }
    }
    let (last, _) = newest.expect("two meta pages");
    let need = last.checked_add(1).and_then(|n| n.checked_mul(psize));
    match need {
        Some(need) if need <= len => None,
        _ => Some(format!(
            "it is {len} bytes, but its pages need {}",
            need.unwrap_or(u64::MAX)
        )),
    }
}

/// Says that a write's ref has moved: from now on a damaged index only ends the process.
pub fn write_landed() {
    WRITTEN.store(true, Ordering::SeqCst);
}

/// Whether this process was restarted after deleting a damaged index.
pub fn restarted() -> bool {
    std::env::var_os(RETRY_VAR).is_some()
}

/// Watches the map of the index at `dir` for damage.
pub fn arm(dir: &Path) {
    if !ENABLED.load(Ordering::SeqCst) || ARMED.swap(true, Ordering::SeqCst) {
        return;
    }
    let data = dir.join("data.mdb");
    let lock = dir.join("lock.mdb");
    let mut at = 1; // offset 0 means "not laid out"
    let Some(paths) = lay_out(&[data.as_os_str().as_bytes(), lock.as_os_str().as_bytes()], &mut at) else {
        return;
    };
    RESTART.data.store(paths[0], Ordering::SeqCst);
    RESTART.lock.store(paths[1], Ordering::SeqCst);
    RESTART.retried.store(restarted(), Ordering::SeqCst);
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut env: Vec<Vec<u8>> = std::env::vars_os()
        .filter(|(k, _)| k != RETRY_VAR)
        .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
        .collect();
    env.push(format!("{RETRY_VAR}=1").into_bytes());
    let arg_bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let env_bytes: Vec<&[u8]> = env.iter().map(Vec::as_slice).collect();
    if arg_bytes.len() < MAX_ARGS
        && env_bytes.len() < MAX_ENV
        && let (Some(a), Some(e)) = (lay_out(&arg_bytes, &mut at), lay_out(&env_bytes, &mut at))
    {
        // SAFETY: as in `lay_out`; the arrays keep a NULL after their last entry.
        unsafe {
            let argv = &mut *RESTART.argv.get();
            let envp = &mut *RESTART.envp.get();
            for (i, off) in a.iter().enumerate() {
                argv[i] = RESTART.at(*off);
            }
            for (i, off) in e.iter().enumerate() {
                envp[i] = RESTART.at(*off);
            }
        }
        RESTART.can_restart.store(true, Ordering::SeqCst);
    }
    // SAFETY: installs a handler that only calls async-signal-safe functions (open, read,
    // write, unlink, execve, _exit) on static data laid out above.
    unsafe {
        for sig in [libc::SIGBUS, libc::SIGSEGV, libc::SIGABRT] {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
    // A damaged page can also trip a check in the bindings before LMDB sees it: that panic is
    // the same damage, and the abort that follows is handled above; say nothing twice.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_bindings = info
            .location()
            .is_some_and(|l| l.file().contains("heed") || l.file().contains("lmdb"));
        if !in_bindings {
            previous(info);
        }
    }));
}

fn say(text: &[u8]) {
    // SAFETY: write(2) is async-signal-safe; a short write only shortens the message.
    unsafe {
        libc::write(2, text.as_ptr().cast::<c_void>(), text.len());
    }
}

/// Whether `addr` lies in a mapping of the file `path`, read from `/proc/self/maps` with only
/// async-signal-safe calls and no allocation (LMDB does not tell where it mapped the file).
fn mapped_from(addr: usize, path: &[u8]) -> bool {
    // SAFETY: open/read/close on a stack buffer.
    let fd = unsafe { libc::open(c"/proc/self/maps".as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        return false;
    }
    let mut buf = [0u8; 8192];
    let mut line = [0u8; 4096];
    let (mut len, mut found) = (0usize, false);
    'read: loop {
        // SAFETY: reads into the stack buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast::<c_void>(), buf.len()) };
        if n <= 0 {
            break;
        }
        for &b in &buf[..n as usize] {
            if b != b'\n' {
                if len < line.len() {
                    line[len] = b;
                }
                len += 1;
                continue;
            }
            let l = &line[..len.min(line.len())];
            len = 0;
            if l.ends_with(path) && range_holds(l, addr) {
                found = true;
                break 'read;
            }
        }
    }
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(fd) };
    found
}

/// Whether a `/proc/self/maps` line (`start-end perms …`) covers `addr`.
fn range_holds(line: &[u8], addr: usize) -> bool {
    let hex = |s: &[u8]| {
        s.iter().try_fold(0usize, |acc, &c| {
            let d = (c as char).to_digit(16)? as usize;
            acc.checked_mul(16)?.checked_add(d)
        })
    };
    let Some(dash) = line.iter().position(|&c| c == b'-') else {
        return false;
    };
    let Some(space) = line.iter().position(|&c| c == b' ') else {
        return false;
    };
    match (hex(&line[..dash]), line.get(dash + 1..space).and_then(hex)) {
        (Some(start), Some(end)) => (start..end).contains(&addr),
        _ => false,
    }
}

extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, _: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let r = &RESTART;
    let data = r.data.load(Ordering::SeqCst);
    if data == 0 {
        return;
    }
    // SIGABRT comes from LMDB's own assertions on a damaged page (Rust panics unwind), and
    // SIGSEGV from pointers it read from one (safe Rust does not fault); a SIGBUS is the
    // index's only if it is in the index's map (packs are mapped too).
    if sig == libc::SIGBUS && !mapped_from(addr, r.text(data)) {
        return; // the default action was restored (SA_RESETHAND): the fault repeats and ends us
    }
    // SAFETY: unlink, execve and _exit are async-signal-safe; the strings are static.
    unsafe {
        libc::unlink(r.at(data));
        libc::unlink(r.at(r.lock.load(Ordering::SeqCst)));
        if WRITTEN.load(Ordering::SeqCst) {
            say(b"warning: the index is damaged; it was deleted, and the write above landed: the next command rebuilds the index\n");
            libc::_exit(0);
        }
        if r.retried.load(Ordering::SeqCst) || !r.can_restart.load(Ordering::SeqCst) {
            say(b"error: the index is damaged; it was deleted\nhint: run the command again: it rebuilds the index from the refs\n");
            libc::_exit(1);
        }
        say(b"warning: the index is damaged; rebuilding it from the refs\n");
        libc::execve(EXE.as_ptr(), (*r.argv.get()).as_ptr(), (*r.envp.get()).as_ptr());
        libc::_exit(1);
    }
}

/// After a command failed on a damaged index: deletes it and runs the command again, once, if
/// no write has landed (a write that landed reports its own outcome). Returns when it cannot.
pub fn restart_after_damage(dir: &Path) {
    if WRITTEN.load(Ordering::SeqCst) || restarted() {
        return;
    }
    let _ = std::fs::remove_file(dir.join("data.mdb"));
    let _ = std::fs::remove_file(dir.join("lock.mdb"));
    eprintln!("warning: the index is damaged; rebuilding it from the refs");
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let _ = args.next();
    let err = std::process::Command::new("/proc/self/exe")
        .args(args)
        .env(RETRY_VAR, "1")
        .exec();
    eprintln!("warning: could not start again: {err}");
}
