//! The REST APIs of the trackers the bridges and imports speak to (GitHub, GitLab, Jira): a
//! blocking client (ureq) with the token, `Link` pagination, and rate limits handled the way
//! each documents them: after a 403 or 429 wait `retry-after` seconds, or until the reset time
//! when the remaining count is 0 (GitHub's `x-ratelimit-*`, GitLab's `ratelimit-*`), or at
//! least a minute (doubling) for a secondary limit that says neither; then resume. Server
//! errors are retried three times. Each API's base URL comes from an environment variable
//! (`GRIT_GITHUB_API`, `GRIT_GITLAB_API`, `GRIT_JIRA_API`) or the command line, so tests use a
//! local server.

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// GitHub's API's default base.
pub const API: &str = "https://api.github.com";

/// Which API a client speaks to: how it authenticates, which headers say its limits, and what
/// its errors advise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// GitHub's REST API.
    GitHub,
    /// GitLab's REST API.
    GitLab,
    /// Jira's REST API.
    Jira,
}

impl Dialect {
    /// The service's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::GitHub => "GitHub",
            Dialect::GitLab => "GitLab",
            Dialect::Jira => "Jira",
        }
    }

    /// The environment variable that names the base URL.
    pub fn base_var(self) -> &'static str {
        match self {
            Dialect::GitHub => "GRIT_GITHUB_API",
            Dialect::GitLab => "GRIT_GITLAB_API",
            Dialect::Jira => "GRIT_JIRA_API",
        }
    }

    fn default_base(self) -> &'static str {
        match self {
            Dialect::GitHub => API,
            Dialect::GitLab => "https://gitlab.com/api/v4",
            Dialect::Jira => "",
        }
    }

    /// The header that carries `token`. Jira's `EMAIL:TOKEN` is HTTP basic; a bare token is a
    /// bearer (a personal access token of Jira Data Center).
    fn auth(self, token: &str) -> (&'static str, String) {
        match self {
            Dialect::GitHub => ("Authorization", format!("Bearer {token}")),
            Dialect::GitLab => ("PRIVATE-TOKEN", token.to_owned()),
            Dialect::Jira if token.contains(':') => (
                "Authorization",
                format!("Basic {}", crate::text::base64(token.as_bytes())),
            ),
            Dialect::Jira => ("Authorization", format!("Bearer {token}")),
        }
    }

    fn hint(self, status: u16) -> &'static str {
        match (self, status) {
            (Dialect::GitHub, 401) => {
                "GITHUB_TOKEN was refused: set a valid token (a fine-grained one with Issues: read and write)"
            }
            (Dialect::GitHub, 403) => "the token may lack a permission (Issues: read and write for push)",
            (Dialect::GitHub, 404) => "check --repo OWNER/NAME, and that the token can see that repository",
            (Dialect::GitLab, 401) => "GITLAB_TOKEN was refused: set a valid token (scope api, or read_api to pull)",
            (Dialect::GitLab, 403) => "the token may lack a scope (api for push) or a role on the project",
            (Dialect::GitLab, 404) => "check --project GROUP/NAME, --url, and that the token can see that project",
            (Dialect::Jira, 401) => {
                "JIRA_TOKEN was refused: set EMAIL:API_TOKEN (Jira Cloud) or a personal access token"
            }
            (Dialect::Jira, 403 | 404) => "check --url, the JQL, and that the account can browse the project",
            _ => "run it again; what was done so far is kept",
        }
    }
}

/// Called with why a request waits, and for how long.
pub type OnWait = Box<dyn FnMut(&str, Duration)>;

/// A client for one run: its token, and how long it may wait on rate limits in all.
pub struct Client {
    /// The API it speaks.
    pub dialect: Dialect,
    /// The API's base URL.
    pub base: String,
    token: Option<String>,
    agent: ureq::Agent,
    /// Stop (with an error saying so) rather than wait longer than this on rate limits.
    pub max_wait: Duration,
    waited: Duration,
    /// Told of each wait, and why.
    pub on_wait: OnWait,
    /// Requests made.
    pub requests: u64,
}

