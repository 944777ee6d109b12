//! What ran in a sandbox (each run's command, environment, exit code, times, actor and face,
//! the last `sandbox.history` of them in its record with their output logs, so `git sandbox log`
//! shows them and `repeat` can run the last again), and templates: named sets of creation
//! options in git config (`sandbox.template.<name>.*`).

use serde::{Deserialize, Serialize};

use super::{Backend, Main};
use crate::error::{Error, Result};

/// Runs kept per sandbox, unless `sandbox.history` says otherwise.
pub const KEPT: usize = 20;

/// `sandbox.history`: how many runs a sandbox's record keeps (with their logs).
pub fn kept(main: &Main) -> Result<usize> {
    match main.repo.config_string("sandbox.history") {
        None => Ok(KEPT),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                Error::invalid(
                    format!("sandbox.history is '{v}', not a count from 1 to 10000"),
                    "e.g. `git config sandbox.history 50`",
                )
            }),
    }
}

/// One command run in a sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// The command and its arguments (empty: an interactive shell).
    pub cmd: Vec<String>,
    /// Run as a shell command line (`sh -c`).
    pub sh: bool,
    /// Variables set for it beyond the caller's environment (`--env`, the template's).
    pub env: Vec<(String, String)>,
    /// Its exit code; 128+N for signal N.
    pub exit_code: i32,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// none, or bwrap with its options.
    #[serde(default = "none")]
    pub isolation: String,
    /// The isolation it asked for, in full.
    #[serde(default)]
    pub isolate: Option<super::isolate::Isolate>,
    /// The file its output went to (stdout and stderr as they came), when it was kept: always
    /// for a run over the socket or MCP, and from the CLI when its output is not a terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<std::path::PathBuf>,
    /// Which face ran it: cli, repeat, watch, matrix, socket or mcp.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub via: String,
    /// The actor it ran as (its label here, or the request's actor).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// Each connection it asked the allowlist's proxy for, allowed or refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<super::proxy::NetEvent>,
}

/// The most of a run's output a log keeps, unless `sandbox.logLimit` says otherwise; past it,
/// the log says how much more there was.
pub const LOG_LIMIT: u64 = 1 << 20;

/// A run's output log as it is written: its first `limit` bytes, then how many more came.
pub struct Log {
    /// The log file.
    pub path: std::path::PathBuf,
    limit: u64,
    file: std::sync::Mutex<(std::fs::File, u64)>,
}

impl Log {
    /// A new log for a run of sandbox `name`, in `<grit>/sandboxes/<name>.logs/`, bounded by
    /// `sandbox.logLimit` (bytes, with k, m or g).
    pub fn create(main: &Main, name: &str) -> Result<Log> {
        let limit = super::layers::size_config(main, "sandbox.logLimit")?.unwrap_or(LOG_LIMIT);
        let dir = main.repo.grit_dir.join("sandboxes").join(format!("{name}.logs"));
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let stamp = crate::repo::now_ms();
        let path = dir.join(format!("{stamp}-{}.log", std::process::id()));
        let file = std::fs::File::create(&path).map_err(Error::io(&path))?;
        Ok(Log {
            path,
            limit,
            file: std::sync::Mutex::new((file, 0)),
        })
    }

    /// Appends what the command wrote, within the limit.
    pub fn write(&self, bytes: &[u8]) {
        use std::io::Write;
        let mut g = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let (file, written) = &mut *g;
        let room = self.limit.saturating_sub(*written) as usize;
        let _ = file.write_all(&bytes[..bytes.len().min(room)]);
        *written += bytes.len() as u64;
    }

    /// Ends the log, saying how much was left out.
    pub fn finish(self) {
        use std::io::Write;
        let (mut file, written) = self.file.into_inner().unwrap_or_else(|e| e.into_inner());
        if written > self.limit {
            let _ = write!(
                file,
                "\n[grit: {} more bytes of output were not kept]\n",
                written - self.limit
            );
        }
    }
}

