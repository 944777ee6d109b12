//! Ed25519 signature checks for events, under the ZIP-215 rules: the scalar `s` must be canonical,
//! `R` and the actor's key `A` must decode as points, and `[8]([s]B - R - [k]A)` must be the
//! identity, with `k = SHA-512(R ‖ A ‖ message) mod ℓ`. The cofactored equation is what makes
//! a batch's verdict the same as checking each signature alone: a batch passes exactly when every
//! signature in it would (but with probability 2⁻¹²⁸), so clones that check one way or the other
//! never disagree about an event. Every signature a standard signer makes passes both ways.
//!
//! A batch combines its signatures with random 128-bit weights `z` and checks
//! `[8]([Σ zs]B - Σ [z]R - Σ_A [Σ zk]A) = 0` as one multiscalar multiplication. The terms of each
//! actor's key are summed first, so a batch of one actor's events costs about one point per
//! signature (its `R`) instead of two. A batch that fails is checked one signature at a time, to
//! find the ones that fail.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

/// An actor's key, decoded once for all its signatures.
#[derive(Clone, Copy)]
pub struct Key {
    bytes: [u8; 32],
    point: EdwardsPoint,
}

impl Key {
    /// `None` when the bytes are not a point's encoding.
    pub fn decode(bytes: &[u8; 32]) -> Option<Key> {
        Some(Key {
            bytes: *bytes,
            point: CompressedEdwardsY(*bytes).decompress()?,
        })
    }
}

/// A signature's parts, decoded, with its challenge `k`.
pub struct Prepared {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// Decodes `signature` over `message` by `key`; `None` when `s` is not canonical or `R` is not a
/// point (the signature fails).
pub fn prepare(key: &Key, message: &[u8], signature: &[u8; 64]) -> Option<Prepared> {
    let (r_bytes, s_bytes) = signature.split_at(32);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes.try_into().expect("32 bytes")))?;
    let r = CompressedEdwardsY(r_bytes.try_into().expect("32 bytes")).decompress()?;
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(key.bytes);
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Some(Prepared { r, s, k })
}

/// One signature alone.
pub fn verify_one(key: &Key, p: &Prepared) -> bool {
    // [-k]A + [s]B, less R, times the cofactor.
    let sb_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-p.k, &key.point, &p.s);
    (sb_ka - p.r).mul_by_cofactor().is_identity()
}

/// Whether every signature of `items` verifies: (index into `keys`, prepared signature).
pub fn verify_batch(keys: &[Key], items: &[(usize, &Prepared)]) -> bool {
    if items.is_empty() {
        return true;
    }
    let mut seed = [0u8; 32];
    if getrandom::getrandom(&mut seed).is_err() {
        // No randomness: check one by one, which needs none.
        return items.iter().all(|(k, p)| verify_one(&keys[*k], p));
    }
    let weights: Vec<Scalar> = (0..items.len())
        .map(|i| {
            let mut input = seed.to_vec();
            input.extend_from_slice(&(i as u64).to_le_bytes());
            let h = crate::event::blake2b256(&input);
            Scalar::from(u128::from_le_bytes(h[..16].try_into().expect("16 bytes")))
        })
        .collect();
    let mut b = Scalar::ZERO;
    let mut per_key = vec![Scalar::ZERO; keys.len()];
    for ((k, p), z) in items.iter().zip(&weights) {
        b += z * p.s;
        per_key[*k] -= z * p.k;
    }
    let scalars = std::iter::once(b)
        .chain(weights.iter().map(|z| -z))
        .chain(per_key.iter().copied());
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(items.iter().map(|(_, p)| p.r))
        .chain(keys.iter().map(|k| k.point));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(seed: u8, message: &[u8]) -> (Key, [u8; 64]) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let public = Key::decode(&key.verifying_key().to_bytes()).unwrap();
        (public, key.sign(message).to_bytes())
    }

    fn alone(key: &Key, message: &[u8], sig: &[u8; 64]) -> bool {
        prepare(key, message, sig).is_some_and(|p| verify_one(key, &p))
    }

    #[test]
    fn a_batch_passes_exactly_when_every_signature_would() {
        let mut keys = Vec::new();
        let mut sigs = Vec::new();
        for i in 0..40u8 {
            let (key, sig) = signed(i % 3, &[i; 32]);
            keys.push(key);
            sigs.push(sig);
        }
        let check = |sigs: &[[u8; 64]]| {
            let prepared: Vec<Option<Prepared>> = sigs
                .iter()
                .enumerate()
                .map(|(i, s)| prepare(&keys[i], &[i as u8; 32], s))
                .collect();
            let alone: Vec<bool> = prepared
                .iter()
                .enumerate()
                .map(|(i, p)| p.as_ref().is_some_and(|p| verify_one(&keys[i], p)))
                .collect();
            let items: Vec<(usize, &Prepared)> = prepared
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
                .collect();
            let batch = prepared.iter().all(Option::is_some) && verify_batch(&keys, &items);
            (batch, alone)
        };
        let (batch, alone) = check(&sigs);
        assert!(batch && alone.iter().all(|ok| *ok));
        // A signature of another message fails alone and fails its batch.
        let mut bad = sigs.clone();
        bad[17] = signed(17 % 3, b"another message").1;
        let (batch, alone) = check(&bad);
        assert!(!batch);
        assert_eq!(alone.iter().filter(|ok| !**ok).count(), 1);
        assert!(!alone[17]);
    }

    #[test]
    fn a_torsion_component_in_r_is_judged_alike_alone_and_in_a_batch() {
        // R + T, T of small order: the cofactored equation accepts it, alone and in a batch,
        // whatever the batch's weights (the cofactorless one would accept it in a batch only
        // when T's weight happens to vanish).
        // A signer that knows the key's scalar signs with R = [r]B + T.
        let secret = SigningKey::from_bytes(&[5; 32]);
        let key = Key::decode(&secret.verifying_key().to_bytes()).unwrap();
        let nonce = Scalar::from(987_654_321u64);
        let r = EdwardsPoint::mul_base(&nonce) + EIGHT_TORSION[1];
        let mut h = Sha512::new();
        h.update(r.compress().as_bytes());
        h.update(key.bytes);
        h.update(b"message");
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let mut odd = [0u8; 64];
        odd[..32].copy_from_slice(r.compress().as_bytes());
        odd[32..].copy_from_slice((nonce + k * secret.to_scalar()).as_bytes());
        assert!(alone(&key, b"message", &odd));
        let p = prepare(&key, b"message", &odd).unwrap();
        for _ in 0..16 {
            assert!(verify_batch(&[key], &[(0, &p)]));
        }
        // The strict cofactorless check refuses it: this is where the two rules part.
        assert!(
            ed25519_dalek::VerifyingKey::from_bytes(&key.bytes)
                .unwrap()
                .verify_strict(b"message", &ed25519_dalek::Signature::from_bytes(&odd))
                .is_err()
        );
    }

    #[test]
    fn a_non_canonical_s_fails() {
        let (key, sig) = signed(6, b"m");
        let mut bad = sig;
        // s + ℓ: the same scalar mod ℓ, not in canonical form.
        let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
        let mut wide = [0u8; 32];
        let mut carry = 0u16;
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        for i in 0..32 {
            let v = u16::from(s.to_bytes()[i]) + u16::from(ell[i]) + carry;
            wide[i] = v as u8;
            carry = v >> 8;
        }
        bad[32..].copy_from_slice(&wide);
        assert!(alone(&key, b"m", &sig));
        assert!(!alone(&key, b"m", &bad));
    }
}
