//! Queries against the index: the query language's terms turned into sets from the secondary
//! tables, one pass over every issue's facts, then the sort. Also the graph of links: the work
//! queue (`ready`), what is blocked and by what, an issue's links both ways, and cycles.

use std::collections::HashSet;

use super::tables::{self, BLOCKED_BY, CHILD, EDGE_LEN, Facts, PARENT, POSTING};
use super::*;
use crate::query::{Expr, Query, Sort, SortKey, Term};

/// What a search needs to know beyond the index.
#[derive(Debug, Default, Clone)]
pub struct SearchContext {
    /// Issues someone holds a claim on.
    pub claimed: HashSet<Id>,
    /// Of those, the ones claimed by someone other than the current actor.
    pub claimed_by_others: HashSet<Id>,
    /// `ready --include-ephemeral`: the `ephemeral` label does not hold an issue back.
    pub include_ephemeral: bool,
}

/// Which issues a search starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Every issue.
    All,
    /// `ready`: open, no open blocker, not claimed by someone else, not an epic with open
    /// children, not held by a label of `HELD_LABELS` the query does not name, and work (a type
    /// outside `NOT_WORK`, unless the query names a type).
    Ready,
    /// `blocked`: open, with an open blocker.
    Blocked,
}

/// An issue a search found.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The issue.
    pub id: Id,
    /// Its facts, for sorting and printing.
    pub facts: Facts,
}

/// What a search found: its hits up to the limit, how many matched in all, and for each hit
/// the open issues that block it.
#[derive(Debug, Default)]
pub struct Found {
    /// The hits, sorted, up to the limit.
    pub hits: Vec<Hit>,
    /// How many issues matched in all.
    pub total: usize,
    /// For each hit, the open issues that block it.
    pub blockers: HashMap<Id, Vec<Id>>,
}

type IdSet = HashSet<[u8; 32], std::hash::BuildHasherDefault<crate::event::IdHasher>>;

/// A term with what it needs looked up.
enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
    Open(bool),
    In(IdSet),
    HasLabel,
    HasAssignee,
    HasParent,
    /// Issues written by these actors, except that an imported issue (in `imported`) has the
    /// author its source names, and matches only if it is in `named`.
    Authors {
        actors: HashSet<[u8; 32]>,
        imported: IdSet,
        named: IdSet,
    },
    Types(Vec<u8>),
    Priority(crate::query::Cmp),
    Created(crate::query::Cmp),
    Updated(crate::query::Cmp),
    Comments(crate::query::Cmp),
    Blocked,
    Claimed,
    /// Issues whose id begins with one of these postings (a word or prefix).
    Words(HashSet<u64>, Vec<String>, bool),
    /// Candidates (every word present), then the phrase checked against the text.
    Phrase(HashSet<u64>, Vec<String>),
    Nothing,
}

fn posting(id: &Id) -> u64 {
    u64::from_be_bytes(id.0[..POSTING].try_into().expect("8 bytes"))
}

/// What evaluating needs at hand.
struct Eval<'a> {
    index: &'a Index,
    rtxn: &'a RoTxn<'a>,
    blocked: &'a HashMap<Id, Vec<Id>>,
    ctx: &'a SearchContext,
    /// Issues sharing their posting bytes with another: word matches are checked on their text.
    collided: &'a IdSet,
    /// A buffer for normalising words.
    buf: String,
}

