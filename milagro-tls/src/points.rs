//! The protocol's identity points: every hash to G1/G2 of an identity.
//!
//! One definition per point, used by D-TA issuing ([`crate::dta`]) and by both
//! suites ([`crate::mpin`], [`crate::p2p`]), so issuer and user can never
//! disagree on a formula. DSTs are in [`crate::pairing`].

use crate::identity::Hid;
use crate::pairing::{G1, G1Domain, G2, G2Domain};

/// The CS identity point `A = H_cs-id(HID)` ∈ G1 (`HID = SHA-256(ID)`).
pub fn cs_identity_point(hid: &Hid) -> G1 {
    G1::hash(G1Domain::CsIdentity, &[hid.as_bytes()])
}

/// The CS time-permit point `T = H_cs-tp(be32(day) ‖ HID)` ∈ G1.
pub fn cs_permit_point(day: u32, hid: &Hid) -> G1 {
    G1::hash(
        G1Domain::CsTimePermit,
        &[&day.to_be_bytes(), hid.as_bytes()],
    )
}

/// The P2P server identity point `H1(HID_A)` ∈ G1
/// (`HID_A = SHA-256(ID_A ‖ be32 epoch)`, see [`crate::identity::Identity::p2p_hid`]).
pub fn p2p_server_point(hid: &Hid) -> G1 {
    G1::hash(G1Domain::P2pIdentity, &[hid.as_bytes()])
}

/// The P2P client identity point `H2(HID_B)` ∈ G2.
pub fn p2p_client_point(hid: &Hid) -> G2 {
    G2::hash(G2Domain::P2pIdentity, &[hid.as_bytes()])
}
