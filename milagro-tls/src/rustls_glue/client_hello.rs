//! PLACEHOLDER — TO BE REPLACED AT MERGE by the full ClientHello parser in
//! `crate::tls` (written on another branch). Only what the accept path needs,
//! kept minimal and strict: join the type-22 records of the first handshake
//! message (skip empty ones, stop at the message's length, cap 70 KB), walk the
//! ClientHello to its extensions (trailing bytes refused), refuse duplicate
//! extensions and duplicate key-share groups, and decide whether exactly one
//! Milagro group is offered with a share for it (rule 2a.4).

use super::kx::suite_of_group;

/// The largest recorded ClientHello the accept path reads (rule 2a.4).
pub(crate) const MAX_CLIENT_HELLO: usize = 70 * 1024;

/// Why the accept path refused a ClientHello (it then sends a plaintext
/// `handshake_failure` alert).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a well-formed ClientHello.
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
    /// More than 70 KB before the ClientHello ended.
    #[error("ClientHello larger than 70 KB")]
    TooLarge,
    /// An extension type appears twice.
    #[error("ClientHello repeats extension {0}")]
    DuplicateExtension(u16),
    /// A key-share group appears twice.
    #[error("ClientHello repeats key share group {0:#06x}")]
    DuplicateKeyShare(u16),
    /// Both Milagro groups are offered.
    #[error("ClientHello offers both Milagro groups")]
    BothMilagroGroups,
    /// A Milagro group is offered without a key share for it (rustls would
    /// answer with a HelloRetryRequest the accept path never sees).
    #[error("ClientHello offers Milagro group {0:#06x} without a key share for it")]
    MilagroGroupWithoutShare(u16),
    /// A Milagro key share for a group not listed in supported_groups.
    #[error("ClientHello has a Milagro key share for group {0:#06x} it does not offer")]
    MilagroShareNotOffered(u16),
    /// The client offers a Milagro group of the other suite.
    #[error("ClientHello offers a Milagro group this server does not serve")]
    WrongSuite,
    /// A standard (non-Milagro) client, and this listener has no standard config.
    #[error("standard TLS client on a Milagro-only listener")]
    NoStandardConfig,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Refusal> {
        if self.0.len() < n {
            return Err(Refusal::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Refusal> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self) -> Result<u16, Refusal> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Result<&'a [u8], Refusal> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Result<&'a [u8], Refusal> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// The first handshake message's bytes (header included), if complete.
fn first_handshake_message(recorded: &[u8]) -> Result<Option<Vec<u8>>, Refusal> {
    let mut rd = Reader(recorded);
    let mut msg = Vec::new();
    loop {
        if msg.len() >= 4 {
            let len = usize::from(msg[1]) << 16 | usize::from(msg[2]) << 8 | usize::from(msg[3]);
            if 4 + len > MAX_CLIENT_HELLO {
                return Err(Refusal::TooLarge);
            }
            if msg.len() >= 4 + len {
                msg.truncate(4 + len);
                return Ok(Some(msg));
            }
        }
        if rd.0.len() < 5 {
            return Ok(None);
        }
        let header = rd.take(5)?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if header[0] != 22 {
            return Err(Refusal::Malformed(
                "non-handshake record inside the ClientHello",
            ));
        }
        if rd.0.len() < len {
            return Ok(None);
        }
        msg.extend_from_slice(rd.take(len)?);
        if msg.len() > MAX_CLIENT_HELLO {
            return Err(Refusal::TooLarge);
        }
    }
}

/// What the ClientHello offers: supported_groups and the key-share entries.
pub(crate) struct Offer {
    pub(crate) groups: Vec<u16>,
    pub(crate) shares: Vec<(u16, Vec<u8>)>,
}

pub(crate) fn parse_offer(recorded: &[u8]) -> Result<Option<Offer>, Refusal> {
    let Some(msg) = first_handshake_message(recorded)? else {
        return Ok(None);
    };
    let mut rd = Reader(&msg);
    if rd.u8()? != 1 {
        return Err(Refusal::Malformed(
            "first handshake message is not a ClientHello",
        ));
    }
    rd.take(3)?;
    rd.take(2 + 32)?; // legacy_version, random
    rd.vec8()?; // legacy_session_id
    rd.vec16()?; // cipher_suites
    rd.vec8()?; // legacy_compression_methods
    let mut exts = Reader(rd.vec16()?);
    if !rd.0.is_empty() {
        return Err(Refusal::Malformed("trailing bytes after the extensions"));
    }
    let mut seen = Vec::new();
    let mut offer = Offer {
        groups: Vec::new(),
        shares: Vec::new(),
    };
    while !exts.0.is_empty() {
        let ty = exts.u16()?;
        let body = exts.vec16()?;
        if seen.contains(&ty) {
            return Err(Refusal::DuplicateExtension(ty));
        }
        seen.push(ty);
        match ty {
            10 => {
                let mut body = Reader(body);
                let mut list = Reader(body.vec16()?);
                if !body.0.is_empty() || list.0.len() % 2 != 0 {
                    return Err(Refusal::Malformed("supported_groups"));
                }
                while !list.0.is_empty() {
                    offer.groups.push(list.u16()?);
                }
            }
            51 => {
                let mut body = Reader(body);
                let mut list = Reader(body.vec16()?);
                if !body.0.is_empty() {
                    return Err(Refusal::Malformed("key_share"));
                }
                while !list.0.is_empty() {
                    let group = list.u16()?;
                    let share = list.vec16()?;
                    if offer.shares.iter().any(|(g, _)| *g == group) {
                        return Err(Refusal::DuplicateKeyShare(group));
                    }
                    offer.shares.push((group, share.to_vec()));
                }
            }
            _ => {}
        }
    }
    Ok(Some(offer))
}

/// `Ok(None)` while the ClientHello is incomplete is NOT returned here: the
/// accept path only calls this once rustls has the whole message. Returns
/// the offered Milagro (group, share), `None` for a client offering no
/// Milagro group, or a [`Refusal`].
pub(crate) fn find_milagro_share(recorded: &[u8]) -> Result<Option<(u16, Vec<u8>)>, Refusal> {
    let offer = parse_offer(recorded)?.ok_or(Refusal::Malformed("incomplete ClientHello"))?;
    let milagro: Vec<u16> = offer
        .groups
        .iter()
        .copied()
        .filter(|g| suite_of_group(*g).is_some())
        .collect();
    if let Some((g, _)) = offer
        .shares
        .iter()
        .find(|(g, _)| suite_of_group(*g).is_some() && !milagro.contains(g))
    {
        return Err(Refusal::MilagroShareNotOffered(*g));
    }
    match milagro.as_slice() {
        [] => Ok(None),
        [g] => offer
            .shares
            .into_iter()
            .find(|(sg, _)| sg == g)
            .map(Some)
            .ok_or(Refusal::MilagroGroupWithoutShare(*g)),
        _ => Err(Refusal::BothMilagroGroups),
    }
}
