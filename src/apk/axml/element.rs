//! Attributes and elements: typed attribute values, `android:` attributes found by resource id
//! (by name only without one), and the collection of what each manifest element says into a
//! [`Fingerprint`]. Strings are shared with the pool (`Rc<str>`); what is copied into the
//! fingerprint is charged to the [`Budget`].

use std::rc::Rc;

use super::budget::Budget;
use super::pool::StringPool;
use super::*;
use crate::model::MetaData;

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Str(Rc<str>),
    IntDec(u32),
    IntHex(u32),
    Bool(bool),
    Ref(u32),
    Other(u8, u32),
}

impl Value {
    fn as_string(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_u32(&self) -> Option<u32> {
        match self {
            Self::IntDec(v) | Self::IntHex(v) => Some(*v),
            Self::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Str(s) => s.to_string(),
            Self::IntDec(v) => (*v as i32).to_string(),
            Self::IntHex(v) => format!("0x{v:x}"),
            Self::Bool(b) => b.to_string(),
            Self::Ref(r) => format!("@0x{r:08x}"),
            Self::Other(TYPE_FLOAT, v) => f32::from_bits(*v).to_string(),
            Self::Other(_, v) => v.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Attr {
    name: Option<Rc<str>>,
    res_id: Option<u32>,
    value: Value,
}

pub(super) struct Doc<'a> {
    pub(super) pool: Option<StringPool<'a>>,
    pub(super) res_map: Vec<u32>,
    pub(super) budget: Budget,
}

impl Doc<'_> {
    /// Pool string `idx`, shared; `None` when absent or over the budget.
    pub(super) fn string(&mut self, idx: u32) -> Option<Rc<str>> {
        if idx == NO_INDEX {
            return None;
        }
        self.pool.as_mut()?.get(idx, &mut self.budget)
    }
}

/// Finds an `android:` attribute: by resource id first; by name only among attributes that
/// carry no resource id.
pub(super) fn find<'b>(attrs: &'b [Attr], res_id: u32, name: &str) -> Option<&'b Value> {
    attrs
        .iter()
        .find(|a| a.res_id == Some(res_id))
        .or_else(|| {
            attrs
                .iter()
                .find(|a| a.res_id.is_none() && a.name.as_deref() == Some(name))
        })
        .map(|a| &a.value)
}

/// `Class` or `.Class` is relative to the package; a name with a dot elsewhere is absolute.
pub(super) fn qualify(package: Option<&str>, name: &str) -> String {
    match package {
        Some(p) if name.starts_with('.') => format!("{p}{name}"),
        Some(p) if !name.contains('.') => format!("{p}.{name}"),
        _ => name.to_string(),
    }
}

/// A copy of `s` for the fingerprint, charged to `budget`; `None` when it does not fit.
fn keep(budget: &mut Budget, s: &str) -> Option<String> {
    budget.bytes(s.len()).then(|| s.to_string())
}

/// Element-level collection while walking the tree.
#[derive(Default)]
pub(super) struct Collect {
    m: Fingerprint,
    /// (element name) for each open element, shared with the pool.
    pub(super) stack: Vec<Rc<str>>,
    /// Component names as written, qualified once the package is known.
    raw_components: Vec<Rc<str>>,
}

impl Collect {
    /// Whether the package name was read.
    pub(super) fn has_package(&self) -> bool {
        self.m.package.is_some()
    }

