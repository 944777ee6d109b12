//! `git issue export` and `git issue import`: every issue out as JSON Lines (lossless, read
//! back by `import --from grit`), JSON or Markdown; and issues in from GitHub's JSON, beads'
//! JSONL or an export, idempotently (a source id per issue, recorded in the index).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::claim::claims;
use super::search::{self, QueryArgs};
use super::term::esc;
use super::{CommandError, Ui};
use crate::event::{Id, Kind};
use crate::index::search::Queue;
use crate::interchange::{self, From, Incoming, Skipped};
use crate::store::Store;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Json,
    Md,
    /// beads' `.beads/issues.jsonl`
    Beads,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// jsonl (every field, one issue per line; what `import --from grit` reads), json, md, or
    /// beads (a `.beads/issues.jsonl` that beads and `import --from beads` read)
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
    #[command(flatten)]
    pub query: QueryArgs,
    /// Write here instead of to stdout (with md: an existing or new directory gets one file per
    /// issue; a file gets one document)
    #[arg(short, long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Source {
    Github,
    Gitlab,
    Jira,
    Beads,
    Grit,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file, or a directory of files (pages of a REST listing, say)
    #[arg(value_name = "FILE|DIR")]
    pub path: PathBuf,
    /// github (`gh issue list --json …` or REST objects), gitlab (REST v4 issues and notes, or
    /// a project export's issues.ndjson), jira (pages of the REST search, /rest/api/3/search, or
    /// the CSV export),
    /// beads (.beads/issues.jsonl) or grit (`git issue export`)
    #[arg(long = "from", value_enum)]
    pub from: Source,
    /// gitlab: the project's GROUP/NAME, for records that do not say it (an export's)
    #[arg(long, value_name = "GROUP/NAME")]
    pub project: Option<String>,
    /// gitlab: import confidential issues too (skipped otherwise)
    #[arg(long)]
    pub include_confidential: bool,
    /// Say what would change, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Stop at the first record that cannot be read, with nothing written
    #[arg(long)]
    pub strict: bool,
}

/// One exported issue: `show --json`'s fields and its event ids.
fn record(
    store: &Store,
    id: &Id,
    claims: &HashMap<Id, super::claim::Claim>,
    events: &[Id],
) -> Result<Value, CommandError> {
    let view = store.index.view(id)?;
    let mut v = serde_json::to_value(&view).map_err(std::io::Error::from)?;
    let o = v.as_object_mut().expect("a view is an object");
    o.insert(
        "claim".into(),
        claims
            .get(id)
            .map_or(Value::Null, |c| serde_json::to_value(c).expect("claims serialise")),
    );
    o.insert(
        "links".into(),
        serde_json::to_value(super::links::views(store, id)?).map_err(std::io::Error::from)?,
    );
    let mut ids: Vec<String> = events.iter().map(Id::to_hex).collect();
    ids.sort();
    o.insert("events".into(), Value::from(ids));
    Ok(v)
}

fn markdown(v: &Value) -> String {
    let t = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let list = |k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let mut out = format!("# {}\n\n", t("title"));
    let author = v["author"]["name"].as_str().unwrap_or("");
    out.push_str(&format!(
        "- id: `{}`\n- state: {}\n- priority: P{}\n- type: {}\n- opened by {} on {}\n",
        t("id"),
        t("state"),
        v["priority"],
        t("type"),
        author,
        t("created_at")
    ));
    for (k, label) in [("labels", "labels"), ("assignees", "assignees")] {
        let l = list(k);
        if !l.is_empty() {
            out.push_str(&format!("- {label}: {l}\n"));
        }
    }
    if let Some(src) = v.get("source").and_then(Value::as_str) {
        out.push_str(&format!("- source: {src}\n"));
    }
    for l in v["links"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "- {}: `{}` {}\n",
            l["link"].as_str().unwrap_or("").replace('_', " "),
            l["short_id"].as_str().unwrap_or(""),
            l["title"].as_str().unwrap_or("")
        ));
    }
    out.push_str(&format!("\n{}\n", t("body")));
    for c in v["comments"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n## {} on {}\n\n{}\n",
            c["author"]["name"].as_str().unwrap_or(""),
            c["created_at"].as_str().unwrap_or(""),
            c["body"].as_str().unwrap_or("")
        ));
    }
    out
}

