//! `scan files`: APK and IPA files and folders of them.
//!
//! Each command-line argument is one "device" (`device.source = "files"`, `device.id` = the
//! argument); its apps are the APK/IPA files found under it (folders are walked recursively,
//! symlinked folders are not followed, so there are no loops). A file given explicitly is read
//! whatever its extension; inside folders only `.apk` and `.ipa` files are. Files are analysed in
//! parallel (rayon); a file that cannot be read is a problem of its report, never skipped.

use crate::apk::{self, FileSource};
use crate::digest::{Hasher, Sha256};
use crate::ipa;
use crate::model::{
    AppRecord, DeviceInfo, Inventory, Platform, Problem, ScanStats, SeenIn, SourceKind,
};
use crate::progress::Progress;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// When to compute a file's SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HashMode {
    /// Never.
    None,
    /// For apps with a finding (computed after matching).
    #[default]
    Flagged,
    /// For every app.
    All,
}

#[derive(Debug, Clone, Default)]
pub struct FilesOptions {
    pub hash: HashMode,
    pub progress: bool,
}

/// The kind of artifact, from the extension or, for explicit files, the contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Artifact {
    Apk,
    Ipa,
}

fn artifact_by_name(path: &Path) -> Option<Artifact> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    match ext.as_str() {
        "apk" => Some(Artifact::Apk),
        "ipa" => Some(Artifact::Ipa),
        _ => None,
    }
}

/// Collects the files under `root`; unreadable folders become problems.
fn walk(root: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) => {
            problems.push(Problem::new(
                format!("path {}", root.display()),
                format!("cannot read: {e}"),
            ));
            return;
        }
    };
    if meta.is_dir() {
        let entries = match std::fs::read_dir(root) {
            Ok(rd) => rd,
            Err(e) => {
                problems.push(Problem::new(
                    format!("folder {}", root.display()),
                    format!("cannot list: {e}"),
                ));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        children.sort();
        for child in children {
            match std::fs::symlink_metadata(&child) {
                Ok(m) if m.is_dir() => walk(&child, files, problems),
                Ok(m) if m.file_type().is_symlink() => {
                    // A link to a file is followed; a link to a folder is not (no loops).
                    if std::fs::metadata(&child).is_ok_and(|t| t.is_file())
                        && artifact_by_name(&child).is_some()
                    {
                        files.push(child);
                    }
                }
                Ok(_) if artifact_by_name(&child).is_some() => files.push(child),
                Ok(_) => {}
                Err(e) => problems.push(Problem::new(
                    format!("path {}", child.display()),
                    format!("cannot read: {e}"),
                )),
            }
        }
    } else {
        files.push(root.to_path_buf());
    }
}

/// SHA-256 of a whole file.
pub fn sha256_file(path: &Path) -> std::io::Result<Sha256> {
    let mut f = crate::input::open_regular(path, "file").map_err(std::io::Error::other)?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 128 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finish())
}

fn sniff(path: &Path, file: &std::fs::File) -> Artifact {
    if let Some(a) = artifact_by_name(path) {
        return a;
    }
    // An explicit file without a known extension: an IPA has a Payload/ folder, else try APK.
    let Ok(f) = file.try_clone() else {
        return Artifact::Apk;
    };
    match zip::ZipArchive::new(f) {
        Ok(z) if z.file_names().any(|n| n.starts_with("Payload/")) => Artifact::Ipa,
        _ => Artifact::Apk,
    }
}

/// One file read: its app, the bytes read (fingerprint ranges plus hashing) and what of it was
/// not read although the app was (an unreadable `iTunesMetadata.plist`).
pub struct Scanned {
    pub app: AppRecord,
    pub bytes_read: u64,
    pub problems: Vec<Problem>,
}

