//! Android commands with realistic output: `getprop`, `pm` (also via `cmd package`), `dumpsys package`.

use crate::conn::Conn;
use crate::scenario::{Package, Scenario};
use crate::shell::CmdOut;

pub fn getprop(sc: &Scenario, rest: &[&str]) -> CmdOut {
    let props = sc.all_props();
    match rest.first() {
        None => {
            let mut s = String::new();
            for (k, v) in &props {
                s.push_str(&format!("[{k}]: [{v}]\n"));
            }
            CmdOut::ok(s)
        }
        Some(k) => {
            let v = props
                .get(*k)
                .cloned()
                .or_else(|| rest.get(1).map(|d| (*d).to_string()))
                .unwrap_or_default();
            CmdOut::ok(format!("{v}\n"))
        }
    }
}

fn security_exception(verb: &str, user: u32) -> CmdOut {
    CmdOut::fail(
        format!(
            "Exception occurred while executing '{verb}':\n\
             java.lang.SecurityException: Shell does not have permission to access user {user}\n\
             \tat com.android.server.am.UserController.handleIncomingUser(UserController.java:2646)\n\
             \tat android.app.ActivityManager.handleIncomingUser(ActivityManager.java:4813)\n\
             \tat com.android.server.pm.PackageManagerShellCommand.translateUserId(PackageManagerShellCommand.java:3581)\n\
             \tat com.android.server.pm.PackageManagerShellCommand.runListPackages(PackageManagerShellCommand.java:864)\n\
             \tat com.android.server.pm.PackageManagerShellCommand.onCommand(PackageManagerShellCommand.java:230)\n\
             \tat com.android.modules.utils.BasicShellCommandHandler.exec(BasicShellCommandHandler.java:97)\n\
             \tat android.os.ShellCommand.exec(ShellCommand.java:38)\n\
             \tat com.android.server.pm.PackageManagerService$IPackageManagerImpl.onShellCommand(PackageManagerService.java:6400)\n\
             \tat android.os.Binder.shellCommand(Binder.java:1092)\n\
             \tat android.os.Binder.onTransact(Binder.java:912)\n"
        ),
        255,
    )
}

fn unknown_option(opt: &str) -> CmdOut {
    CmdOut::fail(format!("Error: Unknown option: {opt}\n"), 255)
}

enum UserSel {
    One(u32),
    All,
}

fn parse_user(v: Option<&&str>) -> Result<UserSel, CmdOut> {
    match v.copied() {
        Some("all") => Ok(UserSel::All),
        Some("current") | Some("cur") => Ok(UserSel::One(0)),
        Some(n) => n.parse().map(UserSel::One).map_err(|_| {
            CmdOut::fail(
                format!("Exception occurred while executing 'list':\njava.lang.NumberFormatException: For input string: \"{n}\"\n"),
                255,
            )
        }),
        None => Err(CmdOut::fail(
            "Exception occurred while executing 'list':\njava.lang.IllegalArgumentException: Bad user number: null\n",
            255,
        )),
    }
}

/// The users whose listing the shell may not read, among the selected ones.
fn refused(sc: &Scenario, sel: &UserSel) -> Option<u32> {
    match sel {
        UserSel::One(id) => sc.user(*id).filter(|u| u.refuse_listing).map(|u| u.id),
        UserSel::All => sc.users.iter().find(|u| u.refuse_listing).map(|u| u.id),
    }
}

fn installed_for(p: &Package, sel: &UserSel) -> bool {
    match sel {
        UserSel::One(id) => p.users.contains(id),
        UserSel::All => !p.users.is_empty(),
    }
}

pub fn base_apk(p: &Package) -> Option<&str> {
    p.apks
        .iter()
        .find(|a| a.path.ends_with("/base.apk"))
        .or_else(|| p.apks.first())
        .map(|a| a.path.as_str())
}

fn app_id(p: &Package) -> u32 {
    p.uid.unwrap_or(10_000) % 100_000
}

const WRITE_VERBS: &[&str] = &[
    "install",
    "install-create",
    "install-write",
    "install-commit",
    "install-existing",
    "install-multiple",
    "uninstall",
    "clear",
    "enable",
    "disable",
    "disable-user",
    "disable-until-used",
    "default-state",
    "hide",
    "unhide",
    "suspend",
    "unsuspend",
    "grant",
    "revoke",
    "reset-permissions",
    "set-installer",
    "set-home-activity",
    "set-install-location",
    "set-permission-enforced",
    "trim-caches",
    "create-user",
    "remove-user",
    "move-package",
    "compile",
    "force-dex-opt",
];

