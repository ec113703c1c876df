//! The limits checked before a plist is built: nesting depth, values and bytes of strings and
//! data once expanded. A binary plist's object graph is walked without recursion (each object
//! once, its height and expanded sizes memoised); an XML plist's elements are counted.

use super::PlistError;

/// What an object of a binary plist is, for the expansion walk.
enum Object {
    /// A container: first reference position and number of references.
    Container(usize, usize),
    /// Anything else, with the bytes it becomes once built (strings and data; 0 for others).
    Leaf(u64),
}

fn uint(b: &[u8], at: usize, size: usize) -> Option<u64> {
    if size == 0 || size > 8 {
        return None;
    }
    let bytes = b.get(at..at.checked_add(size)?)?;
    Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

fn bad(what: &'static str) -> PlistError {
    PlistError::Malformed(what)
}

/// A binary plist's trailer and offset table: enough to find any object and its references.
struct Objects<'a> {
    b: &'a [u8],
    off_size: usize,
    ref_size: usize,
    count: usize,
    table: usize,
}

impl<'a> Objects<'a> {
    /// Reads the trailer; returns the table and the top object.
    fn open(b: &'a [u8]) -> Result<(Self, usize), PlistError> {
        let t = b
            .len()
            .checked_sub(32)
            .ok_or(bad("binary plist shorter than its trailer"))?;
        let off_size = usize::from(*b.get(t + 6).ok_or(bad("trailer"))?);
        let ref_size = usize::from(*b.get(t + 7).ok_or(bad("trailer"))?);
        let count = uint(b, t + 8, 8).ok_or(bad("trailer"))?;
        let top = uint(b, t + 16, 8).ok_or(bad("trailer"))?;
        let table = uint(b, t + 24, 8).ok_or(bad("trailer"))?;
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= b.len())
            .ok_or(bad("object count larger than the file"))?;
        let table = usize::try_from(table).map_err(|_| bad("offset table"))?;
        let top = usize::try_from(top)
            .ok()
            .filter(|&t| t < count)
            .ok_or(bad("top object out of range"))?;
        let objects = Objects {
            b,
            off_size,
            ref_size,
            count,
            table,
        };
        Ok((objects, top))
    }

    /// Where object `i` starts, from the offset table.
    fn offset(&self, i: usize) -> Result<usize, PlistError> {
        let at = i
            .checked_mul(self.off_size)
            .and_then(|x| x.checked_add(self.table))
            .ok_or(bad("offset table"))?;
        uint(self.b, at, self.off_size)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(bad("offset table truncated"))
    }

    /// Object `i`: a container with its references, or a leaf with its expanded size.
    fn object(&self, i: usize) -> Result<Object, PlistError> {
        let b = self.b;
        let off = self.offset(i)?;
        let marker = *b.get(off).ok_or(bad("object offset out of range"))?;
        let kind = marker >> 4;
        // Data, ASCII, UTF-16 (up to 3 UTF-8 bytes a unit), UTF-8 strings, UIDs, containers.
        if !matches!(kind, 0x4..=0x8 | 0xA..=0xD) {
            return Ok(Object::Leaf(0));
        }
        let (n, start) = if marker & 0xF == 0xF && kind != 0x8 {
            let int_marker = *b.get(off + 1).ok_or(bad("object length"))?;
            if int_marker >> 4 != 0x1 || int_marker & 0xF > 3 {
                return Err(bad("object length"));
            }
            let size = 1usize << (int_marker & 0xF);
            let n = uint(b, off + 2, size).ok_or(bad("object length"))?;
            (n, off + 2 + size)
        } else {
            (u64::from(marker & 0xF), off + 1)
        };
        if !matches!(kind, 0xA..=0xD) {
            let units = if kind == 0x6 { 3 } else { 1 };
            return Ok(Object::Leaf(n.saturating_add(1).saturating_mul(units)));
        }
        let n = usize::try_from(n).map_err(|_| bad("container length"))?;
        let n = if kind == 0xD {
            n.checked_mul(2).ok_or(bad("container length"))?
        } else {
            n
        };
        let end = n
            .checked_mul(self.ref_size)
            .and_then(|x| x.checked_add(start))
            .ok_or(bad("container length"))?;
        if end > b.len() {
            return Err(bad("container runs past the end"));
        }
        Ok(Object::Container(start, n))
    }

    /// The `k`th reference of a container whose references start at `start` (checked in range
    /// by [`Self::object`]).
    fn reference(&self, start: usize, k: usize) -> Result<usize, PlistError> {
        uint(self.b, start + k * self.ref_size, self.ref_size)
            .and_then(|c| usize::try_from(c).ok())
            .filter(|&c| c < self.count)
            .ok_or(bad("object reference out of range"))
    }
}

