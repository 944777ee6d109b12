//! The published test vectors of docs/event-format.md, and the test that checks the encoder
//! against them.

use ciborium::value::{Integer, Value};
use ed25519_dalek::SigningKey;

use super::{ActorId, Event, FORMAT_VERSION, Id, Kind, State};

/// The published test vectors of `docs/event-format.md`: (description, signing-key seed byte, event).
pub(crate) fn test_vectors() -> Vec<(&'static str, u8, Event)> {
    let actor = |seed: u8| ActorId(SigningKey::from_bytes(&[seed; 32]).verifying_key().to_bytes());
    let base = |seed: u8, entity: Option<Id>, lamport: u64, parents: Vec<Id>, kind: Kind| Event {
        version: FORMAT_VERSION,
        entity,
        actor: actor(seed),
        lamport,
        wall_ms: 1_763_700_000_000 + lamport,
        parents,
        kind,
    };
    let e = Some(Id([0x11; 32]));
    let p = |b: u8| Id([b; 32]);
    vec![
        (
            "issue created, no labels",
            1,
            base(
                1,
                None,
                1,
                vec![],
                Kind::IssueCreated {
                    title: "Hello".into(),
                    body: "".into(),
                    labels: vec![],
                },
            ),
        ),
        (
            "issue created, labels given unsorted with a duplicate",
            1,
            base(
                1,
                None,
                1,
                vec![],
                Kind::IssueCreated {
                    title: "Login fails".into(),
                    body: "Steps:\n1. open".into(),
                    labels: vec!["ui".into(), "bug".into(), "ui".into()],
                },
            ),
        ),
        (
            "title set, one parent",
            2,
            base(
                2,
                e,
                24,
                vec![p(0x22)],
                Kind::TitleSet {
                    title: "Grüße".into()
                },
            ),
        ),
        (
            "body set, parents given unsorted",
            2,
            base(
                2,
                e,
                300,
                vec![p(0x44), p(0x33)],
                Kind::BodySet {
                    body: "long body".into(),
                },
            ),
        ),
        (
            "closed as completed",
            1,
            base(
                1,
                e,
                65_536,
                vec![p(0x55)],
                Kind::StateSet {
                    state: State::Closed,
                    reason: Some("completed".into()),
                },
            ),
        ),
        (
            "reopened, no reason",
            1,
            base(
                1,
                e,
                5,
                vec![p(0x55)],
                Kind::StateSet {
                    state: State::Open,
                    reason: None,
                },
            ),
        ),
        (
            "comment added",
            3,
            base(
                3,
                e,
                7,
                vec![p(0x66)],
                Kind::CommentAdded {
                    body: "LGTM 👍".into()
                },
            ),
        ),
        (
            "label added",
            3,
            base(3, e, 8, vec![], Kind::LabelAdded { label: "p1".into() }),
        ),
        (
            "label removed",
            3,
            base(3, e, 9, vec![], Kind::LabelRemoved { label: "p1".into() }),
        ),
        (
            "assignee added",
            1,
            base(
                1,
                e,
                10,
                vec![],
                Kind::AssigneeAdded {
                    assignee: "agent-7".into(),
                },
            ),
        ),
        (
            "assignee removed",
            1,
            base(
                1,
                e,
                11,
                vec![],
                Kind::AssigneeRemoved {
                    assignee: "agent-7".into(),
                },
            ),
        ),
        (
            "unknown kind 4242 from a newer version",
            2,
            base(
                2,
                e,
                12,
                vec![],
                Kind::Unknown {
                    code: 4242,
                    payload: Value::Array(vec![Value::Text("future".into()), Value::Integer(Integer::from(1u8))]),
                },
            ),
        ),
        (
            "priority set to 0",
            2,
            base(2, e, 13, vec![p(0x77)], Kind::PrioritySet { priority: 0 }),
        ),
        (
            "type set to epic",
            2,
            base(
                2,
                e,
                14,
                vec![],
                Kind::TypeSet {
                    issue_type: "epic".into(),
                },
            ),
        ),
        (
            "parent set",
            2,
            base(2, e, 15, vec![], Kind::ParentSet { parent: Some(p(0x22)) }),
        ),
        (
            "parent removed",
            3,
            base(3, e, 16, vec![], Kind::ParentSet { parent: None }),
        ),
        (
            "link added: blocked by another issue",
            3,
            base(
                3,
                e,
                17,
                vec![],
                Kind::LinkAdded {
                    link: "blocked-by".into(),
                    target: p(0x33),
                },
            ),
        ),
        (
            "link removed: related",
            3,
            base(
                3,
                e,
                18,
                vec![],
                Kind::LinkRemoved {
                    link: "related".into(),
                    target: p(0x44),
                },
            ),
        ),
        (
            "imported from GitHub",
            1,
            base(
                1,
                e,
                19,
                vec![],
                Kind::Imported {
                    origin: crate::event::Origin {
                        source: "github:acme/widgets#12".into(),
                        url: Some("https://github.com/acme/widgets/issues/12".into()),
                        author: "octocat".into(),
                        author_email: None,
                        author_id: None,
                        created_ms: 1_709_287_200_000,
                    },
                },
            ),
        ),
        (
            "comment imported",
            1,
            base(
                1,
                e,
                20,
                vec![],
                Kind::CommentImported {
                    body: "Same here.".into(),
                    origin: crate::event::Origin {
                        source: "github:acme/widgets#12/comment/345".into(),
                        url: None,
                        author: "hubot".into(),
                        author_email: Some("hubot@example.com".into()),
                        author_id: None,
                        created_ms: 1_709_290_800_000,
                    },
                },
            ),
        ),
        (
            "closed by a commit",
            2,
            base(
                2,
                e,
                21,
                vec![],
                Kind::CommitReferenced {
                    commit: "0123456789abcdef0123456789abcdef01234567".into(),
                    subject: "Fix the proxy login".into(),
                    closes: true,
                    key: "c560ff428e589f5cd149712493182822".into(),
                },
            ),
        ),
    ]
}

