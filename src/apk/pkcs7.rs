//! Certificates out of a PKCS#7 / CMS `SignedData` (a v1 JAR signature block,
//! `META-INF/*.RSA|DSA|EC`).
//!
//! A minimal BER/DER walker: single-byte tags, definite lengths of up to four bytes and
//! indefinite lengths (some old signing tools emit BER), every length checked against the bytes
//! left, nesting bounded. It extracts the `certificates [0] IMPLICIT SET OF Certificate` field and
//! returns each certificate's encoded bytes as found. Nothing is verified: these are the
//! certificates the block *claims*.

/// Why a signature block could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs7Error {
    #[error("truncated at offset {offset}")]
    Truncated { offset: usize },
    #[error("unsupported or invalid length encoding at offset {offset}")]
    BadLength { offset: usize },
    #[error("unsupported multi-byte tag at offset {offset}")]
    LongTag { offset: usize },
    #[error("nesting deeper than {MAX_DEPTH} levels at offset {offset}")]
    TooDeep { offset: usize },
    #[error("unexpected element at offset {offset}: {what}")]
    Unexpected { offset: usize, what: &'static str },
}

const MAX_DEPTH: u32 = 32;
/// `1.2.840.113549.1.7.2` (signedData), DER-encoded contents of the OID.
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_CONTEXT_0: u8 = 0xa0;

/// One element: its tag, where its contents are, and where it ends (all absolute offsets).
#[derive(Debug, Clone, Copy)]
struct Tlv {
    tag: u8,
    start: usize,
    content_start: usize,
    content_end: usize,
    end: usize,
}

fn read_tlv(buf: &[u8], pos: usize, depth: u32) -> Result<Tlv, Pkcs7Error> {
    if depth > MAX_DEPTH {
        return Err(Pkcs7Error::TooDeep { offset: pos });
    }
    let tag = *buf.get(pos).ok_or(Pkcs7Error::Truncated { offset: pos })?;
    if tag & 0x1f == 0x1f {
        return Err(Pkcs7Error::LongTag { offset: pos });
    }
    let lpos = pos + 1;
    let first = *buf
        .get(lpos)
        .ok_or(Pkcs7Error::Truncated { offset: lpos })?;
    let (len, content_start) = if first < 0x80 {
        (Some(usize::from(first)), lpos + 1)
    } else if first == 0x80 {
        if tag & 0x20 == 0 {
            return Err(Pkcs7Error::BadLength { offset: lpos });
        }
        (None, lpos + 1)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(Pkcs7Error::BadLength { offset: lpos });
        }
        let bytes = buf
            .get(lpos + 1..lpos + 1 + n)
            .ok_or(Pkcs7Error::Truncated { offset: lpos + 1 })?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (Some(len), lpos + 1 + n)
    };
    match len {
        Some(len) => {
            let end = content_start
                .checked_add(len)
                .filter(|e| *e <= buf.len())
                .ok_or(Pkcs7Error::Truncated { offset: pos })?;
            Ok(Tlv {
                tag,
                start: pos,
                content_start,
                content_end: end,
                end,
            })
        }
        None => {
            // Indefinite length: children until an end-of-contents marker (00 00).
            let mut p = content_start;
            loop {
                match buf.get(p..p + 2) {
                    None => return Err(Pkcs7Error::Truncated { offset: p }),
                    Some([0, 0]) => {
                        return Ok(Tlv {
                            tag,
                            start: pos,
                            content_start,
                            content_end: p,
                            end: p + 2,
                        })
                    }
                    Some(_) => p = read_tlv(buf, p, depth + 1)?.end,
                }
            }
        }
    }
}

/// The children of a constructed element.
fn children(buf: &[u8], parent: &Tlv, depth: u32) -> Result<Vec<Tlv>, Pkcs7Error> {
    let mut out = Vec::new();
    let mut p = parent.content_start;
    while p < parent.content_end {
        let t = read_tlv(buf, p, depth + 1)?;
        if t.end > parent.content_end {
            return Err(Pkcs7Error::Truncated { offset: p });
        }
        out.push(t);
        p = t.end;
    }
    Ok(out)
}

