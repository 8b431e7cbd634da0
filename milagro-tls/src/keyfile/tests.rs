//! Tests of the key file formats: round trips, every refused field, and
//! the exact bytes of each layout.

use zeroize::Zeroizing;

use super::body::MAX_BODY;
use super::*;
use crate::dta::Combine;
use crate::identity::{Identity, IdentityError};
use crate::keys::{
    CsClientSecret, CsDeployment, CsServerSecret, CsTimePermit, CsToken, Deployment, MasterShare,
    P2pClientKey, P2pDeployment, P2pServerKey, PermitPolicy, Share,
};
use crate::pairing::SeededEntropy;
use crate::pairing::{DecodeError, G1, G2, Scalar};
use crate::suite::Suite;

struct Fixture {
    cs: Vec<MasterShare>,
    p2p: Vec<MasterShare>,
    id: Identity,
}

fn fixture() -> Fixture {
    let rng = SeededEntropy::new(b"keyfile");
    let cs = Deployment::Cs(CsDeployment::new(2, PermitPolicy::Required, &rng).unwrap());
    let p2p = Deployment::P2p(P2pDeployment::new(2, 3_600, &rng).unwrap());
    Fixture {
        cs: (0..2)
            .map(|_| MasterShare::generate(cs, &rng).unwrap())
            .collect(),
        p2p: (0..2)
            .map(|_| MasterShare::generate(p2p, &rng).unwrap())
            .collect(),
        id: Identity::new("alice@example.com").unwrap(),
    }
}

fn body_of(pem: &str) -> Vec<u8> {
    pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1
}

fn pem_of(label: &str, body: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, body).unwrap()
}

/// Re-encodes `pem` under `label` after `edit` changed its body.
fn edited(pem: &str, label: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut body = body_of(pem);
    edit(&mut body);
    pem_of(label, &body)
}

fn client_secret_share(f: &Fixture, i: usize) -> Share<CsClientSecret> {
    f.cs[i].issue_cs_client_secret(&f.id).unwrap()
}

#[test]
fn every_kind_round_trips() {
    let f = fixture();
    let id = &f.id;

    for m in f.cs.iter().chain(&f.p2p) {
        let back = MasterShare::from_pem(&m.to_pem().unwrap()).unwrap();
        assert_eq!(
            (back.deployment, back.dta, back.secret.to_be_bytes()),
            (m.deployment, m.dta, m.secret.to_be_bytes())
        );
    }

    macro_rules! round_trip {
        ($ty:ty, $shares:expr, $label:expr, $share_label:expr, |$k:ident| $meta:expr) => {{
            let shares: Vec<Share<$ty>> = $shares;
            for s in &shares {
                let pem = s.to_pem().unwrap();
                assert!(pem.starts_with(concat!("-----BEGIN ", $share_label, "-----\n")));
                let back = Share::<$ty>::from_pem(&pem).unwrap();
                assert_eq!(back.dta, s.dta);
                let ($k, k2) = (&back.key, &s.key);
                assert_eq!($meta, {
                    let $k = k2;
                    $meta
                });
                assert!(back.key.point == s.key.point);
            }
            let key = <$ty>::combine(&shares).unwrap();
            let pem = key.to_pem().unwrap();
            assert!(pem.starts_with(concat!("-----BEGIN ", $label, "-----\n")));
            let back = <$ty>::from_pem(&pem).unwrap();
            let ($k, k2) = (&back, &key);
            assert_eq!($meta, {
                let $k = k2;
                $meta
            });
            assert!(back.point == key.point);
        }};
    }

    round_trip!(
        CsServerSecret,
        f.cs.iter()
            .map(|m| m.issue_cs_server_secret().unwrap())
            .collect(),
        "MILAGRO CS SERVER SECRET",
        "MILAGRO CS SERVER SECRET SHARE",
        |k| k.deployment
    );
    round_trip!(
        CsClientSecret,
        f.cs.iter()
            .map(|m| m.issue_cs_client_secret(id).unwrap())
            .collect(),
        "MILAGRO CS CLIENT SECRET",
        "MILAGRO CS CLIENT SECRET SHARE",
        |k| (k.deployment, k.identity.clone())
    );
    round_trip!(
        CsTimePermit,
        f.cs.iter()
            .map(|m| m.issue_cs_time_permit(id, 20_416).unwrap())
            .collect(),
        "MILAGRO CS TIME PERMIT",
        "MILAGRO CS TIME PERMIT SHARE",
        |k| (k.deployment, k.identity.clone(), k.day)
    );
    round_trip!(
        P2pServerKey,
        f.p2p
            .iter()
            .map(|m| m.issue_p2p_server_key(id, 77).unwrap())
            .collect(),
        "MILAGRO P2P SERVER KEY",
        "MILAGRO P2P SERVER KEY SHARE",
        |k| (k.deployment, k.identity.clone(), k.epoch)
    );
    round_trip!(
        P2pClientKey,
        f.p2p
            .iter()
            .map(|m| m.issue_p2p_client_key(id, 77).unwrap())
            .collect(),
        "MILAGRO P2P CLIENT KEY",
        "MILAGRO P2P CLIENT KEY SHARE",
        |k| (k.deployment, k.identity.clone(), k.epoch)
    );

    let cs =
        CsClientSecret::combine(&[client_secret_share(&f, 0), client_secret_share(&f, 1)]).unwrap();
    let token = CsToken {
        deployment: cs.deployment,
        point: &cs.point
            - &(&crate::dta::cs_identity_point(&id.cs_hid()) * &Scalar::from_u64(1234)),
        identity: id.clone(),
    };
    let back = CsToken::from_pem(&token.to_pem().unwrap()).unwrap();
    assert_eq!((back.deployment, &back.identity), (token.deployment, id));
    assert!(back.point == token.point);
}

