//! Constant-time fixed-window scalar multiplication on the engine's public
//! group API.
//!
//! The engine multiplies by plain double-and-add: 255 doublings and 255
//! (conditionally selected) additions. A fixed 4-bit window does the same 255
//! doublings but only 64 additions, plus 14 group operations to build a table
//! of the 16 multiples `0·P … 15·P` per call.
//!
//! Constant time: the scalar is read as 64 big-endian nibbles; every window
//! does exactly 4 doublings (except the first, which starts from the identity
//! for every scalar) and one addition, and the table entry is fetched by
//! scanning **all** 16 entries with `conditional_assign`, so neither the
//! memory access pattern nor the control flow depends on the scalar. The
//! engine's projective addition is complete (it handles the identity and
//! equal inputs without branching), so adding the identity for a zero nibble
//! is an ordinary addition. The table and the scalar's bytes are zeroized
//! before returning, since the table reveals the (possibly secret) input point.

use bls12_381_plus::group_013::Group;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

/// Bits per window.
const WINDOW: usize = 4;
/// Entries per table: the multiples 0·P … 15·P.
const TABLE: usize = 1 << WINDOW;

/// What the windowed multiplication needs from a projective group type.
pub(super) trait WindowGroup: Group + ConditionallySelectable + Zeroize {}
impl<G: Group + ConditionallySelectable + Zeroize> WindowGroup for G {}

/// The 16 multiples `0·p … 15·p` (even entries by doubling, which is cheaper).
fn table<G: WindowGroup>(p: &G) -> [G; TABLE] {
    let mut t = [G::identity(); TABLE];
    t[1] = *p;
    for i in 2..TABLE {
        t[i] = if i % 2 == 0 {
            t[i / 2].double()
        } else {
            t[i - 1] + t[1]
        };
    }
    t
}

/// `table[idx]` by a full constant-time scan (no secret-dependent indexing).
fn lookup<G: WindowGroup>(table: &[G; TABLE], idx: u8) -> G {
    let mut out = G::identity();
    for (j, entry) in (0u8..).zip(table.iter()) {
        out.conditional_assign(entry, j.ct_eq(&idx));
    }
    out
}

/// The 64 nibbles of a 32-byte big-endian scalar, most significant first.
fn nibbles(be: &[u8; 32]) -> Zeroizing<[u8; 64]> {
    let mut out = Zeroizing::new([0u8; 64]);
    for (pair, byte) in out.chunks_exact_mut(2).zip(be.iter()) {
        pair[0] = byte >> 4;
        pair[1] = byte & 0x0f;
    }
    out
}

/// `s·p` for the scalar with big-endian bytes `scalar_be`, in constant time.
///
/// Any 256-bit value is accepted (it need not be reduced); the result is then
/// the multiple by that integer, which equals the engine's product for every
/// reduced scalar.
pub(super) fn mul<G: WindowGroup>(p: &G, scalar_be: &[u8; 32]) -> G {
    let mut t = table(p);
    let digits = nibbles(scalar_be);
    let mut acc = G::identity();
    for (k, d) in digits.iter().enumerate() {
        if k != 0 {
            // Public: the window position, not the scalar.
            for _ in 0..WINDOW {
                acc = acc.double();
            }
        }
        acc += lookup(&t, *d);
    }
    t.zeroize();
    acc
}