pub fn export(ui: &mut Ui, a: ExportArgs) -> Result<(), CommandError> {
    let store = super::open_store(ui)?;
    let q = search::parse_query(&store, &a.query)?;
    let claims = claims(&store)?;
    let found = store
        .index
        .search(&q, &search::context(&store, &claims)?, Queue::All, 0)?;
    let events = store.index.events_by_issue()?;
    let none = Vec::new();
    let md_dir = a.format == ExportFormat::Md && a.out.as_ref().is_some_and(|p| p.is_dir() || p.extension().is_none());
    let mut sink: Box<dyn Write> = match (&a.out, md_dir) {
        (Some(_), true) => Box::new(std::io::sink()),
        (Some(p), false) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| {
            CommandError::usage(format!("cannot write {}: {e}", p.display()), "check the --out path")
        })?)),
        (None, _) => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if md_dir && let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(crate::Error::io(dir))?;
    }
    let mut all = Vec::new();
    for (n, h) in found.hits.iter().enumerate() {
        let v = record(&store, &h.id, &claims, events.get(&h.id).unwrap_or(&none))?;
        match a.format {
            ExportFormat::Jsonl => {
                serde_json::to_writer(&mut sink, &v).map_err(std::io::Error::from)?;
                sink.write_all(b"\n")?;
            }
            ExportFormat::Json => all.push(v),
            ExportFormat::Beads => {
                let ids = |hex: &str| -> Option<String> {
                    let view = store.index.view(&Id::from_hex(hex)?).ok()?;
                    Some(interchange::beads::id_of(view.source.as_deref(), &view.id))
                };
                serde_json::to_writer(&mut sink, &interchange::beads::record(&v, &ids))
                    .map_err(std::io::Error::from)?;
                sink.write_all(b"\n")?;
            }
            ExportFormat::Md if md_dir => {
                let slug: String = v["title"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect::<String>()
                    .split('-')
                    .filter(|s| !s.is_empty())
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("-");
                let name = format!("{}-{slug}.md", v["short_id"].as_str().unwrap_or(""));
                let dir = a.out.as_ref().expect("md_dir has a path");
                std::fs::write(dir.join(&name), markdown(&v)).map_err(crate::Error::io(dir.join(&name)))?;
            }
            ExportFormat::Md => {
                if n > 0 {
                    sink.write_all(b"\n---\n\n")?;
                }
                let md = markdown(&v);
                // A file keeps what was written; a terminal never gets a stranger's control
                // characters (escape sequences, bidi overrides), only their escaped form.
                if a.out.is_none() && std::io::stdout().is_terminal() {
                    sink.write_all(super::term::line(&md, false).as_bytes())?;
                } else {
                    sink.write_all(md.as_bytes())?;
                }
            }
        }
    }
    if a.format == ExportFormat::Json {
        serde_json::to_writer_pretty(&mut sink, &all).map_err(std::io::Error::from)?;
        sink.write_all(b"\n")?;
    }
    sink.flush()?;
    if a.out.is_some() {
        ui.note(format!("exported {} issue(s)", found.hits.len()));
    }
    Ok(())
}

