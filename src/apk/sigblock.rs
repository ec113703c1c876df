//! The APK Signing Block: the block between the last entry's data and the central directory
//! that holds APK Signature Scheme v2, v3 and v3.1 signatures.
//!
//! Layout: `u64 size` (of what follows), ID-value pairs (`u64 len`, `u32 id`, value), `u64 size`
//! again, then the 16-byte magic `APK Sig Block 42`. Every v2/v3/v3.1 pair is read, including
//! an ID that occurs more than once (a signer-confusion trick: Android uses the first, a naive
//! reader the last; we report both), and every signer's certificates, plus the certificates of
//! a v3 proof-of-rotation lineage (signed-data attribute `0x3ba06f8c`). Signatures are not
//! verified: the certificates are what the block *claims*.

use super::cursor::{u64_at, Cursor};
use crate::model::CertScheme;

pub const V2_BLOCK_ID: u32 = 0x7109_871a;
pub const V3_BLOCK_ID: u32 = 0xf053_68c0;
pub const V31_BLOCK_ID: u32 = 0x1b93_ad61;
/// Additional attribute in v3 signed data holding the proof-of-rotation lineage.
pub const PROOF_OF_ROTATION_ATTR_ID: u32 = 0x3ba0_6f8c;
pub const MAGIC: &[u8; 16] = b"APK Sig Block 42";
/// `u64 size` + magic at the end of the block.
pub const FOOTER_LEN: usize = 24;
/// Smallest possible block: two sizes and the magic.
pub const MIN_BLOCK_LEN: u64 = 32;

/// Why the block as a whole could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigBlockError {
    #[error("signing block is shorter than its {MIN_BLOCK_LEN}-byte minimum ({len} bytes)")]
    TooShort { len: usize },
    #[error("signing block magic missing")]
    BadMagic,
}

/// One certificate found in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCert {
    pub scheme: CertScheme,
    pub der: Vec<u8>,
}

/// What the block holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningBlock {
    /// Pair IDs in file order.
    pub ids: Vec<u32>,
    /// Certificates in file order (signers, then each signer's lineage).
    pub certs: Vec<BlockCert>,
    /// Parts that could not be read.
    pub warnings: Vec<String>,
}

/// Reads the 24-byte footer: the block's size field when the magic is there. The whole block
/// is `size + 8` bytes and ends where the footer ends.
pub fn footer_size(footer: &[u8]) -> Option<u64> {
    if footer.len() != FOOTER_LEN || footer.get(8..24) != Some(&MAGIC[..]) {
        return None;
    }
    u64_at(footer, 0)
}

/// Parses a whole signing block (from its leading size field to the end of the magic).
pub fn parse_signing_block(block: &[u8]) -> Result<SigningBlock, SigBlockError> {
    if (block.len() as u64) < MIN_BLOCK_LEN {
        return Err(SigBlockError::TooShort { len: block.len() });
    }
    let magic_at = block.len() - MAGIC.len();
    if block.get(magic_at..) != Some(&MAGIC[..]) {
        return Err(SigBlockError::BadMagic);
    }
    let mut out = SigningBlock::default();
    let lead = u64_at(block, 0);
    let trail = u64_at(block, block.len() - FOOTER_LEN);
    if lead != trail {
        out.warnings.push(format!(
            "signing block size fields disagree ({} vs {})",
            lead.unwrap_or(0),
            trail.unwrap_or(0)
        ));
    }
    let pairs = block.get(8..block.len() - FOOTER_LEN).unwrap_or_default();
    let mut c = Cursor::new(pairs);
    let mut seen = Vec::new();
    while !c.is_empty() {
        let at = c.pos() + 8;
        let Some(len) = c.u64() else {
            out.warnings
                .push(format!("signing block pair at offset {at} is truncated"));
            break;
        };
        let value = usize::try_from(len)
            .ok()
            .filter(|l| *l >= 4 && *l <= c.remaining())
            .and_then(|l| c.take(l));
        let Some(value) = value else {
            out.warnings.push(format!(
                "signing block pair at offset {at} has an impossible length {len}"
            ));
            break;
        };
        let mut v = Cursor::new(value);
        let id = v.u32().unwrap_or(0);
        let body = v.take(v.remaining()).unwrap_or_default();
        out.ids.push(id);
        let scheme = match id {
            V2_BLOCK_ID => CertScheme::V2,
            V3_BLOCK_ID => CertScheme::V3,
            V31_BLOCK_ID => CertScheme::V31,
            _ => continue,
        };
        if seen.contains(&id) {
            out.warnings.push(format!(
                "signing block holds block 0x{id:08x} more than once; certificates of every copy are reported"
            ));
        }
        seen.push(id);
        if let Err(what) = parse_scheme_block(body, scheme, &mut out.certs) {
            out.warnings
                .push(format!("{} block: {what}", scheme_name(scheme)));
        }
    }
    Ok(out)
}

