//! Every decoder of bytes that arrive through a ref (events, chunks, snapshots, actor records,
//! lease messages) or sit in the index (stored issue states), fed random bytes and mutations
//! of valid encodings: each returns an error or a value, never panics.

use ed25519_dalek::SigningKey;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::event::{ActorId, Event, FORMAT_VERSION, Id, Kind, SignedEvent, from_cbor};
use crate::issue::IssueState;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32])
}

fn events() -> Vec<SignedEvent> {
    let actor = ActorId(key().verifying_key().to_bytes());
    let created = Event {
        version: FORMAT_VERSION,
        entity: None,
        actor,
        lamport: 1,
        wall_ms: 1_700_000_000_000,
        parents: vec![],
        kind: Kind::IssueCreated {
            title: "tïtle".into(),
            body: "body".into(),
            labels: vec!["bug".into()],
        },
    }
    .sign(&key());
    let id = created.id;
    let mut out = vec![created];
    for (n, kind) in [
        Kind::CommentAdded { body: "c".into() },
        Kind::LabelAdded { label: "x".into() },
        Kind::AssigneeAdded { assignee: "a".into() },
        Kind::StateSet {
            state: crate::event::State::Closed,
            reason: Some("completed".into()),
        },
    ]
    .into_iter()
    .enumerate()
    {
        out.push(
            Event {
                version: FORMAT_VERSION,
                entity: Some(id),
                actor,
                lamport: 2 + n as u64,
                wall_ms: 1_700_000_000_000,
                parents: vec![out[n].id],
                kind,
            }
            .sign(&key()),
        );
    }
    out
}

/// One valid encoding of each format.
fn samples() -> Vec<Vec<u8>> {
    let evs = events();
    let actor = evs[0].event.actor;
    let mut state = IssueState::new(evs[0].id);
    for e in &evs {
        state.apply(e, false);
    }
    let mut stored = Vec::new();
    state.encode(&mut stored);
    let lease = crate::lock::Lease {
        resource: "path:src/".into(),
        owner: Some(actor),
        held: true,
        acquired_ms: 1,
        expires_ms: 2,
        note: "n".into(),
        nonce: "abc".into(),
        seq: 3,
        action: crate::lock::Action::Acquire,
        by: Some(actor),
    };
    let record = crate::actor::Record {
        id: actor,
        name: "Ann".into(),
        email: "a@x".into(),
        created_ms: 9,
    };
    vec![
        evs[0].body.clone(),
        crate::wal::encode_chunk(&actor, &evs),
        crate::snapshot::encode(&key(), &[gix::ObjectId::null(gix::hash::Kind::Sha1)], &evs),
        stored,
        lease.message().into_bytes(),
        record.encode(&key()),
    ]
}

/// Runs every decoder on `bytes`, and uses what decodes the way a fold would.
fn decode_all(bytes: &[u8]) {
    let _ = Event::decode(bytes);
    if let Ok(v) = from_cbor(bytes) {
        let _ = SignedEvent::from_value(v);
    }
    if let Ok(events) = crate::wal::decode_chunk(bytes) {
        for e in &events {
            let _ = e.check_structure(Some(&e.event.actor));
            let _ = e.verify();
            let mut s = IssueState::new(e.entity());
            s.apply(e, false);
        }
    }
    if let Ok(loaded) = crate::snapshot::decode(bytes) {
        let _ = crate::event::verify_all(&loaded.events);
    }
    let _ = crate::snapshot::signer_of(bytes);
    if let Some(state) = IssueState::decode(bytes) {
        let mut out = Vec::new();
        state.row_fragment(&mut out);
        let _ = state.labels();
        let _ = crate::issue::IssueView::new(&state, "x".into(), &|a| crate::issue::AuthorView {
            id: a.to_hex(),
            name: None,
            email: None,
        });
    }
    let _ = crate::lock::Lease::parse(bytes);
    let _ = crate::actor::Record::decode(bytes);
    let _ = Id::from_slice(bytes);
}

#[test]
fn the_samples_decode() {
    let s = samples();
    assert_eq!(crate::wal::decode_chunk(&s[1]).unwrap().len(), 5);
    assert_eq!(crate::snapshot::decode(&s[2]).unwrap().events.len(), 5);
    assert!(IssueState::decode(&s[3]).is_some());
    assert!(crate::lock::Lease::parse(&s[4]).is_some());
    assert!(crate::actor::Record::decode(&s[5]).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(
        which in 0usize..6,
        flips in vec((any::<usize>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<usize>()),
        insert in proptest::option::of((any::<usize>(), vec(any::<u8>(), 1..9))),
    ) {
        let mut bytes = samples().swap_remove(which);
        for (at, x) in flips {
            let at = at % bytes.len();
            bytes[at] ^= x.max(1);
        }
        if let Some((at, more)) = insert {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, more);
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        decode_all(&bytes);
    }
}