mod tests {
    use super::*;
    use crate::hex;

    /// Checks every vector in docs/event-format.md; `GRIT_BLESS=1` prints them instead.
    #[test]
    fn the_published_test_vectors_match_the_encoder() {
        let doc = include_str!("../../docs/event-format.md");
        let field = |name: &str| -> Vec<String> {
            doc.lines()
                .filter_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .collect()
        };
        let (encodings, ids, signatures) = (field("encoding: "), field("id: "), field("signature: "));
        let vectors = test_vectors();
        for (i, (what, seed, event)) in vectors.iter().enumerate() {
            let signed = event.clone().sign(&SigningKey::from_bytes(&[*seed; 32]));
            if std::env::var_os("GRIT_BLESS").is_some() {
                println!(
                    "### {}. {what}\n\nencoding: {}\nid: {}\nsignature: {}\n",
                    i + 1,
                    hex::encode(&signed.body),
                    signed.id,
                    hex::encode(&signed.signature)
                );
                continue;
            }
            assert_eq!(
                encodings.get(i),
                Some(&hex::encode(&signed.body)),
                "encoding of vector {} ({what})",
                i + 1
            );
            assert_eq!(ids.get(i), Some(&signed.id.to_hex()), "id of vector {} ({what})", i + 1);
            assert_eq!(
                signatures.get(i),
                Some(&hex::encode(&signed.signature)),
                "signature of vector {} ({what})",
                i + 1
            );
            assert_eq!(
                Event::decode(&signed.body).unwrap().encode(),
                signed.body,
                "vector {} re-encodes identically",
                i + 1
            );
        }
        assert!(vectors.len() >= 8);
        assert_eq!(encodings.len(), vectors.len(), "the doc lists every vector");
    }
}
