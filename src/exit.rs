//! Exit codes, as one type with a merge rule.
//!
//! - 0 [`Outcome::Clean`]: every device scanned completely, no violation;
//! - 1 [`Outcome::Violation`]: at least one violation;
//! - 2 [`Outcome::Usage`]: usage or configuration error;
//! - 3 [`Outcome::Incomplete`]: no violation, but at least one device could not be scanned
//!   completely.
//!
//! Merging the outcomes of several devices: a usage error wins, then a violation (the answer an
//! auditor needs first), then an incomplete scan, then clean.

/// The outcome of a run or of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Clean,
    Violation,
    Usage,
    Incomplete,
}

impl Outcome {
    fn rank(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Incomplete => 1,
            Outcome::Violation => 2,
            Outcome::Usage => 3,
        }
    }

    /// The outcome of two parts of one run.
    #[must_use]
    pub fn merge(self, other: Outcome) -> Outcome {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Violation => 1,
            Outcome::Usage => 2,
            Outcome::Incomplete => 3,
        }
    }
}

impl From<Outcome> for std::process::ExitCode {
    fn from(o: Outcome) -> Self {
        std::process::ExitCode::from(o.code())
    }
}

impl FromIterator<Outcome> for Outcome {
    fn from_iter<I: IntoIterator<Item = Outcome>>(iter: I) -> Self {
        iter.into_iter().fold(Outcome::Clean, Outcome::merge)
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome::*;
    use super::*;

    const ALL: [Outcome; 4] = [Clean, Violation, Usage, Incomplete];

    #[test]
    fn codes_are_documented_values() {
        assert_eq!(
            ALL.map(Outcome::code),
            [0, 1, 2, 3],
            "exit codes are a public contract"
        );
    }

    #[test]
    fn merge_is_commutative_associative_and_clean_is_identity() {
        for a in ALL {
            assert_eq!(a.merge(Clean), a);
            for b in ALL {
                assert_eq!(a.merge(b), b.merge(a));
                for c in ALL {
                    assert_eq!(a.merge(b).merge(c), a.merge(b.merge(c)));
                }
            }
        }
    }

    #[test]
    fn violation_beats_incomplete_and_usage_beats_all() {
        assert_eq!(Incomplete.merge(Violation), Violation);
        assert_eq!(Clean.merge(Incomplete), Incomplete);
        assert_eq!(Violation.merge(Usage), Usage);
        assert_eq!(
            [Clean, Incomplete, Clean].into_iter().collect::<Outcome>(),
            Incomplete
        );
        assert_eq!(std::iter::empty().collect::<Outcome>(), Clean);
    }
}
