//! Shell completion from the binaries themselves: `git-<tool> __complete INDEX WORD…` prints
//! the candidates for word INDEX of the words after the tool's name — subcommands, flags, and
//! values (states, labels and issue ids from the index, sandbox names, lock resources, remotes)
//! — one per line. The bash, zsh and fish scripts in completions/ only call it, so `git issue
//! <TAB>` and `git-issue <TAB>` complete alike and never go stale.

use std::path::Path;

use clap::Command;

/// The marker that asks the shell to complete file names itself.
pub const FILES: &str = "__files__";

/// Answers `__complete` (the process's arguments are `args`).
pub fn answer(cmd: Command, args: &[String]) {
    let index: usize = args.get(2).and_then(|i| i.parse().ok()).unwrap_or(0);
    let words: Vec<String> = args.iter().skip(3).cloned().collect();
    let tool = cmd.get_name().trim_start_matches("git-").to_owned();
    let mut out = String::new();
    for c in candidates(cmd, &tool, &words, index, Path::new(".")) {
        out.push_str(&c);
        out.push('\n');
    }
    use std::io::Write;
    let _ = std::io::stdout().write_all(out.as_bytes());
}

/// What the word at `index` of `words` (the words after the tool's name) may be.
pub fn candidates(mut root: Command, tool: &str, words: &[String], index: usize, dir: &Path) -> Vec<String> {
    root.build();
    let cur = words.get(index).map(String::as_str).unwrap_or("");
    let mut path: Vec<Command> = vec![root];
    let mut positionals = 0;
    let mut pending: Option<clap::Arg> = None;
    let mut after_dashes = false;
    for w in &words[..index.min(words.len())] {
        let cmd = path.last().expect("the root is always there").clone();
        if let Some(arg) = pending.take() {
            let _ = arg;
            continue;
        }
        if after_dashes {
            positionals += 1;
            continue;
        }
        if w == "--" {
            after_dashes = true;
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            if !long.contains('=')
                && let Some(arg) = find_flag(&path, |a| a.get_long() == Some(long))
                && arg.get_action().takes_values()
            {
                pending = Some(arg);
            }
            continue;
        }
        if let Some(short) = w.strip_prefix('-').filter(|s| s.chars().count() == 1) {
            let c = short.chars().next().expect("one character");
            if let Some(arg) = find_flag(&path, |a| a.get_short() == Some(c))
                && arg.get_action().takes_values()
            {
                pending = Some(arg);
            }
            continue;
        }
        if let Some(sub) = cmd.find_subcommand(w) {
            path.push(sub.clone());
            positionals = 0;
            continue;
        }
        positionals += 1;
    }
    let cmd = path.last().expect("the root is always there").clone();
    let mut out: Vec<String> = if let Some(arg) = pending {
        values(tool, &cmd, &arg, dir)
    } else if cur.starts_with('-') && !after_dashes {
        let mut flags = Vec::new();
        for (depth, c) in path.iter().enumerate() {
            for a in c.get_arguments() {
                if a.is_hide_set() || (depth + 1 < path.len() && !a.is_global_set()) {
                    continue;
                }
                if let Some(l) = a.get_long() {
                    flags.push(format!("--{l}"));
                }
            }
        }
        flags.push("--help".into());
        flags
    } else if cmd.has_subcommands() {
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| s.get_name().to_owned())
            .collect()
    } else {
        let positional: Vec<&clap::Arg> = cmd.get_positionals().collect();
        let arg = positional.get(positionals).or_else(|| {
            positional
                .last()
                .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
        });
        match arg {
            Some(arg) => values(tool, &cmd, arg, dir),
            None => Vec::new(),
        }
    };
    if out.len() == 1 && out[0] == FILES {
        return out;
    }
    out.retain(|c| c.starts_with(cur));
    out.sort();
    out.dedup();
    out
}

/// A flag of the current command, or a global one of a command above it.
fn find_flag(path: &[Command], pred: impl Fn(&clap::Arg) -> bool) -> Option<clap::Arg> {
    let last = path.len() - 1;
    path.iter().enumerate().rev().find_map(|(depth, c)| {
        c.get_arguments()
            .find(|a| (depth == last || a.is_global_set()) && pred(a))
            .cloned()
    })
}

