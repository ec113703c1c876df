//! Files appsweep writes whole (`--output`, `--out-dir` records, outbox records, caches):
//! atomic, durable, and safe in a folder another local user can write to.
//!
//! The temporary file is created next to the target with `O_CREAT|O_EXCL` under an unpredictable
//! name (the `tempfile` crate), so a planted file or symlink is never opened or followed. It is
//! written, synced, renamed over the target (a rename replaces a symlink at the target, it does
//! not follow it), and the folder is synced so the new name survives a power cut. On any error
//! the temporary file is removed; a kill leaves at most one `.appsweep-*.tmp` file holding no
//! more than what was being written.
//!
//! Modes: [`write`] gives what a plain create would (`0666` less the umask, applied by the kernel
//! at the open) and keeps the mode of a regular file it replaces; [`write_private`] gives `0600`
//! at most, whatever was there.

use std::io::{self, Write};
use std::path::Path;

/// Temporary files are named `.appsweep-<random>.tmp`.
const TEMP_PREFIX: &str = ".appsweep-";
const TEMP_SUFFIX: &str = ".tmp";

/// Whether a file name is one of this writer's temporary files (which a killed writer may leave).
pub fn is_temporary_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// Writes `bytes` to `path` atomically, with the mode a plain create would give (or the mode of
/// the regular file it replaces).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o666, existing_mode(path))
}

/// Writes `bytes` to `path` atomically, readable by the owner only (`0600`): outbox records,
/// their URLs, caches of what a phone holds.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o600, None)
}

/// The permission bits of the regular file at `path` (not of what a symlink there points to).
fn existing_mode(path: &Path) -> Option<u32> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `create_mode` is passed to `open(2)` (so the umask applies); `keep_mode`, when given, is
/// set on the file afterwards as it is.
fn write_with_mode(
    path: &Path,
    bytes: &[u8],
    create_mode: u32,
    keep_mode: Option<u32>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(create_mode));
    }
    #[cfg(not(unix))]
    let _ = create_mode;
    let mut tmp = builder.tempfile_in(dir)?;
    #[cfg(unix)]
    if let Some(mode) = keep_mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = keep_mode;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes a rename in `dir` durable. File systems that cannot sync a folder say so with
/// `EINVAL`; that is not a failure of the write.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporaries_left(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o604))
            .unwrap();
        for write_fn in [write, write_private] {
            let target = dir.path().join("report.json");
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(&victim, &target).unwrap();
            // A predictable temporary name, planted as a symlink too.
            let planted = dir
                .path()
                .join(format!(".report.json.tmp-{}", std::process::id()));
            let _ = std::fs::remove_file(&planted);
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
            write_fn(&target, b"new").unwrap();
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
            assert_eq!(std::fs::read(&target).unwrap(), b"new");
            assert!(!std::fs::symlink_metadata(&target).unwrap().is_symlink());
            // The victim's mode is not copied through the symlink.
            assert_ne!(mode(&target), 0o604);
            assert!(temporaries_left(dir.path()).is_empty());
        }
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only_even_over_a_wider_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&target, b"new").unwrap();
        assert_eq!(mode(&target) & 0o077, 0);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_report_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&target, b"new").unwrap();
        assert_eq!(mode(&target), 0o640);
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"x").unwrap();
        // Renaming a file over a non-empty folder fails after the temporary file was written.
        assert!(write(&target, b"new").is_err());
        assert!(target.join("inside").exists());
        assert!(temporaries_left(dir.path()).is_empty());
        assert!(write(&dir.path().join("missing/r.json"), b"x").is_err());
    }
}
