//! Failure classification (docs/protocol.md §6.4 step 3, §6.5): off the handshake path,
//! rate-limited, with fixed work, tell a mistyped PIN from an invalid
//! credential.
//!
//! # The algebra
//!
//! Let the registered PIN be α, the entered PIN β, and δ = β − α. The token
//! is `s·A − α·A`, so the client computes
//! `SEC' = token + β·A (+ s·T) = s·A_d + δ·A`. With `U = x·A_d`, `X = x·A`,
//! `V = −(x+y)·SEC'` and `SS = s·Q`:
//!
//! ```text
//! g = e(V, Q) · e(U + y·A_d, SS)
//!   = e(A_d, Q)^{−(x+y)s} · e(A, Q)^{−(x+y)δ} · e(A_d, Q)^{(x+y)s}
//!   = e(A, Q)^{−(x+y)δ}
//! F = e(X + y·A, Q) = e(A, Q)^{x+y}
//! ⇒ g = F^{−δ}.
//! ```
//!
//! `F` is computable only because the verified DLEQ guarantees `X = x·A` for
//! the `x` in `U = x·A_d`; a credential that is not `s·A_d` shifted by a small
//! multiple of `A` (garbage, another deployment's key, a missing D-TA share)
//! gives a `g` that is no small power of `F`, with overwhelming probability.
//!
//! # The search (baby-step giant-step, fixed work)
//!
//! With `M = 10^digits − 1`, look for `e = −δ ∈ [−M, M]` with `F^e = g`.
//! `m = ⌈√(2M+1)⌉`; baby steps `F^j` (`0 ≤ j < m`) go in a table keyed by a
//! keyed SipHash of the 576-byte encoding (each hit is compared with the full
//! encoding); giant steps `γ_i = g·F^M·F^{−m·i}` (`0 ≤ i < m`) are looked up:
//! `γ_i = F^j` ⇔ `e = i·m + j − M`. All `m` giant steps always run, whether
//! or not δ was found, so the work does not depend on δ.
//!
//! | digits | M = 10^digits − 1 | m | Gt mults | baby table | search (idle core, Gt mult ≈4 µs) |
//! |-------:|--:|--:|--:|--:|--:|
//! | 4 | 9 999 | 142 | ≈ 284 | 142 × 576 B ≈ 82 KB | ≈ 1.1 ms |
//! | 6 | 999 999 | 1 415 | ≈ 2 830 | 1 415 × 576 B ≈ 815 KB | ≈ 11 ms |
//!
//! On top: one pairing for `F`, one Gt exponentiation for `F^M` and one G1
//! multiplication for `X + y·A`, ≈3.5 ms on an idle core. Measured totals on
//! the shared 2-core VM under a load average of 6 (≈3× slower than idle):
//! 12.6 ms for 4 digits, 45 ms for 6. [`PinDigits::MAX`] caps the search at 6
//! digits so a flood of failures cannot buy more than this per attempt.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use zeroize::Zeroizing;

use crate::pairing::{GT_BYTES, Gt, Scalar, multi_pairing};

use super::pin::PinDigits;
use super::proof::{FailedProof, PreparedServerSecret};

/// The verdict on a failed M-Pin proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// The credential is genuine but the PIN was off by `delta`
    /// (`entered − registered`): count a confirmed failure against the HID.
    /// δ must never reach the client.
    WrongPin {
        /// The PIN error `entered − registered`.
        delta: i64,
    },
    /// No PIN error within `±(10^digits − 1)` explains the failure (garbage
    /// with a valid DLEQ, another deployment's key, an incomplete key):
    /// release the HID's reservation and charge the source.
    InvalidCredential,
}

/// `⌈√n⌉` for small `n` (exact integer arithmetic).
fn ceil_sqrt(n: u64) -> u64 {
    let mut m = (n as f64).sqrt() as u64;
    while m * m < n {
        m += 1;
    }
    while m > 0 && (m - 1) * (m - 1) >= n {
        m -= 1;
    }
    m
}

/// Classifies a failed proof with fixed work (see the module documentation).
///
/// `server` must be the one whose [`verify`](super::proof::verify) produced
/// `failed`; `digits` is the deployment's PIN length. Returns
/// [`Classification::WrongPin`] with the unique δ ≠ 0 in range, else
/// [`Classification::InvalidCredential`] (also for the degenerate `F = 1`).
pub fn classify(
    failed: &FailedProof,
    server: &PreparedServerSecret,
    digits: PinDigits,
) -> Classification {
    let bound = u64::from(digits.max_value());
    let span = 2 * bound + 1;
    let m = ceil_sqrt(span);

    let p = &failed.x + &(&failed.a * &failed.y);
    let f = multi_pairing(&[(&p, &server.q)]);

    // Baby steps: F^j for 0 ≤ j < m.
    let keyer = RandomState::new();
    let capacity = usize::try_from(m).unwrap_or(0);
    let mut table: HashMap<u64, Vec<u64>> = HashMap::with_capacity(capacity);
    let mut values: Vec<[u8; GT_BYTES]> = Vec::with_capacity(capacity);
    let mut cur = Gt::one();
    for j in 0..m {
        let bytes = cur.to_bytes();
        table.entry(keyer.hash_one(&bytes[..])).or_default().push(j);
        values.push(bytes);
        cur = cur.mul(&f);
    }
    // cur = F^m.
    let giant = cur.inverse();

    // Giant steps: γ_i = g·F^M·F^{−m·i}.
    let mut gamma = failed.g.mul(&f.pow(&Scalar::from_u64(bound)));
    let mut matches = 0u64;
    let mut found = 0u64;
    for i in 0..m {
        let bytes = Zeroizing::new(gamma.to_bytes());
        if let Some(js) = table.get(&keyer.hash_one(&bytes[..])) {
            for &j in js {
                let full_match = usize::try_from(j)
                    .ok()
                    .and_then(|jj| values.get(jj))
                    .is_some_and(|v| v[..] == bytes[..]);
                let idx = i * m + j;
                if full_match && idx < span {
                    matches += 1;
                    found = idx;
                }
            }
        }
        gamma = gamma.mul(&giant);
    }

    // F = 1 makes every exponent match; a genuine F has order r ≫ span, so a
    // match is unique. δ = 0 would mean the proof held: nothing to count.
    let exponent = i64::try_from(found).unwrap_or(0) - i64::try_from(bound).unwrap_or(0);
    if matches == 1 && exponent != 0 {
        Classification::WrongPin { delta: -exponent }
    } else {
        Classification::InvalidCredential
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_sqrt_is_exact() {
        assert_eq!(ceil_sqrt(1), 1);
        assert_eq!(ceil_sqrt(4), 2);
        assert_eq!(ceil_sqrt(5), 3);
        assert_eq!(ceil_sqrt(19_999), 142);
        assert_eq!(ceil_sqrt(1_999_999), 1_415);
        // By hand: 141² = 19 881 < 19 999 ≤ 142² = 20 164;
        // 1414² = 1 999 396 < 1 999 999 ≤ 1415² = 2 002 225.
    }
}
