//! APK fingerprinting over a random-access byte source.
//!
//! Reads only what it needs: the zip end records and central directory, the APK Signing Block
//! (v2, v3, v3.1 and the v3 rotation lineage), the v1 JAR signature blocks
//! (`META-INF/*.RSA|DSA|EC`, every certificate in every PKCS#7), the binary `AndroidManifest.xml`,
//! and the names of native libraries (`lib/<abi>/*.so`). Certificates are *extracted*, never
//! verified: a certificate here is a claimed signer.
//!
//! The work is a resumable [`ApkProbe`]: it says which byte ranges it wants next and is fed them,
//! so a caller can batch the reads of many APKs into one round trip (the adb source reads ranges
//! on the phone for hundreds of APKs in a few shell commands). [`analyze`] drives a probe over a
//! local [`ByteSource`].
//!
//! Signers are CLAIMED, not verified: no signature, digest or lineage link is checked. A
//! certificate in the output means "this APK carries this certificate in that place", which is
//! what identifies a publisher's build; it does not prove the APK was signed by its key.
//!
//! The result is a [`Fingerprint`] (`fingerprint`): the one shape of what an APK says about
//! itself, which the adb cache stores as is and which fills an app record.
//!
//! Parsers, each in its own module and usable on their own (tests, fuzzing): [`axml`] (binary
//! manifest), [`sigblock`] (APK Signing Block), [`pkcs7`] (v1 signature block certificates), and
//! the internal `zip` reader.
//!
//! The folder also holds: `fingerprint` (the [`Fingerprint`] type), `probe` (the state machine
//! that decides what to read next), `source` (random-access byte sources), `cursor` (a
//! bounds-checked reader the parsers share) and `proptests` (never-panic property tests).

pub mod axml;
mod cursor;
mod fingerprint;
pub mod pkcs7;
pub mod sigblock;
pub mod source;
mod zip;

#[cfg(test)]
mod proptests;

pub use source::{ByteRange, ByteSource, FileSource, SliceSource, SourceError};

pub use fingerprint::Fingerprint;

/// Why an APK could not be fingerprinted at all.
#[derive(Debug, thiserror::Error)]
pub enum ApkError {
    #[error("not a zip archive: {0}")]
    NotZip(&'static str),
    #[error("zip structure is corrupt at offset {offset}: {what}")]
    Corrupt { offset: u64, what: &'static str },
    #[error("no AndroidManifest.xml in the archive")]
    NoManifest,
    #[error("binary AndroidManifest.xml: {0}")]
    Manifest(#[from] axml::AxmlError),
    #[error("reading the file failed: {0}")]
    Io(#[from] SourceError),
    /// The probe was driven wrongly (fed after it finished, or a wrong number of buffers).
    #[error("APK probe misuse: {0}")]
    Protocol(&'static str),
}

/// One step of a resumable probe.
#[derive(Debug)]
pub enum Step {
    /// Read these ranges (clamped to the file) and feed them back, in order.
    Need(Vec<ByteRange>),
    /// Finished.
    Done(Box<Fingerprint>),
}

/// A resumable APK analysis: `let mut step = probe.start(); loop { match step { Need(r) => step =
/// probe.feed(read(r))?, Done(info) => break } }`.
#[derive(Debug)]
pub struct ApkProbe {
    inner: probe::State,
}

mod probe;

impl ApkProbe {
    /// A probe for a file of `len` bytes.
    pub fn new(len: u64) -> Self {
        Self {
            inner: probe::State::new(len),
        }
    }

    /// The first ranges to read.
    pub fn start(&mut self) -> Step {
        self.inner.start()
    }

    /// Feeds the bytes of the ranges last asked for, in the same order.
    pub fn feed(&mut self, data: Vec<Vec<u8>>) -> Result<Step, ApkError> {
        self.inner.feed(data)
    }
}

/// Fingerprints the APK behind `src`, reading only the ranges the probe asks for.
pub fn analyze(src: &dyn ByteSource) -> Result<Fingerprint, ApkError> {
    let mut probe = ApkProbe::new(src.len());
    let mut step = probe.start();
    let mut bytes_read = 0u64;
    loop {
        match step {
            Step::Done(mut info) => {
                info.bytes_read = bytes_read;
                return Ok(*info);
            }
            Step::Need(ranges) => {
                let data = src.read_ranges(&ranges)?;
                bytes_read += data.iter().map(|d| d.len() as u64).sum::<u64>();
                step = probe.feed(data)?;
            }
        }
    }
}