#[test]
fn layout_is_as_documented() {
    let f = fixture();
    let share = client_secret_share(&f, 0);
    let body = body_of(&share.to_pem().unwrap());
    let dep = share.key.deployment;
    let mut want = vec![1, 0x83, 1];
    want.extend_from_slice(&dep.id.0);
    want.extend_from_slice(&[2, 1]);
    want.extend_from_slice(&share.dta.0);
    want.push(17);
    want.extend_from_slice(b"alice@example.com");
    want.extend_from_slice(&share.key.point.to_bytes());
    assert_eq!(body, want);
    assert_eq!(body.len(), 95);

    let m = &f.p2p[0];
    let body = body_of(&m.to_pem().unwrap());
    let Deployment::P2p(p) = m.deployment else {
        panic!("fixture is P2P")
    };
    let mut want = vec![1, 0x01, 2];
    want.extend_from_slice(&p.id.0);
    want.push(2);
    want.extend_from_slice(&3_600u32.to_be_bytes());
    want.extend_from_slice(&m.dta.0);
    want.extend_from_slice(&m.secret.to_be_bytes());
    assert_eq!(body, want);
    assert_eq!(body.len(), 64);
}

#[test]
fn wrong_label_names_both() {
    let f = fixture();
    let cs =
        CsClientSecret::combine(&[client_secret_share(&f, 0), client_secret_share(&f, 1)]).unwrap();
    let err = CsToken::from_pem(&cs.to_pem().unwrap()).unwrap_err();
    assert_eq!(
        err,
        KeyFileError::WrongLabel {
            found: "MILAGRO CS CLIENT SECRET".into(),
            expected: "MILAGRO CS TOKEN"
        }
    );
    assert!(err.to_string().contains("\"MILAGRO CS CLIENT SECRET\""));
    assert!(err.to_string().contains("\"MILAGRO CS TOKEN\""));
}

