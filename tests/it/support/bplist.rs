//! Binary plists written object by object, for the hostile shapes the `plist` crate's writer
//! never produces: objects shared over and over, chains nested thousands deep, references out of
//! range. Each object is given as its encoded bytes (marker, length, references or payload); the
//! first object is the top one.

/// A binary plist of `objects`: top object 0, `ref_size`-byte references, 4-byte offsets.
pub fn bplist_with_refs(objects: &[Vec<u8>], ref_size: u8) -> Vec<u8> {
    let mut bin = b"bplist00".to_vec();
    let mut offsets = Vec::new();
    for o in objects {
        offsets.push(u32::try_from(bin.len()).unwrap());
        bin.extend_from_slice(o);
    }
    let table = bin.len() as u64;
    for o in offsets {
        bin.extend_from_slice(&o.to_be_bytes());
    }
    bin.extend_from_slice(&[0, 0, 0, 0, 0, 0, 4, ref_size]);
    bin.extend_from_slice(&(objects.len() as u64).to_be_bytes());
    bin.extend_from_slice(&0u64.to_be_bytes());
    bin.extend_from_slice(&table.to_be_bytes());
    bin
}

/// A binary plist of `objects` with 1-byte references (up to 256 objects).
pub fn bplist(objects: &[Vec<u8>]) -> Vec<u8> {
    bplist_with_refs(objects, 1)
}

/// An ASCII string object.
pub fn ascii(s: &str) -> Vec<u8> {
    let n = u8::try_from(s.len()).unwrap();
    if n < 15 {
        [&[0x50 | n][..], s.as_bytes()].concat()
    } else {
        [&[0x5F, 0x10, n][..], s.as_bytes()].concat()
    }
}

/// `n` arrays, each holding the next one (4-byte references): nested `n` deep.
pub fn chain(n: u32) -> Vec<u8> {
    let objects: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            if i + 1 < n {
                [&[0xA1][..], &(i + 1).to_be_bytes()].concat()
            } else {
                vec![0xA0]
            }
        })
        .collect();
    bplist_with_refs(&objects, 4)
}