/// Reads the documents of `path` (a file, or every `.json`, `.jsonl` and `.ndjson` file of a
/// directory in name order): JSON
/// (one document) or JSON Lines (one per line), each handed to `each` as it is read. Nothing
/// holds a file whole: JSON Lines are read a line at a time, and a document is parsed from the
/// file as it is read.
fn read_docs(
    path: &Path,
    skipped: &mut Vec<Skipped>,
    mut each: impl FnMut(String, Value, &mut Vec<Skipped>),
) -> Result<(), CommandError> {
    use std::io::BufRead;
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(crate::Error::io(path))?
            .flatten()
            .map(|e| e.path())
            // A directory of pages: its JSON files (a README beside them is not a page).
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["json", "jsonl", "ndjson"].contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        f.sort();
        f
    } else if path.is_file() {
        vec![path.to_owned()]
    } else {
        return Err(CommandError::usage(
            format!("{} is neither a file nor a directory", path.display()),
            "give the file `gh issue list --json …` wrote, a directory of REST pages, or .beads/issues.jsonl",
        ));
    };
    let unreadable = |f: &Path, e: &dyn std::fmt::Display| {
        CommandError::usage(format!("cannot read {}: {e}", f.display()), "is it a UTF-8 text file?")
    };
    for f in files {
        let name = f.display().to_string();
        let open = || {
            std::fs::File::open(&f)
                .map(std::io::BufReader::new)
                .map_err(|e| unreadable(&f, &e))
        };
        // JSON Lines when the first line that is not blank is a whole document; else the file
        // is one document (pretty-printed JSON), parsed as it is read.
        let mut lines = open()?.lines().enumerate();
        let mut first = None;
        for (i, line) in lines.by_ref() {
            let line = line.map_err(|e| unreadable(&f, &e))?;
            if !line.trim().is_empty() {
                first = Some((i, line));
                break;
            }
        }
        let Some((i, line)) = first else { continue };
        // The first record waits to learn whether it is the file's only one (then named by
        // the file alone, as a document is).
        let mut pending = None;
        match serde_json::from_str::<Value>(&line) {
            Ok(v) => pending = Some((i, v)),
            Err(e) => match serde_json::from_reader::<_, Value>(open()?) {
                Ok(v) => {
                    each(name, v, skipped);
                    continue;
                }
                // Neither: JSON Lines whose first record is damaged.
                Err(_) => skipped.push(Skipped {
                    at: format!("{name}:{}", i + 1),
                    reason: format!("not JSON: {e}"),
                }),
            },
        }
        for (i, line) in lines {
            let line = line.map_err(|e| unreadable(&f, &e))?;
            if line.trim().is_empty() {
                continue;
            }
            if let Some((i, v)) = pending.take() {
                each(format!("{name}:{}", i + 1), v, skipped);
            }
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => each(format!("{name}:{}", i + 1), v, skipped),
                Err(e) => skipped.push(Skipped {
                    at: format!("{name}:{}", i + 1),
                    reason: format!("not JSON: {e}"),
                }),
            }
        }
        if let Some((_, v)) = pending {
            each(name, v, skipped);
        }
    }
    Ok(())
}

/// The issues of `path`'s documents in `from`'s format; what cannot be read goes to `skipped`.
/// Records are converted as they are read (a GitHub export's comments are matched to their
/// issues once every document is read).
fn parse(from: From, path: &Path, a: &ImportArgs, report: &mut ImportReport) -> Result<Vec<Incoming>, CommandError> {
    if from == From::Gitlab {
        return parse_gitlab(path, a, report);
    }
    let skipped = &mut report.skipped;
    if from == From::Github {
        let mut docs = Vec::new();
        read_docs(path, skipped, |at, v, _| docs.push((at, v)))?;
        let (issues, mut s) = interchange::read_github(docs);
        skipped.append(&mut s);
        return Ok(issues
            .into_iter()
            .filter_map(|x| {
                let at = x.source.clone();
                interchange::validate(x)
                    .map_err(|reason| skipped.push(Skipped { at, reason }))
                    .ok()
            })
            .collect());
    }
    let jira = if from == From::Jira {
        Some(jira_mapping()?)
    } else {
        None
    };
    let mut out = Vec::new();
    if let Some(m) = &jira {
        for f in csv_files(path)? {
            let file = std::fs::File::open(&f).map_err(crate::Error::io(&f))?;
            for (at, r) in interchange::jira::csv_records(std::io::BufReader::new(file), &f.display().to_string()) {
                match r
                    .and_then(|v| interchange::jira::issue(&v, m))
                    .and_then(interchange::validate)
                {
                    Ok(x) => out.push(x),
                    Err(reason) => skipped.push(Skipped { at, reason }),
                }
            }
        }
        if path.is_file() && is_csv(path) {
            return Ok(out);
        }
    }
    read_docs(path, skipped, |at, doc, skipped| {
        let doc = match doc {
            // A page of Jira's search: its issues.
            Value::Object(mut o) if jira.is_some() && o.get("issues").is_some_and(Value::is_array) => {
                o.remove("issues").expect("checked above")
            }
            v => v,
        };
        for (at, v) in records(at, doc) {
            let r = match from {
                From::Jira => interchange::jira::issue(&v, jira.as_ref().expect("read above")),
                From::Beads => interchange::beads::issue(&v),
                _ => interchange::grit_issue(&v),
            }
            .and_then(interchange::validate);
            match r {
                Ok(x) => out.push(x),
                Err(reason) => skipped.push(Skipped { at, reason }),
            }
        }
    })?;
    Ok(out)
}