impl<'a> Eval<'a> {
    fn new(
        index: &'a Index,
        rtxn: &'a RoTxn<'a>,
        blocked: &'a HashMap<Id, Vec<Id>>,
        ctx: &'a SearchContext,
        collided: &'a IdSet,
    ) -> Eval<'a> {
        Eval {
            index,
            rtxn,
            blocked,
            ctx,
            collided,
            buf: String::new(),
        }
    }

    /// Calls `f` with the title, body and comments of `id`, read from the stored state.
    fn with_texts(&mut self, id: &Id, f: impl FnOnce(&[&str], &mut String) -> bool) -> Result<bool> {
        let Some(bytes) = self.index.issues.get(self.rtxn, &id.0).map_err(self.index.err())? else {
            return Ok(false);
        };
        let texts = IssueState::stored_texts(bytes).ok_or_else(|| {
            self.index
                .damaged(&format!("issue {} is stored malformed", id.to_hex()))
        })?;
        Ok(f(&texts, &mut self.buf))
    }

    fn matches(&mut self, c: &Compiled, id: &Id, f: &Facts) -> Result<bool> {
        Ok(match c {
            Compiled::And(v) => {
                for c in v {
                    if !self.matches(c, id, f)? {
                        return Ok(false);
                    }
                }
                true
            }
            Compiled::Or(v) => {
                for c in v {
                    if self.matches(c, id, f)? {
                        return Ok(true);
                    }
                }
                false
            }
            Compiled::Not(c) => !self.matches(c, id, f)?,
            Compiled::Open(open) => f.open == *open,
            Compiled::In(set) => set.contains(&id.0),
            Compiled::HasLabel => f.has_labels,
            Compiled::HasAssignee => f.has_assignees,
            Compiled::HasParent => f.has_parent,
            Compiled::Authors {
                actors,
                imported,
                named,
            } => match imported.contains(&id.0) {
                true => named.contains(&id.0),
                false => actors.contains(&f.author),
            },
            Compiled::Types(t) => t.contains(&f.type_code),
            Compiled::Priority(c) => c.matches(u64::from(f.priority)),
            Compiled::Created(c) => c.matches(f.created_ms),
            Compiled::Updated(c) => c.matches(f.updated_ms),
            Compiled::Comments(c) => c.matches(u64::from(f.comments)),
            Compiled::Blocked => self.blocked.contains_key(id),
            Compiled::Claimed => self.ctx.claimed.contains(id),
            Compiled::Words(set, words, prefix) => {
                if !set.contains(&posting(id)) {
                    return Ok(false);
                }
                if !self.collided.contains(&id.0) {
                    return Ok(true);
                }
                let prefix = *prefix;
                self.with_texts(id, |texts, buf| {
                    let mut hit = false;
                    for t in texts {
                        crate::text::for_each_word(t, buf, |w| {
                            hit = words
                                .iter()
                                .any(|p| if prefix { w.starts_with(p.as_str()) } else { w == p });
                            !hit
                        });
                    }
                    hit
                })?
            }
            Compiled::Phrase(set, phrase) => {
                if !set.contains(&posting(id)) {
                    return Ok(false);
                }
                self.with_texts(id, |texts, buf| {
                    crate::text::texts_contain_phrase(texts.iter().copied(), phrase, buf)
                })?
            }
            Compiled::Nothing => false,
        })
    }
}

/// How much a term costs to evaluate, so that `And` and `Or` try the cheap ones first.
fn cost(c: &Compiled) -> u8 {
    match c {
        Compiled::Phrase(..) => 3,
        Compiled::And(v) | Compiled::Or(v) => v.iter().map(cost).max().unwrap_or(0),
        Compiled::Not(c) => cost(c),
        Compiled::Words(..) | Compiled::In(_) | Compiled::Authors { .. } | Compiled::Blocked | Compiled::Claimed => 1,
        _ => 0,
    }
}

