//! `bridge jira pull` against a local server that answers Jira's search and comment lists from
//! the recorded pages (`tests/fixtures/jira/`), with a 429 and a 503 injected, and more comments
//! than the search carries.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::env::TestEnv;

#[derive(Default)]
struct State {
    issues: Vec<Value>,
    /// The first search from this `startAt` answers 429 with `Retry-After: 1`.
    limited_at: Option<u64>,
    /// The first search from this `startAt` answers 503.
    failing_at: Option<u64>,
    log: Vec<String>,
    basic: Vec<String>,
}

fn fixture_issues() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jira");
    let mut out = Vec::new();
    for page in ["search-1.json", "search-2.json"] {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.join(page)).unwrap()).unwrap();
        out.extend(v["issues"].as_array().unwrap().iter().cloned());
    }
    out
}

fn query(target: &str) -> std::collections::HashMap<String, String> {
    target
        .split_once('?')
        .map_or("", |(_, q)| q)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn server(state: Arc<Mutex<State>>) -> String {
    crate::env::json_server(move |(method, target, headers, _), _| {
        let mut st = state.lock().unwrap();
        st.log.push(format!("{method} {target}"));
        if let Some(a) = headers.get("authorization") {
            st.basic.push(a.clone());
        }
        let q = query(target);
        let start: u64 = q.get("startAt").and_then(|s| s.parse().ok()).unwrap_or(0);
        let path = target.split('?').next().unwrap();
        if path == "/rest/api/3/search" {
            if st.limited_at == Some(start) {
                st.limited_at = None;
                return (
                    429,
                    vec![("retry-after".into(), "1".into())],
                    json!({ "errorMessages": ["Rate limit exceeded"] }),
                );
            }
            if st.failing_at == Some(start) {
                st.failing_at = None;
                return (503, vec![], json!({ "errorMessages": ["Service unavailable"] }));
            }
            let page: Vec<Value> = st.issues.iter().skip(start as usize).take(2).cloned().collect();
            return (
                200,
                vec![],
                json!({ "startAt": start, "maxResults": 2, "total": st.issues.len(), "issues": page }),
            );
        }
        if let Some(key) = path
            .strip_prefix("/rest/api/3/issue/")
            .and_then(|p| p.strip_suffix("/comment"))
        {
            // APP-4 has three comments; the search carried none of them.
            let all: Vec<Value> = if key == "APP-4" {
                (0..3)
                    .map(|i| {
                        json!({ "id": format!("3000{i}"), "author": { "displayName": "Cy" },
                        "created": "2024-04-02T00:00:00.000+0000", "body": format!("comment {i}") })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let page: Vec<Value> = all.iter().skip(start as usize).take(2).cloned().collect();
            return (
                200,
                vec![],
                json!({ "startAt": start, "total": all.len(), "comments": page }),
            );
        }
        (404, vec![], json!({ "errorMessages": ["not found"] }))
    })
}

#[test]
fn a_jira_pull_pages_waits_out_limits_retries_and_reads_every_comment() {
    let t = TestEnv::new();
    let dir = t.repo("r");
    let mut issues = fixture_issues();
    issues[3]["fields"]["comment"] = json!({ "comments": [], "total": 3, "maxResults": 0, "startAt": 0 });
    let state = Arc::new(Mutex::new(State {
        issues,
        limited_at: Some(2),
        failing_at: Some(4),
        ..Default::default()
    }));
    let base = server(state.clone());
    let pull = |extra: &[&str]| -> Value {
        let out = t
            .cmd("issue", &dir)
            .args([
                "bridge",
                "jira",
                "pull",
                "--jql",
                "project = APP",
                "--url",
                &base,
                "--json",
            ])
            .args(extra)
            .env("JIRA_TOKEN", "ada@acme.test:tok")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let r = pull(&[]);
    assert_eq!(r["import"]["created"], 5, "{r}");
    assert_eq!(
        r["import"]["skipped"].as_array().unwrap().len(),
        1,
        "the record without a summary: {r}"
    );
    assert!(r["waited_ms"].as_u64().unwrap() >= 1000, "{r}");
    let list = t.json("issue", &dir, &["list", "--state", "all"]);
    let epic = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "An epic")
        .unwrap();
    let shown = t.json("issue", &dir, &["show", epic["id"].as_str().unwrap()]);
    let bodies: Vec<&str> = shown["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["comment 0", "comment 1", "comment 2"]);
    {
        let st = state.lock().unwrap();
        // EMAIL:TOKEN is HTTP basic.
        assert!(
            st.basic.iter().all(|a| a == "Basic YWRhQGFjbWUudGVzdDp0b2s="),
            "{:?}",
            st.basic
        );
        assert!(
            st.log.iter().any(|l| l.contains("ORDER%20BY%20updated%20ASC")),
            "{:?}",
            st.log
        );
    }
    // Again: from the cursor, nothing written.
    let again = pull(&[]);
    assert_eq!(again["import"]["events"], 0, "{again}");
    assert!(
        state.lock().unwrap().log.iter().any(|l| l.contains("updated%20%3E%3D")),
        "the second pull asks from its cursor"
    );
    // An ORDER BY of the caller's would fight the pull's own.
    let bad = t
        .cmd("issue", &dir)
        .args([
            "bridge",
            "jira",
            "pull",
            "--jql",
            "project = APP ORDER BY key",
            "--url",
            &base,
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