fn is_csv(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The CSV files `path` names: itself, or a directory's, in name order.
fn csv_files(path: &Path) -> Result<Vec<PathBuf>, CommandError> {
    if path.is_file() {
        return Ok(if is_csv(path) {
            vec![path.to_owned()]
        } else {
            Vec::new()
        });
    }
    if !path.is_dir() {
        return Ok(Vec::new());
    }
    let mut f: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(crate::Error::io(path))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_csv(p))
        .collect();
    f.sort();
    Ok(f)
}

/// The records of a document: an array's items (named `at[i]`), or the document itself.
fn records(at: String, doc: Value) -> Vec<(String, Value)> {
    match doc {
        Value::Array(a) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("{at}[{i}]"), v))
            .collect(),
        v => vec![(at, v)],
    }
}

/// Jira's types and priorities: the defaults and `issue.jira.*` in git config.
pub(crate) fn jira_mapping() -> Result<interchange::jira::Mapping, CommandError> {
    let out = std::process::Command::new("git")
        .args(["config", "--get-regexp", r"^issue\.jira\.(type|priority)$"])
        .output()
        .map_err(|e| CommandError::failure(format!("cannot run git config: {e}")))?;
    interchange::jira::Mapping::with_config(&String::from_utf8_lossy(&out.stdout)).map_err(|e| {
        CommandError::usage(
            e,
            "fix it with git config --replace-all issue.jira.type 'NAME=TYPE' (or issue.jira.priority 'NAME=0..4')",
        )
    })
}

/// GitLab's records: issues (notes inside, as an export has them) and REST note objects, which
/// go to their issues (`noteable_iid`) once every document is read.
fn parse_gitlab(path: &Path, a: &ImportArgs, report: &mut ImportReport) -> Result<Vec<Incoming>, CommandError> {
    use crate::interchange::gitlab;
    let mut issues: Vec<Incoming> = Vec::new();
    let mut notes: Vec<(u64, Value, String)> = Vec::new();
    let mut confidential = 0;
    read_docs(path, &mut report.skipped, |at, doc, skipped| {
        for (at, v) in records(at, doc) {
            if v.get("noteable_type").is_some() {
                match v.get("noteable_iid").and_then(Value::as_u64) {
                    Some(iid) if v["noteable_type"] == "Issue" => notes.push((iid, v, at)),
                    Some(_) => {}
                    None => skipped.push(Skipped {
                        at,
                        reason: "a note without noteable_iid".into(),
                    }),
                }
                continue;
            }
            if gitlab::confidential(&v) && !a.include_confidential {
                confidential += 1;
                continue;
            }
            match gitlab::issue(&v, a.project.as_deref()).and_then(interchange::validate) {
                Ok(x) => issues.push(x),
                Err(reason) => skipped.push(Skipped { at, reason }),
            }
        }
    })?;
    report.confidential = confidential;
    for (iid, n, at) in notes {
        let suffix = format!("#{iid}");
        let Some(x) = issues.iter_mut().find(|x| x.source.ends_with(&suffix)) else {
            continue;
        };
        match gitlab::note(&n, &x.source, x.comments.len()) {
            Some(Ok(c)) => x.comments.push(c),
            Some(Err(reason)) => report.skipped.push(Skipped { at, reason }),
            None => {}
        }
    }
    for x in &mut issues {
        x.comments
            .sort_by(|a, b| (a.created_ms, &a.source).cmp(&(b.created_ms, &b.source)));
        x.comments.dedup_by(|a, b| a.source == b.source);
    }
    Ok(issues)
}

