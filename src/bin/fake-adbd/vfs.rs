//! The phone's read-only file system, built from the scenario: the APKs (bytes from local files,
//! inline text or deterministic junk) and their directories.

use crate::scenario::{parse_time, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a served file's bytes come from.
#[derive(Debug)]
pub enum Content {
    /// `junk` pseudo-random bytes, then the local file's bytes (if any).
    Composite {
        junk: u64,
        file: Option<(PathBuf, u64)>,
    },
    Inline(Vec<u8>),
}

#[derive(Debug)]
pub struct FileSrc {
    pub path: String,
    pub size: u64,
    pub mtime: u64,
    pub seed: u64,
    pub content: Content,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fills `buf` with the deterministic junk bytes at absolute offset `off` of a stream.
fn fill_junk(seed: u64, off: u64, buf: &mut [u8]) {
    let mut pos = off;
    let mut i = 0usize;
    while i < buf.len() {
        let word = splitmix64(seed ^ (pos / 8).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let bytes = word.to_le_bytes();
        let start = (pos % 8) as usize;
        let take = (8 - start).min(buf.len() - i);
        if let (Some(dst), Some(src)) = (buf.get_mut(i..i + take), bytes.get(start..start + take)) {
            dst.copy_from_slice(src);
        }
        i += take;
        pos += take as u64;
    }
}

/// A reader positioned over a range of a served file.
pub struct RangeReader<'a> {
    src: &'a FileSrc,
    pos: u64,
    end: u64,
    file: Option<File>,
}

impl FileSrc {
    /// Streams the bytes `[start, start+len)` (clamped to the file) through `f` in blocks.
    pub fn for_each_block(
        &self,
        start: u64,
        len: u64,
        block: usize,
        mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut r = self.reader(start, len);
        let mut buf = vec![0u8; block.max(1)];
        loop {
            let n = r.read_some(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            f(buf.get(..n).unwrap_or(&[]))?;
        }
    }

    pub fn reader(&self, start: u64, len: u64) -> RangeReader<'_> {
        let start = start.min(self.size);
        let end = start.saturating_add(len).min(self.size);
        RangeReader {
            src: self,
            pos: start,
            end,
            file: None,
        }
    }

    pub fn read_range(&self, start: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.for_each_block(start, len, 64 * 1024, |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        Ok(out)
    }
}

impl RangeReader<'_> {
    /// Reads up to `buf.len()` bytes; 0 at the end of the range.
    pub fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.end {
            return Ok(0);
        }
        let want = usize::try_from(self.end - self.pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let dst = match buf.get_mut(..want) {
            Some(d) => d,
            None => return Ok(0),
        };
        let n = match &self.src.content {
            Content::Inline(bytes) => {
                let from = usize::try_from(self.pos).unwrap_or(usize::MAX);
                let src = bytes.get(from..from.saturating_add(want)).unwrap_or(&[]);
                let n = src.len().min(dst.len());
                if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                    d.copy_from_slice(s);
                }
                n
            }
            Content::Composite { junk, file } => {
                if self.pos < *junk {
                    let n = usize::try_from(*junk - self.pos)
                        .unwrap_or(usize::MAX)
                        .min(dst.len());
                    if let Some(d) = dst.get_mut(..n) {
                        fill_junk(self.src.seed, self.pos, d);
                    }
                    n
                } else if let Some((path, _)) = file {
                    if self.file.is_none() {
                        let mut f = File::open(path)?;
                        f.seek(SeekFrom::Start(self.pos - *junk))?;
                        self.file = Some(f);
                    }
                    match self.file.as_mut() {
                        Some(f) => {
                            let n = f.read(dst)?;
                            if n == 0 {
                                return Err(std::io::Error::new(
                                    std::io::ErrorKind::UnexpectedEof,
                                    format!("{} shrank while serving", path.display()),
                                ));
                            }
                            n
                        }
                        None => 0,
                    }
                } else {
                    0
                }
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// Read-only view of the phone's files: the APKs of the scenario and their directories.
#[derive(Debug, Default)]
pub struct Vfs {
    pub files: BTreeMap<String, Arc<FileSrc>>,
    pub dirs: BTreeSet<String>,
}

#[derive(Debug)]
pub enum Node<'a> {
    File(&'a Arc<FileSrc>),
    Dir,
}

impl Vfs {
    pub fn build(sc: &Scenario) -> Result<Vfs, String> {
        let mut vfs = Vfs::default();
        for d in [
            "/",
            "/data",
            "/data/app",
            "/system",
            "/system/app",
            "/system/priv-app",
            "/sdcard",
            "/data/local/tmp",
        ] {
            vfs.dirs.insert(d.to_string());
        }
        // Archived packages and packages uninstalled with their data kept have no APK files.
        for p in sc.packages.iter().filter(|p| p.has_code()) {
            let mtime = p
                .last_update
                .as_deref()
                .and_then(parse_time)
                .unwrap_or(if p.system {
                    1_230_768_000
                } else {
                    1_704_067_200
                });
            for a in &p.apks {
                if !a.path.starts_with('/') {
                    return Err(format!(
                        "apk path {:?} of {} is not absolute",
                        a.path, p.name
                    ));
                }
                let content = if let Some(text) = &a.content {
                    Content::Inline(text.as_bytes().to_vec())
                } else {
                    let file = match &a.file {
                        Some(f) => {
                            let meta = std::fs::metadata(f).map_err(|e| {
                                format!("apk file {} of {}: {e}", f.display(), p.name)
                            })?;
                            Some((f.clone(), meta.len()))
                        }
                        None => None,
                    };
                    let fsize = file.as_ref().map(|(_, s)| *s).unwrap_or(0);
                    let mut junk = a.prefix_junk.unwrap_or(0);
                    if let Some(total) = a.synthetic_size {
                        junk = junk.max(total.saturating_sub(fsize));
                    }
                    Content::Composite { junk, file }
                };
                let size = match &content {
                    Content::Inline(b) => b.len() as u64,
                    Content::Composite { junk, file } => {
                        junk + file.as_ref().map(|(_, s)| *s).unwrap_or(0)
                    }
                };
                let src = FileSrc {
                    path: a.path.clone(),
                    size,
                    mtime,
                    seed: fnv1a(&a.path),
                    content,
                };
                let mut dir = parent(&a.path);
                while let Some(d) = dir {
                    vfs.dirs.insert(d.to_string());
                    dir = parent(d);
                }
                vfs.files.insert(a.path.clone(), Arc::new(src));
            }
        }
        Ok(vfs)
    }

    pub fn lookup(&self, path: &str) -> Option<Node<'_>> {
        let p = normalise_path(path);
        if let Some(f) = self.files.get(&p) {
            return Some(Node::File(f));
        }
        if self.dirs.contains(&p) {
            return Some(Node::Dir);
        }
        None
    }

    /// Direct children of a directory: (name, node) sorted by name.
    pub fn children(&self, dir: &str) -> Vec<(String, Node<'_>)> {
        let d = normalise_path(dir);
        let prefix = if d == "/" {
            "/".to_string()
        } else {
            format!("{d}/")
        };
        let mut out = Vec::new();
        for sub in self.dirs.range(prefix.clone()..) {
            let Some(rest) = sub.strip_prefix(&prefix) else {
                break;
            };
            if !rest.is_empty() && !rest.contains('/') {
                out.push((rest.to_string(), Node::Dir));
            }
        }
        for (path, f) in self.files.range(prefix.clone()..) {
            let Some(rest) = path.strip_prefix(&prefix) else {
                break;
            };
            if !rest.is_empty() && !rest.contains('/') {
                out.push((rest.to_string(), Node::File(f)));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

pub fn parent(path: &str) -> Option<&str> {
    if path == "/" || path.is_empty() {
        return None;
    }
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => trimmed.get(..i),
        None => None,
    }
}

pub fn normalise_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}
