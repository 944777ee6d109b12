//! What the library warns of as it goes (a damaged index rebuilt, a broken ref ignored, a feed it
//! could not write, a setting it ignored) is data, not output. A grit binary prints each to
//! stderr as it comes ([`crate::arm_binary`] asks for that); a program that embeds the library
//! prints nothing unless it wants to, and takes them with [`take`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Kept for [`take`] when nothing prints them; the oldest go past this many.
const KEPT_MAX: usize = 1000;

static TO_STDERR: AtomicBool = AtomicBool::new(false);
static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Gives a warning: `message` is one line, or more with a `hint:` line after it.
pub fn warn(message: impl Into<String>) {
    let message = message.into();
    if TO_STDERR.load(Ordering::Relaxed) {
        eprintln!("warning: {message}");
        return;
    }
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() == KEPT_MAX {
        kept.remove(0);
    }
    kept.push(message);
}

/// The warnings given since the last call, oldest first (none when they went to stderr).
pub fn take() -> Vec<String> {
    std::mem::take(&mut *KEPT.lock().unwrap_or_else(|p| p.into_inner()))
}

/// From now on, each warning goes to stderr as it is given, with those kept so far.
pub fn to_stderr() {
    TO_STDERR.store(true, Ordering::Relaxed);
    for message in take() {
        eprintln!("warning: {message}");
    }
}

#[cfg(test)]
mod tests {
    /// Unprinted, a warning waits for `take`, once.
    #[test]
    fn a_warning_is_kept_for_the_embedder_until_taken() {
        super::warn("the index is damaged; rebuilding it from the refs");
        let taken = super::take();
        assert!(taken.iter().any(|w| w.starts_with("the index is damaged")), "{taken:?}");
        assert!(!super::take().iter().any(|w| w.starts_with("the index is damaged")));
    }
}