#[test]
fn shares_and_combined_keys_are_not_interchangeable() {
    let f = fixture();
    let share = client_secret_share(&f, 0);
    let share_pem = share.to_pem().unwrap();
    assert_eq!(
        CsClientSecret::from_pem(&share_pem).unwrap_err(),
        KeyFileError::WrongLabel {
            found: LABEL_CS_CLIENT_SECRET_SHARE.into(),
            expected: LABEL_CS_CLIENT_SECRET
        }
    );
    let key = CsClientSecret::combine(&[share.clone(), client_secret_share(&f, 1)]).unwrap();
    let key_pem = key.to_pem().unwrap();
    assert_eq!(
        Share::<CsClientSecret>::from_pem(&key_pem).unwrap_err(),
        KeyFileError::WrongLabel {
            found: LABEL_CS_CLIENT_SECRET.into(),
            expected: LABEL_CS_CLIENT_SECRET_SHARE
        }
    );
    // Relabelled by hand: the kind byte inside the body catches it.
    let relabelled = edited(&share_pem, LABEL_CS_CLIENT_SECRET, |_| {});
    assert_eq!(
        CsClientSecret::from_pem(&relabelled).unwrap_err(),
        KeyFileError::KindMismatch {
            label: LABEL_CS_CLIENT_SECRET,
            found: 0x83
        }
    );
    let relabelled = edited(&key_pem, LABEL_CS_CLIENT_SECRET_SHARE, |_| {});
    assert_eq!(
        Share::<CsClientSecret>::from_pem(&relabelled).unwrap_err(),
        KeyFileError::KindMismatch {
            label: LABEL_CS_CLIENT_SECRET_SHARE,
            found: 0x03
        }
    );
    // A client secret relabelled as a token.
    let relabelled = edited(&key_pem, LABEL_CS_TOKEN, |_| {});
    assert_eq!(
        CsToken::from_pem(&relabelled).unwrap_err(),
        KeyFileError::KindMismatch {
            label: LABEL_CS_TOKEN,
            found: 0x03
        }
    );
}

#[test]
fn suite_tags_are_enforced() {
    let f = fixture();
    // A P2P server key body whose kind byte claims a CS client secret: the
    // suite tag (2) is refused for a CS kind.
    let p2p = f.p2p[0].issue_p2p_server_key(&f.id, 5).unwrap();
    let pem = edited(&p2p.to_pem().unwrap(), LABEL_CS_CLIENT_SECRET_SHARE, |b| {
        b[1] = 0x83
    });
    assert_eq!(
        Share::<CsClientSecret>::from_pem(&pem).unwrap_err(),
        KeyFileError::WrongSuite {
            expected: Suite::Cs,
            found: Suite::P2p
        }
    );
    let ss = f.cs[0].issue_cs_server_secret().unwrap();
    let pem = edited(&ss.to_pem().unwrap(), LABEL_P2P_CLIENT_KEY_SHARE, |b| {
        b[1] = 0x87
    });
    assert_eq!(
        Share::<P2pClientKey>::from_pem(&pem).unwrap_err(),
        KeyFileError::WrongSuite {
            expected: Suite::P2p,
            found: Suite::Cs
        }
    );
    let pem = edited(&ss.to_pem().unwrap(), LABEL_CS_SERVER_SECRET_SHARE, |b| {
        b[2] = 9
    });
    assert_eq!(
        Share::<CsServerSecret>::from_pem(&pem).unwrap_err(),
        KeyFileError::UnknownSuite(9)
    );
    // A master share keeps its own suite.
    let back = MasterShare::from_pem(&f.p2p[0].to_pem().unwrap()).unwrap();
    assert_eq!(back.suite(), Suite::P2p);
}

