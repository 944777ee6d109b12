//! Setting a repository up for coding agents: the MCP client configuration of the common agent
//! harnesses, and a section of `AGENTS.md` that tells an agent to use grit. Planned as file
//! changes (old and new text) for the face to show as a diff and write only when asked.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// An agent harness whose MCP configuration lives in the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Harness {
    /// The harness's name, as `git wal agents init --harness` takes it.
    pub name: &'static str,
    /// The file, relative to the work tree's root.
    pub path: &'static str,
    /// The key holding the servers (`mcpServers`, or VS Code's `servers`).
    key: &'static str,
    /// Whether an entry names its transport (`"type": "stdio"`).
    typed: bool,
}

/// The harnesses `git wal agents init` knows, and where each keeps its MCP servers.
pub const HARNESSES: [Harness; 4] = [
    Harness {
        name: "claude",
        path: ".mcp.json",
        key: "mcpServers",
        typed: false,
    },
    Harness {
        name: "cursor",
        path: ".cursor/mcp.json",
        key: "mcpServers",
        typed: false,
    },
    Harness {
        name: "vscode",
        path: ".vscode/mcp.json",
        key: "servers",
        typed: true,
    },
    Harness {
        name: "gemini",
        path: ".gemini/settings.json",
        key: "mcpServers",
        typed: false,
    },
];

/// The instructions file most harnesses read, and the markers around grit's section of it.
pub const AGENTS_FILE: &str = "AGENTS.md";
const BEGIN: &str = "<!-- grit:begin (git wal agents init keeps this section) -->";
const END: &str = "<!-- grit:end -->";

const SECTION: &str = "## Coordinating through grit

This repository keeps its issues, locks and sandboxes in git with grit. Use its MCP server
(`git wal mcp`, configured for this harness) or its commands, not ad-hoc notes:

1. Start with the `prime` prompt (or `git issue prime`): your claims, what is ready, what changed.
2. Take work with `claim_next` (`git issue claim --next`); never work an issue someone else claimed.
3. Work in a sandbox: `sandbox_create` with the issue and `locks` on the paths you will change
   (`git sandbox run NAME --issue ID --lock path:FILE -- CMD`).
4. Commit with a `Fixes: <id>` trailer, then `sandbox_land` (`git sandbox land NAME --rm`): it
   pushes, closes the issue and gives your locks back.
5. Found more work? `create` it with `discovered_from` the issue you were on.
";

/// One file to write: its path (relative to the root), what it holds now, what it would hold.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The file, relative to the work tree's root.
    pub path: PathBuf,
    /// What it holds now; `None` when it does not exist.
    pub old: Option<String>,
    /// What it would hold, with grit's server added.
    pub new: String,
}

/// The changes that set the work tree at `root` up for `harnesses` (all when empty) and add
/// grit's section to `AGENTS.md`; what is set up already is left out. A configuration file that
/// is not a JSON object is an error, and nothing is planned.
pub fn plan(root: &Path, harnesses: &[Harness]) -> Result<Vec<Planned>> {
    let chosen: &[Harness] = if harnesses.is_empty() { &HARNESSES } else { harnesses };
    let mut out = Vec::new();
    for h in chosen {
        let path = root.join(h.path);
        let old = read(&path)?;
        let mut doc: Value = match &old {
            None => json!({}),
            Some(text) if text.trim().is_empty() => json!({}),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Error::invalid(
                    format!("{} is not valid JSON ({e})", h.path),
                    "fix it, or add the grit server to it by hand (docs/mcp.md); nothing was changed",
                )
            })?,
        };
        let Some(obj) = doc.as_object_mut() else {
            return Err(Error::invalid(
                format!("{} holds no JSON object", h.path),
                "fix it, or add the grit server to it by hand (docs/mcp.md); nothing was changed",
            ));
        };
        let servers = obj.entry(h.key).or_insert_with(|| json!({}));
        let Some(servers) = servers.as_object_mut() else {
            return Err(Error::invalid(
                format!("\"{}\" in {} is not an object", h.key, h.path),
                "fix it, or add the grit server to it by hand (docs/mcp.md); nothing was changed",
            ));
        };
        if servers.contains_key("grit") {
            continue;
        }
        let mut entry = json!({ "command": "git", "args": ["wal", "mcp"] });
        if h.typed {
            entry["type"] = json!("stdio");
        }
        servers.insert("grit".into(), entry);
        let mut new = serde_json::to_string_pretty(&doc).expect("serialises");
        new.push('\n');
        out.push(Planned {
            path: h.path.into(),
            old,
            new,
        });
    }
    let path = root.join(AGENTS_FILE);
    let old = read(&path)?;
    let section = format!("{BEGIN}\n{SECTION}{END}\n");
    let new = match &old {
        None => format!("# Agents\n\n{section}"),
        Some(text) => match (text.find(BEGIN), text.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!(
                    "{}{section}{}",
                    &text[..b],
                    text[e + END.len()..].trim_start_matches('\n')
                )
            }
            _ => format!(
                "{}{}{section}",
                text,
                if text.ends_with("\n\n") || text.is_empty() {
                    ""
                } else if text.ends_with('\n') {
                    "\n"
                } else {
                    "\n\n"
                }
            ),
        },
    };
    if old.as_deref() != Some(new.as_str()) {
        out.push(Planned {
            path: AGENTS_FILE.into(),
            old,
            new,
        });
    }
    Ok(out)
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// Writes a planned change under `root` (through a temporary file, so a crash leaves the old
/// text or the new, never half).
pub fn write(root: &Path, p: &Planned) -> Result<()> {
    let path = root.join(&p.path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let tmp = path.with_extension("grit-tmp");
    std::fs::write(&tmp, &p.new).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))
}
