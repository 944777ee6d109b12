//! What a lock is on: `repo:`, `path:<file>`, `path:<dir>/` or `issue:<id>`, normalised, with
//! the ref each lives at, the resources that contain it, and when two overlap.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::Id;

use super::LOCKS_PREFIX;

/// What a lock is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The whole repository: conflicts with every other lock.
    Repo,
    /// A repository-relative path, normalised; `dir` when written with a trailing `/`.
    Path {
        /// The path, from the work tree's root, without a trailing `/`.
        path: String,
        /// Whether it names a directory (and everything under it).
        dir: bool,
    },
    /// An issue: its claim.
    Issue(Id),
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resource::Repo => f.write_str("repo:"),
            Resource::Path { path, dir: true } => write!(f, "path:{path}/"),
            Resource::Path { path, dir: false } => write!(f, "path:{path}"),
            Resource::Issue(id) => write!(f, "issue:{id}"),
        }
    }
}

fn bad(message: String, hint: &str) -> Error {
    Error::invalid(message, hint)
}

const RESOURCE_HINT: &str = "resources are `repo:`, `path:<file>`, `path:<dir>/` (relative to the repository root) \
                             or `issue:<id>`";

impl Resource {
    /// Parses `repo:`, `path:<p>` or `issue:<id>`; `issue` resolves an id prefix.
    pub fn parse(s: &str, issue: impl FnOnce(&str) -> Result<Id>) -> Result<Resource> {
        let Some((ns, rest)) = s.split_once(':') else {
            return Err(bad(format!("'{s}' has no namespace"), RESOURCE_HINT));
        };
        match ns {
            "repo" if rest.is_empty() => Ok(Resource::Repo),
            "repo" => Err(bad(
                format!("'{s}': repo: takes nothing after the colon"),
                RESOURCE_HINT,
            )),
            "path" => Self::parse_path(s, rest),
            "issue" if rest.is_empty() => Err(bad(format!("'{s}' names no issue"), RESOURCE_HINT)),
            "issue" => Ok(Resource::Issue(issue(rest)?)),
            _ => Err(bad(format!("unknown lock namespace '{ns}:' in '{s}'"), RESOURCE_HINT)),
        }
    }

    fn parse_path(s: &str, p: &str) -> Result<Resource> {
        if p.is_empty() {
            return Err(bad(format!("'{s}' names no path"), "use `repo:` to lock everything"));
        }
        if p.starts_with('/') {
            return Err(bad(
                format!("'{s}' is an absolute path"),
                "paths are relative to the repository root, e.g. `path:src/main.rs`",
            ));
        }
        if p.chars().any(|c| c.is_control()) {
            return Err(bad(
                format!("'{}' holds control characters", s.escape_debug()),
                RESOURCE_HINT,
            ));
        }
        let dir = p.ends_with('/');
        let mut parts = Vec::new();
        for part in p.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    return Err(bad(
                        format!("'{s}' climbs out with '..'"),
                        "name the path from the repository root, without '..'",
                    ));
                }
                x => parts.push(x),
            }
        }
        if parts.is_empty() {
            return Err(bad(format!("'{s}' names no path"), "use `repo:` to lock everything"));
        }
        Ok(Resource::Path {
            path: parts.join("/"),
            dir,
        })
    }

    /// The lock ref: `refs/grit/locks/<BLAKE2b-256 of the canonical resource, hex>`.
    pub fn ref_name(&self) -> String {
        format!("{LOCKS_PREFIX}{}", hash(&self.to_string()))
    }

    /// The resources that contain this one: a path's parent directories, then `repo:`. An
    /// issue has none: `repo:` is the whole tree, and a claim is not a path. So claims of
    /// different issues share no ref, and a fleet's claims never wait on each other.
    pub fn ancestors(&self) -> Vec<Resource> {
        let mut out = Vec::new();
        if let Resource::Path { path, .. } = self {
            let parts: Vec<&str> = path.split('/').collect();
            for n in (1..parts.len()).rev() {
                out.push(Resource::Path {
                    path: parts[..n].join("/"),
                    dir: true,
                });
            }
            out.push(Resource::Repo);
        }
        out
    }

    /// Whether holding both at once would conflict.
    pub fn overlaps(&self, other: &Resource) -> bool {
        match (self, other) {
            (Resource::Issue(a), Resource::Issue(b)) => a == b,
            (Resource::Issue(_), _) | (_, Resource::Issue(_)) => false,
            (Resource::Repo, _) | (_, Resource::Repo) => true,
            (Resource::Path { path: a, dir: da }, Resource::Path { path: b, dir: db }) => {
                a == b || (*da && contains(a, b)) || (*db && contains(b, a))
            }
        }
    }

    /// Whether a changed file at `path` falls under this resource.
    pub fn covers_path(&self, path: &str) -> bool {
        match self {
            Resource::Repo => true,
            Resource::Path { path: p, dir: false } => p == path,
            Resource::Path { path: p, dir: true } => contains(p, path),
            Resource::Issue(_) => false,
        }
    }
}