pub fn pm(conn: &Conn, rest: &[&str], via: &str) -> CmdOut {
    let sc = conn.scenario();
    match rest.split_first() {
        None => CmdOut::fail("usage: pm path [--user USER_ID] PACKAGE\n       pm list packages [-f] [-d] [-e] [-s] [-3] [-i] [-l] [-u] [-U] [--show-versioncode] [--user USER_ID] [FILTER]\n       pm list users\n", 255),
        Some((&"list", tail)) => match tail.split_first() {
            Some((&("packages" | "package"), opts)) => list_packages(sc, opts),
            Some((&"users", _)) => list_users(sc),
            Some((what, _)) => CmdOut::fail(format!("Error: unknown list type '{what}'\n"), 255),
            None => CmdOut::fail("Error: didn't specify type of data to list\n", 255),
        },
        Some((&"path", tail)) => path(sc, tail),
        Some((&"dump", tail)) => dumpsys(conn, &[&["package"], tail].concat()),
        Some((verb, _)) if WRITE_VERBS.contains(verb) => {
            let line = rest.join(" ");
            conn.stats()
                .update(|c| c.write_attempts.push(format!("{via} {line}")));
            CmdOut::fail(
                format!("Failure [refused: this device is read-only for scanners ({verb})]\n"),
                255,
            )
        }
        Some((verb, _)) => CmdOut::fail(format!("Unknown command: {verb}\n"), 255),
    }
}

fn list_users(sc: &Scenario) -> CmdOut {
    let mut s = String::from("Users:\n");
    for u in &sc.users {
        s.push_str(&format!(
            "\tUserInfo{{{}:{}:{}}}{}\n",
            u.id,
            u.name,
            u.flags,
            if u.running { " running" } else { "" }
        ));
    }
    CmdOut::ok(s)
}

fn list_packages(sc: &Scenario, opts: &[&str]) -> CmdOut {
    let sdk = sc.sdk();
    let (mut show_path, mut installer, mut uid, mut vcode) = (false, false, false, false);
    let (mut only_sys, mut only_third, mut only_enabled, mut only_disabled) =
        (false, false, false, false);
    let mut include_uninstalled = false;
    let mut user = UserSel::One(0);
    let mut uid_filter: Option<u32> = None;
    let mut filter: Option<&str> = None;
    let mut i = 0;
    while let Some(o) = opts.get(i) {
        match *o {
            "-f" => show_path = true,
            "-i" => installer = true,
            "-U" if sdk >= 26 => uid = true,
            "--show-versioncode" if sdk >= 28 => vcode = true,
            "-s" => only_sys = true,
            "-3" => only_third = true,
            "-e" => only_enabled = true,
            "-d" => only_disabled = true,
            "-u" => include_uninstalled = true,
            "-l" | "-a" | "--apex-only" | "--show-stopped" => {}
            "--user" => {
                i += 1;
                match parse_user(opts.get(i)) {
                    Ok(u) => user = u,
                    Err(e) => return e,
                }
            }
            "--uid" => {
                i += 1;
                match opts.get(i).and_then(|v| v.parse().ok()) {
                    Some(u) => uid_filter = Some(u),
                    None => return unknown_option("--uid"),
                }
            }
            o if o.starts_with('-') => return unknown_option(o),
            o => filter = Some(o),
        }
        i += 1;
    }
    if let Some(u) = refused(sc, &user) {
        return security_exception("list", u);
    }
    let mut s = String::new();
    for p in &sc.packages {
        let present = installed_for(p, &user);
        if !present && !include_uninstalled {
            continue;
        }
        if (only_sys && !p.system) || (only_third && p.system) {
            continue;
        }
        let enabled = p.enabled.unwrap_or(true);
        if (only_enabled && !enabled) || (only_disabled && enabled) {
            continue;
        }
        if let Some(f) = filter {
            if !p.name.contains(f) {
                continue;
            }
        }
        let user_for_uid = match &user {
            UserSel::One(id) => *id,
            UserSel::All => p.users.first().copied().unwrap_or(0),
        };
        let full_uid = user_for_uid * 100_000 + app_id(p);
        if let Some(u) = uid_filter {
            if u != full_uid && u != app_id(p) {
                continue;
            }
        }
        s.push_str("package:");
        if show_path {
            s.push_str(base_apk(p).unwrap_or(""));
            s.push('=');
        }
        s.push_str(&p.name);
        if vcode {
            s.push_str(&format!(" versionCode:{}", p.version_code));
        }
        if installer {
            s.push_str(&format!(
                "  installer={}",
                p.installer.as_deref().unwrap_or("null")
            ));
        }
        if uid {
            s.push_str(&format!(" uid:{full_uid}"));
        }
        s.push('\n');
    }
    CmdOut::ok(s)
}