/// Fingerprints one file into an app record (with the bytes read and what was not read), or a
/// problem.
pub fn analyze_counted(path: &Path, hash: HashMode) -> Result<Scanned, Problem> {
    let mut bytes_read = 0u64;
    let mut problems = Vec::new();
    let shown = path.display().to_string();
    let problem = |msg: String| Problem::new(format!("file {shown}"), msg);
    // Only regular files: a FIFO named `x.apk` would block the open forever.
    let file = crate::input::open_regular(path, "file").map_err(|e| problem(e.to_string()))?;
    let mut app = match sniff(path, &file) {
        Artifact::Ipa => {
            use std::io::Seek as _;
            let mut f = file;
            f.rewind()
                .map_err(|e| problem(format!("cannot read: {e}")))?;
            let info = ipa::analyze(std::io::BufReader::new(f))
                .map_err(|e| problem(format!("unreadable IPA: {e}")))?;
            let metadata = info
                .metadata_error
                .as_ref()
                .map(|e| format!("{e}: its App Store id is unknown"));
            let id = info
                .bundle_id
                .clone()
                .filter(|id| !id.trim().is_empty())
                .ok_or_else(|| {
                    let mut m = "IPA without a bundle id (CFBundleIdentifier is missing or empty)"
                        .to_string();
                    if let Some(why) = &metadata {
                        m.push_str(&format!("; {why}"));
                    }
                    problem(m)
                })?;
            problems.extend(metadata.map(&problem));
            let mut app = AppRecord::new(id);
            app.name = info.store_name.or(info.name);
            app.version = info.version;
            app.version_code = info.build;
            app.app_store_id = info.app_store_id;
            if let Some(s) = info.seller {
                app.details.push(("seller".into(), s));
            }
            app.add_seen_in(SeenIn::Ipa);
            app
        }
        Artifact::Apk => {
            let src = FileSource::from_file(path, file).map_err(|e| problem(e.to_string()))?;
            let info = apk::analyze(&src).map_err(|e| problem(format!("unreadable APK: {e}")))?;
            bytes_read += info.bytes_read;
            let id = info.package.clone().ok_or_else(|| {
                problem(match &info.partial {
                    Some(why) => format!("APK manifest has no package name: {why}"),
                    None => "APK manifest has no package name".into(),
                })
            })?;
            let mut app = AppRecord::new(id);
            app.name.clone_from(&info.label);
            info.fill(&mut app);
            if let Some(why) = &info.partial {
                problems.push(problem(format!("APK manifest read in part: {why}")));
            }
            app.add_seen_in(SeenIn::Apk);
            app
        }
    };
    app.path = Some(shown.clone());
    app.size = std::fs::metadata(path).ok().map(|m| m.len());
    if hash == HashMode::All {
        app.file_sha256 =
            Some(sha256_file(path).map_err(|e| problem(format!("cannot hash: {e}")))?);
        bytes_read += app.size.unwrap_or(0);
    }
    Ok(Scanned {
        app,
        bytes_read,
        problems,
    })
}

/// An app and the bytes read for it, or why the file could not be read.
type FileResult = Result<Scanned, Problem>;

/// Scans each argument as one inventory, emitting them in argument order.
pub fn scan(paths: &[PathBuf], opts: &FilesOptions, emit: super::Emit<'_>) {
    let mut jobs: Vec<(usize, PathBuf)> = Vec::new();
    let mut inventories: Vec<Inventory> = Vec::new();
    for (i, root) in paths.iter().enumerate() {
        let mut inv = Inventory::new(DeviceInfo::new(
            Platform::Files,
            SourceKind::Files,
            root.display().to_string(),
        ));
        inv.device.location = std::fs::canonicalize(root)
            .ok()
            .map(|p| p.display().to_string());
        let mut files = Vec::new();
        walk(root, &mut files, &mut inv.problems);
        if files.is_empty() && inv.problems.is_empty() {
            // Nothing was scanned: that is not a clean result.
            inv.problems.push(Problem::new(
                format!("path {}", root.display()),
                "no .apk or .ipa file found: nothing was scanned",
            ));
        }
        jobs.extend(files.into_iter().map(|f| (i, f)));
        inventories.push(inv);
    }
    let progress = Progress::new(
        "files",
        Some(jobs.len() as u64),
        opts.progress && jobs.len() > 20,
    );
    let started = std::time::Instant::now();
    let results: Vec<(usize, FileResult)> = jobs
        .par_iter()
        .map(|(i, f)| {
            let r = analyze_counted(f, opts.hash);
            progress.inc();
            (*i, r)
        })
        .collect();
    progress.finish();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    for inv in &mut inventories {
        inv.stats = Some(ScanStats {
            duration_ms,
            ..ScanStats::default()
        });
    }
    for (i, r) in results {
        if let Some(inv) = inventories.get_mut(i) {
            match r {
                Ok(scanned) => {
                    inv.apps.push(scanned.app);
                    inv.problems.extend(scanned.problems);
                    if let Some(s) = inv.stats.as_mut() {
                        s.bytes_transferred += scanned.bytes_read;
                    }
                }
                Err(p) => inv.problems.push(p),
            }
        }
    }
    for mut inv in inventories {
        inv.normalize();
        emit(inv);
    }
}