#[derive(serde::Serialize, Default)]
pub(crate) struct ImportReport {
    pub(crate) issues: usize,
    pub(crate) created: usize,
    pub(crate) updated: usize,
    pub(crate) unchanged: usize,
    pub(crate) events: usize,
    pub(crate) links: usize,
    pub(crate) dry_run: bool,
    pub(crate) skipped: Vec<Skipped>,
    /// Links to issues that are not in this import or this repository, kept for a later one.
    pub(crate) pending_links: Vec<String>,
    /// GitLab's confidential issues, left out (`--include-confidential` takes them).
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) confidential: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Issues written per commit: big imports go in a few chunks, not one commit per issue.
const PER_CHUNK: usize = 500;

/// Writes what `incoming` changes (new issues, changed fields, missing comments, then links),
/// adding to `report`. `import` and the GitHub bridge's `pull` both write here.
pub(crate) fn apply(
    ui: &Ui,
    store: &crate::store::Store,
    incoming: &[Incoming],
    report: &mut ImportReport,
) -> Result<(), CommandError> {
    report.issues += incoming.len();
    let progress = std::io::stderr().is_terminal() && !ui.quiet && !ui.json;
    // Issues first, a chunk at a time.
    let mut ids: HashMap<String, Id> = HashMap::new();
    let mut batch: Vec<(Option<Id>, Vec<Kind>)> = Vec::new();
    let mut pending_new: Vec<String> = Vec::new();
    let flush = |batch: &mut Vec<(Option<Id>, Vec<Kind>)>,
                 pending_new: &mut Vec<String>,
                 ids: &mut HashMap<String, Id>|
     -> Result<(), CommandError> {
        if batch.is_empty() {
            return Ok(());
        }
        let written = store.write_many(std::mem::take(batch))?;
        // New issues' ids are their creation events' ids, in order.
        let mut created = written
            .iter()
            .filter(|e| matches!(e.event.kind, Kind::IssueCreated { .. }));
        for source in pending_new.drain(..) {
            if let Some(ev) = created.next() {
                ids.insert(source, ev.id);
            }
        }
        Ok(())
    };
    // The issue a source names here: one imported from it, or, for an export of this very
    // repository (`grit:<id>`), the issue itself, so that importing it back changes nothing.
    let known = |source: &str| -> Result<Option<Id>, CommandError> {
        if let Some(id) = store.index.by_source(source)? {
            return Ok(Some(id));
        }
        match source.strip_prefix("grit:").and_then(Id::from_hex) {
            Some(id) if store.index.issue(&id)?.is_some() => Ok(Some(id)),
            _ => Ok(None),
        }
    };
    for (n, x) in incoming.iter().enumerate() {
        let existing = known(&x.source)?;
        let current = existing.map(|id| store.index.issue(&id)).transpose()?.flatten();
        let mut kinds = x.events(current.as_ref());
        // An issue of this repository, read back from its export, was not imported from anywhere.
        if existing.is_some_and(|id| x.source == format!("grit:{id}")) {
            kinds.retain(|k| !matches!(k, Kind::Imported { .. }));
        }
        match (existing, kinds.is_empty()) {
            (Some(id), true) => {
                report.unchanged += 1;
                ids.insert(x.source.clone(), id);
            }
            (Some(id), false) => {
                report.updated += 1;
                report.events += kinds.len();
                ids.insert(x.source.clone(), id);
                batch.push((Some(id), kinds));
            }
            (None, _) => {
                report.created += 1;
                report.events += kinds.len();
                pending_new.push(x.source.clone());
                batch.push((None, kinds));
            }
        }
        if !report.dry_run && batch.len() >= PER_CHUNK {
            flush(&mut batch, &mut pending_new, &mut ids)?;
        }
        if progress && n % 200 == 0 {
            eprint!("\rimporting {}/{}", n + 1, incoming.len());
        }
    }
    if progress {
        eprintln!("\rimported {}/{}   ", incoming.len(), incoming.len());
    }
    if !report.dry_run {
        flush(&mut batch, &mut pending_new, &mut ids)?;
    }
    // Then the links, once every issue exists.
    let mut changes = Vec::new();
    for x in incoming {
        let Some(id) = ids.get(&x.source).copied() else {
            continue;
        };
        let mut wanted: Vec<(crate::issue::LinkSpec, &String)> = x.links.iter().map(|(s, o)| (*s, o)).collect();
        if let Some(p) = &x.parent {
            wanted.push((crate::issue::LinkSpec::Parent, p));
        }
        for (spec, other) in wanted {
            let target = match ids.get(other) {
                Some(t) => Some(*t),
                None => known(other)?,
            };
            match target {
                Some(t) if t != id => changes.push(super::links::Change {
                    a: id,
                    spec,
                    b: t,
                    add: true,
                }),
                Some(_) => {}
                None => report
                    .pending_links
                    .push(format!("{} {} {other}", x.source, spec.name())),
            }
        }
    }
    if !report.dry_run && !changes.is_empty() {
        // Cycles in the source are kept out, as a local write would keep them out: against the
        // links already here and those this import adds before it.
        let mut planned = Vec::new();
        let mut added: std::collections::HashMap<(u8, Id), Vec<Id>> = std::collections::HashMap::new();
        for c in &changes {
            if let Some((from, to, link)) = super::links::cycle_edge(c) {
                if store
                    .index
                    .path_with(&to, &from, link, &|at: &Id| {
                        added.get(&(link, *at)).cloned().unwrap_or_default()
                    })?
                    .is_some()
                {
                    report.skipped.push(Skipped {
                        at: "links".into(),
                        reason: format!(
                            "{} {} {}: this link would make a cycle; not written",
                            c.a,
                            c.spec.name(),
                            c.b
                        ),
                    });
                    continue;
                }
                added.entry((link, from)).or_default().push(to);
            }
            match super::links::plan(&ui.quiet_copy(), store, std::slice::from_ref(c)) {
                Ok(p) => planned.extend(p),
                Err(e) => report.skipped.push(Skipped {
                    at: "links".into(),
                    reason: e.message.clone(),
                }),
            }
        }
        report.links = planned.iter().map(|(_, k)| k.len()).sum();
        report.events += report.links;
        store.write_many(planned.into_iter().map(|(h, k)| (Some(h), k)).collect())?;
    } else if report.dry_run {
        report.links = changes.len();
    }
    Ok(())
}

