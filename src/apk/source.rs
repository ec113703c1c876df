//! Random-access byte sources: a local file, bytes in memory, later ranges read on a phone.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A range of bytes in a source. Ranges past the end are clamped by the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteRange {
    pub offset: u64,
    pub len: u64,
}

impl ByteRange {
    pub fn new(offset: u64, len: u64) -> Self {
        Self { offset, len }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Remote(String),
    /// Not a regular file, or not openable.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
}

/// Random access to the bytes of one file.
pub trait ByteSource: Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads each range (clamped to the end of the source), in order. Remote sources batch them.
    fn read_ranges(&self, ranges: &[ByteRange]) -> Result<Vec<Vec<u8>>, SourceError>;
}

/// Bytes held in memory.
pub struct SliceSource<'a>(pub &'a [u8]);

impl ByteSource for SliceSource<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_ranges(&self, ranges: &[ByteRange]) -> Result<Vec<Vec<u8>>, SourceError> {
        Ok(ranges
            .iter()
            .map(|r| {
                let start = usize::try_from(r.offset)
                    .unwrap_or(usize::MAX)
                    .min(self.0.len());
                let end = start
                    .saturating_add(usize::try_from(r.len).unwrap_or(usize::MAX))
                    .min(self.0.len());
                self.0.get(start..end).unwrap_or_default().to_vec()
            })
            .collect())
    }
}

/// A local file, read with positioned reads.
pub struct FileSource {
    path: PathBuf,
    file: File,
    len: u64,
}

impl FileSource {
    /// Opens a regular file (a FIFO or device is refused without blocking, as for every input).
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = crate::input::open_regular(path, "APK")?;
        Self::from_file(path, file)
    }

    /// Reads an already opened file (`path` is for messages).
    pub fn from_file(path: &Path, file: File) -> Result<Self, SourceError> {
        let len = file
            .metadata()
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len,
        })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_ranges(&self, ranges: &[ByteRange]) -> Result<Vec<Vec<u8>>, SourceError> {
        use std::os::unix::fs::FileExt;
        ranges
            .iter()
            .map(|r| {
                let start = r.offset.min(self.len);
                let len = r.len.min(self.len - start);
                let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
                self.file
                    .read_exact_at(&mut buf, start)
                    .map_err(|source| SourceError::Io {
                        path: self.path.clone(),
                        source,
                    })?;
                Ok(buf)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.apk");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let e = FileSource::open(&fifo).err().unwrap();
        assert!(
            e.to_string().contains("is not a regular file (a FIFO)"),
            "{e}"
        );
    }
}