/// Removes the logs of runs no longer in `r`'s record (beyond the last `KEPT`), or all of them
/// when the sandbox goes.
pub fn prune_logs(main: &Main, name: &str, keep: &[Run]) {
    let dir = main.repo.grit_dir.join("sandboxes").join(format!("{name}.logs"));
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if !keep.iter().any(|r| r.log.as_deref() == Some(path.as_path())) {
            let _ = std::fs::remove_file(&path);
        }
    }
    if keep.is_empty() {
        let _ = std::fs::remove_dir(&dir);
    }
}

fn none() -> String {
    "none".into()
}

/// Appends a run to a sandbox's record (read afresh: another process may have run something).
pub fn record(main: &Main, name: &str, run: Run) -> Result<()> {
    let Some(mut r) = main.load(name)? else {
        return Ok(());
    };
    super::note(
        main,
        "ran",
        &r,
        serde_json::json!({ "cmd": run.cmd, "exit_code": run.exit_code, "duration_ms": run.duration_ms }),
    );
    r.runs.push(run);
    let extra = r.runs.len().saturating_sub(kept(main)?);
    let dropped: Vec<Run> = r.runs.drain(..extra).collect();
    main.save(&r)?;
    if dropped.iter().any(|d| d.log.is_some()) {
        prune_logs(main, name, &r.runs);
    }
    Ok(())
}

/// `NAME=VALUE`, as `--env` and `sandbox.template.<name>.env` take it.
pub fn parse_env(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => Ok((k.to_owned(), v.to_owned())),
        _ => Err(Error::invalid(
            format!("'{s}' is not NAME=VALUE"),
            "give a variable as NAME=VALUE, e.g. --env RUST_LOG=debug",
        )),
    }
}

/// Creation options by name, from `sandbox.template.<name>.include`, `.exclude`, `.setup`,
/// `.env` and `.backend`.
#[derive(Debug, Clone, Default)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// Globs of ignored files to bring (all of them when empty).
    pub includes: Vec<String>,
    /// Globs of ignored or untracked paths not to carry.
    pub excludes: Vec<String>,
    /// A shell command run once after creation.
    pub setup: Option<String>,
    /// `NAME=VALUE` pairs for every command run in its sandboxes.
    pub env: Vec<(String, String)>,
    /// The backend its sandboxes use.
    pub backend: Option<Backend>,
    /// Language caches its sandboxes share (`cache`, repeatable: cargo).
    pub caches: Vec<super::caches::Kind>,
}

/// The template `name`; an error when git config defines none of its keys.
pub fn template(main: &Main, name: &str) -> Result<Template> {
    let cfg = main.repo.git.config_snapshot();
    let key = |k: &str| format!("sandbox.template.{name}.{k}");
    let strings = |k: &str| -> Vec<String> {
        cfg.strings(key(k).as_str())
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let env = strings("env")
        .iter()
        .map(|e| parse_env(e))
        .collect::<Result<Vec<_>>>()?;
    let backend = cfg
        .string(key("backend").as_str())
        .map(|b| Backend::parse(&b.to_string()))
        .transpose()?;
    let caches = strings("cache")
        .iter()
        .map(|c| super::caches::Kind::parse(c))
        .collect::<Result<Vec<_>>>()?;
    let t = Template {
        name: name.to_owned(),
        includes: strings("include"),
        excludes: strings("exclude"),
        setup: cfg.string(key("setup").as_str()).map(|s| s.to_string()),
        env,
        backend,
        caches,
    };
    if t.includes.is_empty()
        && t.excludes.is_empty()
        && t.setup.is_none()
        && t.env.is_empty()
        && t.backend.is_none()
        && t.caches.is_empty()
    {
        return Err(Error::invalid(
            format!("there is no sandbox template '{name}'"),
            format!("define one in git config, e.g. `git config sandbox.template.{name}.setup 'cargo fetch'`"),
        ));
    }
    Ok(t)
}
