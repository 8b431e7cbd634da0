//! The Chow–Choo key agreement of the P2P suite (docs/protocol.md §7), without any
//! rustls types.
//!
//! The server A holds `D_A = s·H1(ID_A)` ∈ G1 for the current and the previous
//! epoch ([`P2pServer`]); the client B holds `D_B = s·H2(ID_B)` ∈ G2 for one
//! epoch and is configured with the server identity `ID_A` ([`P2pClient`]).
//! Identities hash with the epoch: `HID_X = SHA-256(ID_X ‖ be32 epoch)`,
//! `H1(ID_A) = H1_p2p(HID_A)` ∈ G1, `H2(ID_B) = H2_p2p(HID_B)` ∈ G2.
//!
//! Wire formats (exact lengths; anything else is refused):
//!
//! * client share, [`CLIENT_SHARE_BYTES`] = 180 B:
//!   `be32(epoch) ‖ HID_B (32) ‖ Pg (48) ‖ Pb (96)`, `Pg = w·H1(ID_A)`,
//!   `Pb = y·H2(ID_B)`;
//! * server share, [`SERVER_SHARE_BYTES`] = 48 B: `Pa = x·H1(ID_A)`.
//!
//! With `pia = Hq_p2p-a(Pa ‖ Pb ‖ Pg ‖ HID_A ‖ HID_B)` and
//! `pib = Hq_p2p-b(Pb ‖ Pa ‖ Pg ‖ HID_A ‖ HID_B)`:
//!
//! * server: `P1 = (x+pia)·D_A`, `K = e(pib·P1, H2(ID_B))·e(P1, Pb)` (one
//!   multi-Miller loop), `Z = x·Pg`;
//! * client: `K = e((y+pib)·(pia·H1(ID_A) + Pa), D_B)` (D_B prepared once per
//!   key), `Z = w·Pa`;
//!
//! both `K = e(H1(ID_A), H2(ID_B))^{s(x+pia)(y+pib)}` and `Z = xw·H1(ID_A)`.
//! The 32-byte shared secret is
//! `SHA-256("MILAGRO-TLS13-V1 P2P" ‖ HID_A ‖ HID_B ‖ K (576) ‖ Z (48) ‖ client share (180) ‖ Pa (48))`.
//!
//! Nonces are hedged (never only the RNG): each is `Hq_p2p-nonce` over the
//! party's own key, the epoch and 32 fresh random bytes, followed by a one-byte
//! label. Exactly (all fields fixed-length, the label last):
//!
//! * `y = Hq(D_B (96) ‖ be32 epoch ‖ fresh (32) ‖ "y")` — independent of the
//!   server, so `(y, Pb)` can be precomputed ([`P2pClient::precompute`]);
//! * `w = Hq(D_B (96) ‖ be32 epoch ‖ HID_A ‖ HID_B ‖ Pb (96) ‖ fresh ‖ "w")`;
//! * `x = Hq(D_A (48) ‖ be32 epoch ‖ HID_A ‖ HID_B ‖ client share (180) ‖ fresh ‖ "x")`.
//!
//! The `*_with_fresh` functions take the fresh bytes explicitly (known-answer
//! vectors); the others draw them from an [`EntropySource`](crate::pairing::EntropySource).
//!
//! Authentication is implicit: a party without the right key computes a
//! different `K`, so the shared secrets differ and the TLS handshake fails.
//! Decoding refuses wrong lengths, epochs the server holds no key for, and
//! points that are not in the prime-order subgroup or are the identity. A
//! server on the network also refuses, by its own clock, every epoch other
//! than the current one and the one before
//! ([`P2pServer::check_client_share_at`]), even one it holds a key for, and
//! should not start with keys for neither ([`P2pServer::check_keys_at`]).
//!
//! The modules, each with one job:
//!
//! * `share`: the wire format of both shares and the decoded client share;
//! * `secret`: the challenges, the shared secret and the fresh nonce input,
//!   computed alike by both sides;
//! * `server`: [`P2pServer`] and its answer;
//! * `client`: [`P2pClient`] and its handshake;
//! * `epoch`: which epochs a server accepts by its clock;
//! * `error`: [`P2pError`] and [`ShareField`].

mod client;
mod epoch;
mod error;
mod secret;
mod server;
mod share;

#[cfg(test)]
mod tests;

pub use client::{P2pClient, P2pClientHandshake, P2pPrecomputed};
pub use epoch::{check_server_epochs, epoch_accepted_at};
pub use error::{P2pError, ShareField};
pub use secret::P2pSharedSecret;
pub use server::{P2pServer, P2pServerResponse};
#[cfg(test)]
use server::{server_nonce, server_values};
pub use share::{
    CLIENT_SHARE_BYTES, P2pClientShare, P2pShareHeader, SERVER_SHARE_BYTES, SHARED_SECRET_BYTES,
};
