//! Step 5: what was read becomes a [`Fingerprint`]: certificates from the signing block and
//! the v1 signature blocks, native library names from the central directory, the manifest's
//! fields, and every warning met on the way.

use super::entries::{native_lib_name, EntryRead, Reads};
use crate::apk::{axml, pkcs7, sigblock, zip, ApkError, Fingerprint};
use crate::model::{CertScheme, Certificate, Sha256};

/// The fingerprint of what was read. Without a readable manifest it is an error, unless
/// certificates or native libraries were found (then the error is a warning).
pub(super) fn fingerprint(
    block: Option<sigblock::SigningBlock>,
    reads: Reads,
    entries: &[zip::CdEntry],
    mut warnings: Vec<String>,
) -> Result<Fingerprint, ApkError> {
    let mut certs = Vec::new();
    if let Some(block) = block {
        for c in block.certs {
            certs.push(Certificate {
                sha256: Sha256::of(&c.der),
                scheme: c.scheme,
                entry: None,
            });
        }
        warnings.extend(
            block
                .warnings
                .into_iter()
                .map(|w| format!("APK Signing Block: {w}")),
        );
    }
    for (name, r) in reads.sigs {
        match r {
            EntryRead::Data(d) => match pkcs7::certificates(&d) {
                Ok(list) => {
                    if list.is_empty() {
                        warnings.push(format!("{name}: signature block holds no certificate"));
                    }
                    for der in list {
                        certs.push(Certificate {
                            sha256: Sha256::of(der),
                            scheme: CertScheme::V1,
                            entry: Some(name.clone()),
                        });
                    }
                }
                Err(e) => warnings.push(format!("{name}: unreadable PKCS#7: {e}")),
            },
            EntryRead::Failed(w) => warnings.push(w),
            EntryRead::Pending => {}
        }
    }
    certs.sort();
    certs.dedup();

    let mut libs: Vec<String> = entries
        .iter()
        .filter_map(|e| native_lib_name(&e.name))
        .collect();
    libs.sort();
    libs.dedup();

    // The manifest's fields, then what the rest of the archive says.
    let mut info = Fingerprint::default();
    let manifest_error = match reads.manifest {
        None => Some(ApkError::NoManifest),
        Some(EntryRead::Data(d)) => match axml::parse_manifest(&d) {
            Ok(mut m) => {
                warnings.extend(
                    std::mem::take(&mut m.warnings)
                        .into_iter()
                        .map(|w| format!("AndroidManifest.xml: {w}")),
                );
                info = m;
                if info.package.is_none() {
                    warnings.push("AndroidManifest.xml: no package name".to_string());
                }
                None
            }
            Err(e) => Some(ApkError::Manifest(e)),
        },
        Some(EntryRead::Failed(w)) => {
            warnings.push(w);
            Some(ApkError::Corrupt {
                offset: reads.manifest_offset,
                what: "AndroidManifest.xml entry unreadable",
            })
        }
        Some(EntryRead::Pending) => None,
    };
    info.certificates = certs;
    info.native_libs = libs;
    if let Some(err) = manifest_error {
        if info.certificates.is_empty() && info.native_libs.is_empty() {
            return Err(err);
        }
        if matches!(err, ApkError::Manifest(axml::AxmlError::OverBudget { .. })) {
            info.partial = Some(err.to_string());
        }
        warnings.push(format!("no manifest data: {err}"));
    }
    info.warnings = warnings;
    Ok(info)
}
