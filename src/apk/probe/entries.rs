//! Zip entries the probe reads (step 4): which names are v1 signature blocks and native
//! libraries, reading one entry (local header, then data) through a [`Pass`], and reading the
//! manifest and the signature blocks of an archive.

use super::archive::Located;
use super::pass::{Got, Pass};
use super::{
    LOCAL_SLACK, MANIFEST_NAME, MAX_MANIFEST, MAX_MANIFEST_COMPRESSED, MAX_SIGFILE, MAX_SIGFILES,
    MAX_UNKNOWN_SIZE,
};
use crate::apk::{zip, ByteRange};

/// `META-INF/<name>.RSA|DSA|EC` directly under META-INF (any case), as the JAR signing scheme.
pub(super) fn is_v1_signature_block(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b"META-INF/") else {
        return false;
    };
    if rest.contains(&b'/') {
        return false;
    }
    let upper = rest.to_ascii_uppercase();
    [&b".RSA"[..], b".DSA", b".EC"]
        .iter()
        .any(|ext| upper.ends_with(ext) && upper.len() > ext.len())
}

/// `lib/<abi>/<name>.so` → `<name>.so`.
pub(super) fn native_lib_name(name: &[u8]) -> Option<String> {
    let rest = name.strip_prefix(b"lib/")?;
    let mut parts = rest.split(|b| *b == b'/');
    let abi = parts.next()?;
    let file = parts.next()?;
    if abi.is_empty() || parts.next().is_some() || !file.ends_with(b".so") || file.len() <= 3 {
        return None;
    }
    Some(String::from_utf8_lossy(file).into_owned())
}

/// How reading one entry went.
pub(super) enum EntryRead {
    Data(Vec<u8>),
    Pending,
    Failed(String),
}

/// Reads and decodes one entry: local header, then data (sizes from the central directory, the
/// local header if the central directory says 0, else up to the next entry).
pub(super) fn read_entry(
    pass: &mut Pass<'_>,
    e: &zip::CdEntry,
    shift: u64,
    boundary: u64,
    max_comp: u64,
    max_out: usize,
    warnings: &mut Vec<String>,
) -> EntryRead {
    let name = e.name_lossy();
    let Some(lho) = e.local_offset.checked_add(shift) else {
        return EntryRead::Failed(format!("{name}: local header offset overflows"));
    };
    if e.comp_size > max_comp {
        return EntryRead::Failed(format!(
            "{name}: compressed size {} is over the {max_comp}-byte limit",
            e.comp_size
        ));
    }
    let unknown_len = |start: u64| {
        let end = if boundary > start {
            boundary
        } else {
            pass.st.len
        };
        end.saturating_sub(start).min(MAX_UNKNOWN_SIZE)
    };
    let est = if e.comp_size > 0 {
        e.comp_size
    } else {
        unknown_len(lho)
    };
    let ask_len = (zip::LFH_LEN as u64)
        .saturating_add(u64::from(e.name_len))
        .saturating_add(u64::from(e.extra_len))
        .saturating_add(est)
        .saturating_add(LOCAL_SLACK);
    let header = match pass.want(lho, zip::LFH_LEN as u64, Some(ByteRange::new(lho, ask_len))) {
        Got::Have(h) => h,
        Got::Pending => return EntryRead::Pending,
        Got::Missing => {
            return EntryRead::Failed(format!(
                "{name}: local header at offset {lho} is beyond the file"
            ))
        }
    };
    let lh = match zip::parse_local_header(header) {
        Ok(lh) => lh,
        Err(w) => return EntryRead::Failed(format!("{name}: {w} at offset {lho}")),
    };
    let data_start = lho.saturating_add(lh.data_offset());
    let size = if e.comp_size > 0 {
        e.comp_size
    } else if lh.comp_size > 0 && lh.comp_size <= max_comp {
        lh.comp_size
    } else {
        unknown_len(data_start)
    };
    let data = match pass.want(data_start, size, None) {
        Got::Have(d) => d,
        Got::Pending => return EntryRead::Pending,
        Got::Missing => {
            return EntryRead::Failed(format!(
                "{name}: data at offset {data_start} is beyond the file"
            ))
        }
    };
    if (data.len() as u64) < size {
        warnings.push(format!("{name}: data cut short by the end of the file"));
    }
    match zip::decode_entry(e.method, data, e.uncomp_size, max_out) {
        Ok((out, note)) => {
            if let Some(note) = note {
                warnings.push(format!("{name}: {note}"));
            }
            EntryRead::Data(out)
        }
        Err(w) => EntryRead::Failed(format!("{name}: {w}")),
    }
}

