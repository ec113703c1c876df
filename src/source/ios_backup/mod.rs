//! iOS backup folders (Finder, iTunes / Apple Devices, `idevicebackup2`): one folder per device,
//! or a tree holding thousands of them.
//!
//! For each backup folder found, one [`Inventory`]: the device identity (`Info.plist`,
//! `Manifest.plist` `Lockdown`), the apps from every place the backup lists them (see [`apps`]),
//! and a [`Problem`] for everything that could hide an app: a missing or corrupt file, an
//! unfinished backup, an encrypted `Manifest.db` without its password, a wrong password.
//!
//! Never writes inside a backup folder: files are only read, SQLite is opened read-only and
//! immutable, and a decrypted `Manifest.db` goes to a private temporary file outside the backup.
//! Backups are scanned in parallel (rayon) and each inventory is emitted as soon as it is done.
//!
//! The parts: [`plists`] (`Info.plist`, `Manifest.plist`, `Status.plist`), [`keybag`] (the key
//! chain of an encrypted backup), [`manifest_db`] and [`mbdb`] (the file lists, iOS 10 and later
//! and before), [`wal`] and [`dbimage`] (a write-ahead log applied to a private in-memory copy),
//! [`apps`] (the union of every place that lists apps); this module finds backup folders and
//! turns each into an inventory.

pub mod apps;
pub mod dbimage;
pub mod keybag;
pub mod manifest_db;
pub mod mbdb;
pub mod plists;
pub mod wal;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::Emit;
use crate::model::{DeviceInfo, Inventory, PersonalData, Platform, Problem, SourceKind};
use crate::progress::Progress;
use apps::AppSet;
use plists::{DeviceFields, InfoPlist, ManifestPlist, StatusPlist};

/// Options for `scan backup`.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Password for encrypted backups (read from a file or the environment, never argv).
    pub password: Option<String>,
    pub include_personal_data: bool,
    /// Show a progress line on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no iOS backup found in {path} (a backup folder holds Info.plist, Manifest.plist, Manifest.db or Manifest.mbdb)")]
    NoBackups { path: PathBuf },
}

/// The files whose presence makes a folder a backup folder.
pub const MARKERS: [&str; 4] = [
    "Info.plist",
    "Manifest.plist",
    "Manifest.db",
    "Manifest.mbdb",
];

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A folder holding at least one of [`MARKERS`].
    Backup(PathBuf),
    /// A folder that looks like a backup (or may hold some) but cannot be used.
    Unusable { path: PathBuf, reason: String },
}

/// `true` for names shaped like a device UDID (40 hex digits, or `8hex-16hex`).
fn udid_like(name: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    match name.split_once('-') {
        None => name.len() == 40 && hex(name),
        Some((a, b)) => a.len() == 8 && b.len() == 16 && hex(a) && hex(b),
    }
}

