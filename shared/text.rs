//! Words for full-text search: how text is cut into words and how each word is normalised, the
//! same way for what the index stores and for what a query asks.
//!
//! A word is a run of letters and digits (Unicode), folded to NFKC and lower case, then cut by
//! a small English plural stemmer: `crashes` → `crash`, `bodies` → `body`, `timeouts` →
//! `timeout` (but `class`, `status` and `analysis` stay). Words longer than `MAX_WORD` bytes
//! are not indexed.

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

/// One word as the index keeps it.
pub fn normalize(word: &str) -> String {
    stem(fold(word))
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

#[cfg(test)]
mod tests {
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
    fn phrases_match_consecutive_words_only() {
        let hay: Vec<String> = words("the connection was reset by peer").collect();
        let p = |s: &str| words(s).collect::<Vec<_>>();
        assert!(contains_phrase(&hay, &p("connection was reset")));
        assert!(!contains_phrase(&hay, &p("connection reset")));
    }
}
