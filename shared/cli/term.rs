//! What reaches a terminal: text from other clones and from the command line is shown with its
//! control, bidi and zero-width characters escaped visibly, as git quotes odd path names.

use std::borrow::Cow;

pub use crate::text::esc;
use crate::text::{is_unsafe, push_escaped};

/// A line of human output made safe: newlines and tabs (the layout's own) stay, every other
/// unsafe character is escaped, except, when `sgr` is set, the colour sequences `ESC [ digits m`
/// that `Ui::paint` writes.
pub fn line(s: &str, sgr: bool) -> Cow<'_, str> {
    let layout = |c: char| c == '\n' || c == '\t';
    if !s.chars().any(|c| is_unsafe(c) && !layout(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' && sgr {
            let tail = &rest[1..];
            if let Some(body) = tail.strip_prefix('[') {
                let n = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
                if n <= 8 && body.as_bytes().get(n) == Some(&b'm') {
                    out.push_str(&rest[..n + 3]);
                    rest = &rest[n + 3..];
                    continue;
                }
            }
        }
        if is_unsafe(c) && !layout(c) {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// At most `n` characters of `s` (never cutting one in half), with `…` when it was longer.
pub fn truncate(s: &str, n: usize) -> Cow<'_, str> {
    match s.char_indices().nth(n) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_drive_a_terminal() {
        assert_eq!(esc("plain ünïcode 日本"), "plain ünïcode 日本");
        assert_eq!(esc("\x1b]52;c;aGk=\x07"), "\\e]52;c;aGk=\\x07");
        assert_eq!(esc("\x1b[2Jclear"), "\\e[2Jclear");
        assert_eq!(esc("a\u{202e}b\u{200b}c\u{9b}"), "a\\u{202e}b\\u{200b}c\\u{9b}");
        assert_eq!(esc("a\nb\tc\x7f"), "a\\nb\\tc\\x7f");
    }

    #[test]
    fn a_line_keeps_its_layout_and_our_colours_only() {
        assert_eq!(line("a\tb\n", false), "a\tb\n");
        assert_eq!(line("\x1b[33mid\x1b[0m \x1b[2J", true), "\x1b[33mid\x1b[0m \\e[2J");
        assert_eq!(line("\x1b[33mid\x1b[0m", false), "\\e[33mid\\e[0m");
        assert_eq!(line("\x1b[", true), "\\e[");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        let s = "a".to_owned() + &"é".repeat(200);
        assert_eq!(truncate(&s, 3), "aéé…");
        assert_eq!(truncate("short", 10), "short");
    }
}