/// What step 4 read: the manifest entry and the v1 signature block entries.
pub(super) struct Reads {
    /// The first entry named `AndroidManifest.xml` (`None`: there is none).
    pub manifest: Option<EntryRead>,
    /// Where that entry's local header is, for an error that names it.
    pub manifest_offset: u64,
    /// (entry name, what reading it gave) of each v1 signature block read.
    pub sigs: Vec<(String, EntryRead)>,
}

impl Reads {
    /// Whether an entry still waits for bytes.
    pub fn pending(&self) -> bool {
        matches!(self.manifest, Some(EntryRead::Pending))
            || self
                .sigs
                .iter()
                .any(|(_, r)| matches!(r, EntryRead::Pending))
    }
}

/// Step 4: the manifest and the v1 signature blocks, each read up to the next entry (or the
/// signing block, or the central directory) when its size is not known.
pub(super) fn read_entries(
    pass: &mut Pass<'_>,
    cd: &Located,
    block_start: Option<u64>,
    warnings: &mut Vec<String>,
) -> Reads {
    let shift = cd.shift;
    let mut starts: Vec<u64> = cd
        .entries
        .iter()
        .filter_map(|e| e.local_offset.checked_add(shift))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let end_of_data = block_start.unwrap_or(cd.start);
    let boundary = |lho: u64| {
        starts
            .iter()
            .copied()
            .find(|s| *s > lho)
            .unwrap_or(end_of_data)
            .min(if end_of_data > lho {
                end_of_data
            } else {
                u64::MAX
            })
    };
    let manifests: Vec<&zip::CdEntry> = cd
        .entries
        .iter()
        .filter(|e| e.name == MANIFEST_NAME)
        .collect();
    if manifests.len() > 1 {
        warnings.push(format!(
            "{} entries are named AndroidManifest.xml; read the first",
            manifests.len()
        ));
    }
    let manifest_read = manifests.first().map(|e| {
        let lho = e.local_offset.saturating_add(shift);
        read_entry(
            pass,
            e,
            shift,
            boundary(lho),
            MAX_MANIFEST_COMPRESSED,
            MAX_MANIFEST,
            warnings,
        )
    });
    let sig_entries: Vec<&zip::CdEntry> = cd
        .entries
        .iter()
        .filter(|e| is_v1_signature_block(&e.name))
        .collect();
    if sig_entries.len() > MAX_SIGFILES {
        warnings.push(format!(
            "{} v1 signature block files; read the first {MAX_SIGFILES}",
            sig_entries.len()
        ));
    }
    let mut sig_reads = Vec::new();
    for e in sig_entries.iter().take(MAX_SIGFILES) {
        let lho = e.local_offset.saturating_add(shift);
        let r = read_entry(
            pass,
            e,
            shift,
            boundary(lho),
            MAX_SIGFILE,
            MAX_SIGFILE as usize,
            warnings,
        );
        sig_reads.push((e.name_lossy(), r));
    }

    Reads {
        manifest: manifest_read,
        manifest_offset: manifests
            .first()
            .map_or(0, |e| e.local_offset.saturating_add(shift)),
        sigs: sig_reads,
    }
}