/// The values an argument may take: its fixed ones, or what the repository has.
fn values(tool: &str, cmd: &Command, arg: &clap::Arg, dir: &Path) -> Vec<String> {
    let fixed: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_owned())
        .collect();
    if !fixed.is_empty() {
        return fixed;
    }
    let name = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|s| s.as_str())
        .unwrap_or("");
    let long = arg.get_long().unwrap_or("");
    let id = arg.get_id().as_str();
    let which = match (tool, name, long, id) {
        (_, "PATH" | "DIR" | "FILE", ..) => return vec![FILES.to_owned()],
        (_, _, "remote", _) => Dynamic::Remotes,
        (_, _, "label" | "add-label" | "remove-label", _) => Dynamic::Labels,
        (_, "RESOURCE", ..) => Dynamic::Resources,
        // `reopen` takes a closed issue; everything else an open one.
        ("issue", "ID", ..) | ("issue", _, _, "id") if cmd.get_name() == "reopen" => {
            Dynamic::Issues(crate::event::State::Closed)
        }
        (_, "ID", ..) | ("issue", _, _, "id") => Dynamic::Issues(crate::event::State::Open),
        ("sandbox", _, _, "name") if cmd.get_name() != "run" => Dynamic::Sandboxes,
        _ => return Vec::new(),
    };
    dynamic(which, dir).unwrap_or_default()
}

enum Dynamic {
    /// Issues in this state, each with its title as the description.
    Issues(crate::event::State),
    Labels,
    Sandboxes,
    Resources,
    Remotes,
}

/// Looks values up in the repository; any failure means no candidates (completion never errs).
fn dynamic(which: Dynamic, dir: &Path) -> Option<Vec<String>> {
    let repo = crate::repo::Repo::discover(dir).ok()?;
    Some(match which {
        Dynamic::Remotes => crate::sync::remote_names(&repo),
        Dynamic::Sandboxes => {
            let main = crate::sandbox::Main::discover(dir).ok()?;
            main.list().ok()?.into_iter().map(|r| r.name).collect()
        }
        Dynamic::Resources => {
            let mut out: Vec<String> = vec!["repo:".into(), "path:".into(), "issue:".into()];
            let view = crate::lock::View::load(&repo, None).ok()?;
            out.extend(view.locks.values().map(|l| l.lease.resource.clone()));
            // `issue:` takes an issue's id: the open ones, by their short ids.
            if let Ok(index) = crate::index::Index::open(&repo)
                && index.refresh(&repo).is_ok()
            {
                let filter = crate::index::ListFilter {
                    limit: 500,
                    ..Default::default()
                };
                let _ = index.for_each_row(&filter, |row| {
                    out.push(format!("issue:{}", row.short_id));
                    Ok(())
                });
            }
            out.sort();
            out.dedup();
            out
        }
        Dynamic::Issues(_) | Dynamic::Labels => {
            let index = crate::index::Index::open(&repo).ok()?;
            index.refresh(&repo).ok()?;
            match which {
                Dynamic::Issues(state) => {
                    let mut ids = Vec::new();
                    let filter = crate::index::ListFilter {
                        state: Some(state),
                        limit: 500,
                        ..Default::default()
                    };
                    index
                        .for_each_row(&filter, |row| {
                            ids.push(with_title(row.short_id, row.fragment));
                            Ok(())
                        })
                        .ok()?;
                    ids
                }
                _ => index.label_names().ok()?,
            }
        }
    })
}

/// A candidate with a description: `value<TAB>text`, as fish reads it; the bash script keeps
/// what precedes the tab, and the zsh script shows the text beside the value.
pub const DESCRIBED: char = '\t';

/// An issue's short id with its title (from the row's JSON) as the description, on one line
/// and at most 60 characters.
fn with_title(short: &str, fragment: &[u8]) -> String {
    let mut json = Vec::with_capacity(fragment.len() + 2);
    json.push(b'{');
    json.extend_from_slice(fragment);
    json.push(b'}');
    let title = serde_json::from_slice::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let mut title: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(60)
        .collect();
    if title.is_empty() {
        return short.to_owned();
    }
    title.insert(0, DESCRIBED);
    format!("{short}{title}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    fn complete(tool: Command, line: &str) -> Vec<String> {
        let w = words(line);
        let name = tool.get_name().trim_start_matches("git-").to_owned();
        candidates(tool, &name, &w, w.len() - 1, Path::new("/nonexistent"))
    }

    #[test]
    fn subcommands_flags_and_fixed_values_complete() {
        use clap::CommandFactory;
        let issue = || crate::cli::issue::Cli::command();
        assert!(complete(issue(), "").contains(&"create".to_owned()));
        assert_eq!(complete(issue(), "cl"), ["claim", "close"]);
        assert!(complete(issue(), "list --st").contains(&"--state".to_owned()));
        assert_eq!(complete(issue(), "list --state "), ["all", "closed", "open"]);
        assert_eq!(complete(issue(), "list -s c"), ["closed"]);
        assert!(
            complete(issue(), "list --js").contains(&"--json".to_owned()),
            "global flags too"
        );
        let wal = crate::cli::wal::Cli::command();
        assert_eq!(complete(wal, "hooks in"), ["install"]);
        let sandbox = crate::cli::sandbox::Cli::command();
        assert!(!complete(sandbox, "").contains(&"__complete".to_owned()));
    }
}
