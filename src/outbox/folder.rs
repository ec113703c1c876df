//! The outbox folder: records queued atomically and privately, listed without following
//! symlinks or blocking on FIFOs, claimed under an exclusive lock while sent, and the temporary
//! files a killed writer left swept once stale.

use super::{io_err, safe_id, OutboxError};
use crate::report::atomic_file;
use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

/// Creates the outbox folder `0700`, or tightens an existing one to it.
fn ensure_dir(outbox: &Path) -> Result<(), OutboxError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(outbox)
            .map_err(io_err(outbox))?;
        let meta = std::fs::metadata(outbox).map_err(io_err(outbox))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(outbox, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(outbox))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(outbox).map_err(io_err(outbox))
}

/// Queues a record: writes its URL, then the record, atomically into the outbox, both `0600`
/// (the record last: a listed record always has its URL). Nothing is left when it fails.
pub fn enqueue(outbox: &Path, record_id: &str, url: &str, body: &[u8]) -> Result<(), OutboxError> {
    ensure_dir(outbox)?;
    let id = safe_id(record_id);
    let url_path = outbox.join(format!("{id}.url"));
    atomic_file::write_private(&url_path, url.as_bytes()).map_err(io_err(&url_path))?;
    let json_path = outbox.join(format!("{id}.json"));
    atomic_file::write_private(&json_path, body).map_err(|e| {
        // No URL file without its record.
        let _ = std::fs::remove_file(&url_path);
        io_err(&json_path)(e)
    })
}

/// Largest URL file read back (a URL is a line; anything longer is not ours).
const MAX_URL_BYTES: u64 = 16 * 1024;

/// Largest record read back; a record is a few megabytes at most.
pub(super) const MAX_RECORD_BYTES: u64 = 64 << 20;

/// One pending record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub url: Option<String>,
    pub bytes: u64,
    /// Why this entry cannot be sent (not a regular file, unreadable URL...), if so.
    pub problem: Option<String>,
}

/// Opens an outbox entry for reading: never through a symlink, never blocking on a FIFO, and
/// only when it is a regular file.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Reads at most `max` bytes of `file`; `Err` names the limit when there is more.
pub(super) fn read_capped(file: impl std::io::Read, max: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("is over the {max}-byte limit"));
    }
    Ok(bytes)
}

fn read_url(path: &Path) -> Result<Option<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("its URL file cannot be read: {e}")),
        Ok(m) if !m.is_file() => return Err("its URL file is not a regular file".into()),
        Ok(_) => {}
    }
    let file = open_regular(path).map_err(|e| format!("its URL file cannot be read: {e}"))?;
    let bytes = read_capped(file, MAX_URL_BYTES).map_err(|why| format!("its URL file {why}"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "its URL file is not UTF-8".to_string())
}

