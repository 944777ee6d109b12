//! Words for full-text search: how text is cut into words and how each word is normalised, the
//! same way for what the index stores and for what a query asks.
//!
//! A word is a run of letters and digits (Unicode), folded to NFKC and lower case, then cut by
//! a small English plural stemmer: `crashes` → `crash`, `bodies` → `body`, `timeouts` →
//! `timeout` (but `class`, `status` and `analysis` stay). Words longer than `MAX_WORD` bytes
//! are not indexed.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// Longer words (hashes, base64) are not indexed: nobody types them as search words.
pub const MAX_WORD: usize = 64;

/// The normalised words of `text`, in order, with repeats.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(normalize)
        .filter(|w| !w.is_empty() && w.len() <= MAX_WORD)
}

/// Calls `f` with each normalised word of `text`, in order, normalising into `buf` (no
/// allocation per word); `f` returns false to stop.
pub fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&str) -> bool) {
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() {
            continue;
        }
        buf.clear();
        if w.is_ascii() {
            buf.extend(w.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            buf.extend(w.nfkc().flat_map(char::to_lowercase));
        }
        stem_in_place(buf);
        if buf.is_empty() || buf.len() > MAX_WORD {
            continue;
        }
        if !f(buf) {
            return;
        }
    }
}

/// Whether one of `texts` holds `phrase` (normalised words) as consecutive words. A phrase
/// never spans two texts (a title and a body, two comments).
pub fn texts_contain_phrase<'a>(texts: impl IntoIterator<Item = &'a str>, phrase: &[String], buf: &mut String) -> bool {
    if phrase.is_empty() {
        return true;
    }
    // live[j]: the words just read match the first j words of the phrase.
    let mut live = vec![false; phrase.len() + 1];
    let mut found = false;
    for text in texts {
        live.iter_mut().for_each(|l| *l = false);
        for_each_word(text, buf, |w| {
            for j in (1..=phrase.len()).rev() {
                live[j] = (j == 1 || live[j - 1]) && phrase[j - 1] == w;
            }
            found = live[phrase.len()];
            !found
        });
        if found {
            return true;
        }
    }
    false
}

/// One word as the index keeps it.
pub fn normalize(word: &str) -> String {
    stem(fold(word))
}

fn stem_in_place(w: &mut String) {
    if w.len() > 3 && w.is_ascii() {
        let stemmed = stem(std::mem::take(w));
        *w = stemmed;
    }
}

/// NFKC and lower case, without stemming (a prefix search folds what was typed this way).
pub fn fold(word: &str) -> String {
    if word.is_ascii() {
        word.to_ascii_lowercase()
    } else {
        word.nfkc().flat_map(char::to_lowercase).collect()
    }
}

fn stem(mut w: String) -> String {
    let n = w.len();
    if n <= 3 || !w.is_ascii() {
        return w;
    }
    if w.ends_with("ies") && !w.ends_with("eies") && !w.ends_with("aies") && n > 4 {
        w.truncate(n - 3);
        w.push('y');
    } else if ["sses", "shes", "ches", "xes", "zes"].iter().any(|s| w.ends_with(s)) {
        w.truncate(n - 2);
    } else if w.ends_with('s') && !["ss", "us", "is"].iter().any(|s| w.ends_with(s)) {
        w.truncate(n - 1);
    }
    w
}

/// Whether `haystack` (normalised words) holds `phrase` (normalised words) as consecutive words.
pub fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    phrase.is_empty() || haystack.windows(phrase.len()).any(|w| w == phrase)
}

/// Whether `c` must not reach a terminal raw: C0 and C1 controls, DEL, and the format
/// characters that reorder or hide text (bidi embeddings, overrides and isolates, zero-width
/// spaces and joiners, the byte-order mark).
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}'
            | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

