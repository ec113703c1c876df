//! `dumpsys package` as the phone's Android version prints it, within dumpsys's per-service
//! budget.
//!
//! - `dumpsys package`: the whole dump (Database versions, Verifiers, Libraries, Key Set
//!   Manager, Packages, Queries, Package Changes, Dexopt state, Compiler stats);
//!   `dumpsys package packages` (or `p`): the Packages section only; `dumpsys package NAME...`:
//!   those packages.
//! - dumpsys's own options (before the service): none before Android 7 (the first word is the
//!   service: `dumpsys -t 30 package` is "Can't find service: -t"), `-l` and `--skip` from 7,
//!   `-t SECONDS` from 8, `-T MILLISECONDS` from 9.
//! - From Android 7 each service gets 10 s (or `-t`/`-T`). A dump the cost model (`cost.rs`)
//!   makes longer is cut: what fits (whole package blocks, then the first lines of the next),
//!   then `*** SERVICE 'package' DUMP TIMEOUT (10000ms) EXPIRED ***`, and exit status 0.
//!   The scenario's `dumpsys.cut_after_packages` forces that cut after N blocks.
//! - The `User N:` line follows the version: `installed= hidden= stopped= notLaunched=
//!   enabled=` before Android 7, `ceDataInode= ... suspended=` from 7, `distractionFlags= ...
//!   instant= virtual=` from 9. `enabled=3` is a disabled app (`pm disable-user`), `stopped=true`
//!   a locked profile. An archived app (Android 15) has `installed=false` and, under that line,
//!   `archiveState=ArchiveState { installerTitle = ..., archiveTimeMillis = ... }`: AOSP's
//!   exact dump wording for the archive state could not be confirmed from public sources, so
//!   this is the form of the `ArchiveState` data class's `toString`; a scanner should key on
//!   `installed=false` plus `archiveState`. An app uninstalled with its data kept has a block
//!   with `installed=false` for every user.

use crate::conn::Conn;
use crate::pm::{app_id, base_apk};
use crate::profile::Profile;
use crate::scenario::{parse_time, Package, Scenario};
use crate::shell::CmdOut;

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

/// The `User N:` line (and what follows it) of one package for one user.
fn user_lines(sc: &Scenario, prof: &Profile, p: &Package, uid: u32, s: &mut String) {
    let Some(u) = sc.user(uid) else { return };
    let listed = p.users.contains(&u.id);
    let installed = listed && !p.archived;
    // Data stays for archived apps and apps uninstalled with their data kept.
    let has_data = listed || p.users.is_empty();
    let enabled = if installed && !p.is_enabled() { 3 } else { 0 };
    let stopped = u.locked;
    let inode = if has_data {
        200_000 + u64::from(app_id(p)) * 7 + u64::from(u.id)
    } else {
        0
    };
    let line = match prof.sdk {
        ..=23 => format!(
            "    User {}: installed={installed} hidden=false stopped={stopped} notLaunched=false enabled={enabled}\n",
            u.id
        ),
        24..=27 => format!(
            "    User {}: ceDataInode={inode} installed={installed} hidden=false suspended=false stopped={stopped} notLaunched=false enabled={enabled}\n",
            u.id
        ),
        _ => format!(
            "    User {}: ceDataInode={inode} installed={installed} hidden=false suspended=false distractionFlags=0 stopped={stopped} notLaunched=false enabled={enabled} instant=false virtual=false\n",
            u.id
        ),
    };
    s.push_str(&line);
    if listed && p.archived {
        let when = p
            .last_update
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(1_704_067_200);
        s.push_str(&format!(
            "      archiveState=ArchiveState {{ installerTitle = {}, archiveTimeMillis = {} }}\n",
            installer_title(p.installer.as_deref()),
            (when + 86_400) * 1000
        ));
    }
    if installed {
        s.push_str("      gids=[3003]\n");
        s.push_str("      runtime permissions:\n");
    }
}

fn installer_title(installer: Option<&str>) -> &'static str {
    match installer {
        Some("com.android.vending") => "Google Play Store",
        Some("org.fdroid.fdroid") => "F-Droid",
        Some("com.sec.android.app.samsungapps") => "Galaxy Store",
        Some("com.xiaomi.market") => "GetApps",
        _ => "Package installer",
    }
}

fn package_block(sc: &Scenario, prof: &Profile, p: &Package) -> String {
    let base = base_apk(p).unwrap_or("");
    let code_path = crate::vfs::parent(base).unwrap_or("/data/app");
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
    let target = p.target_sdk.unwrap_or(prof.sdk);
    if prof.sdk >= 28 {
        s.push_str(&format!(
            "    versionCode={} minSdk={} targetSdk={target}\n",
            p.version_code,
            p.min_sdk.unwrap_or(24.min(prof.sdk))
        ));
    } else {
        s.push_str(&format!(
            "    versionCode={} targetSdk={target}\n",
            p.version_code
        ));
    }
    s.push_str(&format!("    versionName={}\n", p.version_name));
    s.push_str(&format!("    splits=[{}]\n", splits.join(", ")));
    if prof.sdk >= 28 {
        s.push_str("    apkSigningVersion=3\n");
    }
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
    for u in sc.users.iter().filter(|u| !u.hidden_from_dumpsys) {
        user_lines(sc, prof, p, u.id, &mut s);
    }
    s
}

