//! Reading what the user or a device hands us, with limits that say what they are.
//!
//! - [`read_capped`]: a small input named on the command line (a password file, a token file).
//!   Pipes and process substitutions work; `/dev/zero` or a huge file stops at the limit with an
//!   error naming the input and the limit.
//! - [`open_regular`]: evidence files (APKs, IPAs, backup plists and databases). Only regular
//!   files are opened: a FIFO, a device or a socket is refused without blocking (the open is
//!   non-blocking and the type is checked on the opened descriptor, so a file swapped between
//!   the check and the open cannot slip through).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest password file read (`--password-file`).
pub const PASSWORD_MAX: u64 = 4 * 1024;
/// The largest bearer-token file read (`--post-token-file`).
pub const TOKEN_MAX: u64 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {path} is larger than the {limit}-byte limit for it")]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        limit: u64,
    },
    #[error("{what} {path} is not a regular file ({kind})")]
    NotRegular {
        what: &'static str,
        path: PathBuf,
        kind: &'static str,
    },
}

/// Reads at most `limit` bytes of `path`; more is an error, not a truncation.
pub fn read_capped(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    read_to_limit(file, path, limit, what)
}

/// Reads `file` (opened from `path`) to its end if that is at most `limit` bytes.
fn read_to_limit(
    file: std::fs::File,
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, InputError> {
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|source| InputError::Io {
            what,
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(InputError::TooLarge {
            what,
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(buf)
}

/// What kind of file a metadata describes, in words.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
    }
    if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Opens `path` (following symlinks) for reading only if it is a regular file, never blocking.
pub fn open_regular(path: &Path, what: &'static str) -> Result<std::fs::File, InputError> {
    let io = |source| InputError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            what,
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    Ok(file)
}

/// Reads a whole regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, InputError> {
    let file = open_regular(path, what)?;
    read_to_limit(file, path, limit, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_inputs_stop_at_the_limit() {
        let e = read_capped(Path::new("/dev/zero"), 4096, "password file").unwrap_err();
        assert!(
            e.to_string()
                .contains("password file /dev/zero is larger than the 4096-byte limit"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        std::fs::write(&p, b"secret\n").unwrap();
        assert_eq!(read_capped(&p, 4096, "password file").unwrap(), b"secret\n");
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("x.apk");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let e = open_regular(&fifo, "APK").unwrap_err();
        assert!(
            e.to_string().contains("is not a regular file (a FIFO)"),
            "{e}"
        );
        let e = open_regular(Path::new("/dev/zero"), "Info.plist").unwrap_err();
        assert!(e.to_string().contains("(a device)"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 10, "Info.plist").unwrap_err();
        assert!(e.to_string().contains("(a device)"), "{e}");
        let big = d.path().join("big");
        std::fs::write(&big, vec![0u8; 11]).unwrap();
        assert!(matches!(
            read_regular(&big, 10, "Info.plist"),
            Err(InputError::TooLarge { .. })
        ));
    }
}