pub fn import(ui: &mut Ui, a: ImportArgs) -> Result<(), CommandError> {
    let from = match a.from {
        Source::Github => From::Github,
        Source::Gitlab => From::Gitlab,
        Source::Jira => From::Jira,
        Source::Beads => From::Beads,
        Source::Grit => From::Grit,
    };
    let mut report = ImportReport {
        dry_run: a.dry_run,
        ..Default::default()
    };
    let incoming = parse(from, &a.path, &a, &mut report)?;
    if a.strict && !report.skipped.is_empty() {
        let s = &report.skipped[0];
        return Err(CommandError::usage(
            format!("{}: {}; nothing was imported (--strict)", s.at, s.reason),
            format!(
                "{} record(s) cannot be read; without --strict they are skipped and named",
                report.skipped.len()
            ),
        ));
    }
    let store = super::open_store(ui)?;
    apply(ui, &store, &incoming, &mut report)?;
    if ui.json {
        return ui.json(&report);
    }
    // A file of thousands of bad records names the first few; --json names every one.
    const NAMED: usize = 20;
    for s in report.skipped.iter().take(NAMED) {
        ui.note(format!("warning: skipped {}: {}", esc(&s.at), esc(&s.reason)));
    }
    if report.skipped.len() > NAMED {
        ui.note(format!(
            "warning: … and {} more skipped record(s); --json lists every one",
            report.skipped.len() - NAMED
        ));
    }
    if report.confidential > 0 {
        ui.note(format!(
            "note: {} confidential issue(s) left out; --include-confidential imports them",
            report.confidential
        ));
    }
    if !report.pending_links.is_empty() {
        ui.note(format!(
            "note: {} link(s) name issues not imported yet; importing those later adds them",
            report.pending_links.len()
        ));
    }
    ui.say(format!(
        "{}{} issue(s): {} new, {} changed, {} unchanged; {} event(s){}{}",
        if a.dry_run { "would import " } else { "imported " },
        report.issues,
        report.created,
        report.updated,
        report.unchanged,
        report.events,
        if report.links > 0 {
            format!(", {} link(s)", report.links)
        } else {
            String::new()
        },
        if report.skipped.is_empty() {
            String::new()
        } else {
            format!("; {} record(s) skipped", report.skipped.len())
        }
    ))
}