impl Index {
    /// The issues `query` matches among `queue`'s, sorted (`list`'s newest first unless the
    /// query sorts; `ready`'s by priority, then oldest first), at most `limit` (0: all).
    pub fn search(&self, query: &Query, ctx: &SearchContext, queue: Queue, limit: usize) -> Result<Found> {
        let err = self.err();
        let (_held, rtxn) = self.read().map_err(&err)?;
        // Issues whose ids begin alike share postings; word matches on them are checked against
        // their text. Only a text query needs to know (and it essentially never happens).
        let mut collided = IdSet::default();
        if query.has_text() {
            let mut last: Option<[u8; 32]> = None;
            for item in self.facts.lazily_decode_data().iter(&rtxn).map_err(&err)? {
                let (k, _) = item.map_err(&err)?;
                let id: [u8; 32] = k.try_into().map_err(|_| self.damaged("a facts key is not 32 bytes"))?;
                if let Some(l) = last
                    && l[..POSTING] == id[..POSTING]
                {
                    collided.insert(l);
                    collided.insert(id);
                }
                last = Some(id);
            }
        }
        let needs_graph = queue != Queue::All || query.expr.as_ref().is_some_and(uses_blocked);
        let (blocked, open_children) = if needs_graph {
            self.blocked_in(&rtxn)?
        } else {
            Default::default()
        };
        let (held, not_work) = if queue == Queue::Ready {
            self.held(&rtxn, query, ctx)?
        } else {
            Default::default()
        };
        let compiled = query.expr.as_ref().map(|e| self.compile(&rtxn, e)).transpose()?;
        let mut eval = Eval::new(self, &rtxn, &blocked, ctx, &collided);
        let epic = tables::type_code("epic");
        let mut hits = Vec::new();
        for item in self.facts.iter(&rtxn).map_err(&err)? {
            let (k, v) = item.map_err(&err)?;
            let id = Id::from_slice(k).ok_or_else(|| self.damaged("a facts key is not 32 bytes"))?;
            let facts = Facts::decode(v).ok_or_else(|| self.damaged("a facts record has the wrong size"))?;
            let keep = match queue {
                Queue::All => true,
                Queue::Ready => {
                    let epic_with_work = facts.type_code == epic && open_children.contains(&id.0);
                    let held = blocked.contains_key(&id)
                        || ctx.claimed_by_others.contains(&id)
                        || held.contains(&id.0)
                        || not_work.contains(&facts.type_code);
                    facts.open && !held && !epic_with_work
                }
                Queue::Blocked => facts.open && blocked.contains_key(&id),
            };
            if keep && compiled.as_ref().map_or(Ok(true), |c| eval.matches(c, &id, &facts))? {
                hits.push(Hit { id, facts });
            }
        }
        let sort = query.sort.unwrap_or(match queue {
            Queue::All | Queue::Blocked => Sort::NEWEST,
            Queue::Ready => Sort {
                key: SortKey::Priority,
                descending: false,
            },
        });
        let total = hits.len();
        sort_hits(&mut hits, sort, queue == Queue::Ready, limit);
        let mut blockers = HashMap::new();
        if needs_graph {
            for h in &hits {
                if let Some(b) = blocked.get(&h.id) {
                    blockers.insert(h.id, b.clone());
                }
            }
        }
        Ok(Found { hits, total, blockers })
    }

