//! The query language of `list -S`, `ready -S` and `blocked -S`, after GitHub's issue search:
//! qualifiers (`is:open`, `label:a,b`, `priority:<=1`, `updated:<7d`, …), bare words and
//! `"quoted phrases"` (title, body and comments), `OR`, `NOT`/`-`, parentheses and `sort:`.
//! This module parses; the index evaluates (`index::search`).

use std::fmt;

use crate::event::State;

/// A parsed query: what to match (everything when `None`) and how to order it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Query {
    /// What to match; `None` matches every issue.
    pub expr: Option<Expr>,
    /// How to order what matches; `None` for the face's own order.
    pub sort: Option<Sort>,
}

/// A query's structure.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Every one matches.
    And(Vec<Expr>),
    /// Any one matches.
    Or(Vec<Expr>),
    /// It does not match.
    Not(Box<Expr>),
    /// A qualifier or a word.
    Term(Term),
}

/// One qualifier or word.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// `is:open`, `is:closed`.
    State(State),
    /// Any of these labels.
    Label(Vec<String>),
    /// `no:label`.
    NoLabel,
    /// `assignee:a,b`: any of these (`@me`: the current actor's email).
    Assignee(Vec<String>),
    /// `no:assignee`.
    NoAssignee,
    /// A name or email of the author (`@me`: the current actor), or `id:<hex prefix>`.
    Author(String),
    /// `type:a,b`: any of these types.
    Type(Vec<String>),
    /// `priority:…` (`1`, `<=1`, `0..2`).
    Priority(Cmp),
    /// An issue id or prefix: its children.
    Parent(String),
    /// `no:parent`.
    NoParent,
    /// `is:blocked`, `blocked:true` or `blocked:false`: whether an open issue blocks it.
    Blocked(bool),
    /// `is:claimed`, `claimed:true` or `claimed:false`: whether someone holds its claim.
    Claimed(bool),
    /// `created:…` (`<7d`, `>2024-01-01`).
    Created(Cmp),
    /// `updated:…`.
    Updated(Cmp),
    /// `comments:…`.
    Comments(Cmp),
    /// A normalised word.
    Word(String),
    /// A normalised word ending in `*`: any word it begins.
    Prefix(String),
    /// Normalised words, in a row.
    Phrase(Vec<String>),
}

/// A comparison of a number (a time is milliseconds since the epoch): `low <= n <= high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmp {
    /// The least value that matches.
    pub low: u64,
    /// The greatest value that matches.
    pub high: u64,
}

impl Cmp {
    /// Whether `n` matches.
    pub fn matches(&self, n: u64) -> bool {
        self.low <= n && n <= self.high
    }
}

/// What `sort:` orders by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// When opened.
    Created,
    /// When last changed.
    Updated,
    /// Priority.
    Priority,
    /// How many comments.
    Comments,
}

/// An order: `sort:KEY`, `sort:KEY-asc` or `sort:KEY-desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    /// What it orders by.
    pub key: SortKey,
    /// Largest first.
    pub descending: bool,
}

impl Sort {
    /// `list`'s order: newest first.
    pub const NEWEST: Sort = Sort {
        key: SortKey::Created,
        descending: true,
    };
}

/// A query that does not parse, with the column (1-based, in characters) where it went wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryError {
    /// Where it went wrong, in characters from 1.
    pub column: usize,
    /// What was expected there.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// The qualifiers, as `--help` and errors list them.
pub const QUALIFIERS: &str = "is: state: label: assignee: author: type: priority: parent: no: blocked: claimed: \
                              created: updated: comments: sort:";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Open,
    Close,
    Or,
    And,
    Not,
    /// `-` directly before a term or a parenthesis.
    Minus,
    /// A word or `key:value`, unquoted (quotes inside a value are removed).
    Word(String),
    Phrase(String),
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((col, Tok::Open));
                i += 1;
            }
            ')' => {
                out.push((col, Tok::Close));
                i += 1;
            }
            '-' if chars.get(i + 1).is_some_and(|n| !n.is_whitespace() && *n != ')') => {
                out.push((col, Tok::Minus));
                i += 1;
            }
            '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|c| *c == '"')
                    .ok_or_else(|| err(col, "a quote is not closed"))?;
                out.push((col, Tok::Phrase(chars[i + 1..i + 1 + end].iter().collect())));
                i += end + 2;
            }
            _ => {
                let mut word = String::new();
                while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '(' && chars[i] != ')' {
                    if chars[i] == '"' {
                        // A quoted value: `label:"needs review"`.
                        let end = chars[i + 1..]
                            .iter()
                            .position(|c| *c == '"')
                            .ok_or_else(|| err(i + 1, "a quote is not closed"))?;
                        word.extend(&chars[i + 1..i + 1 + end]);
                        i += end + 2;
                    } else {
                        word.push(chars[i]);
                        i += 1;
                    }
                }
                out.push((
                    col,
                    match word.as_str() {
                        "OR" => Tok::Or,
                        "AND" => Tok::And,
                        "NOT" => Tok::Not,
                        _ => Tok::Word(word),
                    },
                ));
            }
        }
    }
    Ok(out)
}