fn contains(dir: &str, path: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

fn hash(s: &str) -> String {
    crate::hex::encode(&crate::event::blake2b256(s.as_bytes()))
}

/// The longest lease or wait a duration may give: ten years, far below where a time in
/// milliseconds could overflow.
pub const MAX_DURATION_SECS: u64 = 10 * 366 * 86_400;

/// Parses `90s`, `15m`, `2h`, `1d` (a plain number is seconds), at most [`MAX_DURATION_SECS`].
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| {
        bad(
            format!("'{s}' is not a duration"),
            "write a number with a unit: 90s, 15m, 2h or 1d",
        )
    })?;
    let scale: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(bad(
                format!("'{s}' has an unknown unit '{unit}'"),
                "write a number with a unit: 90s, 15m, 2h or 1d",
            ));
        }
    };
    let secs = n
        .checked_mul(scale)
        .filter(|s| *s <= MAX_DURATION_SECS)
        .ok_or_else(|| {
            bad(
                format!("'{s}' is too long"),
                &format!("a duration is at most {} days", MAX_DURATION_SECS / 86_400),
            )
        })?;
    if secs == 0 {
        return Err(bad(format!("'{s}' is zero"), "a lease must last at least a second"));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(s: &str) -> Resource {
        Resource::parse(s, |_| Ok(Id([7; 32]))).unwrap()
    }

    #[test]
    fn resources_parse_normalise_and_refuse_bad_input() {
        assert_eq!(res("path:./src//main.rs").to_string(), "path:src/main.rs");
        assert_eq!(res("path:src/").to_string(), "path:src/");
        assert_eq!(res("repo:"), Resource::Repo);
        for bad in [
            "",
            "src",
            "foo:x",
            "path:",
            "path:/etc/passwd",
            "path:a/../b",
            "repo:x",
            "issue:",
            "path:./",
        ] {
            assert!(Resource::parse(bad, |_| Ok(Id([7; 32]))).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_is_prefix_on_directories_and_exact_otherwise() {
        assert!(res("path:src/").overlaps(&res("path:src/a.rs")));
        assert!(res("path:src/a.rs").overlaps(&res("path:src/")));
        assert!(res("path:src/").overlaps(&res("path:src/sub/")));
        assert!(!res("path:src/").overlaps(&res("path:srcx/a")));
        assert!(!res("path:src/a.rs").overlaps(&res("path:src/b.rs")));
        assert!(
            !res("path:src").overlaps(&res("path:src/a.rs")),
            "a file is not a directory"
        );
        assert!(res("repo:").overlaps(&res("path:x")));
        assert!(
            !res("repo:").overlaps(&res("issue:x")),
            "repo: is the tree; a claim is not in it"
        );
        assert!(res("issue:x").ancestors().is_empty());
        assert!(!res("issue:x").overlaps(&res("path:x")));
        assert_eq!(
            res("path:a/b/c").ancestors(),
            [res("path:a/b/"), res("path:a/"), Resource::Repo]
        );
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["", "m", "5x", "-5m", "0s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
