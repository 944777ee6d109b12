//! The read side of the index: resolving ids, short ids, authors, issue views, the rows of
//! `list`, the lease cache, counts and a canonical dump for tests.

use super::*;

impl Index {
    /// The largest Lamport clock seen; a new event takes this plus one.
    pub fn lamport(&self) -> Result<u64> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        Ok(meta_u64(self.meta.get(&rtxn, "lamport").map_err(self.err())?))
    }

    /// Waits until no other process is writing: a reader that learned of a write early (the
    /// feed records a fold before it commits) then sees it.
    pub fn wait_for_writer(&self) -> Result<()> {
        let (_held, wtxn) = self.write().map_err(self.err())?;
        wtxn.abort();
        Ok(())
    }

    /// A string kept in the index's metadata (a bridge's cursor): a cache like the rest,
    /// gone when the index is rebuilt.
    pub fn meta_string(&self, key: &str) -> Result<Option<String>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let v = self.meta.get(&rtxn, &format!("s:{key}")).map_err(self.err())?;
        Ok(v.map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// Keeps a string in the index's meta table under `key` (a cache: a rebuild drops it).
    pub fn set_meta_string(&self, key: &str, value: &str) -> Result<()> {
        self.growing(|| {
            let (_held, mut wtxn) = self.write().map_err(self.err())?;
            self.meta
                .put(&mut wtxn, &format!("s:{key}"), value.as_bytes())
                .map_err(self.err())?;
            wtxn.commit().map_err(self.err())
        })
    }

    /// The state of issue `id`, if the index has it.
    pub fn issue(&self, id: &Id) -> Result<Option<IssueState>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        self.load_issue(&rtxn, id)
    }

    /// Every event of issue `id` the index holds, in the order they happened: by wall time, then
    /// Lamport clock, then id. Each was checked (signature, owner, bounds) before it was folded in.
    pub fn history(&self, id: &Id) -> Result<Vec<history::Entry>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut out = Vec::new();
        for item in self.history.prefix_iter(&rtxn, &id.0).map_err(self.err())? {
            let (k, v) = item.map_err(self.err())?;
            out.push(history::Entry::decode(k, v).ok_or_else(|| Error::Index {
                path: self.path.clone(),
                source: heed::Error::Decoding(format!("a step of issue {} is stored malformed", id.to_hex()).into()),
            })?);
        }
        out.sort_by_key(|e| (e.wall_ms, e.lamport, e.event));
        Ok(out)
    }

    /// Resolves a full id or any unique hex prefix to an issue id.
    /// Resolves an issue id, or a unique prefix of one of at least [`MIN_PREFIX`] digits.
    pub fn resolve(&self, query: &str) -> Result<Id> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        self.resolve_in(&rtxn, query)
    }

    /// `resolve` within a read transaction already open (LMDB allows one per thread).
    pub(super) fn resolve_in(&self, rtxn: &RoTxn, query: &str) -> Result<Id> {
        let q = query.trim().to_ascii_lowercase();
        // As git: an abbreviation is at least 4 digits. `close 1` must not close whatever issue
        // happens to be the only one starting with 1.
        if q.len() < MIN_PREFIX && q.bytes().all(|b| b.is_ascii_hexdigit()) && !q.is_empty() {
            return Err(Error::invalid(
                format!("'{query}' is too short to name an issue: give at least {MIN_PREFIX} digits of its id"),
                "`git issue list` shows the ids (7 digits, and any unique prefix of 4 or more works)",
            ));
        }
        let Some((low, high)) = hex::prefix_range(&q) else {
            return Err(Error::invalid(
                format!("'{query}' is not an issue id"),
                "ids are hexadecimal; `git issue list` shows them",
            ));
        };
        let mut found = Vec::new();
        let range = (Bound::Included(&low[..]), Bound::Included(&high[..]));
        for item in self.issues.range(rtxn, &range).map_err(self.err())? {
            let (k, v) = item.map_err(self.err())?;
            let created = IssueState::decode(v).is_some_and(|s| s.created.is_some());
            if created {
                found.push(Id::from_slice(k).ok_or_else(|| self.damaged("an issue key is not 32 bytes"))?);
            }
            if found.len() > 10 {
                break;
            }
        }
        match found.len() {
            0 => Err(Error::NotFound {
                what: "issue",
                query: query.to_owned(),
            }),
            1 => Ok(found[0]),
            _ => {
                let mut candidates = Vec::new();
                for id in found.iter().take(10) {
                    let title = self
                        .load_issue(rtxn, id)?
                        .and_then(|s| s.title.map(|t| t.value))
                        .unwrap_or_default();
                    candidates.push(format!(
                        "{}  {}",
                        &id.to_hex()[..(q.len() + 4).clamp(MIN_SHORT, 64)],
                        title
                    ));
                }
                Err(Error::Ambiguous {
                    what: "issue",
                    prefix: query.to_owned(),
                    candidates,
                })
            }
        }
    }

    /// The shortest prefix (at least `MIN_SHORT` digits) that tells `id` apart from every other issue.
    pub(super) fn short_len(&self, rtxn: &RoTxn, id: &Id) -> Result<usize> {
        let mut n = 0;
        if let Some((k, _)) = self.issues.get_lower_than(rtxn, &id.0).map_err(self.err())? {
            n = n.max(hex::common_digits(k, &id.0));
        }
        if let Some((k, _)) = self.issues.get_greater_than(rtxn, &id.0).map_err(self.err())? {
            n = n.max(hex::common_digits(k, &id.0));
        }
        Ok((n + 1).max(MIN_SHORT))
    }

    /// The shortest prefix of `id`, at least [`MIN_SHORT`] digits, that no other issue shares.
    pub fn short_id(&self, id: &Id) -> Result<String> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        Ok(id.to_hex()[..self.short_len(&rtxn, id)?].to_owned())
    }

    /// Short-id lengths of every issue, in one pass over the sorted keys.
    fn all_short_lens(&self, rtxn: &RoTxn) -> Result<IdMap<u8>> {
        let keys: Vec<&[u8]> = self
            .issues
            .lazily_decode_data()
            .iter(rtxn)
            .map_err(self.err())?
            .map(|r| r.map(|(k, _)| k))
            .collect::<std::result::Result<_, _>>()
            .map_err(self.err())?;
        let mut out = IdMap::with_capacity_and_hasher(keys.len(), Default::default());
        if keys.iter().any(|k| k.len() != 32) {
            return Err(self.damaged("an issue key is not 32 bytes"));
        }
        for (i, k) in keys.iter().enumerate() {
            let mut n = 0;
            if i > 0 {
                n = n.max(hex::common_digits(keys[i - 1], k));
            }
            if i + 1 < keys.len() {
                n = n.max(hex::common_digits(keys[i + 1], k));
            }
            out.insert(
                (*k).try_into().expect("issue keys are 32 bytes"),
                (n + 1).max(MIN_SHORT) as u8,
            );
        }
        Ok(out)
    }

    /// How an actor is shown; unknown actors (record not fetched yet) show their id only.
    pub fn author(&self, id: &ActorId) -> Result<AuthorView> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        self.author_in(&rtxn, id)
    }

    pub(super) fn author_in(&self, rtxn: &RoTxn, id: &ActorId) -> Result<AuthorView> {
        let rec = self.actors.get(rtxn, &id.0).map_err(self.err())?;
        let fields = rec.and_then(|b| match crate::event::from_cbor(b).ok()? {
            ciborium::value::Value::Array(a) if a.len() == 2 => {
                Some((a[0].as_text()?.to_owned(), a[1].as_text()?.to_owned()))
            }
            _ => None,
        });
        Ok(AuthorView {
            id: id.to_hex(),
            name: fields.as_ref().map(|f| f.0.clone()),
            email: fields.map(|f| f.1),
        })
    }

    /// The full view of one issue for `show`.
    pub fn view(&self, id: &Id) -> Result<IssueView> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let state = self.load_issue(&rtxn, id)?.ok_or_else(|| Error::NotFound {
            what: "issue",
            query: id.to_hex(),
        })?;
        let short = id.to_hex()[..self.short_len(&rtxn, id)?].to_owned();
        let author = |a: &ActorId| -> AuthorView {
            self.author_in(&rtxn, a).unwrap_or(AuthorView {
                id: a.to_hex(),
                name: None,
                email: None,
            })
        };
        let view = IssueView::new(&state, short, &author);
        Ok(view)
    }

    /// Calls `f` for each issue matching `filter`, newest first. Returns how many matched in
    /// all (beyond the limit too), so callers can say what they left out.
    pub fn for_each_row(&self, filter: &ListFilter, mut f: impl FnMut(Row<'_>) -> Result<()>) -> Result<usize> {
        let err = self.err();
        let (_held, rtxn) = self.read().map_err(&err)?;
        let label_sets: Vec<BTreeSet<[u8; 32]>> = filter
            .labels
            .iter()
            .map(|l| self.issues_with_label(&rtxn, l))
            .collect::<Result<_>>()?;
        let total = self.rows.len(&rtxn).map_err(&err)? as usize;
        let limit = if filter.limit == 0 { usize::MAX } else { filter.limit };
        let mut emit = RowEmitter::new(self, &rtxn, limit.min(total))?;
        // With no filter but the state, the rows left out can be counted without walking them.
        let countable =
            label_sets.is_empty() && filter.author.is_none() && filter.assignee.is_none() && filter.exclude.is_empty();
        let mut matched = 0;
        for item in self.rows.rev_iter(&rtxn).map_err(&err)? {
            let (key, value) = item.map_err(&err)?;
            if key.len() != 40 || value.len() < 33 {
                return Err(self.damaged("a row is shorter than its fixed fields"));
            }
            let id: [u8; 32] = key[8..].try_into().expect("length checked above");
            if filter.state.is_some_and(|s| state_byte(s) != value[0]) {
                continue;
            }
            if !label_sets.iter().all(|s| s.contains(&id)) {
                continue;
            }
            let author: [u8; 32] = value[1..33].try_into().expect("length checked above");
            if filter.author.is_some_and(|a| a.0 != author) {
                continue;
            }
            if filter.exclude.contains(&Id(id)) {
                continue;
            }
            if let Some(who) = &filter.assignee {
                let fields: crate::issue::RowFields = serde_json::from_slice(&[b"{", &value[33..], b"}"].concat())
                    .map_err(|e| Error::Index {
                        path: self.path.clone(),
                        source: heed::Error::Decoding(Box::new(e)),
                    })?;
                if !fields.assignees.iter().any(|a| a == who) {
                    continue;
                }
            }
            matched += 1;
            if matched > limit {
                if countable {
                    return self.count_rows(&rtxn, filter.state, total);
                }
                continue;
            }
            emit.emit(Id(id), value, &mut f)?;
        }
        Ok(matched)
    }

    /// Calls `f` for each of `items` (an issue and its creation time), in that order.
    pub fn for_each_listed(&self, items: &[(Id, u64)], mut f: impl FnMut(Row<'_>) -> Result<()>) -> Result<()> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut emit = RowEmitter::new(self, &rtxn, items.len())?;
        for (id, created_ms) in items {
            let mut key = [0u8; 40];
            key[..8].copy_from_slice(&created_ms.to_be_bytes());
            key[8..].copy_from_slice(&id.0);
            let value = self
                .rows
                .get(&rtxn, &key)
                .map_err(self.err())?
                .ok_or_else(|| self.damaged("an issue's facts name a row that is missing"))?;
            if value.len() < 33 {
                return Err(self.damaged("a row is shorter than its fixed fields"));
            }
            emit.emit(*id, value, &mut f)?;
        }
        Ok(())
    }

    /// How many of the `total` rows are in `state` (all of them for `None`).
    fn count_rows(&self, rtxn: &RoTxn, state: Option<State>, total: usize) -> Result<usize> {
        let closed = meta_u64(self.meta.get(rtxn, CLOSED).map_err(self.err())?) as usize;
        Ok(match state {
            None => total,
            Some(State::Closed) => closed,
            Some(State::Open) => total.saturating_sub(closed),
        })
    }

    /// Every label some issue carries now, sorted.
    pub fn label_names(&self) -> Result<Vec<String>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut out: Vec<String> = Vec::new();
        for item in self.labels.iter(&rtxn).map_err(self.err())? {
            let (k, _) = item.map_err(self.err())?;
            let Some(end) = k.iter().position(|&b| b == 0) else {
                continue;
            };
            let label = String::from_utf8_lossy(&k[..end]);
            if out.last().map(String::as_str) != Some(&*label) {
                out.push(label.into_owned());
            }
        }
        Ok(out)
    }

    fn issues_with_label(&self, rtxn: &RoTxn, label: &str) -> Result<BTreeSet<[u8; 32]>> {
        let mut prefix = label.as_bytes().to_vec();
        prefix.push(0);
        let mut out = BTreeSet::new();
        for item in self.labels.prefix_iter(rtxn, &prefix).map_err(self.err())? {
            let (k, _) = item.map_err(self.err())?;
            let id = k[prefix.len()..]
                .try_into()
                .map_err(|_| self.damaged("a label key does not end in a 32-byte id"))?;
            out.insert(id);
        }
        Ok(out)
    }

    /// Writes `list --json`: a JSON array of row objects.
    /// `extra` may add fields to each row: it writes a JSON fragment starting with a comma.
    pub fn write_list_json<W: Write>(
        &self,
        filter: &ListFilter,
        out: &mut W,
        extra: impl FnMut(&Id, &mut W) -> std::io::Result<()>,
    ) -> Result<usize> {
        self.write_rows_json(|f| self.for_each_row(filter, f), out, extra)
    }

    /// `write_list_json` for the rows `rows` gives (`for_each_row`, `for_each_listed`).
    pub fn write_rows_json<W: Write, T>(
        &self,
        rows: impl FnOnce(&mut dyn FnMut(Row<'_>) -> Result<()>) -> Result<T>,
        out: &mut W,
        mut extra: impl FnMut(&Id, &mut W) -> std::io::Result<()>,
    ) -> Result<T> {
        let io = |e| Error::Io {
            path: "<stdout>".into(),
            source: e,
        };
        out.write_all(b"[").map_err(io)?;
        let mut first = true;
        let n = rows(&mut |row| {
            if !first {
                out.write_all(b",\n").map_err(io)?;
            }
            first = false;
            for part in [
                &b"{\"id\":\""[..],
                row.hex.as_bytes(),
                b"\",\"short_id\":\"",
                row.short_id.as_bytes(),
                b"\",",
                row.fragment,
                b",\"author\":",
                row.author_json.as_bytes(),
            ] {
                out.write_all(part).map_err(io)?;
            }
            extra(&row.id, out).map_err(io)?;
            out.write_all(b"}").map_err(io)?;
            Ok(())
        })?;
        out.write_all(b"]\n").map_err(io)?;
        Ok(n)
    }

    /// Looks up the cached message of each lock commit, calling `f` with its position and the
    /// bytes (borrowed from the map, no copy), or `None` where it is not cached yet.
    pub fn with_cached_leases(&self, commits: &[ObjectId], mut f: impl FnMut(usize, Option<&[u8]>)) -> Result<()> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        for (i, c) in commits.iter().enumerate() {
            f(i, self.leases.get(&rtxn, oid_bytes(c)).map_err(self.err())?);
        }
        Ok(())
    }

    /// Caches lock commits' messages.
    pub fn cache_leases(&self, items: &[(ObjectId, Vec<u8>)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.growing(|| {
            let (_held, mut wtxn) = self.write().map_err(self.err())?;
            for (c, m) in items {
                self.leases.put(&mut wtxn, oid_bytes(c), m).map_err(self.err())?;
            }
            wtxn.commit().map_err(self.err())
        })
    }

    /// How many distinct events the index holds.
    pub fn event_count(&self) -> Result<u64> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        self.events.len(&rtxn).map_err(self.err())
    }

    /// What `git wal stats` reports.
    pub fn stats(&self) -> Result<Stats> {
        let err = self.err();
        let (_held, rtxn) = self.read().map_err(&err)?;
        let folded_at = meta_u64(self.meta.get(&rtxn, "folded_at").map_err(&err)?);
        let fold_micros = self.meta.get(&rtxn, "fold_micros").map_err(&err)?;
        Ok(Stats {
            events: self.events.len(&rtxn).map_err(&err)?,
            issues: self.rows.len(&rtxn).map_err(&err)?,
            actors: self.actors.len(&rtxn).map_err(&err)?,
            refs: self.tips.len(&rtxn).map_err(&err)?,
            index_bytes: std::fs::metadata(self.path.join("data.mdb")).map_or(0, |m| m.len()),
            index_path: self.path.display().to_string(),
            schema_version: SCHEMA_VERSION,
            last_fold_at: (folded_at > 0).then(|| crate::repo::format_time(folded_at)),
            last_fold_ms: fold_micros.map(|b| meta_u64(Some(b)) as f64 / 1000.0),
            lamport: meta_u64(self.meta.get(&rtxn, "lamport").map_err(&err)?),
            tables: self.table_bytes(&rtxn)?,
        })
    }

    fn table_bytes(&self, rtxn: &RoTxn) -> Result<std::collections::BTreeMap<&'static str, u64>> {
        let err = self.err();
        let mut out = std::collections::BTreeMap::new();
        let bytes =
            |s: heed::DatabaseStat| (s.branch_pages + s.leaf_pages + s.overflow_pages) as u64 * u64::from(s.page_size);
        for (name, db) in [
            ("tips", self.tips.remap_key_type::<Bytes>()),
            ("meta", self.meta.remap_key_type::<Bytes>()),
            ("events", self.events),
            ("issues", self.issues),
            ("rows", self.rows),
            ("actors", self.actors),
            ("leases", self.leases),
            ("facts", self.facts),
        ] {
            out.insert(name, bytes(db.stat(rtxn).map_err(&err)?));
        }
        for (name, db) in [
            ("commits", &self.commits),
            ("parented", &self.parented),
            ("labels", &self.labels),
            ("edges", &self.edges),
            ("assigned", &self.assigned),
        ] {
            out.insert(name, bytes(db.stat(rtxn).map_err(&err)?));
        }
        // LMDB's statistics leave out the pages of a table of sorted duplicates: the words are
        // what the file's used pages hold beyond the other tables (and the free list).
        let info = self.env.info();
        let used = (info.last_page_number as u64 + 1) * u64::from(self.words.stat(rtxn).map_err(&err)?.page_size);
        let others: u64 = out.values().sum();
        out.insert("words", used.saturating_sub(others));
        Ok(out)
    }

    /// The issue imported from `source`, if one was.
    pub fn by_source(&self, source: &str) -> Result<Option<Id>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let v = self.sources.get(&rtxn, source.as_bytes()).map_err(self.err())?;
        Ok(v.and_then(Id::from_slice))
    }

    /// Every event id of every issue, by issue (one pass over the events table).
    pub fn events_by_issue(&self) -> Result<HashMap<Id, Vec<Id>>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut out: HashMap<Id, Vec<Id>> = HashMap::new();
        for item in self.events.iter(&rtxn).map_err(self.err())? {
            let (k, v) = item.map_err(self.err())?;
            if let (Some(ev), Some(entity)) = (Id::from_slice(k), Id::from_slice(v)) {
                out.entry(entity).or_default().push(ev);
            }
        }
        Ok(out)
    }

    /// A canonical dump of the projection, for tests that compare two indexes byte for byte.
    pub fn dump(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let (_held, rtxn) = self.read().map_err(self.err())?;
        let mut out = Vec::new();
        for (tag, db) in [(b'i', &self.issues), (b'r', &self.rows)] {
            for item in db.iter(&rtxn).map_err(self.err())? {
                let (k, v) = item.map_err(self.err())?;
                out.push(([&[tag][..], k].concat(), v.to_vec()));
            }
        }
        for (tag, db) in [
            (b'f', &self.facts),
            (b'w', &self.words),
            (b's', &self.sources),
            (b'h', &self.history),
        ] {
            for item in db.iter(&rtxn).map_err(self.err())? {
                let (k, v) = item.map_err(self.err())?;
                out.push(([&[tag][..], k].concat(), v.to_vec()));
            }
        }
        for (tag, db) in [
            (b'l', &self.labels),
            (b'p', &self.parented),
            (b'g', &self.edges),
            (b'a', &self.assigned),
        ] {
            for item in db.iter(&rtxn).map_err(self.err())? {
                let (k, _) = item.map_err(self.err())?;
                out.push(([&[tag][..], k].concat(), Vec::new()));
            }
        }
        for item in self.events.iter(&rtxn).map_err(self.err())? {
            let (k, v) = item.map_err(self.err())?;
            out.push(([&b"e"[..], k].concat(), v.to_vec()));
        }
        let lamport = self.meta.get(&rtxn, "lamport").map_err(self.err())?;
        out.push((b"lamport".to_vec(), lamport.unwrap_or_default().to_vec()));
        let closed = meta_u64(self.meta.get(&rtxn, CLOSED).map_err(self.err())?);
        out.push((CLOSED.as_bytes().to_vec(), closed.to_be_bytes().to_vec()));
        Ok(out)
    }
}