fn err(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
    }
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    sort: Option<Sort>,
    now_ms: u64,
    _src: &'a str,
}

/// Parses `s`. `now_ms` anchors relative times (`updated:<7d`).
pub fn parse(s: &str, now_ms: u64) -> Result<Query, QueryError> {
    let toks = tokenize(s)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: s.chars().count() + 1,
        sort: None,
        now_ms,
        _src: s,
    };
    let expr = p.or(0)?;
    if let Some((col, _)) = p.toks.get(p.at) {
        return Err(err(*col, "unexpected ')'"));
    }
    Ok(Query { expr, sort: p.sort })
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn col(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(c, _)| *c)
    }

    fn or(&mut self, depth: usize) -> Result<Option<Expr>, QueryError> {
        let mut parts = Vec::new();
        let first = self.and(depth)?;
        parts.push(first);
        while self.peek() == Some(&Tok::Or) {
            let col = self.col();
            self.at += 1;
            let next = self.and(depth)?;
            if parts.last().is_some_and(Option::is_none) || next.is_none() {
                return Err(err(col, "OR needs a term on each side"));
            }
            parts.push(next);
        }
        let mut parts: Vec<Expr> = parts.into_iter().flatten().collect();
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::Or(parts)),
        })
    }

    fn and(&mut self, depth: usize) -> Result<Option<Expr>, QueryError> {
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Or) => break,
                Some(Tok::Close) if depth > 0 => break,
                Some(Tok::Close) => return Err(err(self.col(), "')' without its '('")),
                Some(Tok::And) => {
                    let col = self.col();
                    self.at += 1;
                    if parts.is_empty() || matches!(self.peek(), None | Some(Tok::Or | Tok::Close | Tok::And)) {
                        return Err(err(col, "AND needs a term on each side"));
                    }
                }
                _ => {
                    if let Some(e) = self.unary(depth, false)? {
                        parts.push(e);
                    }
                }
            }
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::And(parts)),
        })
    }

    fn unary(&mut self, depth: usize, negated: bool) -> Result<Option<Expr>, QueryError> {
        let col = self.col();
        match self.peek() {
            Some(Tok::Not | Tok::Minus) => {
                self.at += 1;
                let inner = self
                    .unary(depth, true)?
                    .ok_or_else(|| err(col, "nothing to negate after NOT or '-'"))?;
                Ok(Some(Expr::Not(Box::new(inner))))
            }
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(err(col, "this '(' is not closed"));
                }
                self.at += 1;
                Ok(Some(inner.ok_or_else(|| err(col, "empty parentheses"))?))
            }
            Some(Tok::Phrase(p)) => {
                let words: Vec<String> = crate::text::words(p).collect();
                self.at += 1;
                Ok(match words.len() {
                    0 => None,
                    1 => Some(Expr::Term(Term::Word(words.into_iter().next().expect("one word")))),
                    _ => Some(Expr::Term(Term::Phrase(words))),
                })
            }
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.at += 1;
                self.word(&w, col, depth, negated)
            }
            Some(Tok::Or | Tok::And) => Err(err(col, "OR and AND need a term on each side")),
            Some(Tok::Close) | None => Ok(None),
        }
    }

    fn word(&mut self, w: &str, col: usize, depth: usize, negated: bool) -> Result<Option<Expr>, QueryError> {
        // `http://…` is text, not a qualifier.
        let Some((key, value)) = w.split_once(':').filter(|(k, v)| is_key(k) && !v.starts_with("//")) else {
            return Ok(text_term(w).map(Expr::Term));
        };
        let vcol = col + key.chars().count() + 1;
        let key = key.to_ascii_lowercase();
        if value.is_empty() {
            return Err(err(vcol, format!("'{key}:' needs a value")));
        }
        let list = || -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let term = match key.as_str() {
            "is" | "state" => match value.to_ascii_lowercase().as_str() {
                "open" => Term::State(State::Open),
                "closed" => Term::State(State::Closed),
                "blocked" => Term::Blocked(true),
                "claimed" => Term::Claimed(true),
                _ => {
                    return Err(err(
                        vcol,
                        format!("'{key}:{value}': use open, closed, blocked or claimed"),
                    ));
                }
            },
            "label" => Term::Label(list()),
            "assignee" => Term::Assignee(list()),
            "author" => Term::Author(value.to_owned()),
            "type" => {
                let types: Vec<String> = list().iter().map(|t| t.to_ascii_lowercase()).collect();
                if let Some(bad) = types.iter().find(|t| !crate::issue::ALL_TYPES.contains(&t.as_str())) {
                    return Err(err(
                        vcol,
                        format!(
                            "'{bad}' is not a type; use {} (or an imported kind: {})",
                            crate::issue::TYPES.join(", "),
                            crate::issue::ALL_TYPES[crate::issue::TYPES.len()..].join(", ")
                        ),
                    ));
                }
                Term::Type(types)
            }
            "priority" => Term::Priority(number(value, vcol, 4, "a priority from 0 to 4, e.g. priority:<=1")?),
            "comments" => Term::Comments(number(value, vcol, u64::from(u32::MAX), "a count, e.g. comments:>3")?),
            "parent" => Term::Parent(value.to_owned()),
            "no" => match value.to_ascii_lowercase().as_str() {
                "label" | "labels" => Term::NoLabel,
                "assignee" | "assignees" => Term::NoAssignee,
                "parent" => Term::NoParent,
                _ => {
                    return Err(err(
                        vcol,
                        format!("'no:{value}': use no:label, no:assignee or no:parent"),
                    ));
                }
            },
            "blocked" | "claimed" => {
                let b = match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" => true,
                    "false" | "no" => false,
                    _ => return Err(err(vcol, format!("'{key}:{value}': use true or false"))),
                };
                if key == "blocked" {
                    Term::Blocked(b)
                } else {
                    Term::Claimed(b)
                }
            }
            "created" => Term::Created(time(value, vcol, self.now_ms)?),
            "updated" => Term::Updated(time(value, vcol, self.now_ms)?),
            "sort" => {
                if negated || depth > 0 {
                    return Err(err(
                        col,
                        "sort: goes at the top level, not inside parentheses or after NOT",
                    ));
                }
                if self.sort.is_some() {
                    return Err(err(col, "only one sort: is allowed"));
                }
                self.sort = Some(sort(value, vcol)?);
                return Ok(None);
            }
            _ => {
                return Err(err(
                    col,
                    format!("'{key}:' is not a qualifier (they are {QUALIFIERS}); quote it to search for the text"),
                ));
            }
        };
        Ok(Some(Expr::Term(term)))
    }
}

