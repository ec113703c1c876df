//! Captured text shared by the tests of the merge: users, a listing, a refused listing, a dump.

use std::collections::BTreeMap;

use super::Listing;
use crate::source::adb::dumpsys::{parse_dumpsys_package, Dumpsys};
use crate::source::adb::parse::{parse_package_list, parse_users, pm_failure, UserInfo};

pub(super) const USERS: &str =
    "Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{10:Work profile:1030} running\n";
pub(super) const LIST0: &str = "package:/data/app/~~Qw==/org.fdroid.fdroid-Er==/base.apk=org.fdroid.fdroid versionCode:1019050 installer=null uid:10150\n\
    package:/system/priv-app/Settings/Settings.apk=com.android.settings versionCode:34 installer=null uid:1000\n";
pub(super) const REFUSED: &str = "Exception occurred while executing 'list':\njava.lang.SecurityException: Shell does not have permission to access user 10\n";
pub(super) const DUMPSYS: &str = "Packages:\n\
    \x20 Package [com.zhiliaoapp.musically] (1a2b):\n\
    \x20   userId=10234\n\
    \x20   codePath=/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==\n\
    \x20   versionCode=2024307030 minSdk=21 targetSdk=34\n\
    \x20   versionName=43.7.3\n\
    \x20   flags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ]\n\
    \x20   firstInstallTime=2024-05-01 10:00:00\n\
    \x20   lastUpdateTime=2024-05-02 10:00:00\n\
    \x20   installerPackageName=com.android.vending\n\
    \x20   User 0: ceDataInode=0 installed=false hidden=false\n\
    \x20   User 10: ceDataInode=5 installed=true hidden=false\n\
    \x20 Package [org.fdroid.fdroid] (3c4d):\n\
    \x20   userId=10150\n\
    \x20   codePath=/data/app/~~Qw==/org.fdroid.fdroid-Er==\n\
    \x20   versionCode=1019050 minSdk=21 targetSdk=34\n\
    \x20   versionName=1.19.5\n\
    \x20   flags=[ HAS_CODE ]\n\
    \x20   User 0: ceDataInode=7 installed=true hidden=false\n\
    \x20   User 10: ceDataInode=0 installed=false hidden=false\n\
    \x20 Package [com.android.settings] (5e6f):\n\
    \x20   userId=1000\n\
    \x20   codePath=/system/priv-app/Settings\n\
    \x20   versionName=14\n\
    \x20   flags=[ SYSTEM HAS_CODE ]\n\
    \x20   User 0: ceDataInode=1 installed=true hidden=false\n\
    \x20   User 10: ceDataInode=2 installed=true hidden=false\n\
    \x20 Package [com.example.gone] (7a8b):\n\
    \x20   userId=10300\n\
    \x20   codePath=/data/app/com.example.gone-1\n\
    \x20   flags=[ HAS_CODE ]\n\
    \x20   User 0: ceDataInode=9 installed=false hidden=false\n\
    \x20   User 10: ceDataInode=0 installed=false hidden=false\n";

pub(super) fn listing(text: &str, rc: i32) -> Listing {
    match pm_failure(text, Some(rc)) {
        None => Listing::Ok(parse_package_list(text).packages),
        Some(f) => Listing::Failed(f),
    }
}

pub(super) fn sample() -> (Vec<UserInfo>, BTreeMap<u32, Listing>, Dumpsys) {
    let users = parse_users(USERS);
    let listings = BTreeMap::from([(0, listing(LIST0, 0)), (10, listing(REFUSED, 255))]);
    (users, listings, parse_dumpsys_package(DUMPSYS))
}
