//! `pm` and `cmd package` with the options, output and error forms of the phone's Android
//! version (see `profile.rs`): `Pm.java` before Android 8, `PackageManagerShellCommand` after.
//!
//! Where an app can be, as `pm` shows it: installed for some users (`users`), disabled
//! (`enabled: false`: still listed, `-d` lists only those, `-e` leaves them out), archived
//! (Android 15: listed, `pm path` prints nothing, `-f` prints `null` as the path because the
//! app's `sourceDir` is null), uninstalled with its data kept (`users: []`: only `-u` lists it,
//! path `null`), in a profile that refuses the shell (`refuse_listing`: a SecurityException,
//! exit 255) or that the user locked (`locked`: listing prints nothing, exit 0).

use crate::conn::Conn;
use crate::dumpsys;
use crate::profile::{PmErrors, Profile};
use crate::scenario::{Package, Scenario};
use crate::shell::CmdOut;

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

/// `Error: Unknown option: X`, where and with the status this Android version gives it.
fn unknown_option(p: &Profile, opt: &str) -> CmdOut {
    let msg = format!("Error: Unknown option: {opt}\n");
    match p.pm_errors {
        PmErrors::Stderr1 => CmdOut::fail(msg, 1),
        PmErrors::Stdout0 => CmdOut::ok(msg),
        PmErrors::Stderr255 => CmdOut::fail(msg, 255),
    }
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

fn locked(sc: &Scenario, id: u32) -> bool {
    sc.user(id).is_some_and(|u| u.locked)
}

/// Users (not locked) the package is installed (or archived) for, among the selected ones.
fn listed_users(sc: &Scenario, p: &Package, sel: &UserSel) -> Vec<u32> {
    p.users
        .iter()
        .copied()
        .filter(|u| match sel {
            UserSel::One(id) => u == id,
            UserSel::All => true,
        })
        .filter(|u| !locked(sc, *u))
        .collect()
}

pub fn base_apk(p: &Package) -> Option<&str> {
    p.apks
        .iter()
        .find(|a| a.path.ends_with("/base.apk"))
        .or_else(|| p.apks.first())
        .map(|a| a.path.as_str())
}

pub fn app_id(p: &Package) -> u32 {
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
    "archive",
    "request-unarchive",
];

/// `cmd SERVICE ...` (Android 7+): only the package service is modelled.
pub fn cmd(conn: &Conn, rest: &[&str]) -> CmdOut {
    match rest.split_first() {
        Some((&"package", tail)) => {
            if !conn.profile().cmd_package_path && tail.first() == Some(&"path") {
                // PackageManagerShellCommand of Android 7 has no `path`.
                return CmdOut {
                    code: 255,
                    ..CmdOut::ok("Unknown command: path\n")
                };
            }
            pm(conn, tail, "cmd")
        }
        Some((&"-l", _)) => CmdOut::ok("Currently running services:\n  package\n"),
        Some((svc, _)) => CmdOut::fail(format!("cmd: Can't find service: {svc}\n"), 20),
        None => CmdOut::fail(
            "cmd: No service specified; use -l to list all services\n",
            20,
        ),
    }
}

pub fn pm(conn: &Conn, rest: &[&str], via: &str) -> CmdOut {
    let sc = conn.scenario();
    let p = conn.profile();
    match rest.split_first() {
        None => CmdOut::fail("usage: pm path [--user USER_ID] PACKAGE\n       pm list packages [-f] [-d] [-e] [-s] [-3] [-i] [-l] [-u] [-U] [--show-versioncode] [--user USER_ID] [FILTER]\n       pm list users\n", 255),
        Some((&"list", tail)) => match tail.split_first() {
            Some((&("packages" | "package"), opts)) => list_packages(sc, p, opts),
            Some((&"users", _)) => list_users(sc),
            Some((what, _)) => CmdOut::fail(format!("Error: unknown list type '{what}'\n"), 255),
            None => CmdOut::fail("Error: didn't specify type of data to list\n", 255),
        },
        Some((&"path", tail)) => path(sc, p, tail),
        Some((&"dump", tail)) => dumpsys::dumpsys(conn, &[&["package"], tail].concat()),
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
            if u.is_running() { " running" } else { "" }
        ));
    }
    CmdOut::ok(s)
}