fn scheme_name(s: CertScheme) -> &'static str {
    match s {
        CertScheme::V1 => "v1",
        CertScheme::V2 => "v2",
        CertScheme::V3 => "v3",
        CertScheme::V31 => "v3.1",
        CertScheme::Lineage => "lineage",
    }
}

/// Reads the signers of one v2/v3/v3.1 block; certificates read before an error are kept.
fn parse_scheme_block(
    body: &[u8],
    scheme: CertScheme,
    certs: &mut Vec<BlockCert>,
) -> Result<(), String> {
    let mut outer = Cursor::new(body);
    let mut signers = Cursor::new(outer.u32_prefixed().ok_or("signer list truncated")?);
    let mut n = 0usize;
    while !signers.is_empty() {
        let signer = signers
            .u32_prefixed()
            .ok_or_else(|| format!("signer #{n} truncated"))?;
        parse_signer(signer, scheme, certs).map_err(|what| format!("signer #{n}: {what}"))?;
        n += 1;
    }
    if n == 0 {
        return Err("no signers".to_string());
    }
    Ok(())
}

fn parse_signer(
    signer: &[u8],
    scheme: CertScheme,
    certs: &mut Vec<BlockCert>,
) -> Result<(), &'static str> {
    let mut s = Cursor::new(signer);
    let mut sd = Cursor::new(s.u32_prefixed().ok_or("signed data truncated")?);
    let _digests = sd.u32_prefixed().ok_or("digests truncated")?;
    let mut list = Cursor::new(sd.u32_prefixed().ok_or("certificate list truncated")?);
    let mut any = false;
    while !list.is_empty() {
        let der = list.u32_prefixed().ok_or("certificate truncated")?;
        certs.push(BlockCert {
            scheme,
            der: der.to_vec(),
        });
        any = true;
    }
    if !any {
        return Err("no certificate");
    }
    if scheme == CertScheme::V2 {
        return Ok(());
    }
    // v3 / v3.1: minSdk, maxSdk, then additional attributes.
    let (Some(_min), Some(_max)) = (sd.u32(), sd.u32()) else {
        return Err("SDK range truncated");
    };
    let mut attrs = Cursor::new(sd.u32_prefixed().ok_or("attributes truncated")?);
    while !attrs.is_empty() {
        let mut attr = Cursor::new(attrs.u32_prefixed().ok_or("attribute truncated")?);
        if attr.u32() == Some(PROOF_OF_ROTATION_ATTR_ID) {
            parse_lineage(attr.take(attr.remaining()).unwrap_or_default(), certs)?;
        }
    }
    Ok(())
}