/// Finds every backup folder under `root` (which may itself be one). Symlinked folders inside the
/// tree are not walked (a symlink to a backup folder is reported as that backup), and each
/// (device, inode) is visited once, so loops cannot recur. A backup folder is a leaf: its hashed
/// subfolders are never walked.
pub fn discover(root: &Path) -> Result<Vec<Found>, BackupError> {
    let meta = std::fs::metadata(root).map_err(|source| BackupError::Unreadable {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        // A marker file given directly stands for its folder.
        let is_marker = root
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| MARKERS.contains(&n));
        return match (is_marker, root.parent()) {
            (true, Some(parent)) if parent.as_os_str().is_empty() => {
                Ok(vec![Found::Backup(PathBuf::from("."))])
            }
            (true, Some(parent)) => Ok(vec![Found::Backup(parent.to_path_buf())]),
            _ => Err(BackupError::NoBackups {
                path: root.to_path_buf(),
            }),
        };
    }
    let mut found = Vec::new();
    let mut visited = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    let mut links = Vec::new();
    while let Some(dir) = stack.pop() {
        if !visited.insert(dir_key(&dir)) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                found.push(Found::Unusable {
                    path: dir,
                    reason: format!(
                        "folder cannot be read ({e}); backups inside it were not scanned"
                    ),
                });
                continue;
            }
        };
        let mut subdirs = Vec::new();
        let mut linked = Vec::new();
        let mut is_backup = false;
        let mut listing_error = None;
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    listing_error = Some(e);
                    continue;
                }
            };
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| MARKERS.contains(&n)) {
                is_backup = true;
            }
            // `file_type` does not follow symlinks.
            match entry.file_type() {
                Ok(t) if t.is_dir() => subdirs.push(entry.path()),
                Ok(t) if t.is_symlink() => linked.push(entry.path()),
                _ => {}
            }
        }
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if is_backup {
            found.push(Found::Backup(dir));
        } else if let Some(e) = listing_error {
            found.push(Found::Unusable {
                path: dir,
                reason: format!(
                    "folder listing failed ({e}); backups inside it may have been missed"
                ),
            });
        } else if udid_like(name) {
            found.push(Found::Unusable {
                path: dir,
                reason: "folder named like a device backup holds no Info.plist, Manifest.plist, Manifest.db or Manifest.mbdb".to_string(),
            });
        } else {
            links.extend(linked);
            subdirs.sort();
            // Reverse so the stack pops in sorted order.
            stack.extend(subdirs.into_iter().rev());
        }
    }
    // A symlink to a backup folder counts (a tree of links to backups is common); a symlink to
    // anything else is not walked, so links cannot lead outside the tree or round a loop. Real
    // folders were all visited first, so a backup reached both ways is reported at its real path.
    links.sort();
    for link in links {
        if std::fs::metadata(&link).is_ok_and(|m| m.is_dir())
            && has_marker(&link)
            && visited.insert(dir_key(&link))
        {
            found.push(Found::Backup(link));
        }
    }
    Ok(found)
}

fn has_marker(dir: &Path) -> bool {
    MARKERS.iter().any(|m| dir.join(m).exists())
}

#[cfg(unix)]
fn dir_key(dir: &Path) -> (u64, u64, PathBuf) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(dir) {
        Ok(m) => (m.dev(), m.ino(), PathBuf::new()),
        Err(_) => (0, 0, dir.to_path_buf()),
    }
}

#[cfg(not(unix))]
fn dir_key(dir: &Path) -> (u64, u64, PathBuf) {
    (
        0,
        0,
        std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
    )
}