pub(crate) fn push_escaped(c: char, out: &mut String) {
    match c {
        '\x1b' => out.push_str("\\e"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `s` with every unsafe character escaped (`\e`, `\n`, `\x07`, `\u{202e}`): one line of a
/// field, whatever a stranger put in it.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` as HTML or XML text or an attribute value: `&`, `<`, `>`, `"` and `'` escaped, so that
/// nothing a stranger wrote (a title, a body, a label, a lock note) becomes markup.
pub fn html(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// What the user wrote in an editor, without the lines that begin with `#` (the template's
/// instructions) and without blank lines around it; `None` when nothing is left (the user
/// cancelled).
pub fn edited(text: &str) -> Option<String> {
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let kept = kept.join("\n");
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// [`edited`] text as an issue: the first line is the title, the rest the body.
pub fn edited_issue(text: &str) -> Option<(String, String)> {
    let text = edited(text)?;
    let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
    Some((title.trim().to_owned(), body.trim().to_owned()))
}

/// The template an editor opens on for a new issue.
pub const ISSUE_TEMPLATE: &str = "\n\n# The first line is the title; the rest is the body.\n\
                                  # Lines starting with # are left out; an empty text cancels.\n";

/// The template an editor opens on for a comment.
pub const COMMENT_TEMPLATE: &str = "\n\n# Write the comment above.\n\
                                    # Lines starting with # are left out; an empty text cancels.\n";

/// Standard base64 (RFC 4648, padded): the clipboard's escape sequence, HTTP basic credentials.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn edited_text_drops_instructions_and_blank_edges_and_splits_title_from_body() {
        let t = "\n\n  Title here \n\nBody line\n# an instruction\nsecond\n\n# end\n";
        assert_eq!(
            super::edited_issue(t),
            Some(("Title here".into(), "Body line\nsecond".into()))
        );
        assert_eq!(super::edited_issue(super::ISSUE_TEMPLATE), None, "untouched: cancelled");
        assert_eq!(super::edited("# only\n\n"), None);
        assert_eq!(
            super::edited_issue("just a title"),
            Some(("just a title".into(), String::new()))
        );
    }

    use super::*;

    #[test]
    fn words_are_folded_and_stemmed() {
        let w: Vec<String> = words("Crashes on START-up: 3 timeouts, ﬁle bodies; class status").collect();
        assert_eq!(
            w,
            [
                "crash", "on", "start", "up", "3", "timeout", "file", "body", "class", "status"
            ]
        );
        assert_eq!(normalize("ÄRGER"), "ärger");
        assert_eq!(normalize("Ｆｕｌｌ"), "full", "NFKC folds full-width letters");
    }

    #[test]
    fn streamed_words_and_phrases_agree_with_the_plain_ones() {
        let texts = [
            "Crashes on START-up: 3 timeouts",
            "the connection reset by peer",
            "ﬁle bodies",
        ];
        let mut buf = String::new();
        for t in texts {
            let mut streamed = Vec::new();
            for_each_word(t, &mut buf, |w| {
                streamed.push(w.to_owned());
                true
            });
            assert_eq!(streamed, words(t).collect::<Vec<_>>());
        }
        let p = |s: &str| words(s).collect::<Vec<_>>();
        assert!(texts_contain_phrase(texts, &p("connection reset"), &mut buf));
        assert!(texts_contain_phrase(texts, &p("start up"), &mut buf));
        assert!(
            !texts_contain_phrase(texts, &p("timeouts the"), &mut buf),
            "no phrase across texts"
        );
        assert!(!texts_contain_phrase(texts, &p("reset peer"), &mut buf));
        assert!(texts_contain_phrase(texts, &p("on on").split_off(1), &mut buf));
    }

    #[test]
    fn phrases_match_consecutive_words_only() {
        let hay: Vec<String> = words("the connection was reset by peer").collect();
        let p = |s: &str| words(s).collect::<Vec<_>>();
        assert!(contains_phrase(&hay, &p("connection was reset")));
        assert!(!contains_phrase(&hay, &p("connection reset")));
    }
}
