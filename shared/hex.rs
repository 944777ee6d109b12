//! Lowercase hexadecimal for ids and keys.
//! Tiny on purpose: ids are printed and parsed on every command.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Serializes a git object id as its hex string.
pub fn serialize_oid<S: serde::Serializer>(id: &gix::ObjectId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// `bytes` in lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    encode_to(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Writes the hex of `bytes` into the first `2 * bytes.len()` bytes of `out`.
pub fn encode_to(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 15) as usize];
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes an even-length hex string.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// The inclusive byte range `[low, high]` of all 32-byte values whose hex starts with `prefix`.
pub fn prefix_range(prefix: &str) -> Option<([u8; 32], [u8; 32])> {
    if prefix.is_empty() || prefix.len() > 64 {
        return None;
    }
    let (mut low, mut high) = ([0u8; 32], [0xffu8; 32]);
    for (i, c) in prefix.bytes().enumerate() {
        let n = nibble(c)?;
        let (shift, keep) = if i % 2 == 0 { (4, 0x0f) } else { (0, 0xf0) };
        low[i / 2] = (low[i / 2] & keep) | (n << shift);
        high[i / 2] = (high[i / 2] & keep) | (n << shift);
    }
    Some((low, high))
}

/// Number of leading hex digits two byte strings share.
pub fn common_digits(a: &[u8], b: &[u8]) -> usize {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            return i * 2 + usize::from(x >> 4 == y >> 4);
        }
    }
    a.len().min(b.len()) * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_prefix_ranges() {
        assert_eq!(encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(decode("00abFF"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(decode("0g"), None);
        let (lo, hi) = prefix_range("abc").unwrap();
        assert_eq!(&lo[..2], &[0xab, 0xc0]);
        assert_eq!(&hi[..2], &[0xab, 0xcf]);
        assert_eq!(common_digits(&[0xab, 0xcd], &[0xab, 0xce]), 3);
        assert_eq!(common_digits(&[0x1b], &[0x2b]), 0);
    }
}