/// The expansion walk's memo, one entry an object, and its limits.
struct Walk {
    max_depth: usize,
    max_nodes: u64,
    max_bytes: u64,
    /// 0: unseen, 1: on the stack, 2: done (height known).
    state: Vec<u8>,
    height: Vec<usize>,
    /// Values, and bytes of strings and data, an object expands to (itself and everything under
    /// it, shared children counted each time they are referenced), saturating.
    nodes: Vec<u64>,
    bytes: Vec<u64>,
}

impl Walk {
    fn set_state(&mut self, obj: usize, s: u8) {
        if let Some(x) = self.state.get_mut(obj) {
            *x = s;
        }
    }

    /// Adds to `obj` a child of height `h` expanding to `w` values and `wb` bytes.
    fn add(&mut self, obj: usize, h: usize, w: u64, wb: u64) {
        if let Some(ph) = self.height.get_mut(obj) {
            *ph = (*ph).max(h + 1);
        }
        if let Some(pw) = self.nodes.get_mut(obj) {
            *pw = pw.saturating_add(w);
        }
        if let Some(pb) = self.bytes.get_mut(obj) {
            *pb = pb.saturating_add(wb);
        }
    }

    fn check_size(&self, obj: usize) -> Result<(), PlistError> {
        if self.nodes.get(obj).copied().unwrap_or(1) > self.max_nodes {
            return Err(PlistError::TooManyNodes);
        }
        if self.bytes.get(obj).copied().unwrap_or(0) > self.max_bytes {
            return Err(PlistError::TooManyBytes);
        }
        Ok(())
    }

    /// `obj`'s references are all counted: it is done, and its sizes go to `parent`.
    fn finish(&mut self, obj: usize, parent: Option<usize>) -> Result<(), PlistError> {
        self.set_state(obj, 2);
        self.check_size(obj)?;
        if let Some(parent) = parent {
            let h = self.height.get(obj).copied().unwrap_or(0);
            let w = self.nodes.get(obj).copied().unwrap_or(1);
            let wb = self.bytes.get(obj).copied().unwrap_or(0);
            self.add(parent, h, w, wb);
        }
        Ok(())
    }

    /// `obj` (at `depth` on the stack) references `child`, already done: counted again.
    fn add_done(&mut self, obj: usize, child: usize, depth: usize) -> Result<(), PlistError> {
        let h = self.height.get(child).copied().unwrap_or(0);
        if depth + h > self.max_depth {
            return Err(PlistError::TooDeep);
        }
        let w = self.nodes.get(child).copied().unwrap_or(1);
        let wb = self.bytes.get(child).copied().unwrap_or(0);
        self.add(obj, h, w, wb);
        self.check_size(obj)
    }

    /// `obj` references `child`, a leaf expanding to `size` bytes, seen for the first time.
    fn add_leaf(&mut self, obj: usize, child: usize, size: u64) -> Result<(), PlistError> {
        self.set_state(child, 2);
        if let Some(cb) = self.bytes.get_mut(child) {
            *cb = size;
        }
        if let Some(pw) = self.nodes.get_mut(obj) {
            *pw = pw.saturating_add(1);
        }
        if let Some(pb) = self.bytes.get_mut(obj) {
            *pb = pb.saturating_add(size);
            if *pb > self.max_bytes {
                return Err(PlistError::TooManyBytes);
            }
        }
        Ok(())
    }
}