/// Turns stored rows into `Row`s: short ids (all at once when there are many) and authors (each
/// looked up once).
struct RowEmitter<'t> {
    index: &'t Index,
    rtxn: &'t RoTxn<'t>,
    bulk: Option<IdMap<u8>>,
    authors: IdMap<String>,
}

impl<'t> RowEmitter<'t> {
    fn new(index: &'t Index, rtxn: &'t RoTxn<'t>, expected: usize) -> Result<Self> {
        let bulk = if expected > 256 {
            Some(index.all_short_lens(rtxn)?)
        } else {
            None
        };
        Ok(RowEmitter {
            index,
            rtxn,
            bulk,
            authors: IdMap::default(),
        })
    }

    /// Calls `f` with the row of `id` whose stored value is `value`.
    fn emit(&mut self, id: Id, value: &[u8], f: &mut impl FnMut(Row<'_>) -> Result<()>) -> Result<()> {
        let author: [u8; 32] = value[1..33].try_into().expect("callers check the length");
        let short_len = match &self.bulk {
            Some(m) => m.get(&id.0).copied().map_or(MIN_SHORT, usize::from),
            None => self.index.short_len(self.rtxn, &id)?,
        };
        let mut hex = [0; 64];
        crate::hex::encode_to(&id.0, &mut hex);
        let hex = std::str::from_utf8(&hex).expect("hex digits are ASCII");
        let author_json = match self.authors.entry(author) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let view = self.index.author_in(self.rtxn, &ActorId(author))?;
                v.insert(serde_json::to_string(&view).expect("an author always serialises"))
            }
        };
        f(Row {
            id,
            hex,
            short_id: &hex[..short_len],
            author_json,
            fragment: &value[33..],
        })
    }
}

/// The fewest hex digits that name an issue (git's own minimum abbreviation).
pub const MIN_PREFIX: usize = 4;
