//! The archive's frame: the end record (and ZIP64), the central directory (where the end
//! record says, or right before it when the archive was prefixed), and the APK Signing Block
//! right before the central directory.

use super::pass::{Got, Pass};
use super::{MAX_CD, MAX_SIGBLOCK, PRE_CD, TAIL_LEN};
use crate::apk::{sigblock, zip, ApkError, ByteRange};

/// Step 1: the end of central directory record (and the ZIP64 one it points to). `Ok(None)`:
/// waiting for bytes.
pub(super) fn end_record(
    pass: &mut Pass<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<zip::Eocd>, ApkError> {
    let flen = pass.st.len;
    let tail_off = flen.saturating_sub(TAIL_LEN);
    let tail = match pass.want(tail_off, flen - tail_off, None) {
        Got::Have(t) => t,
        Got::Pending => return Ok(None),
        Got::Missing => return Err(ApkError::NotZip("the end of the file could not be read")),
    };
    if flen < zip::EOCD_LEN as u64 {
        return Err(ApkError::NotZip(
            "shorter than an end of central directory record",
        ));
    }
    let mut eocd = zip::find_eocd(tail, tail_off, flen)
        .ok_or(ApkError::NotZip("no end of central directory record"))?;
    if let Some(rec) = eocd.zip64_record {
        match pass.want(rec, zip::ZIP64_EOCD_LEN as u64, None) {
            Got::Have(b) => {
                if let Err(what) = zip::apply_zip64(&mut eocd, b) {
                    if eocd.needs_zip64() {
                        return Err(ApkError::Corrupt { offset: rec, what });
                    }
                    warnings.push(format!("ZIP64 end record at offset {rec}: {what}"));
                }
            }
            Got::Pending => return Ok(None),
            Got::Missing => {
                if eocd.needs_zip64() {
                    return Err(ApkError::Corrupt {
                        offset: rec,
                        what: "ZIP64 end record is beyond the file",
                    });
                }
                warnings.push(format!("ZIP64 locator points beyond the file ({rec})"));
            }
        }
    }
    Ok(Some(eocd))
}

/// The central directory, where it was found.
pub(super) struct Located {
    /// Where the central directory starts.
    pub start: u64,
    /// How far every offset is from where the archive says (data before the archive).
    pub shift: u64,
    pub entries: Vec<zip::CdEntry>,
}

/// Step 2: the central directory. `Ok(None)`: waiting for bytes.
pub(super) fn central_directory(
    pass: &mut Pass<'_>,
    eocd: &zip::Eocd,
    warnings: &mut Vec<String>,
) -> Result<Option<Located>, ApkError> {
    if eocd.cd_size > MAX_CD {
        return Err(ApkError::Corrupt {
            offset: eocd.offset,
            what: "central directory larger than 64 MiB",
        });
    }
    let Some((cd_start, cd_bytes)) = locate_cd(pass, eocd, warnings)? else {
        return Ok(None);
    };
    let shift = cd_start.saturating_sub(eocd.cd_offset);
    if shift > 0 {
        warnings.push(format!(
            "central directory is {shift} bytes after where the end record says (data before the archive)"
        ));
    }
    if cd_start.saturating_add(eocd.cd_size) > eocd.offset {
        warnings.push(format!(
            "central directory (ends at {}) overlaps the end record (at {})",
            cd_start.saturating_add(eocd.cd_size),
            eocd.offset
        ));
    }
    let mut cd = zip::parse_central_directory(cd_bytes, cd_start, eocd.entries);
    warnings.append(&mut cd.warnings);
    Ok(Some(Located {
        start: cd_start,
        shift,
        entries: cd.entries,
    }))
}

/// Finds the central directory: where the end record says, or — when that is not a
/// central directory record — right before the end record (the archive was prefixed).
/// `Ok(None)` means "waiting for bytes".
fn locate_cd<'a>(
    pass: &mut Pass<'a>,
    eocd: &zip::Eocd,
    warnings: &mut Vec<String>,
) -> Result<Option<(u64, &'a [u8])>, ApkError> {
    let flen = pass.st.len;
    let size = eocd.cd_size;
    if size == 0 {
        return Ok(Some((eocd.cd_offset.min(eocd.offset), &[])));
    }
    let valid =
        |b: &[u8]| b.len() as u64 == size && b.get(..4) == Some(&zip::CDFH_SIG.to_le_bytes()[..]);
    let fetch = |pass: &mut Pass<'a>, off: u64| {
        let ask = ByteRange::new(
            off.saturating_sub(PRE_CD),
            size.saturating_add(off.min(PRE_CD)),
        );
        pass.want(off, size, Some(ask))
    };
    let stated = eocd.cd_offset;
    let alt = eocd.offset.checked_sub(size).filter(|a| *a > stated);
    let primary = if stated.saturating_add(size) <= flen {
        fetch(pass, stated)
    } else {
        Got::Missing
    };
    let primary = match primary {
        Got::Have(b) if valid(b) => return Ok(Some((stated, b))),
        Got::Pending => {
            // Ask for the other candidate in the same round: it costs nothing on a normal
            // archive (there is none) and saves a round on a prefixed one.
            if let Some(alt) = alt {
                let _ = fetch(pass, alt);
            }
            return Ok(None);
        }
        Got::Have(b) => Some(b),
        Got::Missing => None,
    };
    if let Some(alt) = alt {
        match fetch(pass, alt) {
            Got::Have(b) if valid(b) => return Ok(Some((alt, b))),
            Got::Pending => return Ok(None),
            _ => {}
        }
    }
    match primary {
        Some(b) => {
            warnings.push(format!("no central directory record at offset {stated}"));
            Ok(Some((stated, b)))
        }
        None => Err(ApkError::Corrupt {
            offset: stated,
            what: "central directory lies beyond the file",
        }),
    }
}