    /// The issues that carry `label`.
    pub fn with_label(&self, label: &str) -> Result<Vec<Id>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        Ok(self
            .name_sets(&rtxn, &self.labels, &[label.to_owned()])?
            .into_iter()
            .map(Id)
            .collect())
    }

    /// What keeps an open issue out of `ready` besides blockers and claims: the issues with a
    /// held label the query does not name, and the type codes that are not work (none when the
    /// query names a type).
    fn held(&self, rtxn: &RoTxn, query: &Query, ctx: &SearchContext) -> Result<(IdSet, Vec<u8>)> {
        let mut named_labels = Vec::new();
        let mut names_type = false;
        if let Some(e) = &query.expr {
            terms(e, &mut |t| match t {
                Term::Label(l) => named_labels.extend(l.iter().cloned()),
                Term::Type(_) => names_type = true,
                _ => {}
            });
        }
        let labels: Vec<String> = crate::issue::HELD_LABELS
            .iter()
            .filter(|l| !named_labels.iter().any(|n| n == *l))
            .filter(|l| !(ctx.include_ephemeral && **l == crate::issue::EPHEMERAL))
            .map(|l| (*l).to_owned())
            .collect();
        let held = self.name_sets(rtxn, &self.labels, &labels)?;
        let not_work = if names_type {
            Vec::new()
        } else {
            crate::issue::NOT_WORK.iter().map(|t| tables::type_code(t)).collect()
        };
        Ok((held, not_work))
    }

    /// Issues with an open blocker (and which block them), and issues with an open child.
    fn blocked_in(&self, rtxn: &RoTxn) -> Result<(HashMap<Id, Vec<Id>>, IdSet)> {
        let mut blocked: HashMap<Id, Vec<Id>> = HashMap::new();
        let mut open_children = IdSet::default();
        let mut open: HashMap<[u8; 32], bool> = HashMap::new();
        let mut is_open = |b: &[u8]| -> Result<bool> {
            let b: [u8; 32] = b
                .try_into()
                .map_err(|_| self.damaged("a link key has the wrong size"))?;
            if let Some(o) = open.get(&b) {
                return Ok(*o);
            }
            let o = self
                .facts
                .get(rtxn, &b)
                .map_err(self.err())?
                .and_then(Facts::decode)
                .is_some_and(|f| f.open);
            open.insert(b, o);
            Ok(o)
        };
        for item in self.edges.lazily_decode_data().iter(rtxn).map_err(self.err())? {
            let (k, _) = item.map_err(self.err())?;
            if k.len() != EDGE_LEN {
                return Err(self.damaged("a link key has the wrong size"));
            }
            let (a, link, b) = (&k[..32], k[32], &k[33..]);
            match link {
                BLOCKED_BY if is_open(b)? => {
                    let b = Id::from_slice(b).expect("length checked");
                    blocked.entry(Id(a.try_into().expect("32 bytes"))).or_default().push(b);
                }
                CHILD if is_open(b)? => {
                    open_children.insert(a.try_into().expect("32 bytes"));
                }
                _ => {}
            }
        }
        Ok((blocked, open_children))
    }

    fn compile(&self, rtxn: &RoTxn, e: &Expr) -> Result<Compiled> {
        Ok(match e {
            Expr::And(v) | Expr::Or(v) => {
                let mut parts: Vec<Compiled> = v.iter().map(|e| self.compile(rtxn, e)).collect::<Result<_>>()?;
                parts.sort_by_key(cost);
                if matches!(e, Expr::And(_)) {
                    Compiled::And(parts)
                } else {
                    Compiled::Or(parts)
                }
            }
            Expr::Not(e) => Compiled::Not(Box::new(self.compile(rtxn, e)?)),
            Expr::Term(t) => match t {
                Term::State(s) => Compiled::Open(*s == State::Open),
                Term::Label(names) => Compiled::In(self.name_sets(rtxn, &self.labels, names)?),
                Term::Assignee(names) => Compiled::In(self.name_sets(rtxn, &self.assigned, names)?),
                Term::NoLabel => Compiled::Not(Box::new(Compiled::HasLabel)),
                Term::NoAssignee => Compiled::Not(Box::new(Compiled::HasAssignee)),
                Term::NoParent => Compiled::Not(Box::new(Compiled::HasParent)),
                Term::Author(who) => {
                    let (imported, named) = self.imported_by(rtxn, who)?;
                    Compiled::Authors {
                        actors: self.actors_named(rtxn, who)?,
                        imported,
                        named,
                    }
                }
                Term::Type(types) => Compiled::Types(types.iter().map(|t| tables::type_code(t)).collect()),
                Term::Priority(c) => Compiled::Priority(*c),
                Term::Created(c) => Compiled::Created(*c),
                Term::Updated(c) => Compiled::Updated(*c),
                Term::Comments(c) => Compiled::Comments(*c),
                Term::Blocked(true) => Compiled::Blocked,
                Term::Blocked(false) => Compiled::Not(Box::new(Compiled::Blocked)),
                Term::Claimed(true) => Compiled::Claimed,
                Term::Claimed(false) => Compiled::Not(Box::new(Compiled::Claimed)),
                Term::Parent(p) => match self.resolve_in(rtxn, p) {
                    Ok(parent) => Compiled::In(self.linked(rtxn, &parent, CHILD)?.into_iter().map(|i| i.0).collect()),
                    Err(Error::NotFound { .. }) => Compiled::Nothing,
                    Err(e) => return Err(e),
                },
                Term::Word(w) => Compiled::Words(self.postings(rtxn, w, false)?, vec![w.clone()], false),
                Term::Prefix(p) => Compiled::Words(self.postings(rtxn, p, true)?, vec![p.clone()], true),
                Term::Phrase(words) => {
                    let mut set: Option<HashSet<u64>> = None;
                    for w in words {
                        let next = self.postings(rtxn, w, false)?;
                        set = Some(match set {
                            None => next,
                            Some(s) => s.intersection(&next).copied().collect(),
                        });
                    }
                    Compiled::Phrase(set.unwrap_or_default(), words.clone())
                }
            },
        })
    }

    /// Issues carrying any of `names` in a name table (`labels`, `assigned`).
    fn name_sets(&self, rtxn: &RoTxn, db: &Database<Bytes, Unit>, names: &[String]) -> Result<IdSet> {
        let mut out = IdSet::default();
        for name in names {
            let mut prefix = name.as_bytes().to_vec();
            prefix.push(0);
            for item in db.lazily_decode_data().prefix_iter(rtxn, &prefix).map_err(self.err())? {
                let (k, _) = item.map_err(self.err())?;
                let id = k[prefix.len()..]
                    .try_into()
                    .map_err(|_| self.damaged("a name key does not end in a 32-byte id"))?;
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// The postings of a word, or of every word beginning with `prefix`.
    fn postings(&self, rtxn: &RoTxn, word: &str, prefix: bool) -> Result<HashSet<u64>> {
        let mut out = HashSet::new();
        let mut add = |v: &[u8]| -> Result<()> {
            let p: [u8; POSTING] = v.try_into().map_err(|_| self.damaged("a posting has the wrong size"))?;
            out.insert(u64::from_be_bytes(p));
            Ok(())
        };
        if prefix {
            for item in self.words.prefix_iter(rtxn, word.as_bytes()).map_err(self.err())? {
                add(item.map_err(self.err())?.1)?;
            }
        } else if let Some(dups) = self.words.get_duplicates(rtxn, word.as_bytes()).map_err(self.err())? {
            for item in dups {
                add(item.map_err(self.err())?.1)?;
            }
        }
        Ok(out)
    }

    /// Actors whose name or email is `who` (any case), or whose id is `id:<hex prefix>`.
    /// The imported issues (every one with a source), and those whose source names `who` as
    /// their author (by name, email or, for `id:<hex>`, the original actor an export names).
    fn imported_by(&self, rtxn: &RoTxn, who: &str) -> Result<(IdSet, IdSet)> {
        let (mut imported, mut named) = (IdSet::default(), IdSet::default());
        for item in self.sources.iter(rtxn).map_err(self.err())? {
            let (_, v) = item.map_err(self.err())?;
            let Some(id) = Id::from_slice(v) else { continue };
            if !imported.insert(id.0) {
                continue;
            }
            let Some(origin) = self.load_issue(rtxn, &id)?.and_then(|s| s.origin).map(|o| o.value) else {
                imported.remove(&id.0);
                continue;
            };
            let hit = match who.strip_prefix("id:") {
                Some(p) => origin
                    .author_id
                    .is_some_and(|a| a.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase())),
                None => {
                    origin.author.eq_ignore_ascii_case(who)
                        || origin.author_email.is_some_and(|e| e.eq_ignore_ascii_case(who))
                }
            };
            if hit {
                named.insert(id.0);
            }
        }
        Ok((imported, named))
    }

    fn actors_named(&self, rtxn: &RoTxn, who: &str) -> Result<HashSet<[u8; 32]>> {
        let mut out = HashSet::new();
        let prefix = who.strip_prefix("id:").map(str::to_ascii_lowercase);
        for item in self.actors.iter(rtxn).map_err(self.err())? {
            let (k, _) = item.map_err(self.err())?;
            let Ok(id) = <[u8; 32]>::try_from(k) else { continue };
            let hit = match &prefix {
                Some(p) => ActorId(id).to_hex().starts_with(p.as_str()),
                None => {
                    let a = self.author_in(rtxn, &ActorId(id))?;
                    a.name.is_some_and(|n| n.eq_ignore_ascii_case(who))
                        || a.email.is_some_and(|e| e.eq_ignore_ascii_case(who))
                }
            };
            if hit {
                out.insert(id);
            }
        }
        // An author whose record has not arrived yet is still found by id.
        if let Some(p) = prefix
            && let Some(id) = ActorId::from_hex(&p)
        {
            out.insert(id.0);
        }
        Ok(out)
    }

    /// The issues linked to `id` by `link` (a byte of `tables`), in id order.
    pub fn linked(&self, rtxn: &RoTxn, id: &Id, link: u8) -> Result<Vec<Id>> {
        let mut prefix = id.0.to_vec();
        prefix.push(link);
        let mut out = Vec::new();
        for item in self
            .edges
            .lazily_decode_data()
            .prefix_iter(rtxn, &prefix)
            .map_err(self.err())?
        {
            let (k, _) = item.map_err(self.err())?;
            out.push(Id::from_slice(&k[33..]).ok_or_else(|| self.damaged("a link key has the wrong size"))?);
        }
        Ok(out)
    }

    /// Every link of `id`, both ways: (link byte, other issue), sorted.
    pub fn links_of(&self, id: &Id) -> Result<Vec<(u8, Id)>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut out = Vec::new();
        for item in self
            .edges
            .lazily_decode_data()
            .prefix_iter(&rtxn, &id.0)
            .map_err(self.err())?
        {
            let (k, _) = item.map_err(self.err())?;
            if k.len() != EDGE_LEN {
                return Err(self.damaged("a link key has the wrong size"));
            }
            out.push((k[32], Id::from_slice(&k[33..]).expect("length checked")));
        }
        Ok(out)
    }

    /// The issues reachable from `from` by following `link` (`BLOCKED_BY` or `PARENT`): the
    /// path to `to` if there is one, for refusing a link that would close a cycle.
    pub fn path(&self, from: &Id, to: &Id, link: u8) -> Result<Option<Vec<Id>>> {
        self.path_with(from, to, link, &|_| Vec::new())
    }

    /// [`Index::path`] over the links in the index and those `more` adds (links about to be
    /// written: an import checks its own against each other).
    pub fn path_with(&self, from: &Id, to: &Id, link: u8, more: &dyn Fn(&Id) -> Vec<Id>) -> Result<Option<Vec<Id>>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut seen: HashMap<Id, Id> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([*from]);
        while let Some(at) = queue.pop_front() {
            if at == *to {
                let mut path = vec![at];
                let mut cur = at;
                while let Some(prev) = seen.get(&cur) {
                    path.push(*prev);
                    cur = *prev;
                    if cur == *from {
                        break;
                    }
                }
                path.reverse();
                return Ok(Some(path));
            }
            for next in self.linked(&rtxn, &at, link)?.into_iter().chain(more(&at)) {
                if next != *from && !seen.contains_key(&next) {
                    seen.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        Ok(None)
    }

    /// Cycles of `blocks` and `parent` links (two clones can make one between them), each as
    /// the issues on it, starting from its smallest id. With `through`, only cycles through it.
    pub fn cycles(&self, through: Option<&Id>) -> Result<Vec<(&'static str, Vec<Id>)>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut out = Vec::new();
        for (link, name) in [(BLOCKED_BY, "blocked-by"), (PARENT, "parent")] {
            let mut graph: HashMap<Id, Vec<Id>> = HashMap::new();
            for item in self.edges.lazily_decode_data().iter(&rtxn).map_err(self.err())? {
                let (k, _) = item.map_err(self.err())?;
                if k.len() == EDGE_LEN && k[32] == link {
                    let a = Id::from_slice(&k[..32]).expect("32 bytes");
                    graph
                        .entry(a)
                        .or_default()
                        .push(Id::from_slice(&k[33..]).expect("32 bytes"));
                }
            }
            for cycle in find_cycles(&graph) {
                if through.is_none_or(|t| cycle.contains(t)) {
                    out.push((name, cycle));
                }
            }
        }
        Ok(out)
    }

    /// Which of `ids` the query matches now (issues not created yet match nothing): the test
    /// `git wal watch -S` puts each event's issue to, without a pass over every issue.
    pub fn matching(&self, query: &Query, ctx: &SearchContext, ids: &[Id]) -> Result<HashSet<Id>> {
        let err = self.err();
        let (_held, rtxn) = self.read().map_err(&err)?;
        let blocked = if query.expr.as_ref().is_some_and(uses_blocked) {
            self.blocked_in(&rtxn)?.0
        } else {
            HashMap::new()
        };
        let compiled = query.expr.as_ref().map(|e| self.compile(&rtxn, e)).transpose()?;
        // Checking a few issues' words against their text costs little and is always exact.
        let collided: IdSet = ids.iter().map(|i| i.0).collect();
        let mut eval = Eval::new(self, &rtxn, &blocked, ctx, &collided);
        let mut out = HashSet::new();
        for id in ids {
            let Some(v) = self.facts.get(&rtxn, &id.0).map_err(&err)? else {
                continue;
            };
            let facts = Facts::decode(v).ok_or_else(|| self.damaged("a facts record has the wrong size"))?;
            if compiled.as_ref().map_or(Ok(true), |c| eval.matches(c, id, &facts))? {
                out.insert(*id);
            }
        }
        Ok(out)
    }

    /// The `list --json` row of each of `ids` that exists, by id.
    pub fn summaries(&self, ids: &[Id]) -> Result<HashMap<Id, serde_json::Value>> {
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(f) = self.facts(id)? {
                items.push((*id, f.created_ms));
            }
        }
        let mut buf = Vec::new();
        self.write_rows_json(|f| self.for_each_listed(&items, f), &mut buf, |_, _| Ok(()))?;
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&buf).map_err(|_| self.damaged("a row does not read back as JSON"))?;
        Ok(items.iter().map(|(id, _)| *id).zip(rows).collect())
    }

    /// The facts of one issue.
    pub fn facts(&self, id: &Id) -> Result<Option<Facts>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let v = self.facts.get(&rtxn, &id.0).map_err(self.err())?;
        v.map(|v| Facts::decode(v).ok_or_else(|| self.damaged("a facts record has the wrong size")))
            .transpose()
    }
}

