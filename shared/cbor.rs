//! The canonical subset of CBOR that grit writes by hand (shortest heads, definite lengths):
//! a writer of single items and a cursor that reads them back, refusing anything else.
//! Where speed does not matter, ciborium reads and writes the general form.

/// Appends a head: major type and argument, in the shortest form.
pub fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Writes an unsigned integer.
pub fn uint(out: &mut Vec<u8>, n: u64) {
    head(out, 0, n);
}

/// Writes a byte string.
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes a text string.
pub fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Writes the head of an array of `len` items.
pub fn array(out: &mut Vec<u8>, len: usize) {
    head(out, 4, len as u64);
}

/// The encoding of null.
pub const NULL: u8 = 0xf6;

/// `f`'s encoding of the value, or null.
pub fn option<T>(out: &mut Vec<u8>, v: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        Some(v) => f(out, v),
        None => out.push(NULL),
    }
}

/// Reads items from the front of a byte slice; `None` on anything outside the subset.
pub struct Cursor<'a>(pub &'a [u8]);

impl<'a> Cursor<'a> {
    /// The next item's major type and argument.
    pub fn head(&mut self) -> Option<(u8, u64)> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        let (major, minor) = (b >> 5, b & 0x1f);
        let n = match minor {
            0..=23 => u64::from(minor),
            24..=27 => {
                let len = 1usize << (minor - 24);
                let (bytes, rest) = (self.0.get(..len)?, self.0.get(len..)?);
                self.0 = rest;
                bytes.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b))
            }
            _ => return None,
        };
        Some((major, n))
    }

    /// An unsigned integer.
    pub fn uint(&mut self) -> Option<u64> {
        match self.head()? {
            (0, n) => Some(n),
            _ => None,
        }
    }

    /// The head of an array: its length.
    pub fn array(&mut self) -> Option<usize> {
        match self.head()? {
            (4, n) => usize::try_from(n).ok(),
            _ => None,
        }
    }

    /// The content of a byte (2) or text (3) string.
    pub fn take(&mut self, major: u8) -> Option<&'a [u8]> {
        match self.head()? {
            (m, n) if m == major => {
                let n = usize::try_from(n).ok()?;
                let (bytes, rest) = (self.0.get(..n)?, self.0.get(n..)?);
                self.0 = rest;
                Some(bytes)
            }
            _ => None,
        }
    }

    /// A byte string of 32 bytes (an id).
    pub fn id(&mut self) -> Option<[u8; 32]> {
        self.take(2)?.try_into().ok()
    }

    /// A text string.
    pub fn text(&mut self) -> Option<String> {
        String::from_utf8(self.take(3)?.to_vec()).ok()
    }

    /// True (and consumed) when the next item is null.
    pub fn null(&mut self) -> bool {
        let null = self.0.first() == Some(&NULL);
        if null {
            self.0 = &self.0[1..];
        }
        null
    }

    /// `f`'s reading of the next item, or `None` inside `Some` for a null.
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null() { Some(None) } else { f(self).map(Some) }
    }
}