    /// Collects what element `name` says; every string copied into the fingerprint is charged
    /// to `budget`, and what does not fit is left out (the budget says so).
    pub(super) fn start(&mut self, name: Rc<str>, attrs: &[Attr], budget: &mut Budget) {
        let parent = self.stack.last().map(|p| &**p);
        let depth = self.stack.len();
        match (&*name, parent) {
            ("manifest", None) if depth == 0 => {
                if self.m.package.is_none() {
                    self.m.package = attrs
                        .iter()
                        .find(|a| a.name.as_deref() == Some("package"))
                        .and_then(|a| a.value.as_string())
                        .and_then(|p| keep(budget, p));
                }
                let code = find(attrs, ATTR_VERSION_CODE, "versionCode").and_then(Value::as_u32);
                let major = find(attrs, ATTR_VERSION_CODE_MAJOR, "versionCodeMajor")
                    .and_then(Value::as_u32);
                if let Some(code) = code {
                    self.m.version_code =
                        Some((u64::from(major.unwrap_or(0)) << 32) | u64::from(code));
                }
                self.m.version_name = find(attrs, ATTR_VERSION_NAME, "versionName")
                    .and_then(Value::as_string)
                    .and_then(|v| keep(budget, v));
            }
            ("application", Some("manifest")) => {
                if let Some(label) = find(attrs, ATTR_LABEL, "label").and_then(Value::as_string) {
                    self.m.label = keep(budget, label);
                }
                self.component(attrs);
            }
            ("activity" | "activity-alias" | "service" | "receiver", Some("application")) => {
                self.component(attrs);
            }
            ("provider", Some("application")) => {
                self.component(attrs);
                if let Some(auth) =
                    find(attrs, ATTR_AUTHORITIES, "authorities").and_then(Value::as_string)
                {
                    for a in auth.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                        let Some(kept) = keep(budget, a) else { break };
                        self.m.components.push(format!("authority:{kept}"));
                    }
                }
            }
            ("meta-data", Some(_)) => {
                let name = find(attrs, ATTR_NAME, "name").and_then(Value::as_string);
                let value = find(attrs, ATTR_VALUE, "value");
                if let (Some(name), Some(value)) = (name, value) {
                    let value = match value {
                        Value::Str(s) => keep(budget, s),
                        v => Some(v.render()),
                    };
                    if let (Some(name), Some(value)) = (keep(budget, name), value) {
                        self.m.meta_data.push(MetaData { name, value });
                    }
                }
            }
            (
                "uses-permission"
                | "uses-permission-sdk-23"
                | "uses-permission-sdk-m"
                | "permission",
                Some("manifest"),
            ) => {
                if let Some(p) = find(attrs, ATTR_NAME, "name").and_then(Value::as_string) {
                    if let Some(p) = keep(budget, p) {
                        self.m.permissions.push(p);
                    }
                }
            }
            _ => {}
        }
        self.stack.push(name);
    }

    fn component(&mut self, attrs: &[Attr]) {
        if let Some(Value::Str(n)) = find(attrs, ATTR_NAME, "name") {
            if !n.is_empty() {
                self.raw_components.push(Rc::clone(n));
            }
        }
    }

    /// The fingerprint: component names qualified (each charged to `budget` as it is made),
    /// lists sorted and deduplicated.
    pub(super) fn finish(mut self, budget: &mut Budget) -> Fingerprint {
        let pkg = self.m.package.clone();
        for raw in &self.raw_components {
            let q = qualify(pkg.as_deref(), raw);
            if !budget.bytes(q.len()) {
                break;
            }
            self.m.components.push(q);
        }
        self.m.components.sort();
        self.m.components.dedup();
        self.m.meta_data.sort();
        self.m.meta_data.dedup();
        self.m.permissions.sort();
        self.m.permissions.dedup();
        self.m
    }
}

/// The attributes of an element chunk, charged to the budget (empty when they do not fit).
pub(super) fn read_attrs(doc: &mut Doc<'_>, chunk: &[u8], ext: usize) -> Vec<Attr> {
    let attr_start = usize::from(u16_at(chunk, ext + 8).unwrap_or(20));
    let attr_size = usize::from(u16_at(chunk, ext + 10).unwrap_or(20)).max(ATTR_LEN);
    let declared = usize::from(u16_at(chunk, ext + 12).unwrap_or(0));
    // Only the attributes the chunk holds count (and are read).
    let room = chunk.len().saturating_sub(ext + attr_start);
    let count = declared.min(room.saturating_add(attr_size - ATTR_LEN) / attr_size);
    if !doc.budget.attributes(count) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..count {
        let Some(p) = i
            .checked_mul(attr_size)
            .and_then(|o| o.checked_add(ext + attr_start))
        else {
            break;
        };
        let Some(a) = chunk.get(p..p + ATTR_LEN) else {
            break;
        };
        let name_idx = u32_at(a, 4).unwrap_or(NO_INDEX);
        let raw = u32_at(a, 8).unwrap_or(NO_INDEX);
        let data_type = a.get(15).copied().unwrap_or(0);
        let data = u32_at(a, 16).unwrap_or(0);
        let res_id = usize::try_from(name_idx)
            .ok()
            .and_then(|i| doc.res_map.get(i))
            .copied()
            .filter(|id| *id != 0);
        let value = match data_type {
            TYPE_STRING => match doc.string(data).or_else(|| doc.string(raw)) {
                Some(s) => Value::Str(s),
                None => continue,
            },
            TYPE_INT_DEC => Value::IntDec(data),
            TYPE_INT_HEX => Value::IntHex(data),
            TYPE_INT_BOOLEAN => Value::Bool(data != 0),
            TYPE_REFERENCE | TYPE_ATTRIBUTE => Value::Ref(data),
            t => match doc.string(raw) {
                Some(s) if t == 0 => Value::Str(s),
                _ => Value::Other(t, data),
            },
        };
        out.push(Attr {
            name: doc.string(name_idx),
            res_id,
            value,
        });
    }
    out
}