/// Finds every backup under `paths` and emits one inventory per backup, in parallel.
///
/// A path that cannot be read or holds no backup, a folder inside a tree that looks like a backup
/// but is unusable or cannot be listed: each gets an inventory with a problem (status
/// incomplete), never silence. Discovery collects paths only; inventories are emitted as each
/// backup is done and not kept.
pub fn scan(paths: &[PathBuf], opts: &BackupOptions, emit: Emit<'_>) -> Result<(), BackupError> {
    let mut found = Vec::new();
    for path in paths {
        match discover(path) {
            Ok(here) if here.is_empty() => found.push(Found::Unusable {
                path: path.clone(),
                reason: BackupError::NoBackups { path: path.clone() }.to_string(),
            }),
            Ok(here) => found.extend(here),
            Err(e) => found.push(Found::Unusable {
                path: path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    // The same folder named twice (or reached through two paths) is scanned once.
    let mut seen = BTreeSet::new();
    found.retain(|f| {
        let p = match f {
            Found::Backup(p) | Found::Unusable { path: p, .. } => p,
        };
        seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
    });
    let total = u64::try_from(found.len()).ok();
    let progress = Progress::new("backups", total, opts.progress);
    found.par_iter().for_each(|f| {
        let inventory = match f {
            Found::Backup(dir) => scan_backup(dir, opts),
            Found::Unusable { path, reason } => unusable(path, reason),
        };
        emit(inventory);
        progress.inc();
    });
    progress.finish();
    Ok(())
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

fn unusable(path: &Path, reason: &str) -> Inventory {
    let mut device = DeviceInfo::new(Platform::Ios, SourceKind::Backup, folder_name(path));
    device.location = Some(path.display().to_string());
    device.manufacturer = Some("Apple".to_string());
    let mut inv = Inventory::new(device);
    inv.problems.push(Problem::new("backup", reason));
    inv
}

/// Largest plist read (`Info.plist`, `Manifest.plist`, `Status.plist`). Real ones hold app icons
/// and stay within tens of megabytes.
pub const MAX_PLIST_BYTES: u64 = 256 << 20;
/// Largest `Manifest.mbdb`, or encrypted `Manifest.db`, read into memory. Real ones are far
/// smaller; a bigger one is reported rather than risking the memory of a bulk run.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// Reads a regular file of the backup (never a FIFO, device or socket) of at most `limit`
/// bytes; `Ok(None)` when it does not exist.
fn read_optional(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<Option<Vec<u8>>, crate::input::InputError> {
    if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(None);
    }
    crate::input::read_regular(path, limit, what).map(Some)
}

/// Reads and parses one plist of the backup, turning every failure into a problem.
fn read_plist<T>(
    dir: &Path,
    name: &'static str,
    missing: &str,
    parse: impl Fn(&[u8]) -> Result<T, plists::PlistError>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let scope = format!("file {name}");
    match read_optional(&dir.join(name), MAX_PLIST_BYTES, name) {
        Ok(Some(bytes)) => match parse(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(Problem::new(
                    scope,
                    format!("{name} is corrupt: {e}; {missing}"),
                ));
                None
            }
        },
        Ok(None) => {
            problems.push(Problem::new(scope, format!("{name} is missing; {missing}")));
            None
        }
        Err(e) => {
            problems.push(Problem::new(scope, format!("{e}; {missing}")));
            None
        }
    }
}

/// Scans one backup folder. Never fails: everything unread becomes a problem.
pub fn scan_backup(dir: &Path, opts: &BackupOptions) -> Inventory {
    log::debug!("{}: reading", dir.display());
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let info = read_plist(
        dir,
        "Info.plist",
        "the app lists Installed Applications and Applications were not read",
        plists::parse_info_plist,
        &mut problems,
    );
    let manifest = read_plist(
        dir,
        "Manifest.plist",
        "its Applications list and the encryption state were not read",
        plists::parse_manifest_plist,
        &mut problems,
    );
    let status = read_plist(
        dir,
        "Status.plist",
        "cannot tell whether the backup finished",
        plists::parse_status_plist,
        &mut problems,
    );
    check_status(status.as_ref(), &mut problems, &mut notes);

    let mut set = AppSet::default();
    if let Some(info) = &info {
        set.add_info(info);
        for skipped in &info.skipped {
            notes.push(format!("Info.plist: skipped {skipped}"));
        }
        for app in &info.applications {
            if let Some(err) = &app.metadata_error {
                problems.push(Problem::new(
                    format!("app {}", app.bundle_id),
                    format!("iTunesMetadata in Info.plist unreadable ({err}); its App Store id is unknown"),
                ));
            }
        }
        if let Some(date) = &info.last_backup_date {
            notes.push(format!("last backup date: {date}"));
        }
    }
    if let Some(manifest) = &manifest {
        set.add_manifest(manifest);
    }
    read_domains(
        dir,
        manifest.as_ref(),
        opts,
        &mut set,
        &mut problems,
        &mut notes,
    );

    let (apps, apple_ids) = set.finish();
    let device = device_info(dir, info.as_ref(), manifest.as_ref(), apple_ids, opts);
    let mut inv = Inventory::new(device);
    inv.apps = apps;
    inv.problems = problems;
    inv.notes = notes;
    inv.normalize();
    inv
}

fn check_status(
    status: Option<&StatusPlist>,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) {
    let Some(status) = status else { return };
    match status.snapshot_state.as_deref() {
        Some("finished") => {}
        Some(state) => problems.push(Problem::new(
            "file Status.plist",
            format!("backup unfinished: SnapshotState is {state:?}, not \"finished\"; files written later are missing"),
        )),
        None => notes.push("Status.plist has no SnapshotState: cannot confirm the backup finished".to_string()),
    }
}

fn read_domains(
    dir: &Path,
    manifest: Option<&ManifestPlist>,
    opts: &BackupOptions,
    set: &mut AppSet,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) {
    let db_path = dir.join("Manifest.db");
    let mbdb_path = dir.join("Manifest.mbdb");
    let mut any = false;
    match read_manifest_db(&db_path, manifest, opts, problems, notes) {
        Ok(Some(domains)) => {
            any = true;
            notes.push(format!("Manifest.db: {} domains read", domains.len()));
            set.add_domains(domains.iter().map(String::as_str));
        }
        Ok(None) => {}
        Err(problem) => {
            any = true;
            problems.push(problem);
        }
    }
    match read_optional(&mbdb_path, MAX_FILE_BYTES, "Manifest.mbdb") {
        Ok(Some(bytes)) => {
            any = true;
            match mbdb::domains(&bytes) {
                Ok(domains) => {
                    notes.push(format!("Manifest.mbdb: {} domains read", domains.len()));
                    set.add_domains(domains.iter().map(String::as_str));
                }
                Err(e) => problems.push(Problem::new(
                    "file Manifest.mbdb",
                    format!(
                        "Manifest.mbdb is corrupt: {e}; app containers after that point not read"
                    ),
                )),
            }
        }
        Ok(None) => {}
        Err(e) => {
            any = true;
            problems.push(Problem::new(
                "file Manifest.mbdb",
                format!("{e}; app containers not read"),
            ));
        }
    }
    if !any {
        problems.push(Problem::new(
            "file Manifest.db",
            "neither Manifest.db nor Manifest.mbdb is present: app containers (AppDomain- entries) not read",
        ));
    }
}

const DB_SCOPE: &str = "file Manifest.db";

/// The domains of an opened database; a limit reached mid-way is a problem beside what was read.
fn domains_of(
    db: &manifest_db::Database,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Result<Vec<String>, Problem> {
    let domains = db.domains().map_err(|e| {
        Problem::new(
            DB_SCOPE,
            format!("{what} cannot be read: {e}; app containers not read"),
        )
    })?;
    if let Some(cut) = &domains.cut {
        problems.push(Problem::new(
            DB_SCOPE,
            format!(
                "{what} {cut} ({} domains read before that)",
                domains.list.len()
            ),
        ));
    }
    Ok(domains.list)
}

/// `true` when `Manifest.db-wal` beside `path` exists and is not empty.
fn has_wal(path: &Path) -> bool {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(name).is_ok_and(|m| m.len() > 0 || !m.is_file())
}

/// `Ok(None)`: no Manifest.db. `Err`: the problem that kept it from being read. A limit
/// reached mid-way is pushed to `problems` and what was read is returned.
fn read_manifest_db(
    path: &Path,
    manifest: Option<&ManifestPlist>,
    opts: &BackupOptions,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Result<Option<Vec<String>>, Problem> {
    let scope = DB_SCOPE;
    match std::fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Problem::new(
                scope,
                format!("Manifest.db cannot be read: {e}"),
            ))
        }
    }
    let encrypted = manifest.is_some_and(|m| m.is_encrypted);
    if !encrypted {
        let db = manifest_db::Database::open_backup(path).map_err(|e| {
            Problem::new(scope, format!("Manifest.db {e}; app containers not read"))
        })?;
        notes.extend(db.note.clone());
        return domains_of(&db, "Manifest.db", problems).map(Some);
    }
    let Some(password) = opts.password.as_deref() else {
        return Err(Problem::new(
            scope,
            "encrypted backup and no password given: Manifest.db (app containers, AppDomain- entries) was not read; \
             give the backup password with --password-file FILE or APPSWEEP_BACKUP_PASSWORD",
        ));
    };
    let manifest = manifest
        .ok_or_else(|| Problem::new(scope, "encrypted backup without a readable Manifest.plist"))?;
    let keybag = manifest.keybag.as_deref().ok_or_else(|| {
        Problem::new(
            scope,
            "encrypted backup but Manifest.plist has no BackupKeyBag: Manifest.db not read",
        )
    })?;
    let manifest_key = manifest.manifest_key.as_deref().ok_or_else(|| {
        Problem::new(
            scope,
            "encrypted backup but Manifest.plist has no ManifestKey: Manifest.db not read",
        )
    })?;
    let encrypted_db = crate::input::read_regular(path, MAX_FILE_BYTES, "Manifest.db")
        .map_err(|e| Problem::new(scope, e.to_string()))?;
    let started = std::time::Instant::now();
    let plain =
        keybag::decrypt_with_password(keybag, password.as_bytes(), manifest_key, &encrypted_db)
            .map_err(|e| match e {
                keybag::UnlockError::WrongPassword { .. } => Problem::new(
                    scope,
                    format!(
                        "{e}; Manifest.db (app containers) not read, the plaintext app lists were still read"
                    ),
                ),
                other => Problem::new(scope, format!("Manifest.db cannot be decrypted: {other}")),
            })?;
    drop(encrypted_db);
    let db = manifest_db::Database::from_plaintext(plain)
        .map_err(|e| Problem::new(scope, format!("decrypted Manifest.db {e}")))?;
    if has_wal(path) {
        problems.push(Problem::new(
            scope,
            "Manifest.db-wal beside an encrypted Manifest.db cannot be decrypted: changes only in it were not read",
        ));
    }
    log::info!(
        "{}: Manifest.db decrypted in {} ms",
        path.display(),
        started.elapsed().as_millis()
    );
    let domains = domains_of(&db, "decrypted Manifest.db", problems)?;
    notes.push("Manifest.db decrypted with the backup password".to_string());
    Ok(Some(domains))
}

fn device_info(
    dir: &Path,
    info: Option<&InfoPlist>,
    manifest: Option<&ManifestPlist>,
    apple_ids: Vec<String>,
    opts: &BackupOptions,
) -> DeviceInfo {
    let empty = DeviceFields::default();
    let fields = info
        .map(|i| i.device.clone())
        .unwrap_or_default()
        .or(manifest.map_or(&empty, |m| &m.lockdown));
    let id = fields.udid.clone().unwrap_or_else(|| folder_name(dir));
    let mut device = DeviceInfo::new(Platform::Ios, SourceKind::Backup, id);
    device.model = fields.product_type.clone();
    device.manufacturer = Some("Apple".to_string());
    device.os_version = fields.product_version.clone();
    device.os_build = fields.build_version.clone();
    // Asset identifiers (UDID, serial, IMEI) find the handset and are always reported; the
    // device name is usually its owner's ("Alice's iPhone") and is personal data.
    device.serial = fields.serial.clone();
    device.imei = fields.imei.clone();
    device.location = Some(dir.display().to_string());
    if opts.include_personal_data {
        device.name = fields.name.clone();
        device.personal = Some(PersonalData {
            phone_number: fields.phone_number.clone(),
            iccid: fields.iccid.clone(),
            apple_ids,
        });
    }
    device
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udid_shapes() {
        assert!(udid_like("0123456789abcdef0123456789abcdef01234567"));
        assert!(udid_like("00008030-001A35E83C38802E"));
        assert!(!udid_like("backups"));
        assert!(!udid_like("00"));
    }

    #[test]
    fn discovery_stops_at_backup_folders_and_skips_symlink_loops() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("site1/aaaa");
        std::fs::create_dir_all(a.join("00")).unwrap();
        std::fs::write(a.join("Info.plist"), b"x").unwrap();
        std::fs::create_dir_all(a.join("00/nested")).unwrap();
        std::fs::write(a.join("00/nested/Manifest.db"), b"x").unwrap();
        let b = root.path().join("site2/bbbb");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("Manifest.mbdb"), b"x").unwrap();
        let empty_udid = root
            .path()
            .join("site2/0123456789abcdef0123456789abcdef01234567");
        std::fs::create_dir_all(&empty_udid).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.path(), root.path().join("site2/loop")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&b, root.path().join("site2/link-to-b")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&b, root.path().join("site1/link-to-b")).unwrap();
        let found = discover(root.path()).unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        // A folder holding only links to backups finds them.
        let links = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&a, links.path().join("one")).unwrap();
            std::os::unix::fs::symlink(&b, links.path().join("two")).unwrap();
            std::os::unix::fs::symlink(root.path(), links.path().join("tree")).unwrap();
            assert_eq!(
                discover(links.path()).unwrap(),
                vec![
                    Found::Backup(links.path().join("one")),
                    Found::Backup(links.path().join("two"))
                ]
            );
        }
        assert!(found.contains(&Found::Backup(a.clone())));
        assert!(found.contains(&Found::Backup(b)));
        assert!(found
            .iter()
            .any(|f| matches!(f, Found::Unusable { path, .. } if *path == empty_udid)));
        assert_eq!(
            discover(&a.join("Info.plist")).unwrap(),
            vec![Found::Backup(a)]
        );
    }
}
