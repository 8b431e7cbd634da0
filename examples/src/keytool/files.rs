//! Reading key files (size-capped, checked by `keyfile`) and writing secret
//! files (mode 0600, never overwriting unless asked).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use milagro_tls::keyfile::{AnyKey, from_pem_any};
use zeroize::Zeroizing;

use super::error::KeyToolError;

/// The largest file the tool reads. The largest key file is under 1 KiB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024;

/// Reads `path` as text (at most [`MAX_FILE_BYTES`]), in a buffer wiped on drop.
pub fn read_text(path: &Path) -> Result<Zeroizing<String>, KeyToolError> {
    let read_err = |source| KeyToolError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    // Sized up front so no reallocation leaves a copy behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_FILE_BYTES as usize + 1));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(KeyToolError::TooLarge {
            path: path.to_owned(),
        });
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err(KeyToolError::NotText {
            path: path.to_owned(),
        });
    }
    let mut text = Zeroizing::new(String::with_capacity(bytes.len()));
    // Checked UTF-8 above; from_utf8_lossy would copy, so push the str.
    text.push_str(std::str::from_utf8(&bytes).unwrap_or_default());
    Ok(text)
}

/// Reads and decodes a key file of any kind (every field checked).
pub fn read_key(path: &Path) -> Result<AnyKey, KeyToolError> {
    let text = read_text(path)?;
    from_pem_any(&text).map_err(|e| KeyToolError::key_file(path, e))
}

/// Writes a secret file: created with mode 0600 (on Unix), refused if it
/// exists unless `force` (then truncated and its mode reset to 0600), synced.
pub fn write_secret(path: &Path, contents: &str, force: bool) -> Result<(), KeyToolError> {
    let write_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            KeyToolError::Exists {
                path: path.to_owned(),
            }
        } else {
            KeyToolError::Write {
                path: path.to_owned(),
                source,
            }
        }
    };
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(write_err)?;
    #[cfg(unix)]
    {
        // An existing file overwritten with --force keeps its old mode otherwise.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write_err)?;
    }
    file.write_all(contents.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}
