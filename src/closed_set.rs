//! Closed sets of words (where an app was seen, kinds of evidence, device states) are enums with
//! an `as_str` naming each member. [`text_like!`] gives such an enum the traits that make its name
//! its face: it serialises as the name, displays as the name, sorts and hashes by the name (so
//! output ordered by name stays ordered the same way), compares equal to its name as text, and
//! borrows as it (a list of them joins like a list of strings). Each name must stand for one
//! member only.

/// Implements `Display`, `Serialize`, `Ord` and `Hash` (by name), `Borrow<str>` and
/// `PartialEq<str>`/`PartialEq<&str>` for an enum with `fn as_str(&self) -> &str` and a derived
/// `PartialEq`/`Eq`.
macro_rules! text_like {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $t {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
                self.as_str().hash(h)
            }
        }

        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

pub(crate) use text_like;
