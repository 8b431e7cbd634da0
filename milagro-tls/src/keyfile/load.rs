//! Reading key files from disk, with errors that name the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{AnyKey, KeyFile, KeyFileError, from_pem_any};

/// The largest key file read (the largest kind is well under 1 KiB): a
/// larger file is refused before it is read whole.
pub const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Why a key file could not be loaded; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("{}: cannot read the key file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_KEY_FILE_BYTES`] or not UTF-8 text.
    #[error("{}: not a key file (larger than {MAX_KEY_FILE_BYTES} bytes, or not text)", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The file was read, but is not a valid key file of the kind asked for.
    #[error("{}: invalid key file", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: KeyFileError,
    },
}

impl LoadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::NotText { path } | Self::Invalid { path, .. } => path,
        }
    }

    /// The problem with the file's contents, if that is what failed.
    pub fn key_file_error(&self) -> Option<&KeyFileError> {
        match self {
            Self::Invalid { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The file's text, in memory that is wiped when dropped (it holds a secret).
fn read(path: &Path) -> Result<Zeroizing<String>, LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    // Sized once so that no reallocation leaves an un-wiped copy behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES as usize + 1));
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(LoadError::NotText {
            path: path.to_owned(),
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| LoadError::NotText {
        path: path.to_owned(),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// [`KeyFile::from_pem_file`].
pub(super) fn load<K: KeyFile>(path: &Path) -> Result<K, LoadError> {
    let text = read(path)?;
    K::from_pem(&text).map_err(|source| LoadError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// Reads the key file at `path`, whatever its kind ([`from_pem_any`] on
/// its contents). Fails with a [`LoadError`] naming the file.
pub fn from_pem_any_file(path: impl AsRef<Path>) -> Result<AnyKey, LoadError> {
    let path = path.as_ref();
    let text = read(path)?;
    from_pem_any(&text).map_err(|source| LoadError::Invalid {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{CsDeployment, CsServerSecret, Deployment, MasterShare, PermitPolicy};
    use crate::pairing::OsEntropy;

    #[test]
    fn keys_load_from_files_and_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("milagro-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dep = CsDeployment::new(1, PermitPolicy::Off, &OsEntropy).unwrap();
        let dta = MasterShare::generate(Deployment::Cs(dep), &OsEntropy).unwrap();
        let good = dir.join("dta.pem");
        std::fs::write(&good, dta.to_pem().unwrap().as_bytes()).unwrap();

        let back = MasterShare::from_pem_file(&good).unwrap();
        assert_eq!(back.to_pem().unwrap(), dta.to_pem().unwrap());
        assert!(matches!(
            from_pem_any_file(&good).unwrap(),
            AnyKey::MasterShare(_)
        ));

        // Another kind: the contents' error, under the file's name.
        let err = CsServerSecret::from_pem_file(&good).unwrap_err();
        assert_eq!(err.path(), good.as_path());
        assert!(
            matches!(err.key_file_error(), Some(KeyFileError::WrongLabel { .. })),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("{}: invalid key file", good.display())
        );

        let missing = dir.join("missing.pem");
        let err = MasterShare::from_pem_file(&missing).unwrap_err();
        assert!(
            matches!(&err, LoadError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        assert!(
            err.to_string().starts_with(&missing.display().to_string()),
            "{err}"
        );

        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'A'; MAX_KEY_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            MasterShare::from_pem_file(&big),
            Err(LoadError::NotText { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
