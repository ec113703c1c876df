//! The union of every place a backup lists apps, per bundle id.
//!
//! Strong places (the app is, or was offloaded but still counts as, installed):
//! `installed_applications` (Info.plist `Installed Applications`), `info_applications`
//! (Info.plist `Applications`), `manifest_applications` (Manifest.plist `Applications`),
//! `app_domain` (`AppDomain-<bundle id>` in Manifest.db / Manifest.mbdb).
//! Weak places: `app_group` (`AppDomainGroup-<group id>`, a group another app may share) and
//! `app_plugin` (`AppDomainPlugin-<extension bundle id>`); an id seen only there gets
//! `installed: false`.

use std::collections::BTreeMap;

use super::plists::{InfoPlist, ItunesMetadata, ManifestPlist};
use crate::model::{AppRecord, SeenIn};

/// Whether a place makes an app count as installed (the weak places, a group or a plugin
/// domain, may belong to another app).
fn is_strong(place: SeenIn) -> bool {
    !matches!(place, SeenIn::AppGroup | SeenIn::AppPlugin)
}

/// Splits a backup domain into the place and the id it names (`None` for non-app domains).
pub fn classify_domain(domain: &str) -> Option<(SeenIn, &str)> {
    let (place, id) = if let Some(id) = domain.strip_prefix("AppDomainGroup-") {
        (SeenIn::AppGroup, id)
    } else if let Some(id) = domain.strip_prefix("AppDomainPlugin-") {
        (SeenIn::AppPlugin, id)
    } else if let Some(id) = domain.strip_prefix("AppDomain-") {
        (SeenIn::AppDomain, id)
    } else {
        return None;
    };
    let id = id.trim();
    (!id.is_empty()).then_some((place, id))
}

#[derive(Default)]
pub struct AppSet {
    apps: BTreeMap<String, (AppRecord, bool)>,
    /// Buyer Apple IDs seen in iTunesMetadata (personal data).
    pub apple_ids: Vec<String>,
}

/// Adds a detail unless the app already has one under `key`.
pub fn set_detail(app: &mut AppRecord, key: &str, value: Option<&String>) {
    if let Some(v) = value {
        if !app.details.iter().any(|(k, _)| k == key) {
            app.details.push((key.to_string(), v.clone()));
        }
    }
}

/// Fills an app from its `iTunesMetadata` (fields already known stay), the same way wherever
/// the metadata was read (a backup's `Info.plist`, a live phone's installation_proxy). The
/// buyer's Apple IDs are personal data: the caller decides whether to keep them.
pub fn apply_metadata(app: &mut AppRecord, m: &ItunesMetadata) {
    if app.app_store_id.is_none() {
        app.app_store_id = m.item_id;
    }
    if app.name.is_none() {
        app.name.clone_from(&m.item_name);
    }
    if app.version.is_none() {
        app.version.clone_from(&m.short_version);
    }
    set_detail(app, "seller", m.artist_name.as_ref());
    set_detail(app, "source_app", m.source_app.as_ref());
    set_detail(app, "purchase_date", m.purchase_date.as_ref());
    set_detail(app, "genre", m.genre.as_ref());
    if let Some(id) = m.item_id {
        set_detail(app, "app_store_id", Some(&id.to_string()));
    }
    if m.bundle_id.as_deref().is_some_and(|b| b != app.id) {
        set_detail(app, "metadata_bundle_id", m.bundle_id.as_ref());
    }
    set_detail(app, "bundle_version", m.bundle_version.as_ref());
}

impl AppSet {
    pub fn see(&mut self, id: &str, place: SeenIn) -> &mut AppRecord {
        let entry = self.apps.entry(id.to_string()).or_insert_with(|| {
            let mut app = AppRecord::new(id);
            app.installed = false;
            (app, false)
        });
        entry.1 |= is_strong(place);
        entry.0.add_seen_in(place);
        &mut entry.0
    }

    pub fn add_info(&mut self, info: &InfoPlist) {
        for id in &info.installed_applications {
            self.see(id, SeenIn::InstalledApplications);
        }
        for entry in &info.applications {
            let app = self.see(&entry.bundle_id, SeenIn::InfoApplications);
            let Some(m) = &entry.metadata else { continue };
            apply_metadata(app, m);
            self.apple_ids.extend(m.apple_ids.iter().cloned());
        }
    }

    pub fn add_manifest(&mut self, manifest: &ManifestPlist) {
        for entry in &manifest.applications {
            let app = self.see(&entry.bundle_id, SeenIn::ManifestApplications);
            set_detail(app, "bundle_version", entry.bundle_version.as_ref());
            set_detail(
                app,
                "container_content_class",
                entry.container_content_class.as_ref(),
            );
            if app.version.is_none() {
                app.version = entry
                    .short_version
                    .clone()
                    .or_else(|| entry.bundle_version.clone());
            }
            if app.path.is_none() {
                app.path.clone_from(&entry.path);
            }
        }
    }

    pub fn add_domains<'a>(&mut self, domains: impl IntoIterator<Item = &'a str>) {
        for domain in domains {
            if let Some((place, id)) = classify_domain(domain) {
                self.see(id, place);
            }
        }
    }

    /// The records, `installed` set from the strongest place each id was seen in.
    pub fn finish(mut self) -> (Vec<AppRecord>, Vec<String>) {
        self.apple_ids.sort();
        self.apple_ids.dedup();
        let apps = self
            .apps
            .into_values()
            .map(|(mut app, strong)| {
                app.installed = strong;
                app.normalize();
                app
            })
            .collect();
        (apps, self.apple_ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_places_do_not_make_an_app_installed() {
        let mut set = AppSet::default();
        set.add_domains([
            "AppDomainGroup-group.com.zhiliaoapp.musically",
            "AppDomainPlugin-com.x.ext",
            "AppDomain-com.x.ext",
            "HomeDomain",
            "AppDomain-",
        ]);
        let (apps, _) = set.finish();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].id, "com.x.ext");
        assert!(apps[0].installed);
        assert_eq!(apps[0].seen_in, vec!["app_domain", "app_plugin"]);
        assert_eq!(apps[1].id, "group.com.zhiliaoapp.musically");
        assert!(!apps[1].installed);
        assert_eq!(apps[1].seen_in, vec!["app_group"]);
    }
}