/// Every certificate in the `SignedData.certificates` field of a PKCS#7 `ContentInfo`, in
/// order, as the encoded bytes of each certificate. A block without certificates yields an
/// empty list.
pub fn certificates(der: &[u8]) -> Result<Vec<&[u8]>, Pkcs7Error> {
    let outer = read_tlv(der, 0, 0)?;
    if outer.tag != TAG_SEQUENCE {
        return Err(Pkcs7Error::Unexpected {
            offset: 0,
            what: "ContentInfo is not a SEQUENCE",
        });
    }
    let ci = children(der, &outer, 0)?;
    let oid = ci.first().ok_or(Pkcs7Error::Unexpected {
        offset: outer.content_start,
        what: "empty ContentInfo",
    })?;
    if oid.tag != TAG_OID || der.get(oid.content_start..oid.content_end) != Some(OID_SIGNED_DATA) {
        return Err(Pkcs7Error::Unexpected {
            offset: oid.start,
            what: "content type is not signedData",
        });
    }
    let explicit = ci
        .get(1)
        .filter(|t| t.tag == TAG_CONTEXT_0)
        .ok_or(Pkcs7Error::Unexpected {
            offset: oid.end,
            what: "no [0] content in ContentInfo",
        })?;
    let sd = children(der, explicit, 1)?
        .into_iter()
        .next()
        .filter(|t| t.tag == TAG_SEQUENCE)
        .ok_or(Pkcs7Error::Unexpected {
            offset: explicit.content_start,
            what: "SignedData is not a SEQUENCE",
        })?;
    let fields = children(der, &sd, 2)?;
    // version, digestAlgorithms, encapContentInfo, then the optional [0] certificates.
    let Some(certs) = fields.iter().skip(3).find(|t| t.tag == TAG_CONTEXT_0) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for c in children(der, certs, 3)? {
        if c.tag == TAG_SEQUENCE {
            if let Some(bytes) = der.get(c.start..c.end) {
                out.push(bytes);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend_from_slice(&[0x81, n as u8]);
        } else {
            v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(content);
        v
    }

    /// A SignedData ContentInfo holding `certs` (each already a SEQUENCE).
    pub(crate) fn signed_data(certs: &[Vec<u8>]) -> Vec<u8> {
        let version = tlv(0x02, &[1]);
        let digest_algs = tlv(0x31, &[]);
        let encap = tlv(
            0x30,
            &tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
            ),
        );
        let cert_set = tlv(0xa0, &certs.concat());
        let signer_infos = tlv(0x31, &[]);
        let sd = tlv(
            0x30,
            &[version, digest_algs, encap, cert_set, signer_infos].concat(),
        );
        tlv(0x30, &[tlv(0x06, OID_SIGNED_DATA), tlv(0xa0, &sd)].concat())
    }

    pub(crate) fn fake_cert(n: u8) -> Vec<u8> {
        tlv(0x30, &tlv(0x04, &vec![n; 40 + usize::from(n)]))
    }

    #[test]
    fn extracts_all_certificates() {
        let certs = vec![fake_cert(1), fake_cert(2), fake_cert(200)];
        let der = signed_data(&certs);
        let got = certificates(&der).unwrap();
        assert_eq!(got, certs.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn indefinite_lengths_are_walked() {
        let cert = fake_cert(3);
        let mut sd = vec![0x30, 0x80];
        sd.extend_from_slice(&tlv(0x02, &[1]));
        sd.extend_from_slice(&tlv(0x31, &[]));
        sd.extend_from_slice(&tlv(0x30, &tlv(0x06, &[1])));
        sd.extend_from_slice(&[0xa0, 0x80]);
        sd.extend_from_slice(&cert);
        sd.extend_from_slice(&[0, 0]);
        sd.extend_from_slice(&tlv(0x31, &[]));
        sd.extend_from_slice(&[0, 0]);
        let mut ci = vec![0x30, 0x80];
        ci.extend_from_slice(&tlv(0x06, OID_SIGNED_DATA));
        ci.extend_from_slice(&[0xa0, 0x80]);
        ci.extend_from_slice(&sd);
        ci.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(certificates(&ci).unwrap(), vec![cert.as_slice()]);
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let der = signed_data(&[fake_cert(1)]);
        for cut in 0..der.len() {
            assert!(certificates(&der[..cut]).is_err(), "cut {cut}");
        }
        assert!(certificates(b"not der at all").is_err());
        // Lying long length.
        assert!(certificates(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        // Deep nesting of indefinite lengths stops at the bound.
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 100).flatten().collect();
        assert!(certificates(&deep).is_err());
    }

    #[test]
    fn no_certificates_is_empty() {
        assert!(certificates(&signed_data(&[])).unwrap().is_empty());
    }
}