/// Checks that a binary plist nests at most `max` containers deep and expands to at most
/// `max_nodes` values and `max_bytes` bytes of strings and data, walking its object graph
/// without recursion (each object once; heights and expanded sizes memoised). Cycles and
/// references out of range are errors.
pub(super) fn check_binary(
    b: &[u8],
    max: usize,
    max_nodes: u64,
    max_bytes: u64,
) -> Result<(), PlistError> {
    let (objects, top) = Objects::open(b)?;
    let count = objects.count;
    let mut walk = Walk {
        max_depth: max,
        max_nodes,
        max_bytes,
        state: vec![0u8; count],
        height: vec![0usize; count],
        nodes: vec![1u64; count],
        bytes: vec![0u64; count],
    };
    // (object, first reference position, references, next reference).
    let mut stack: Vec<(usize, usize, usize, usize)> = Vec::new();
    match objects.object(top)? {
        Object::Leaf(_) => return Ok(()),
        Object::Container(start, n) => {
            stack.push((top, start, n, 0));
            walk.set_state(top, 1);
        }
    }
    while let Some(frame) = stack.last_mut() {
        let (obj, start, n, next) = *frame;
        if next == n {
            stack.pop();
            walk.finish(obj, stack.last().map(|p| p.0))?;
            continue;
        }
        frame.3 += 1;
        let child = objects.reference(start, next)?;
        match walk.state.get(child).copied().unwrap_or(0) {
            1 => return Err(bad("object reference cycle")),
            2 => walk.add_done(obj, child, stack.len())?,
            _ => match objects.object(child)? {
                Object::Leaf(size) => walk.add_leaf(obj, child, size)?,
                Object::Container(cs, cn) => {
                    if stack.len() >= max {
                        return Err(PlistError::TooDeep);
                    }
                    walk.set_state(child, 1);
                    stack.push((child, cs, cn, 0));
                }
            },
        }
    }
    Ok(())
}

/// Checks that an XML plist nests at most `max` `<array>`/`<dict>` deep and holds at most
/// `max_nodes` elements (comments, CDATA, processing instructions and the DOCTYPE skipped;
/// namespace prefixes ignored, as the parser does).
pub(super) fn check_xml(b: &[u8], max: usize, max_nodes: u64) -> Result<(), PlistError> {
    let find = |from: usize, needle: &[u8]| {
        b.get(from..)
            .and_then(|rest| memchr::memmem::find(rest, needle))
            .map(|p| from + p + needle.len())
    };
    let mut depth = 0usize;
    let mut elements = 0u64;
    let mut pos = 0usize;
    while let Some(lt) = b
        .get(pos..)
        .and_then(|rest| memchr::memchr(b'<', rest))
        .map(|p| pos + p)
    {
        let rest = b.get(lt..).unwrap_or(&[]);
        let skip_to = if rest.starts_with(b"<!--") {
            find(lt + 4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            find(lt + 9, b"]]>")
        } else if rest.starts_with(b"<?") {
            find(lt + 2, b"?>")
        } else if rest.starts_with(b"<!") {
            let gt = find(lt + 2, b">");
            let bracket = b
                .get(lt..gt.unwrap_or(b.len()))
                .is_some_and(|d| d.contains(&b'['));
            if bracket {
                find(lt + 2, b"]>")
            } else {
                gt
            }
        } else {
            None
        };
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            match skip_to {
                Some(p) => {
                    pos = p;
                    continue;
                }
                None => return Ok(()),
            }
        }
        let Some(gt) = find(lt + 1, b">") else {
            return Ok(());
        };
        let tag = b.get(lt + 1..gt - 1).unwrap_or(&[]);
        let (closing, tag) = match tag.strip_prefix(b"/") {
            Some(t) => (true, t),
            None => (false, tag),
        };
        let name_end = tag
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'/')
            .unwrap_or(tag.len());
        let name = tag.get(..name_end).unwrap_or(&[]);
        let local = name.rsplit(|&c| c == b':').next().unwrap_or(name);
        if !closing {
            elements += 1;
            if elements > max_nodes {
                return Err(PlistError::TooManyNodes);
            }
        }
        if local == b"array" || local == b"dict" {
            if closing {
                depth = depth.saturating_sub(1);
            } else if !tag.ends_with(b"/") {
                depth += 1;
                if depth > max {
                    return Err(PlistError::TooDeep);
                }
            }
        }
        pos = gt;
    }
    Ok(())
}