/// Calls `f` on every term of `e`.
fn terms(e: &Expr, f: &mut impl FnMut(&Term)) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| terms(e, f)),
        Expr::Not(e) => terms(e, f),
        Expr::Term(t) => f(t),
    }
}

fn uses_blocked(e: &Expr) -> bool {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().any(uses_blocked),
        Expr::Not(e) => uses_blocked(e),
        Expr::Term(t) => matches!(t, Term::Blocked(_)),
    }
}

/// Sorts by the key, then (for ties) oldest first in the work queue and newest first
/// elsewhere, then by id: the same order every time. With a limit, only the first `limit`
/// are sorted (and kept).
fn sort_hits(hits: &mut Vec<Hit>, sort: Sort, queue: bool, limit: usize) {
    let order = |a: &Hit, b: &Hit| {
        let (x, y) = (&a.facts, &b.facts);
        let key = match sort.key {
            SortKey::Created => x.created_ms.cmp(&y.created_ms),
            SortKey::Updated => x.updated_ms.cmp(&y.updated_ms),
            SortKey::Priority => x.priority.cmp(&y.priority),
            SortKey::Comments => x.comments.cmp(&y.comments),
        };
        let key = if sort.descending { key.reverse() } else { key };
        let age = x.created_ms.cmp(&y.created_ms);
        let age = if queue { age } else { age.reverse() };
        key.then(age).then_with(|| a.id.cmp(&b.id))
    };
    if limit > 0 && hits.len() > limit {
        hits.select_nth_unstable_by(limit - 1, order);
        hits.truncate(limit);
    }
    hits.sort_unstable_by(order);
}

