//! Which epochs a server accepts by its clock (docs/protocol.md §5.6, §7.4).

use super::P2pError;

/// Whether a share or key for `epoch` is acceptable when the current epoch
/// is `now_epoch`: `epoch ∈ {now_epoch, now_epoch − 1}` (docs/protocol.md
/// §5.6, §7.4).
pub fn epoch_accepted_at(epoch: u32, now_epoch: u32) -> bool {
    epoch == now_epoch || epoch.checked_add(1) == Some(now_epoch)
}

/// Whether server keys for epochs `current` and `previous` can serve any
/// client when the current epoch is `now_epoch`: at least one of them is
/// `now_epoch` or `now_epoch − 1` ([`P2pError::ServerKeysNotCurrent`]
/// otherwise).
pub fn check_server_epochs(
    current: u32,
    previous: Option<u32>,
    now_epoch: u32,
) -> Result<(), P2pError> {
    let usable = core::iter::once(current)
        .chain(previous)
        .any(|e| epoch_accepted_at(e, now_epoch));
    if usable {
        Ok(())
    } else {
        Err(P2pError::ServerKeysNotCurrent {
            current,
            previous,
            now_epoch,
        })
    }
}