/// Whether `k` (before a colon) looks like a qualifier's name rather than text (`http://…`).
fn is_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic())
}

fn text_term(w: &str) -> Option<Term> {
    if let Some(stem) = w.strip_suffix('*') {
        let words: Vec<String> = crate::text::words(stem).collect();
        if words.len() == 1 {
            // The prefix as typed, folded but not stemmed: `time*` must find `timeout`.
            let folded = crate::text::fold(stem);
            return Some(Term::Prefix(folded));
        }
    }
    let words: Vec<String> = crate::text::words(w).collect();
    match words.len() {
        0 => None,
        1 => words.into_iter().next().map(Term::Word),
        _ => Some(Term::Phrase(words)),
    }
}

fn cmp_op(v: &str) -> (&str, &str) {
    for op in ["<=", ">=", "<", ">", "="] {
        if let Some(rest) = v.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", v)
}

fn number(v: &str, col: usize, max: u64, what: &str) -> Result<Cmp, QueryError> {
    let bad = || err(col, format!("'{v}' is not a number comparison; give {what}"));
    let n = |s: &str| -> Result<u64, QueryError> {
        let n: u64 = s.trim().parse().map_err(|_| bad())?;
        if n > max { Err(bad()) } else { Ok(n) }
    };
    if let Some((a, b)) = v.split_once("..") {
        let low = if a == "*" { 0 } else { n(a)? };
        let high = if b == "*" { max } else { n(b)? };
        return Ok(Cmp { low, high });
    }
    let (op, rest) = cmp_op(v);
    let x = n(rest)?;
    Ok(match op {
        "<" if x == 0 => Cmp { low: 1, high: 0 },
        "<" => Cmp { low: 0, high: x - 1 },
        "<=" => Cmp { low: 0, high: x },
        ">" => Cmp { low: x + 1, high: max },
        ">=" => Cmp { low: x, high: max },
        _ => Cmp { low: x, high: x },
    })
}

const DAY_MS: u64 = 86_400_000;

/// A time comparison: a date (`2026-11-01`, a whole day, UTC), a time (`2026-11-01T12:00:00Z`),
/// or an age (`7d`, `12h`, `2w`, `30m`: `<7d` is less than seven days ago). Ranges: `a..b`.
fn time(v: &str, col: usize, now_ms: u64) -> Result<Cmp, QueryError> {
    let bad = || {
        err(
            col,
            format!("'{v}' is not a time; give a date (2026-11-01), an age (7d, 12h) or a range (a..b)"),
        )
    };
    // (start, end) of what one value names: a day, an instant, or for an age the instant it
    // reaches back to.
    let point = |s: &str| -> Result<(u64, u64, bool), QueryError> {
        if let Some(age) = age_ms(s) {
            let t = now_ms.saturating_sub(age);
            return Ok((t, t, true));
        }
        if s.len() == 10 {
            let t = crate::repo::parse_time(&format!("{s}T00:00:00Z")).ok_or_else(bad)?;
            return Ok((t, t + DAY_MS - 1, false));
        }
        let t = crate::repo::parse_time(s).ok_or_else(bad)?;
        Ok((t, t, false))
    };
    if let Some((a, b)) = v.split_once("..") {
        let low = if a == "*" { 0 } else { point(a)?.0 };
        let high = if b == "*" { u64::MAX } else { point(b)?.1 };
        return Ok(Cmp { low, high });
    }
    let (op, rest) = cmp_op(v);
    let (start, end, is_age) = point(rest)?;
    // An age counts backwards: `<7d` (younger than) is after the instant it names.
    let op = match (is_age, op) {
        (true, "<") => ">",
        (true, "<=") => ">=",
        (true, ">") => "<",
        (true, ">=") => "<=",
        (true, _) => ">=",
        (false, op) => op,
    };
    Ok(match op {
        "<" => Cmp {
            low: 0,
            high: start.saturating_sub(1),
        },
        "<=" => Cmp { low: 0, high: end },
        ">" => Cmp {
            low: end + 1,
            high: u64::MAX,
        },
        ">=" => Cmp {
            low: start,
            high: u64::MAX,
        },
        _ => Cmp { low: start, high: end },
    })
}

fn age_ms(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => DAY_MS,
        'w' => 7 * DAY_MS,
        'y' => 365 * DAY_MS,
        _ => return None,
    };
    n.checked_mul(ms)
}