fn path(sc: &Scenario, opts: &[&str]) -> CmdOut {
    let mut user = UserSel::One(0);
    let mut name = None;
    let mut i = 0;
    while let Some(o) = opts.get(i) {
        match *o {
            "--user" => {
                i += 1;
                match parse_user(opts.get(i)) {
                    Ok(u) => user = u,
                    Err(e) => return e,
                }
            }
            o if o.starts_with('-') => return unknown_option(o),
            o => name = Some(o),
        }
        i += 1;
    }
    let Some(name) = name else {
        return CmdOut::fail("Error: no package specified\n", 255);
    };
    if let Some(u) = refused(sc, &user) {
        return security_exception("path", u);
    }
    let Some(p) = sc
        .packages
        .iter()
        .find(|p| p.name == name && installed_for(p, &user))
    else {
        return CmdOut::fail(Vec::new(), 1);
    };
    let mut s = String::new();
    for a in &p.apks {
        s.push_str(&format!("package:{}\n", a.path));
    }
    CmdOut::ok(s)
}

fn short_hash(s: &str, salt: u32) -> String {
    let mut h: u32 = 0x811c_9dc5 ^ salt;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{:07x}", h & 0x0fff_ffff)
}

fn split_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".apk").unwrap_or(file);
    if stem == "base" {
        "base".to_string()
    } else if let Some(s) = stem.strip_prefix("split_") {
        s.to_string()
    } else {
        stem.to_string()
    }
}

fn package_block(sc: &Scenario, p: &Package) -> String {
    let base = base_apk(p).unwrap_or("");
    let code_path = crate::scenario::parent(base).unwrap_or("/data/app");
    let h = short_hash(&p.name, 1);
    let h2 = short_hash(&p.name, 2);
    let default_time = if p.system {
        "2009-01-01 01:00:00"
    } else {
        "2024-01-01 00:00:00"
    };
    let first = p.first_install.as_deref().unwrap_or(default_time);
    let last = p.last_update.as_deref().unwrap_or(first);
    let flags = if p.system {
        "[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]"
    } else {
        "[ HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]"
    };
    let splits: Vec<String> = p.apks.iter().map(|a| split_name(&a.path)).collect();
    let mut s = String::new();
    s.push_str(&format!("  Package [{}] ({h}):\n", p.name));
    s.push_str(&format!("    userId={}\n", app_id(p)));
    s.push_str(&format!("    pkg=Package{{{h2} {}}}\n", p.name));
    s.push_str(&format!("    codePath={code_path}\n"));
    s.push_str(&format!("    resourcePath={code_path}\n"));
    s.push_str(&format!("    legacyNativeLibraryDir={code_path}/lib\n"));
    s.push_str(&format!(
        "    primaryCpuAbi={}\n",
        if p.system { "null" } else { "arm64-v8a" }
    ));
    s.push_str("    secondaryCpuAbi=null\n");
    s.push_str(&format!(
        "    versionCode={} minSdk={} targetSdk={}\n",
        p.version_code,
        p.min_sdk.unwrap_or(24),
        p.target_sdk.unwrap_or(sc.sdk())
    ));
    s.push_str(&format!("    versionName={}\n", p.version_name));
    s.push_str(&format!("    splits=[{}]\n", splits.join(", ")));
    s.push_str("    apkSigningVersion=3\n");
    s.push_str(&format!(
        "    applicationInfo=ApplicationInfo{{{h2} {}}}\n",
        p.name
    ));
    s.push_str(&format!("    flags={flags}\n"));
    s.push_str("    privateFlags=[ PRIVATE_FLAG_ACTIVITIES_RESIZE_MODE_RESIZEABLE_VIA_SDK_VERSION ALLOW_AUDIO_PLAYBACK_CAPTURE PRIVATE_FLAG_ALLOW_NATIVE_HEAP_POINTER_TAGGING ]\n");
    s.push_str("    forceQueryable=false\n");
    s.push_str("    queriesPackages=[]\n");
    s.push_str(&format!("    dataDir=/data/user/0/{}\n", p.name));
    s.push_str("    supportsScreens=[small, medium, large, xlarge, resizeable, anyDensity]\n");
    s.push_str(&format!("    timeStamp={last}\n"));
    s.push_str(&format!("    firstInstallTime={first}\n"));
    s.push_str(&format!("    lastUpdateTime={last}\n"));
    if let Some(i) = &p.installer {
        s.push_str(&format!("    installerPackageName={i}\n"));
    }
    s.push_str(&format!(
        "    signatures=PackageSignatures{{{} version:3, signatures:[{}], past signatures:[]}}\n",
        short_hash(&p.name, 3),
        short_hash(&p.name, 4)
    ));
    s.push_str("    installPermissionsFixed=true\n");
    s.push_str(&format!("    pkgFlags={flags}\n"));
    s.push_str("    requested permissions:\n");
    for perm in &p.permissions {
        s.push_str(&format!("      {perm}\n"));
    }
    s.push_str("    install permissions:\n");
    for perm in &p.permissions {
        s.push_str(&format!("      {perm}: granted=true\n"));
    }
    for u in &sc.users {
        let installed = p.users.contains(&u.id);
        let enabled = match p.enabled {
            Some(false) => 3,
            _ => 0,
        };
        s.push_str(&format!(
            "    User {}: ceDataInode={} installed={installed} hidden=false suspended=false distractionFlags=0 stopped=false notLaunched=false enabled={enabled} instant=false virtual=false\n",
            u.id,
            if installed { 200_000 + u64::from(app_id(p)) * 7 + u64::from(u.id) } else { 0 },
        ));
        if installed {
            s.push_str("      gids=[3003]\n");
            s.push_str("      runtime permissions:\n");
        }
    }
    s
}