#[test]
fn header_fields_are_checked() {
    let f = fixture();
    let pem = client_secret_share(&f, 0).to_pem().unwrap();
    let label = LABEL_CS_CLIENT_SECRET_SHARE;
    let load = |edit: fn(&mut Vec<u8>)| {
        Share::<CsClientSecret>::from_pem(&edited(&pem, label, edit)).unwrap_err()
    };
    assert_eq!(load(|b| b[0] = 2), KeyFileError::BadVersion(2));
    assert_eq!(load(|b| b[19] = 0), KeyFileError::NoDtas);
    assert_eq!(load(|b| b[20] = 7), KeyFileError::BadPolicy(7));
    assert_eq!(
        load(|b| b.truncate(15)),
        KeyFileError::Truncated {
            field: "deployment id",
            needed: 16,
            remaining: 12
        }
    );
    assert_eq!(
        load(|b| b.truncate(1)),
        KeyFileError::Truncated {
            field: "kind",
            needed: 1,
            remaining: 0
        }
    );

    let p2p = f.p2p[0].issue_p2p_client_key(&f.id, 5).unwrap();
    let pem = edited(&p2p.to_pem().unwrap(), LABEL_P2P_CLIENT_KEY_SHARE, |b| {
        b[20..24].copy_from_slice(&59u32.to_be_bytes())
    });
    assert_eq!(
        Share::<P2pClientKey>::from_pem(&pem).unwrap_err(),
        KeyFileError::EpochTooShort(59)
    );
}

#[test]
fn lengths_are_exact() {
    let f = fixture();
    let pem = client_secret_share(&f, 0).to_pem().unwrap();
    let label = LABEL_CS_CLIENT_SECRET_SHARE;
    let load = |edit: fn(&mut Vec<u8>)| {
        Share::<CsClientSecret>::from_pem(&edited(&pem, label, edit)).unwrap_err()
    };
    assert_eq!(
        load(|b| {
            b.pop();
        }),
        KeyFileError::Truncated {
            field: "G1 point",
            needed: 48,
            remaining: 47
        }
    );
    assert_eq!(
        load(|b| b.extend_from_slice(&[0, 0])),
        KeyFileError::TrailingBytes(2)
    );
    // An identity length running past the end.
    assert_eq!(
        load(|b| b[29] = 200),
        KeyFileError::Truncated {
            field: "identity",
            needed: 200,
            remaining: 17 + 48
        }
    );
    let m = f.cs[0].to_pem().unwrap();
    let err = MasterShare::from_pem(&edited(&m, LABEL_MASTER_SHARE, |b| b.push(1)));
    assert_eq!(err.unwrap_err(), KeyFileError::TrailingBytes(1));
}

#[test]
fn identities_must_be_canonical() {
    let f = fixture();
    let pem = client_secret_share(&f, 0).to_pem().unwrap();
    let label = LABEL_CS_CLIENT_SECRET_SHARE;
    // Identity bytes start at 21 + 8 + 1 = 30; "example" is at 30 + 6.
    let err = Share::<CsClientSecret>::from_pem(&edited(&pem, label, |b| {
        b[36..43].copy_from_slice(b"EXAMPLE")
    }));
    assert_eq!(
        err.unwrap_err(),
        KeyFileError::Identity(IdentityError::NotCanonical("alice@EXAMPLE.com".into()))
    );
    let err = Share::<CsClientSecret>::from_pem(&edited(&pem, label, |b| b[30] = 0xff));
    assert_eq!(
        err.unwrap_err(),
        KeyFileError::Identity(IdentityError::NotUtf8)
    );
    let err = Share::<CsClientSecret>::from_pem(&edited(&pem, label, |b| {
        b.splice(29..30 + 17, [0u8]);
    }));
    assert_eq!(
        err.unwrap_err(),
        KeyFileError::Identity(IdentityError::Empty)
    );
}