/// Records waiting in the outbox, sorted by id. Entries that cannot be sent carry a `problem`.
pub fn pending(outbox: &Path) -> Result<Vec<Pending>, OutboxError> {
    let rd = match std::fs::read_dir(outbox) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(outbox)(e)),
    };
    let mut out: Vec<Pending> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = name.strip_suffix(".json")?.to_string();
            if id.starts_with('.') {
                return None;
            }
            let meta = std::fs::symlink_metadata(e.path());
            let mut problem = match &meta {
                Ok(m) if m.is_file() => None,
                Ok(_) => Some("not a regular file".to_string()),
                Err(err) => Some(format!("cannot be read: {err}")),
            };
            let url = match read_url(&outbox.join(format!("{id}.url"))) {
                Ok(u) => u,
                Err(why) => {
                    problem.get_or_insert(why);
                    None
                }
            };
            Some(Pending {
                bytes: meta.map(|m| m.len()).unwrap_or(0),
                id,
                url,
                problem,
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A temporary file the atomic writer left when its process was killed mid-write is removed
/// once it is this old (a write in progress takes milliseconds).
pub(super) const STALE_TEMPORARY: Duration = Duration::from_secs(10 * 60);

/// Removes the atomic writer's temporary files (regular files only) that a killed run left in
/// the outbox.
pub(super) fn sweep_stale_temporaries(outbox: &Path) {
    let Ok(rd) = std::fs::read_dir(outbox) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !atomic_file::is_temporary_name(&name) {
            continue;
        }
        let stale = std::fs::symlink_metadata(e.path()).is_ok_and(|m| {
            m.is_file()
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMPORARY)
        });
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A record file held under an exclusive lock while it is sent.
pub(super) struct Claim {
    pub(super) file: std::fs::File,
}

pub(super) enum ClaimResult {
    Claimed(Claim),
    /// Another sender holds it, or it was sent and removed already.
    Elsewhere,
}

pub(super) fn claim(path: &Path) -> std::io::Result<ClaimResult> {
    let file = match open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClaimResult::Elsewhere),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(ClaimResult::Elsewhere),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    // Locked: if the file was removed meanwhile (sent by the previous holder), it is done.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if file.metadata()?.nlink() == 0 {
            return Ok(ClaimResult::Elsewhere);
        }
    }
    Ok(ClaimResult::Claimed(Claim { file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueue_and_pending_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let outbox = d.path().join("outbox");
        enqueue(&outbox, "abc123", "http://127.0.0.1:9/x", b"{}").unwrap();
        let p = pending(&outbox).unwrap();
        assert_eq!(
            p,
            vec![Pending {
                id: "abc123".into(),
                url: Some("http://127.0.0.1:9/x".into()),
                bytes: 2,
                problem: None,
            }]
        );
        assert!(pending(&d.path().join("missing")).unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&outbox), 0o700);
            assert_eq!(mode(&outbox.join("abc123.json")), 0o600);
            assert_eq!(mode(&outbox.join("abc123.url")), 0o600);
        }
    }

    /// Whether this process runs as root (from `/proc/self/status`).
    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap()
    }

    #[test]
    fn planted_symlinks_are_never_followed_even_by_root() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        // As root, a followed symlink could overwrite any file, a read-only one too: this is
        // the case that matters, and the one CI runs.
        assert!(
            is_root(),
            "run as root: a followed symlink must be able to do harm here"
        );
        let d = tempfile::tempdir().unwrap();
        let outbox = d.path().join("outbox");
        std::fs::create_dir(&outbox).unwrap();
        std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o777)).unwrap();
        let victim = d.path().join("passwd");
        std::fs::write(&victim, b"root:x:0:0").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o444)).unwrap();
        let pid = std::process::id();
        for name in [
            "r1.json".to_string(),
            "r1.url".to_string(),
            format!(".r1.json.tmp-{pid}"),
            format!(".r1.url.tmp-{pid}"),
        ] {
            symlink(&victim, outbox.join(name)).unwrap();
        }
        enqueue(&outbox, "r1", "https://h.example/x?k=secret", b"{\"a\":1}").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"root:x:0:0");
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&victim), 0o444);
        for (name, body) in [
            ("r1.json", &b"{\"a\":1}"[..]),
            ("r1.url", b"https://h.example/x?k=secret"),
        ] {
            let p = outbox.join(name);
            assert!(std::fs::symlink_metadata(&p).unwrap().is_file(), "{name}");
            assert_eq!(mode(&p), 0o600, "{name}");
            assert_eq!(std::fs::read(&p).unwrap(), body);
        }
        // The folder was tightened; no temporary file of ours is left.
        assert_eq!(mode(&outbox), 0o700);
        let ours: Vec<String> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".appsweep-"))
            .collect();
        assert!(ours.is_empty(), "{ours:?}");
    }

    #[test]
    fn an_unreadable_entry_is_reported_and_the_others_still_go() {
        let d = tempfile::tempdir().unwrap();
        enqueue(d.path(), "good", "http://127.0.0.1:9/x", b"{}").unwrap();
        std::fs::create_dir(d.path().join("dir.json")).unwrap();
        std::fs::write(d.path().join("nourl.json"), b"{}").unwrap();
        enqueue(d.path(), "dirurl", "http://127.0.0.1:9/x", b"{}").unwrap();
        std::fs::remove_file(d.path().join("dirurl.url")).unwrap();
        std::fs::create_dir(d.path().join("dirurl.url")).unwrap();
        std::os::unix::fs::symlink(d.path().join("good.json"), d.path().join("link.json")).unwrap();
        let fifo = d.path().join("fifo.json");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let p = pending(d.path()).unwrap();
        let ids: Vec<(&str, bool)> = p
            .iter()
            .map(|p| (p.id.as_str(), p.problem.is_some()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("dir", true),
                ("dirurl", true),
                ("fifo", true),
                ("good", false),
                ("link", true),
                ("nourl", false)
            ]
        );
        // Opening never follows a symlink nor blocks on a FIFO.
        assert!(open_regular(&d.path().join("link.json")).is_err());
        assert!(open_regular(&fifo).is_err());
        assert!(open_regular(&d.path().join("good.json")).is_ok());
    }

    #[test]
    fn a_claimed_record_is_not_claimed_twice_and_a_sent_one_is_gone() {
        let d = tempfile::tempdir().unwrap();
        enqueue(d.path(), "r1", "http://127.0.0.1:9/x", b"{}").unwrap();
        let path = d.path().join("r1.json");
        let first = match claim(&path).unwrap() {
            ClaimResult::Claimed(c) => c,
            ClaimResult::Elsewhere => panic!("first claim must succeed"),
        };
        // A second sender opened the file before the first removed it.
        let early = std::fs::File::open(&path).unwrap();
        assert!(matches!(claim(&path).unwrap(), ClaimResult::Elsewhere));
        std::fs::remove_file(&path).unwrap();
        drop(first);
        early.try_lock().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(early.metadata().unwrap().nlink(), 0);
        assert!(matches!(claim(&path).unwrap(), ClaimResult::Elsewhere));
    }
}