pub fn dumpsys(conn: &Conn, rest: &[&str]) -> CmdOut {
    let sc = conn.scenario();
    let Some((svc, args)) = rest.split_first() else {
        return CmdOut::ok("Currently running services:\n  package\n");
    };
    if *svc != "package" {
        return CmdOut::fail(format!("Can't find service: {svc}\n"), 0);
    }
    let names: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-') && *a != "packages" && *a != "p")
        .collect();
    let selected: Vec<&Package> = if names.is_empty() {
        sc.packages.iter().collect()
    } else {
        sc.packages
            .iter()
            .filter(|p| names.contains(&p.name.as_str()))
            .collect()
    };
    if selected.is_empty() {
        // An unknown package: dumpsys prints nearly nothing.
        return CmdOut::ok("\nDexopt state:\n\nCompiler stats:\n");
    }
    let mut s = String::new();
    if names.is_empty() {
        s.push_str("Database versions:\n  Internal:\n    sdkVersion=");
        s.push_str(&sc.sdk().to_string());
        s.push_str(
            " databaseVersion=3\n\nVerifiers:\n  Required: com.android.vending (uid=10091)\n\n",
        );
        s.push_str(
            "Libraries:\n  android.test.base -> (jar) /system/framework/android.test.base.jar\n\n",
        );
    }
    s.push_str("Key Set Manager:\n");
    for p in &selected {
        s.push_str(&format!(
            "  [{}]\n      Signing KeySets: {}\n",
            p.name,
            app_id(p) % 97 + 1
        ));
    }
    s.push_str("\nPackages:\n");
    for p in &selected {
        s.push_str(&package_block(sc, p));
    }
    s.push_str(
        "\nQueries:\n  system apps queryable: false\n\nPackage Changes:\n  Sequence number=6\n",
    );
    s.push_str("\n\nDexopt state:\n");
    for p in &selected {
        s.push_str(&format!("  [{}]\n", p.name));
        for a in &p.apks {
            s.push_str(&format!(
                "    path: {}\n      arm64: [status=speed-profile] [reason=bg-dexopt]\n",
                a.path
            ));
        }
    }
    s.push_str("\n\nCompiler stats:\n");
    for p in &selected {
        s.push_str(&format!("  [{}]\n     base.apk - 2802\n", p.name));
    }
    CmdOut::ok(s)
}