#[test]
fn points_and_scalars_are_checked() {
    let f = fixture();
    let cs_pem = CsClientSecret::combine(&[client_secret_share(&f, 0), client_secret_share(&f, 1)])
        .unwrap()
        .to_pem()
        .unwrap();
    let label = LABEL_CS_CLIENT_SECRET;
    let point_at = 21 + 1 + 17;
    let with_point = |p: &[u8]| {
        CsClientSecret::from_pem(&edited(&cs_pem, label, |b| {
            b.truncate(point_at);
            b.extend_from_slice(p);
        }))
        .unwrap_err()
    };
    assert_eq!(
        with_point(&G1::identity().to_bytes()),
        KeyFileError::BadPoint(DecodeError::IdentityPoint("G1 point"))
    );
    assert_eq!(
        with_point(&[0xff; 48]),
        KeyFileError::BadPoint(DecodeError::InvalidPoint("G1 point"))
    );
    // (0, 2) is on the curve y² = x³ + 4 but not in the prime-order
    // subgroup (the cofactor is not 1): the subgroup check refuses it.
    let mut off_subgroup = [0u8; 48];
    off_subgroup[0] = 0x80;
    assert_eq!(
        with_point(&off_subgroup),
        KeyFileError::BadPoint(DecodeError::InvalidPoint("G1 point"))
    );

    let ss_pem = f.cs[0].issue_cs_server_secret().unwrap().to_pem().unwrap();
    let err =
        Share::<CsServerSecret>::from_pem(&edited(&ss_pem, LABEL_CS_SERVER_SECRET_SHARE, |b| {
            b.truncate(29);
            b.extend_from_slice(&G2::identity().to_bytes());
        }));
    assert_eq!(
        err.unwrap_err(),
        KeyFileError::BadPoint(DecodeError::IdentityPoint("G2 point"))
    );

    let m = f.cs[0].to_pem().unwrap();
    let with_scalar = |s: [u8; 32]| {
        MasterShare::from_pem(&edited(&m, LABEL_MASTER_SHARE, |b| {
            b.truncate(29);
            b.extend_from_slice(&s);
        }))
        .unwrap_err()
    };
    assert_eq!(
        with_scalar([0xff; 32]),
        KeyFileError::BadScalar(DecodeError::ScalarOutOfRange)
    );
    // r itself (the group order, big-endian) is refused too.
    let r =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001").unwrap();
    assert_eq!(
        with_scalar(r.try_into().unwrap()),
        KeyFileError::BadScalar(DecodeError::ScalarOutOfRange)
    );
    assert_eq!(
        with_scalar([0; 32]),
        KeyFileError::BadScalar(DecodeError::ZeroScalar)
    );
}

#[test]
fn permits_are_checked() {
    let f = fixture();
    let tp = f.cs[0].issue_cs_time_permit(&f.id, 9).unwrap();
    let pem = tp.to_pem().unwrap();
    let label = LABEL_CS_TIME_PERMIT_SHARE;
    // Day sits after the header (21), the D-TA id (8) and the identity (18).
    let day_at = 21 + 8 + 18;
    let err = Share::<CsTimePermit>::from_pem(&edited(&pem, label, |b| {
        b[day_at..day_at + 4].copy_from_slice(&[0; 4])
    }));
    assert_eq!(err.unwrap_err(), KeyFileError::DayZero);
    let err = Share::<CsTimePermit>::from_pem(&edited(&pem, label, |b| b[20] = 0));
    assert_eq!(err.unwrap_err(), KeyFileError::PermitsOff);
    let back = Share::<CsTimePermit>::from_pem(&pem).unwrap();
    assert_eq!(back.key.day, 9);
}

#[test]
fn pem_framing_is_strict() {
    let f = fixture();
    let pem = f.cs[0].to_pem().unwrap();
    assert_eq!(
        MasterShare::from_pem(&format!("comment\n{}", &*pem)).unwrap_err(),
        KeyFileError::NotPem
    );
    assert_eq!(MasterShare::from_pem("").unwrap_err(), KeyFileError::NotPem);
    // Regression (fuzz/regressions/keyfile): CR and CRLF line endings.
    assert_eq!(
        MasterShare::from_pem(&pem.replace('\n', "\r\n")).unwrap_err(),
        KeyFileError::CarriageReturn
    );
    assert_eq!(
        MasterShare::from_pem(&pem.replacen('\n', "\r", 2)).unwrap_err(),
        KeyFileError::CarriageReturn
    );
    assert!(matches!(
        from_pem_any(&pem.replace('\n', "\r\n")),
        Err(KeyFileError::CarriageReturn)
    ));
    // Headers (RFC 1421 style) are refused.
    let with_header = pem.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1);
    assert_eq!(
        MasterShare::from_pem(&with_header).unwrap_err(),
        KeyFileError::Pem(pem_rfc7468::Error::HeaderDisallowed)
    );
    // A character outside the base64 alphabet.
    let lines: Vec<&str> = pem.lines().collect();
    let mut bad = lines[1].to_owned();
    bad.replace_range(3..4, "*");
    let bad_b64 = pem.replacen(lines[1], &bad, 1);
    assert!(matches!(
        MasterShare::from_pem(&bad_b64).unwrap_err(),
        KeyFileError::Pem(pem_rfc7468::Error::Base64(_))
    ));
    // END label different from BEGIN.
    let mismatched = pem.replace(
        "-----END MILAGRO DTA MASTER SHARE",
        "-----END MILAGRO CS TOKEN",
    );
    assert_eq!(
        MasterShare::from_pem(&mismatched).unwrap_err(),
        KeyFileError::Pem(pem_rfc7468::Error::PostEncapsulationBoundary)
    );
    // An oversized body.
    let huge = pem_of(LABEL_MASTER_SHARE, &[0u8; MAX_BODY + 1]);
    assert!(matches!(
        MasterShare::from_pem(&huge).unwrap_err(),
        KeyFileError::Pem(_)
    ));
}