/// One answer: its JSON and the next page, if the `Link` header names one.
pub struct Page {
    /// The answer's JSON.
    pub body: Value,
    /// The next page's URL.
    pub next: Option<String>,
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The most pages one listing follows: 10,000 pages of 100 is a million items.
pub const MAX_PAGES: usize = 10_000;

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Userinfo (`user@host`) makes another origin: the token goes to the API's own only.
    format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase())
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// `s` percent-encoded for a URL's query (RFC 3986: unreserved characters kept).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// GitHub's token from the environment: `GITHUB_TOKEN`, else `GH_TOKEN` (as `gh` reads it).
pub fn github_token() -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|t| !t.is_empty()))
}

/// `url` with its `page` query parameter set to `n`.
fn with_page(url: &str, n: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .map(str::to_owned)
        .collect();
    parts.push(format!("page={n}"));
    format!("{path}?{}", parts.join("&"))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Client {
    /// A GitHub client.
    pub fn new(token: Option<String>) -> Client {
        Client::of(Dialect::GitHub, token, None)
    }

    /// A client of `dialect` at `base` (else its environment variable, else its default).
    pub fn of(dialect: Dialect, token: Option<String>, base: Option<String>) -> Client {
        let base = base
            .filter(|b| !b.is_empty())
            .or_else(|| std::env::var(dialect.base_var()).ok().filter(|b| !b.is_empty()))
            .unwrap_or_else(|| dialect.default_base().to_owned());
        Client {
            dialect,
            base: base.trim_end_matches('/').to_owned(),
            token,
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(60)))
                .http_status_as_error(false)
                .user_agent(concat!("grit/", env!("CARGO_PKG_VERSION")))
                .build()
                .into(),
            max_wait: Duration::from_secs(15 * 60),
            waited: Duration::ZERO,
            on_wait: Box::new(|_, _| {}),
            requests: 0,
        }
    }

    /// `path` under the base (`/repos/o/r/issues?…`), or a full URL as `Link` gives them. A
    /// full URL must be on the API's own origin: a `Link` that points elsewhere is a stranger's
    /// word, and following it would hand the token to another host.
    pub fn url(&self, path: &str) -> Result<String> {
        if path.starts_with("http://") || path.starts_with("https://") {
            if origin(path) != origin(&self.base) {
                return Err(Error::Remote {
                    message: format!(
                        "{}'s answer points to another origin ({}); not followed",
                        self.dialect.name(),
                        origin(path)
                    ),
                    hint: format!(
                        "pagination is followed on {} only, and the token is sent nowhere else",
                        origin(&self.base)
                    ),
                });
            }
            Ok(path.to_owned())
        } else {
            Ok(format!("{}{path}", self.base))
        }
    }

    fn wait(&mut self, why: &str, d: Duration) -> Result<()> {
        if self.waited + d > self.max_wait {
            return Err(Error::Remote {
                message: format!(
                    "{}'s rate limit would keep this waiting {} s more ({why})",
                    self.dialect.name(),
                    d.as_secs()
                ),
                hint: "what was done so far is kept: run the same command later and it resumes".into(),
            });
        }
        (self.on_wait)(why, d);
        std::thread::sleep(d);
        self.waited += d;
        Ok(())
    }

    /// Sends a request, waiting out rate limits and retrying server errors, and returns the
    /// JSON answer with the next page.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Page> {
        let url = self.url(path)?;
        let mut secondary = Duration::from_secs(60);
        let mut server_errors = 0;
        loop {
            self.requests += 1;
            let mut req = ureq::http::Request::builder().method(method).uri(&url);
            req = match self.dialect {
                Dialect::GitHub => req
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28"),
                _ => req.header("Accept", "application/json"),
            };
            if let Some(t) = &self.token
                && origin(&url) == origin(&self.base)
            {
                let (name, value) = self.dialect.auth(t);
                req = req.header(name, value);
            }
            let payload = body
                .map(|b| serde_json::to_vec(b).expect("serialises"))
                .unwrap_or_default();
            let req = req
                .header("Content-Type", "application/json")
                .body(payload)
                .map_err(|e| {
                    Error::invalid(
                        format!("a bad request URL {url}: {e}"),
                        "check --repo and GRIT_GITHUB_API",
                    )
                })?;
            let resp = self.agent.run(req).map_err(|e| Error::Subprocess {
                command: format!("{method} {url}"),
                stderr: e.to_string(),
            })?;
            let status = resp.status().as_u16();
            let limit = |name: &str| {
                header(&resp, &format!("x-{name}"))
                    .or_else(|| header(&resp, name))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let (remaining, reset) = (limit("ratelimit-remaining"), limit("ratelimit-reset"));
            let retry_after = header(&resp, "retry-after").and_then(|v| v.parse::<u64>().ok());
            // GitLab gives `x-next-page` beside `Link`, and only it past 10,000 items.
            let next = header(&resp, "link").as_deref().and_then(next_link).or_else(|| {
                let n = header(&resp, "x-next-page").filter(|n| !n.trim().is_empty())?;
                Some(with_page(&url, n.trim()))
            });
            let text = resp.into_body().read_to_string().unwrap_or_default();
            match status {
                200..=299 => {
                    let body = if text.trim().is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).map_err(|e| Error::Subprocess {
                            command: format!("{method} {url}"),
                            stderr: format!("the answer is not JSON: {e}"),
                        })?
                    };
                    // The last request of the window: wait for the next one before going on.
                    if remaining == Some(0)
                        && let Some(r) = reset
                    {
                        self.wait(
                            "the hourly limit is spent",
                            Duration::from_secs(r.saturating_sub(now_secs()) + 1),
                        )?;
                    }
                    return Ok(Page { body, next });
                }
                403 | 429 if retry_after.is_some() => {
                    let d = Duration::from_secs(retry_after.unwrap_or(60));
                    self.wait("asked to retry after a while (secondary rate limit)", d)?;
                }
                403 | 429 if remaining == Some(0) => {
                    let until = reset.unwrap_or_else(|| now_secs() + 60);
                    self.wait(
                        "the hourly rate limit is spent",
                        Duration::from_secs(until.saturating_sub(now_secs()) + 1),
                    )?;
                }
                403 | 429 if text.to_ascii_lowercase().contains("rate limit") => {
                    self.wait("secondary rate limit", secondary)?;
                    secondary *= 2;
                }
                500..=599 if server_errors < 3 => {
                    server_errors += 1;
                    std::thread::sleep(Duration::from_millis(500 << server_errors));
                }
                _ => {
                    let message = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| text.chars().take(200).collect());
                    return Err(Error::Remote {
                        message: format!("{} answered {status} to {method} {url}: {message}", self.dialect.name()),
                        hint: self.dialect.hint(status).into(),
                    });
                }
            }
        }
    }

    /// GETs `path` (from the base URL, or a whole URL of the same origin, such as a `next`
    /// page).
    pub fn get(&mut self, path: &str) -> Result<Page> {
        self.request("GET", path, None)
    }

    /// Every page of a list, from `path` on, calling `each` with each page's items; stops
    /// early (returning false) when `each` says so.
    /// A `Link` that leads back to a page already read, past [`MAX_PAGES`], or to more pages after
    /// an empty one, is an error: a server (or whoever answers in its name) cannot keep this
    /// going forever.
    pub fn each_page(&mut self, path: &str, mut each: impl FnMut(&mut Self, Vec<Value>) -> Result<bool>) -> Result<()> {
        let mut next = Some(path.to_owned());
        let mut seen = std::collections::HashSet::new();
        let name = self.dialect.name();
        let looping = |why: String| Error::Remote {
            message: format!("{name}'s pagination {why}; stopped"),
            hint: "what was read so far is kept; run it again later, or report it if it repeats".into(),
        };
        while let Some(p) = next {
            let url = self.url(&p)?;
            if !seen.insert(url.clone()) {
                return Err(looping(format!("leads back to a page already read ({url})")));
            }
            if seen.len() > MAX_PAGES {
                return Err(looping(format!("goes past {MAX_PAGES} pages")));
            }
            let page = self.get(&p)?;
            let items = match page.body {
                Value::Array(a) => a,
                other => {
                    return Err(Error::Subprocess {
                        command: format!("GET {p}"),
                        stderr: format!(
                            "expected a list, got {}",
                            other.to_string().chars().take(100).collect::<String>()
                        ),
                    });
                }
            };
            let empty = items.is_empty();
            if !each(self, items)? {
                return Ok(());
            }
            if empty && page.next.is_some() {
                return Err(looping("names a next page after an empty one".into()));
            }
            next = page.next;
        }
        Ok(())
    }

    /// Whether requests carry a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// How long this run has waited on rate limits.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let link = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).unwrap(),
            "https://api.github.com/repositories/1/issues?page=2"
        );
        let last = r#"<https://x/issues?page=1>; rel="first", <https://x/issues?page=4>; rel="prev""#;
        assert_eq!(next_link(last), None);
    }
}