fn list_packages(sc: &Scenario, prof: &Profile, opts: &[&str]) -> CmdOut {
    let (mut show_path, mut installer, mut uid, mut vcode) = (false, false, false, false);
    let (mut only_sys, mut only_third, mut only_enabled, mut only_disabled) =
        (false, false, false, false);
    let mut include_uninstalled = false;
    let mut user = if prof.pm_all_users_by_default {
        UserSel::All
    } else {
        UserSel::One(0)
    };
    let mut uid_filter: Option<u32> = None;
    let mut filter: Option<&str> = None;
    let mut i = 0;
    while let Some(o) = opts.get(i) {
        match *o {
            "-f" => show_path = true,
            "-i" => installer = true,
            "-U" if prof.pm_uid => uid = true,
            "--show-versioncode" if prof.pm_versioncode => vcode = true,
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
            "--uid" if prof.pm_uid => {
                i += 1;
                match opts.get(i).and_then(|v| v.parse().ok()) {
                    Some(u) => uid_filter = Some(u),
                    None => return unknown_option(prof, "--uid"),
                }
            }
            o if o.starts_with('-') => return unknown_option(prof, o),
            o => filter = Some(o),
        }
        i += 1;
    }
    if let Some(u) = refused(sc, &user) {
        return security_exception("list", u);
    }
    if let UserSel::One(id) = user {
        if locked(sc, id) {
            return CmdOut::ok("");
        }
    }
    // Android 14+ lists all users (the default there, or `--user all`) with each package's
    // uids joined by `,`.
    let joined_uids = prof.pm_all_users_by_default;
    let mut s = String::new();
    for p in &sc.packages {
        let users = listed_users(sc, p, &user);
        if users.is_empty() && !include_uninstalled {
            continue;
        }
        if (only_sys && !p.system) || (only_third && p.system) {
            continue;
        }
        if (only_enabled && !p.is_enabled()) || (only_disabled && p.is_enabled()) {
            continue;
        }
        if filter.is_some_and(|f| !p.name.contains(f)) {
            continue;
        }
        let uids: Vec<u32> = match &user {
            UserSel::One(id) => vec![id * 100_000 + app_id(p)],
            UserSel::All if users.is_empty() => vec![app_id(p)],
            UserSel::All if joined_uids => users.iter().map(|u| u * 100_000 + app_id(p)).collect(),
            UserSel::All => users
                .iter()
                .take(1)
                .map(|u| u * 100_000 + app_id(p))
                .collect(),
        };
        if let Some(want) = uid_filter {
            if !uids.contains(&want) && want != app_id(p) {
                continue;
            }
        }
        s.push_str("package:");
        if show_path {
            // Archived and uninstalled-with-data apps have a null sourceDir.
            let path = if p.has_code() { base_apk(p) } else { None };
            s.push_str(path.unwrap_or("null"));
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
            let list: Vec<String> = uids.iter().map(u32::to_string).collect();
            s.push_str(&format!(" uid:{}", list.join(",")));
        }
        s.push('\n');
    }
    CmdOut::ok(s)
}

fn path(sc: &Scenario, prof: &Profile, opts: &[&str]) -> CmdOut {
    let mut user = UserSel::One(0);
    let mut name = None;
    if !prof.pm_path_user {
        // Pm.java before Android 7 takes the first argument as the package, `--user` included.
        name = opts.first().copied();
    } else {
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
                o if o.starts_with('-') => return unknown_option(prof, o),
                o => name = Some(o),
            }
            i += 1;
        }
    }
    let Some(name) = name else {
        return CmdOut::fail("Error: no package specified\n", 1);
    };
    if let Some(u) = refused(sc, &user) {
        return security_exception("path", u);
    }
    let Some(p) = sc
        .packages
        .iter()
        .find(|p| p.name == name && p.has_code() && !listed_users(sc, p, &user).is_empty())
    else {
        return CmdOut::fail(Vec::new(), 1);
    };
    let mut s = String::new();
    for a in &p.apks {
        s.push_str(&format!("package:{}\n", a.path));
    }
    CmdOut::ok(s)
}