#[test]
fn any_dispatches_on_the_label() {
    let f = fixture();
    let id = &f.id;
    let cases: Vec<(Zeroizing<String>, &str)> = vec![
        (f.cs[0].to_pem().unwrap(), LABEL_MASTER_SHARE),
        (
            f.cs[0].issue_cs_server_secret().unwrap().to_pem().unwrap(),
            LABEL_CS_SERVER_SECRET_SHARE,
        ),
        (
            client_secret_share(&f, 0).to_pem().unwrap(),
            LABEL_CS_CLIENT_SECRET_SHARE,
        ),
        (
            f.cs[0]
                .issue_cs_time_permit(id, 3)
                .unwrap()
                .to_pem()
                .unwrap(),
            LABEL_CS_TIME_PERMIT_SHARE,
        ),
        (
            f.p2p[0]
                .issue_p2p_server_key(id, 3)
                .unwrap()
                .to_pem()
                .unwrap(),
            LABEL_P2P_SERVER_KEY_SHARE,
        ),
        (
            f.p2p[0]
                .issue_p2p_client_key(id, 3)
                .unwrap()
                .to_pem()
                .unwrap(),
            LABEL_P2P_CLIENT_KEY_SHARE,
        ),
        (
            CsServerSecret::combine(&[
                f.cs[0].issue_cs_server_secret().unwrap(),
                f.cs[1].issue_cs_server_secret().unwrap(),
            ])
            .unwrap()
            .to_pem()
            .unwrap(),
            LABEL_CS_SERVER_SECRET,
        ),
    ];
    for (pem, label) in &cases {
        let any = from_pem_any(pem).unwrap();
        assert_eq!(any.label(), *label);
    }
    let any = from_pem_any(&cases[2].0).unwrap();
    assert_eq!(any.identity(), Some(id));
    assert_eq!(any.dta(), Some(f.cs[0].dta));
    assert_eq!(any.deployment(), f.cs[0].deployment);
    assert!(matches!(any, AnyKey::CsClientSecretShare(_)));
    assert_eq!(
        from_pem_any(&pem_of("MILAGRO SOMETHING", &[1, 2, 3])).unwrap_err(),
        KeyFileError::UnknownLabel("MILAGRO SOMETHING".into())
    );
    // The per-kind checks still apply.
    let broken = edited(&cases[0].0, LABEL_MASTER_SHARE, |b| b[0] = 9);
    assert_eq!(
        from_pem_any(&broken).unwrap_err(),
        KeyFileError::BadVersion(9)
    );
}

#[test]
fn debug_output_redacts_secrets() {
    let f = fixture();
    let any = from_pem_any(&f.cs[0].to_pem().unwrap()).unwrap();
    let shown = format!("{any:?}");
    assert!(shown.contains("<redacted>"));
    assert!(!shown.contains(&hex::encode(f.cs[0].secret.to_be_bytes())));
}