/// What `dumpsys package ARGS` asks for.
struct Request<'a> {
    /// `packages` / `p`: the Packages section only.
    section_only: bool,
    names: Vec<&'a str>,
}

fn request<'a>(args: &[&'a str]) -> Request<'a> {
    let mut section_only = false;
    let mut names = Vec::new();
    for a in args {
        match *a {
            "packages" | "p" => section_only = true,
            a if a.starts_with('-') => {}
            a => names.push(a),
        }
    }
    Request {
        section_only,
        names,
    }
}

/// Parses dumpsys's own options; returns (budget override in ms, the rest) or the output to
/// give instead.
fn options<'a>(
    prof: &Profile,
    rest: &'a [&'a str],
) -> Result<(Option<u64>, &'a [&'a str]), CmdOut> {
    let mut budget = None;
    let mut rest = rest;
    while let Some((first, tail)) = rest.split_first() {
        let value = || tail.first().and_then(|v| v.parse::<u64>().ok());
        match *first {
            "-l" if prof.dumpsys_options => {
                return Err(CmdOut::ok("Currently running services:\n  package\n"));
            }
            "--skip" if prof.dumpsys_options => {
                rest = tail.get(1..).unwrap_or(&[]);
            }
            "-t" if prof.dumpsys_t => {
                budget = value().map(|s| s.saturating_mul(1000));
                rest = tail.get(1..).unwrap_or(&[]);
            }
            "-T" if prof.dumpsys_big_t => {
                budget = value();
                rest = tail.get(1..).unwrap_or(&[]);
            }
            _ => break,
        }
    }
    Ok((budget, rest))
}

pub fn dumpsys(conn: &Conn, rest: &[&str]) -> CmdOut {
    let sc = conn.scenario();
    let prof = conn.profile();
    let (budget_arg, rest) = match options(prof, rest) {
        Ok(v) => v,
        Err(out) => return out,
    };
    let Some((svc, args)) = rest.split_first() else {
        return CmdOut::ok("Currently running services:\n  package\n");
    };
    if *svc != "package" {
        return CmdOut::fail(format!("Can't find service: {svc}\n"), 0);
    }
    let req = request(args);
    let selected: Vec<&Package> = if req.names.is_empty() {
        sc.packages.iter().collect()
    } else {
        sc.packages
            .iter()
            .filter(|p| req.names.contains(&p.name.as_str()))
            .collect()
    };
    let costs = &prof.costs;
    if selected.is_empty() {
        // An unknown package: dumpsys prints nearly nothing.
        return CmdOut {
            extra_ms: costs.dumpsys_total_ms(0),
            ..CmdOut::ok("\nDexopt state:\n\nCompiler stats:\n")
        };
    }
    // The cut, in phone time: whole blocks that fit in the budget, or the forced one.
    let budget = budget_arg.or(prof.dumpsys_budget_ms);
    let total_ms = costs.dumpsys_total_ms(selected.len());
    let mut cut = sc
        .dumpsys
        .cut_after_packages
        .filter(|k| *k < selected.len());
    if let Some(b) = budget {
        if cut.is_none() && total_ms > b as f64 {
            let room = (b as f64 - costs.dumpsys_ms).max(0.0);
            let fit = if costs.dumpsys_per_package_ms > 0.0 {
                (room / costs.dumpsys_per_package_ms) as usize
            } else {
                selected.len()
            };
            cut = Some(fit.min(selected.len().saturating_sub(1)));
        }
    }
    let whole = req.names.is_empty() && !req.section_only;
    let mut s = String::new();
    if whole {
        s.push_str("Database versions:\n  Internal:\n    sdkVersion=");
        s.push_str(&prof.sdk.to_string());
        s.push_str(
            " databaseVersion=3\n\nVerifiers:\n  Required: com.android.vending (uid=10091)\n\n",
        );
        s.push_str(
            "Libraries:\n  android.test.base -> (jar) /system/framework/android.test.base.jar\n\n",
        );
    }
    if !req.section_only {
        s.push_str("Key Set Manager:\n");
        for p in &selected {
            s.push_str(&format!(
                "  [{}]\n      Signing KeySets: {}\n",
                p.name,
                app_id(p) % 97 + 1
            ));
        }
        s.push('\n');
    }
    s.push_str("Packages:\n");
    if let Some(k) = cut {
        for p in selected.iter().take(k) {
            s.push_str(&package_block(sc, prof, p));
        }
        if let Some(p) = selected.get(k) {
            // The dump stops mid-block.
            for line in package_block(sc, prof, p).lines().take(3) {
                s.push_str(line);
                s.push('\n');
            }
        }
        let b = budget.unwrap_or(10_000);
        s.push_str(&format!(
            "\n*** SERVICE 'package' DUMP TIMEOUT ({b}ms) EXPIRED ***\n\n"
        ));
        conn.stats().update(|c| c.dumpsys_timeouts += 1);
        return CmdOut {
            extra_ms: b as f64,
            ..CmdOut::ok(s)
        };
    }
    for p in &selected {
        s.push_str(&package_block(sc, prof, p));
    }
    if !req.section_only {
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
    }
    CmdOut {
        extra_ms: total_ms,
        ..CmdOut::ok(s)
    }
}
