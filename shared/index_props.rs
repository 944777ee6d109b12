//! Property tests of the merge rules: any order, any split into batches, incremental or from
//! scratch, the projection is byte-identical.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::Index;
use crate::event::{ActorId, Event, FORMAT_VERSION, Id, Kind, SignedEvent, State};
use crate::issue::IssueState;

#[derive(Debug, Clone)]
enum Op {
    Title(u8),
    Body(u8),
    State(bool, bool),
    Comment(u8),
    Label(u8, bool),
    Assignee(u8, bool),
    Future(u8),
    Priority(u8),
    Type(u8),
    Parent(Option<u8>),
    Link(u8, u8, bool),
    Imported(u8),
    CommentImported(u8),
    /// A commit (one of three) noted by any actor: several notes of one commit must count once.
    Commit(u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(|v| Op::Title(v % 4)),
        any::<u8>().prop_map(|v| Op::Body(v % 4)),
        (any::<bool>(), any::<bool>()).prop_map(|(c, r)| Op::State(c, r)),
        any::<u8>().prop_map(|v| Op::Comment(v % 4)),
        (any::<u8>(), any::<bool>()).prop_map(|(v, a)| Op::Label(v % 3, a)),
        (any::<u8>(), any::<bool>()).prop_map(|(v, a)| Op::Assignee(v % 3, a)),
        any::<u8>().prop_map(Op::Future),
        any::<u8>().prop_map(|v| Op::Priority(v % 5)),
        any::<u8>().prop_map(|v| Op::Type(v % 6)),
        any::<Option<u8>>().prop_map(Op::Parent),
        (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(l, t, a)| Op::Link(l % 5, t, a)),
        any::<u8>().prop_map(|v| Op::Imported(v % 3)),
        any::<u8>().prop_map(|v| Op::CommentImported(v % 3)),
        (any::<u8>(), any::<bool>()).prop_map(|(v, c)| Op::Commit(v % 3, c)),
    ]
}

/// (actor, issue, lamport, wall, parent picks, op)
type Step = (u8, u8, u8, u8, Vec<u8>, Op);

fn steps() -> impl Strategy<Value = (u8, Vec<Step>)> {
    (
        1u8..4,
        prop::collection::vec(
            (
                0u8..3,
                any::<u8>(),
                1u8..6,
                0u8..3,
                prop::collection::vec(any::<u8>(), 0..3),
                op(),
            ),
            0..40,
        ),
    )
}

fn keys() -> Vec<SigningKey> {
    (1..=3).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
}