/// `u32 version`, then length-prefixed nodes up to the end of the value, each `signed data (cert, u32 algorithm)`, `u32
/// flags`, `u32 algorithm`, `signature`.
fn parse_lineage(value: &[u8], certs: &mut Vec<BlockCert>) -> Result<(), &'static str> {
    let mut c = Cursor::new(value);
    let _version = c.u32().ok_or("lineage truncated")?;
    while !c.is_empty() {
        let mut node = Cursor::new(c.u32_prefixed().ok_or("lineage node truncated")?);
        let mut signed = Cursor::new(node.u32_prefixed().ok_or("lineage node data truncated")?);
        let der = signed
            .u32_prefixed()
            .ok_or("lineage certificate truncated")?;
        certs.push(BlockCert {
            scheme: CertScheme::Lineage,
            der: der.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn lp(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }

    /// One signer's bytes for a v2 (`v3 = false`) or v3 block, with an optional lineage.
    pub(crate) fn signer(certs: &[&[u8]], v3: bool, lineage: &[&[u8]]) -> Vec<u8> {
        let mut sd = lp(&[]);
        sd.extend(lp(&certs.iter().flat_map(|c| lp(c)).collect::<Vec<_>>()));
        if v3 {
            sd.extend_from_slice(&24u32.to_le_bytes());
            sd.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
            let mut attrs = Vec::new();
            if !lineage.is_empty() {
                let mut nodes = Vec::new();
                for c in lineage {
                    let mut signed = lp(c);
                    signed.extend_from_slice(&0x0103u32.to_le_bytes());
                    let mut node = lp(&signed);
                    node.extend_from_slice(&3u32.to_le_bytes());
                    node.extend_from_slice(&0x0103u32.to_le_bytes());
                    node.extend(lp(b"sig"));
                    nodes.extend(lp(&node));
                }
                let mut value = PROOF_OF_ROTATION_ATTR_ID.to_le_bytes().to_vec();
                value.extend_from_slice(&1u32.to_le_bytes());
                value.extend(nodes);
                attrs.extend(lp(&value));
            }
            sd.extend(lp(&attrs));
        } else {
            sd.extend(lp(&[]));
        }
        let mut s = lp(&sd);
        if v3 {
            s.extend_from_slice(&24u32.to_le_bytes());
            s.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
        }
        s.extend(lp(b"signatures"));
        s.extend(lp(b"public key"));
        s
    }

    pub(crate) fn scheme_value(signers: &[Vec<u8>]) -> Vec<u8> {
        lp(&signers.iter().flat_map(|s| lp(s)).collect::<Vec<_>>())
    }

    /// A whole block from (id, value) pairs.
    pub(crate) fn block(pairs: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (id, v) in pairs {
            body.extend_from_slice(&((v.len() + 4) as u64).to_le_bytes());
            body.extend_from_slice(&id.to_le_bytes());
            body.extend_from_slice(v);
        }
        let size = (body.len() + 24) as u64;
        let mut out = size.to_le_bytes().to_vec();
        out.extend(body);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(MAGIC);
        out
    }

    #[test]
    fn reads_v2_v3_lineage_and_duplicates() {
        let v2 = scheme_value(&[signer(&[b"certA"], false, &[])]);
        let v3 = scheme_value(&[signer(&[b"certB"], true, &[b"certA", b"certB"])]);
        let decoy = scheme_value(&[signer(&[b"certC"], false, &[])]);
        let b = block(&[
            (V2_BLOCK_ID, v2),
            (V3_BLOCK_ID, v3),
            (0x4272_6577, vec![0; 100]),
            (V2_BLOCK_ID, decoy),
        ]);
        assert_eq!(footer_size(&b[b.len() - 24..]), Some(b.len() as u64 - 8));
        let sb = parse_signing_block(&b).unwrap();
        let got: Vec<(CertScheme, &[u8])> = sb
            .certs
            .iter()
            .map(|c| (c.scheme, c.der.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (CertScheme::V2, &b"certA"[..]),
                (CertScheme::V3, b"certB"),
                (CertScheme::Lineage, b"certA"),
                (CertScheme::Lineage, b"certB"),
                (CertScheme::V2, b"certC"),
            ]
        );
        assert_eq!(sb.warnings.len(), 1, "{:?}", sb.warnings);
    }

    #[test]
    fn v31_and_two_signers() {
        let v31 = scheme_value(&[signer(&[b"x"], true, &[]), signer(&[b"y"], true, &[])]);
        let sb = parse_signing_block(&block(&[(V31_BLOCK_ID, v31)])).unwrap();
        assert_eq!(sb.certs.len(), 2);
        assert!(sb.certs.iter().all(|c| c.scheme == CertScheme::V31));
    }

    #[test]
    fn corrupt_signer_keeps_other_blocks() {
        let mut bad = scheme_value(&[signer(&[b"x"], false, &[])]);
        bad.truncate(bad.len() - 5);
        let good = scheme_value(&[signer(&[b"z"], true, &[])]);
        let sb = parse_signing_block(&block(&[(V2_BLOCK_ID, bad), (V3_BLOCK_ID, good)])).unwrap();
        assert_eq!(sb.certs.last().unwrap().der, b"z");
        assert!(!sb.warnings.is_empty());
    }

    #[test]
    fn rejects_bad_blocks() {
        assert!(parse_signing_block(&[0; 10]).is_err());
        assert!(parse_signing_block(&[0; 40]).is_err());
        assert_eq!(footer_size(&[0; 24]), None);
        let mut b = block(&[]);
        // A pair length that lies.
        let mut lying = b[..8].to_vec();
        lying.extend_from_slice(&u64::MAX.to_le_bytes());
        lying.extend_from_slice(&b[8..]);
        assert!(!parse_signing_block(&lying).unwrap().warnings.is_empty());
        b[0] = 99;
        assert!(!parse_signing_block(&b).unwrap().warnings.is_empty());
    }
}