/// Cycles of a directed graph, as one depth-first search meets them: at least one through
/// every node that lies on a cycle, each rotated to start at its smallest id.
fn find_cycles(graph: &HashMap<Id, Vec<Id>>) -> Vec<Vec<Id>> {
    let mut found: std::collections::BTreeSet<Vec<Id>> = Default::default();
    let mut done: HashSet<Id> = HashSet::new();
    let mut starts: Vec<&Id> = graph.keys().collect();
    starts.sort();
    for start in starts {
        if done.contains(start) {
            continue;
        }
        // Iterative DFS keeping the current path.
        let mut path: Vec<Id> = vec![*start];
        let mut on_path: HashSet<Id> = HashSet::from([*start]);
        let mut stack: Vec<usize> = vec![0];
        while let Some(next_at) = stack.last_mut() {
            let node = *path.last().expect("path follows stack");
            let nexts = graph.get(&node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(next) = nexts.get(*next_at) {
                *next_at += 1;
                if on_path.contains(next) {
                    let from = path.iter().position(|p| p == next).expect("on the path");
                    let mut cycle = path[from..].to_vec();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, id)| **id)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    found.insert(cycle);
                } else if !done.contains(next) {
                    path.push(*next);
                    on_path.insert(*next);
                    stack.push(0);
                }
            } else {
                stack.pop();
                let n = path.pop().expect("path follows stack");
                on_path.remove(&n);
                done.insert(n);
            }
        }
    }
    found.into_iter().collect()
}