/// `a·p + b·q` in one pass (Straus–Shamir): the doublings are shared, so it
/// costs about as much as one multiplication plus 64 additions. Constant time
/// in both scalars, like [`mul`].
pub(super) fn mul2<G: WindowGroup>(p: &G, a_be: &[u8; 32], q: &G, b_be: &[u8; 32]) -> G {
    let mut tp = table(p);
    let mut tq = table(q);
    let da = nibbles(a_be);
    let db = nibbles(b_be);
    let mut acc = G::identity();
    for (k, (x, y)) in da.iter().zip(db.iter()).enumerate() {
        if k != 0 {
            for _ in 0..WINDOW {
                acc = acc.double();
            }
        }
        acc += lookup(&tp, *x);
        acc += lookup(&tq, *y);
    }
    tp.zeroize();
    tq.zeroize();
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use bls12_381_plus as engine;
    use proptest::prelude::*;

    fn scalar(wide: &[u8; 64]) -> engine::Scalar {
        let mut le = *wide;
        le.reverse();
        engine::Scalar::from_bytes_wide(&le)
    }

    fn r_minus_1() -> engine::Scalar {
        -engine::Scalar::ONE
    }

    fn special() -> Vec<engine::Scalar> {
        vec![
            engine::Scalar::ZERO,
            engine::Scalar::ONE,
            engine::Scalar::from(2u64),
            engine::Scalar::from(15u64),
            engine::Scalar::from(16u64),
            engine::Scalar::from(u64::MAX),
            r_minus_1(),
            r_minus_1() - engine::Scalar::ONE,
        ]
    }

    /// The table's entries are the multiples 0..15 (checked against repeated
    /// addition, independently of the doubling shortcut).
    #[test]
    fn table_holds_the_sixteen_multiples() {
        let p = engine::G1Projective::GENERATOR;
        let t = table(&p);
        let mut expect = engine::G1Projective::IDENTITY;
        for entry in t.iter() {
            assert_eq!(*entry, expect);
            expect += p;
        }
        for i in 0u8..16 {
            assert_eq!(lookup(&t, i), p * engine::Scalar::from(u64::from(i)));
        }
    }

    #[test]
    fn nibbles_are_big_endian() {
        let mut be = [0u8; 32];
        be[0] = 0x7a;
        be[31] = 0x3c;
        let n = nibbles(&be);
        assert_eq!((n[0], n[1], n[62], n[63]), (7, 10, 3, 12));
        assert!(n[2..62].iter().all(|&d| d == 0));
    }

    #[test]
    fn g1_matches_engine_on_special_scalars() {
        let p = engine::G1Projective::GENERATOR * engine::Scalar::from(987654321u64);
        for s in special() {
            assert_eq!(mul(&p, &s.to_be_bytes()), p * s);
        }
        // r - 1 gives -P exactly.
        assert_eq!(mul(&p, &r_minus_1().to_be_bytes()), -p);
        assert_eq!(
            mul(&p, &engine::Scalar::ZERO.to_be_bytes()),
            engine::G1Projective::IDENTITY
        );
    }

    #[test]
    fn g2_matches_engine_on_special_scalars() {
        let q = engine::G2Projective::GENERATOR * engine::Scalar::from(123456789u64);
        for s in special() {
            assert_eq!(mul(&q, &s.to_be_bytes()), q * s);
        }
        assert_eq!(mul(&q, &r_minus_1().to_be_bytes()), -q);
    }

    #[test]
    fn identity_input_gives_identity() {
        for s in special() {
            let b = s.to_be_bytes();
            assert_eq!(
                mul(&engine::G1Projective::IDENTITY, &b),
                engine::G1Projective::IDENTITY
            );
            assert_eq!(
                mul(&engine::G2Projective::IDENTITY, &b),
                engine::G2Projective::IDENTITY
            );
        }
    }

    /// An unreduced 256-bit input is the multiple by that integer: 2^256 - 1
    /// equals (2^256 - 1) mod r in the group of order r.
    #[test]
    fn unreduced_input_is_the_integer_multiple() {
        let p = engine::G1Projective::GENERATOR;
        let mut wide = [0u8; 64];
        wide[32..].fill(0xff);
        assert_eq!(mul(&p, &[0xff; 32]), p * scalar(&wide));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn g1_matches_engine(s in any::<[u8; 32]>(), t in any::<[u8; 32]>(), k in 1u64..) {
            let mut wide = [0u8; 64];
            wide[..32].copy_from_slice(&s);
            wide[32..].copy_from_slice(&t);
            let s = scalar(&wide);
            let p = engine::G1Projective::GENERATOR * engine::Scalar::from(k);
            prop_assert_eq!(mul(&p, &s.to_be_bytes()), p * s);
        }

        #[test]
        fn g2_matches_engine(s in any::<[u8; 32]>(), t in any::<[u8; 32]>(), k in 1u64..) {
            let mut wide = [0u8; 64];
            wide[..32].copy_from_slice(&s);
            wide[32..].copy_from_slice(&t);
            let s = scalar(&wide);
            let q = engine::G2Projective::GENERATOR * engine::Scalar::from(k);
            prop_assert_eq!(mul(&q, &s.to_be_bytes()), q * s);
        }

        #[test]
        fn mul2_matches_two_engine_products(
            a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), k in 1u64.., m in 1u64..
        ) {
            let mut wa = [0u8; 64];
            wa[32..].copy_from_slice(&a);
            let mut wb = [0u8; 64];
            wb[32..].copy_from_slice(&b);
            let (a, b) = (scalar(&wa), scalar(&wb));
            let p = engine::G1Projective::GENERATOR * engine::Scalar::from(k);
            let q = engine::G1Projective::GENERATOR * engine::Scalar::from(m);
            prop_assert_eq!(mul2(&p, &a.to_be_bytes(), &q, &b.to_be_bytes()), p * a + q * b);
        }
    }

    #[test]
    fn mul2_special_cases() {
        let p = engine::G1Projective::GENERATOR;
        let q = p * engine::Scalar::from(5u64);
        for a in special() {
            for b in [engine::Scalar::ZERO, engine::Scalar::ONE, r_minus_1()] {
                assert_eq!(
                    mul2(&p, &a.to_be_bytes(), &q, &b.to_be_bytes()),
                    p * a + q * b
                );
            }
        }
        // P and Q equal: exercises the complete addition on equal inputs.
        let one = engine::Scalar::ONE.to_be_bytes();
        assert_eq!(mul2(&p, &one, &p, &one), p.double());
        let id = engine::G1Projective::IDENTITY;
        assert_eq!(mul2(&id, &one, &id, &one), id);
    }
}