/// Turns a generated script into signed events: creations first, then edits whose lamport
/// clocks and wall times collide often, with parents drawn mostly from the same issue's earlier
/// events.
fn build((issues, steps): (u8, Vec<Step>)) -> Vec<SignedEvent> {
    let keys = keys();
    let mut out: Vec<SignedEvent> = Vec::new();
    let mut per_issue: Vec<Vec<Id>> = Vec::new();
    for i in 0..issues {
        let key = &keys[usize::from(i) % 3];
        let ev = Event {
            version: FORMAT_VERSION,
            entity: None,
            actor: ActorId(key.verifying_key().to_bytes()),
            lamport: 1,
            wall_ms: 1000 + u64::from(i),
            parents: vec![],
            kind: Kind::IssueCreated {
                title: format!("issue {i}"),
                body: String::new(),
                labels: vec!["l0".into()],
            },
        }
        .sign(key);
        per_issue.push(vec![ev.id]);
        out.push(ev);
    }
    for (actor, issue, lamport, wall, picks, op) in steps {
        let k = usize::from(issue % issues);
        let key = &keys[usize::from(actor)];
        let known = &per_issue[k];
        // Now and then a parent from another issue: a writer of ours never does that, another
        // clone's might, and the projection must not depend on order then either.
        let parents: Vec<Id> = picks
            .iter()
            .map(|p| {
                let from = match p {
                    224.. => &per_issue[(k + 1) % per_issue.len()],
                    _ => known,
                };
                from[usize::from(*p) % from.len()]
            })
            .collect();
        let kind = match op {
            Op::Title(v) => Kind::TitleSet {
                title: format!("t{v} \"quoted\" \\ é\n\u{1}"),
            },
            Op::Body(v) => Kind::BodySet { body: format!("b{v}") },
            Op::State(closed, reason) => Kind::StateSet {
                state: if closed { State::Closed } else { State::Open },
                reason: reason.then(|| "completed".to_owned()),
            },
            Op::Comment(v) => Kind::CommentAdded {
                body: format!("c{v} Crashes on start-up w{}", v % 2),
            },
            Op::Label(v, true) => Kind::LabelAdded { label: format!("l{v}") },
            Op::Label(v, false) => Kind::LabelRemoved { label: format!("l{v}") },
            Op::Assignee(v, true) => Kind::AssigneeAdded {
                assignee: format!("a{v}"),
            },
            Op::Assignee(v, false) => Kind::AssigneeRemoved {
                assignee: format!("a{v}"),
            },
            Op::Future(v) => Kind::Unknown {
                code: 100 + u64::from(v),
                payload: ciborium::value::Value::Null,
            },
            Op::Priority(p) => Kind::PrioritySet { priority: p },
            Op::Type(t) => Kind::TypeSet {
                issue_type: ["bug", "feature", "task", "epic", "chore", "newer"][usize::from(t)].to_owned(),
            },
            Op::Parent(p) => Kind::ParentSet {
                parent: p.map(|p| per_issue[usize::from(p) % per_issue.len()][0]),
            },
            Op::Imported(v) => Kind::Imported {
                origin: crate::event::Origin {
                    source: format!("github:o/r#{v}"),
                    url: (v > 0).then(|| format!("https://example.com/{v}")),
                    author: format!("octo{v}"),
                    author_email: None,
                    author_id: None,
                    // Before, between and after the creation times, so rows move both ways.
                    created_ms: [5, 1001, 9_000_000_000][usize::from(v)],
                },
            },
            Op::CommentImported(v) => Kind::CommentImported {
                body: format!("imported {v}"),
                origin: crate::event::Origin {
                    source: format!("github:o/r#1/comment/{v}"),
                    url: None,
                    author: "octocat".into(),
                    author_email: Some("o@example.com".into()),
                    author_id: None,
                    created_ms: u64::from(v),
                },
            },
            Op::Commit(v, closes) => Kind::CommitReferenced {
                commit: format!("{v}").repeat(40),
                subject: format!("commit {v}"),
                closes,
                key: format!("{v}").repeat(32),
            },
            Op::Link(l, t, add) => {
                let link =
                    ["blocked-by", "related", "duplicate-of", "discovered-from", "newer"][usize::from(l)].to_owned();
                let target = per_issue[usize::from(t) % per_issue.len()][0];
                if add {
                    Kind::LinkAdded { link, target }
                } else {
                    Kind::LinkRemoved { link, target }
                }
            }
        };
        let ev = Event {
            version: FORMAT_VERSION,
            entity: Some(known[0]),
            actor: ActorId(key.verifying_key().to_bytes()),
            lamport: u64::from(lamport),
            // 2, 4 and 8-byte CBOR heads.
            wall_ms: 2000 + u64::from(wall) * 3_000_000_000,
            parents,
            kind,
        }
        .sign(key);
        per_issue[k].push(ev.id);
        out.push(ev);
    }
    out
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        v.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

/// The in-memory projection, applying events one at a time in the given order.
fn project(events: &[SignedEvent]) -> Vec<IssueState> {
    let mut states: std::collections::BTreeMap<Id, IssueState> = Default::default();
    let mut parented = std::collections::HashSet::new();
    for ev in events {
        let entity = ev.entity();
        parented.extend(ev.event.parents.iter().map(|p| (entity, *p)));
        states
            .entry(entity)
            .or_insert_with(|| IssueState::new(entity))
            .apply(ev, parented.contains(&(entity, ev.id)));
    }
    states.into_values().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_projection_does_not_depend_on_event_order(script in steps(), seed in any::<u64>()) {
        let events = build(script);
        let mut shuffled = events.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(project(&events), project(&shuffled));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn stored_states_read_back_and_rows_are_the_serde_json_ones(script in steps()) {
        for state in project(&build(script)) {
            let mut stored = Vec::new();
            state.encode(&mut stored);
            prop_assert_eq!(IssueState::decode(&stored), Some(state.clone()));
            let texts: Vec<&str> = crate::index::tables::text_parts(&state).collect();
            prop_assert_eq!(IssueState::stored_texts(&stored), Some(texts));
            for cut in [1, stored.len() / 2, stored.len() - 1] {
                prop_assert_eq!(IssueState::decode(&stored[..cut]), None);
            }

            let mut fragment = Vec::new();
            state.row_fragment(&mut fragment);
            let row = crate::issue::RowFields {
                title: state.title.as_ref().map(|r| r.value.clone()).unwrap_or_default(),
                state: state.state(),
                state_reason: state.state_reg().and_then(|r| r.value.reason),
                labels: state.labels(),
                assignees: state.assignees(),
                comments: state.comments.len(),
                created_at: crate::repo::format_time(state.created_ms().unwrap_or(0)),
                updated_at: crate::repo::format_time(state.updated_ms),
                priority: state.priority(),
                issue_type: state.issue_type().to_owned(),
                source: state.origin.as_ref().map(|o| o.value.source.clone()),
                parent: state.parent().map(|p| p.to_hex()),
            };
            let json = serde_json::to_vec(&row).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&fragment), String::from_utf8_lossy(&json[1..json.len() - 1]));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn the_index_is_identical_for_any_order_and_any_batches(
        script in steps(),
        seed in any::<u64>(),
        cuts in prop::collection::vec(any::<u8>(), 0..6),
    ) {
        let events = build(script);
        let dir = tempfile::tempdir().unwrap();

        // All at once into an empty index takes the bulk path; twice over, to see each once.
        let scratch = Index::open_dir(&dir.path().join("scratch")).unwrap();
        let mut twice = events.clone();
        twice.extend(events.iter().rev().cloned());
        scratch.apply_batch(twice.clone()).unwrap();

        let incremental = Index::open_dir(&dir.path().join("incremental")).unwrap();
        let mut shuffled = events.clone();
        shuffle(&mut shuffled, seed);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| usize::from(*c) % (shuffled.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        for cut in cuts.into_iter().chain([shuffled.len()]) {
            incremental.apply_batch(shuffled[start..cut.max(start)].to_vec()).unwrap();
            start = cut.max(start);
        }

        // Event by event: all but the first through the incremental path.
        let one_by_one = Index::open_dir(&dir.path().join("one_by_one")).unwrap();
        for ev in events.iter().rev() {
            one_by_one.apply_batch(vec![ev.clone()]).unwrap();
        }
        // Applying everything again changes nothing: events are applied once.
        one_by_one.apply_batch(events.clone()).unwrap();

        // In bulk again, spilling every event and every record to disk, committing at each step.
        let spilled = Index::open_dir(&dir.path().join("spilled")).unwrap();
        spilled.apply_spilling(twice).unwrap();

        let expected = scratch.dump().unwrap();
        // The count of closed rows that `list` relies on is the one the rows give.
        let closed = expected.iter().filter(|(k, v)| k[0] == b'r' && v[0] == b'c').count() as u64;
        let counted = expected.iter().find(|(k, _)| k == b"closed").map(|(_, v)| v.clone());
        prop_assert_eq!(counted, Some(closed.to_be_bytes().to_vec()));
        prop_assert_eq!(&expected, &incremental.dump().unwrap());
        prop_assert_eq!(&expected, &one_by_one.dump().unwrap());
        prop_assert_eq!(&expected, &spilled.dump().unwrap());
    }
}
