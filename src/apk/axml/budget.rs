//! What reading one manifest may cost: decoded string bytes, elements and attributes.
//!
//! A pool string is decoded once and shared (see `pool`), so the bytes counted here are those
//! of each string decoded the first time plus every string the reader copies into the
//! [`Fingerprint`](crate::apk::Fingerprint) (component names qualified by the package, meta-data,
//! permissions...). Without the count, a few kilobytes of manifest (one element whose 65,535
//! attributes all name one long string, or many elements each copying it) expand to gigabytes.

/// Bytes of decoded strings a manifest may produce. The largest real manifests (thousands of
/// components) decode to well under 1 MiB.
pub const MAX_DECODED_BYTES: usize = 16 << 20;
/// Elements a manifest may hold. Real ones hold a few thousand at most.
pub const MAX_ELEMENTS: usize = 100_000;
/// Attributes, over all elements, a manifest may hold. Real ones hold a few tens of thousands at
/// most.
pub const MAX_ATTRIBUTES: usize = 1_000_000;

/// What was spent, and the limit that was reached, if one was.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Budget {
    decoded: usize,
    elements: usize,
    attributes: usize,
    over: Option<&'static str>,
}

impl Budget {
    /// Spends `n` decoded bytes; false (and the budget is over) when they do not fit.
    pub(super) fn bytes(&mut self, n: usize) -> bool {
        self.spend(n, Limit::Bytes)
    }

    /// Whether `n` more decoded bytes would fit (nothing is spent).
    pub(super) fn fits(&mut self, n: usize) -> bool {
        if self.over.is_some() {
            return false;
        }
        if self.decoded.saturating_add(n) > MAX_DECODED_BYTES {
            self.over = Some(Limit::Bytes.what());
            return false;
        }
        true
    }

    /// Spends one element.
    pub(super) fn element(&mut self) -> bool {
        self.spend(1, Limit::Elements)
    }

    /// Spends `n` attributes.
    pub(super) fn attributes(&mut self, n: usize) -> bool {
        self.spend(n, Limit::Attributes)
    }

    /// The limit that was reached, in words.
    pub(crate) fn over(&self) -> Option<&'static str> {
        self.over
    }

    /// Decoded bytes spent so far.
    #[cfg(test)]
    pub(crate) fn decoded(&self) -> usize {
        self.decoded
    }

    fn spend(&mut self, n: usize, limit: Limit) -> bool {
        if self.over.is_some() {
            return false;
        }
        let (spent, max) = match limit {
            Limit::Bytes => (&mut self.decoded, MAX_DECODED_BYTES),
            Limit::Elements => (&mut self.elements, MAX_ELEMENTS),
            Limit::Attributes => (&mut self.attributes, MAX_ATTRIBUTES),
        };
        match spent.checked_add(n).filter(|t| *t <= max) {
            Some(t) => {
                *spent = t;
                true
            }
            None => {
                self.over = Some(limit.what());
                false
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Limit {
    Bytes,
    Elements,
    Attributes,
}

impl Limit {
    fn what(self) -> &'static str {
        match self {
            Self::Bytes => "16 MiB of decoded strings",
            Self::Elements => "100,000 elements",
            Self::Attributes => "1,000,000 attributes",
        }
    }
}