/// Step 3: reads the APK Signing Block before `cd_start`, if there is one. Returns the parsed block
/// and where it starts.
pub(super) fn signing_block(
    pass: &mut Pass<'_>,
    cd_start: u64,
    warnings: &mut Vec<String>,
) -> (Option<sigblock::SigningBlock>, Option<u64>) {
    let footer_len = sigblock::FOOTER_LEN as u64;
    if cd_start < sigblock::MIN_BLOCK_LEN {
        return (None, None);
    }
    let ask = ByteRange::new(cd_start.saturating_sub(PRE_CD), cd_start.min(PRE_CD));
    let footer = match pass.want(cd_start - footer_len, footer_len, Some(ask)) {
        Got::Have(f) => f,
        Got::Pending => return (None, None),
        Got::Missing => {
            warnings.push("the bytes before the central directory could not be read".to_string());
            return (None, None);
        }
    };
    let Some(size) = sigblock::footer_size(footer) else {
        return (None, None);
    };
    let total = size.saturating_add(8);
    if size < footer_len || total > cd_start {
        warnings.push(format!("APK Signing Block size {size} is impossible"));
        return (None, None);
    }
    if total > MAX_SIGBLOCK {
        warnings.push(format!(
            "APK Signing Block of {total} bytes is over the {MAX_SIGBLOCK}-byte limit; not read"
        ));
        return (None, Some(cd_start - total));
    }
    let start = cd_start - total;
    match pass.want(start, total, None) {
        Got::Have(b) => match sigblock::parse_signing_block(b) {
            Ok(block) => (Some(block), Some(start)),
            Err(e) => {
                warnings.push(format!("APK Signing Block at offset {start}: {e}"));
                (None, Some(start))
            }
        },
        Got::Pending => (None, Some(start)),
        Got::Missing => {
            warnings.push(format!(
                "APK Signing Block at offset {start} could not be read"
            ));
            (None, Some(start))
        }
    }
}