fn sort(v: &str, col: usize) -> Result<Sort, QueryError> {
    let v = v.to_ascii_lowercase();
    let (name, dir) = match v.rsplit_once('-') {
        Some((n, d @ ("asc" | "desc"))) => (n, Some(d == "desc")),
        _ => (v.as_str(), None),
    };
    let key = match name {
        "created" => SortKey::Created,
        "updated" => SortKey::Updated,
        "priority" => SortKey::Priority,
        "comments" => SortKey::Comments,
        _ => {
            return Err(err(
                col,
                format!("'sort:{v}': sort by created, updated, priority or comments, with -asc or -desc"),
            ));
        }
    };
    // Priority sorts most urgent (P0) first by default; the others newest or most first.
    let descending = dir.unwrap_or(key != SortKey::Priority);
    Ok(Sort { key, descending })
}

impl Query {
    /// Both queries: the terms of each must match, under `self`'s sort, else `other`'s.
    pub fn and(self, other: Query) -> Query {
        let expr = match (self.expr, other.expr) {
            (Some(a), Some(b)) => Some(Expr::And(vec![a, b])),
            (a, b) => a.or(b),
        };
        Query {
            expr,
            sort: self.sort.or(other.sort),
        }
    }

    /// Whether any term is full-text (words, prefixes, phrases).
    pub fn has_text(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().any(walk),
                Expr::Not(e) => walk(e),
                Expr::Term(t) => matches!(t, Term::Word(_) | Term::Prefix(_) | Term::Phrase(_)),
            }
        }
        self.expr.as_ref().is_some_and(walk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_460_800_000; // 2025-11-30T00:00:00Z

    fn t(term: Term) -> Expr {
        Expr::Term(term)
    }

    fn w(s: &str) -> Expr {
        t(Term::Word(s.into()))
    }

    #[test]
    fn queries_parse_as_github_reads_them() {
        let day = |d: &str| crate::repo::parse_time(&format!("{d}T00:00:00Z")).unwrap();
        let cases: Vec<(&str, Option<Expr>, Option<Sort>)> = vec![
            ("", None, None),
            ("is:open", Some(t(Term::State(State::Open))), None),
            (
                "is:open label:bug",
                Some(Expr::And(vec![
                    t(Term::State(State::Open)),
                    t(Term::Label(vec!["bug".into()])),
                ])),
                None,
            ),
            (
                "label:a,b -label:c",
                Some(Expr::And(vec![
                    t(Term::Label(vec!["a".into(), "b".into()])),
                    Expr::Not(Box::new(t(Term::Label(vec!["c".into()])))),
                ])),
                None,
            ),
            (
                r#"label:"needs review""#,
                Some(t(Term::Label(vec!["needs review".into()]))),
                None,
            ),
            ("priority:<=1", Some(t(Term::Priority(Cmp { low: 0, high: 1 }))), None),
            ("priority:>2", Some(t(Term::Priority(Cmp { low: 3, high: 4 }))), None),
            ("priority:1..3", Some(t(Term::Priority(Cmp { low: 1, high: 3 }))), None),
            (
                "comments:>3",
                Some(t(Term::Comments(Cmp {
                    low: 4,
                    high: u64::from(u32::MAX),
                }))),
                None,
            ),
            (
                "created:>2026-11-01",
                Some(t(Term::Created(Cmp {
                    low: day("2026-11-02"),
                    high: u64::MAX,
                }))),
                None,
            ),
            (
                "created:2026-11-01",
                Some(t(Term::Created(Cmp {
                    low: day("2026-11-01"),
                    high: day("2026-11-02") - 1,
                }))),
                None,
            ),
            (
                "updated:<7d",
                Some(t(Term::Updated(Cmp {
                    low: NOW - 7 * DAY_MS + 1,
                    high: u64::MAX,
                }))),
                None,
            ),
            (
                "updated:>7d",
                Some(t(Term::Updated(Cmp {
                    low: 0,
                    high: NOW - 7 * DAY_MS - 1,
                }))),
                None,
            ),
            (
                r#""connection reset" OR timeout"#,
                Some(Expr::Or(vec![
                    t(Term::Phrase(vec!["connection".into(), "reset".into()])),
                    w("timeout"),
                ])),
                None,
            ),
            (
                "a b OR c",
                Some(Expr::Or(vec![Expr::And(vec![w("a"), w("b")]), w("c")])),
                None,
            ),
            (
                "NOT (a OR b) c",
                Some(Expr::And(vec![
                    Expr::Not(Box::new(Expr::Or(vec![w("a"), w("b")]))),
                    w("c"),
                ])),
                None,
            ),
            ("Crashes", Some(w("crash")), None),
            ("time*", Some(t(Term::Prefix("time".into()))), None),
            ("no:assignee", Some(t(Term::NoAssignee)), None),
            ("blocked:false", Some(t(Term::Blocked(false))), None),
            ("is:blocked", Some(t(Term::Blocked(true))), None),
            (
                "type:bug,epic",
                Some(t(Term::Type(vec!["bug".into(), "epic".into()]))),
                None,
            ),
            (
                "sort:updated",
                None,
                Some(Sort {
                    key: SortKey::Updated,
                    descending: true,
                }),
            ),
            (
                "is:closed sort:priority-desc",
                Some(t(Term::State(State::Closed))),
                Some(Sort {
                    key: SortKey::Priority,
                    descending: true,
                }),
            ),
            (
                "sort:priority",
                None,
                Some(Sort {
                    key: SortKey::Priority,
                    descending: false,
                }),
            ),
            (
                "http://x.org/a",
                Some(Expr::Term(Term::Phrase(vec![
                    "http".into(),
                    "x".into(),
                    "org".into(),
                    "a".into(),
                ]))),
                None,
            ),
            ("a AND b", Some(Expr::And(vec![w("a"), w("b")])), None),
        ];
        for (q, expr, sort) in cases {
            assert_eq!(parse(q, NOW), Ok(Query { expr, sort }), "{q}");
        }
    }

    #[test]
    fn errors_point_at_their_column() {
        let cases = [
            ("is:open (label:bug", 9),
            ("label:bug )", 11),
            ("priority:<=9", 10),
            ("lable:bug", 1),
            ("\"open", 1),
            ("a OR", 3),
            ("OR a", 1),
            ("created:yesterday", 9),
            ("(a) -sort:created", 6),
            ("sort:size", 6),
            ("type:saga", 6),
            ("is:", 4),
            ("()", 1),
        ];
        for (q, column) in cases {
            let e = parse(q, NOW).expect_err(q);
            assert_eq!(e.column, column, "{q}: {e}");
        }
    }
}
