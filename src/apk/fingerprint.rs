//! [`Fingerprint`]: what an APK says about itself, in the one shape every part of appsweep uses.
//! The manifest parser fills its manifest fields, the probe adds certificates and native
//! libraries, the adb fingerprint cache stores it as is, and [`Fingerprint::fill`] is the one
//! place it becomes part of an [`AppRecord`].

use serde::{Deserialize, Serialize};

use crate::model::{AppRecord, Certificate, MetaData};

/// What an APK says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Manifest `package`.
    pub package: Option<String>,
    /// `versionCodeMajor << 32 | versionCode`.
    pub version_code: Option<u64>,
    pub version_name: Option<String>,
    /// The application label, when the manifest holds it as a literal string.
    pub label: Option<String>,
    /// Fully qualified component class names (activity, activity-alias, service, receiver,
    /// provider, the application class), plus provider authorities prefixed `authority:`.
    pub components: Vec<String>,
    pub meta_data: Vec<MetaData>,
    /// `uses-permission` and `permission` names.
    pub permissions: Vec<String>,
    /// Native library file names under `lib/<abi>/`, deduplicated across ABIs.
    pub native_libs: Vec<String>,
    /// Every certificate found, in every scheme and in the lineage.
    pub certificates: Vec<Certificate>,
    /// Things that could not be read (a corrupt PKCS#7, an undecodable manifest...) and
    /// structural oddities worth a look (a signing block ID present twice, a central directory
    /// that overlaps the end record...).
    pub warnings: Vec<String>,
    /// Why the manifest was read only in part (it is over a limit of the reader): the app's
    /// record holds what was read before, and its report is incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    /// Bytes read from the source to produce this fingerprint (not kept by the cache).
    #[serde(skip)]
    pub bytes_read: u64,
}

/// The detail key of a fingerprint warning in an [`AppRecord`].
pub const WARNING_DETAIL: &str = "fingerprint_warning";

impl Fingerprint {
    /// Adds this fingerprint to `app`: certificates, manifest markers (components, native
    /// libraries, meta-data, permissions), and the version where the source did not know it.
    /// A manifest package other than the record's id is kept as detail `apk_package`; each
    /// warning as a [`WARNING_DETAIL`] detail. The label is left to the caller: only a file
    /// source names an app after its manifest.
    pub fn fill(&self, app: &mut AppRecord) {
        app.add_certificates(self.certificates.iter().cloned());
        app.components.extend(self.components.iter().cloned());
        app.native_libs.extend(self.native_libs.iter().cloned());
        app.meta_data.extend(self.meta_data.iter().cloned());
        app.permissions.extend(self.permissions.iter().cloned());
        if app.version.is_none() {
            app.version.clone_from(&self.version_name);
        }
        if app.version_code.is_none() {
            app.version_code = self.version_code.map(|v| v.to_string());
        }
        if let Some(p) = &self.package {
            if *p != app.id {
                app.details.push(("apk_package".to_string(), p.clone()));
            }
        }
        for w in &self.warnings {
            app.details.push((WARNING_DETAIL.to_string(), w.clone()));
        }
    }
}
