//! What ran in a sandbox (each run's command, environment, exit code and times, the last
//! `KEPT` of them in its record, so `repeat` can run the last again), and templates: named
//! sets of creation options in git config (`sandbox.template.<name>.*`).

use serde::{Deserialize, Serialize};

use super::{Backend, Main};
use crate::error::{Error, Result};

/// Runs kept per sandbox.
pub const KEPT: usize = 20;

/// One command run in a sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub cmd: Vec<String>,
    /// Run as a shell command line (`sh -c`).
    pub sh: bool,
    /// Variables set for it beyond the caller's environment (`--env`, the template's).
    pub env: Vec<(String, String)>,
    pub exit_code: i32,
    pub started_at: String,
    pub duration_ms: u64,
    /// none, or bwrap with its options.
    #[serde(default = "none")]
    pub isolation: String,
    #[serde(default)]
    pub isolate: Option<super::isolate::Isolate>,
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
    let extra = r.runs.len().saturating_sub(KEPT);
    r.runs.drain(..extra);
    main.save(&r)
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
    pub name: String,
    /// Globs of ignored files to bring (all of them when empty).
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
    /// A shell command run once after creation.
    pub setup: Option<String>,
    pub env: Vec<(String, String)>,
    pub backend: Option<Backend>,
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
    let t = Template {
        name: name.to_owned(),
        includes: strings("include"),
        excludes: strings("exclude"),
        setup: cfg.string(key("setup").as_str()).map(|s| s.to_string()),
        env,
        backend,
    };
    if t.includes.is_empty() && t.excludes.is_empty() && t.setup.is_none() && t.env.is_empty() && t.backend.is_none() {
        return Err(Error::invalid(
            format!("there is no sandbox template '{name}'"),
            format!("define one in git config, e.g. `git config sandbox.template.{name}.setup 'cargo fetch'`"),
        ));
    }
    Ok(t)
}
