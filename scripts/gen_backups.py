#!/usr/bin/env python3
"""Makes N synthetic iOS backup folders with realistic file sizes, for scripts/bench_backups.sh.

    scripts/gen_backups.py N DIR [--templates K] [--apps A] [--rows R] [--seed S]

Each backup folder DIR/<UDID>/ holds what Finder / iTunes / idevicebackup2 write at the top of a
backup:
  - Info.plist (XML, as iTunes writes it): device identity, `Installed Applications` and an
    `Applications` dict of A apps (default 150), each with an `iTunesMetadata` binary plist,
    an `ApplicationSINF` blob and a `PlaceholderIcon` of 10-40 KB (random bytes: icons are PNG,
    incompressible). About 6 MB per file.
  - Manifest.plist (binary): `Lockdown`, `Applications` (CFBundleVersion, Path, ...).
  - Status.plist (binary): SnapshotState finished.
  - Manifest.db: SQLite with the real schema (Files + its three indexes, Properties) and R rows
    (default 30000) over ~400 domains (HomeDomain, CameraRollDomain, AppDomain-*,
    AppDomainGroup-*, AppDomainPlugin-*), each with a ~300-byte `file` blob. About 20 MB.
  - 16 hashed subfolders (00..0f) with one content file each.

To keep the data set within the page cache (and the disk shared), only K distinct templates
(default min(N, 100)) of the two big files are generated; the N backups hard-link Info.plist and
Manifest.db to one of them. Every backup still reads its own path, so the bytes read per backup
are real; `cat` reads exactly the same files. Manifest.plist and Status.plist are per backup
(the device id, taken from Info.plist first, therefore repeats once per template).
One template in 25 lists TikTok (com.zhiliaoapp.musically) in `Installed Applications`.
"""
import argparse
import hashlib
import os
import plistlib
import random
import sqlite3
import sys
import datetime

TIKTOK = "com.zhiliaoapp.musically"


def bundle_ids(rng, n):
    vendors = ["com.example", "net.sample", "org.demo", "io.apps", "com.corp", "de.firma", "fr.societe"]
    words = ["mail", "notes", "maps", "chat", "photo", "video", "bank", "news", "weather", "music",
             "fit", "shop", "travel", "books", "cloud", "docs", "scan", "vpn", "auth", "games"]
    ids = set()
    while len(ids) < n:
        ids.add(f"{rng.choice(vendors)}.{rng.choice(words)}{rng.randrange(1000)}")
    return sorted(ids)


def itunes_metadata(rng, bundle, item_id):
    meta = {
        "itemId": item_id,
        "itemName": bundle.split(".")[-1].title(),
        "artistName": "Example Developer Ltd.",
        "bundleShortVersionString": f"{rng.randrange(1, 40)}.{rng.randrange(10)}.{rng.randrange(10)}",
        "bundleVersion": str(rng.randrange(100000, 999999)),
        "softwareVersionBundleId": bundle,
        "sourceApp": "com.apple.AppStore",
        "genre": "Productivity",
        "genreId": 6007,
        "kind": "software",
        "releaseDate": "2023-05-01T07:00:00Z",
        "softwareSupportedDeviceIds": [9],
        "softwareVersionExternalIdentifier": rng.randrange(10**8, 10**9),
        "softwareVersionExternalIdentifiers": [rng.randrange(10**8, 10**9) for _ in range(40)],
        "rating": {"content": "4+", "label": "4+", "rank": 100, "system": "itunes-games"},
        "com.apple.iTunesStore.downloadInfo": {
            "accountInfo": {"AppleID": "someone@example.com", "DSPersonID": 1234567890,
                            "FirstName": "Test", "LastName": "User"},
            "purchaseDate": "2024-01-15T09:30:00Z",
        },
        "is-purchased-redownload": True,
    }
    return plistlib.dumps(meta, fmt=plistlib.FMT_BINARY)


def info_plist(rng, udid, apps, tiktok):
    installed = list(apps) + ([TIKTOK] if tiktok else [])
    applications = {}
    for i, bundle in enumerate(apps):
        applications[bundle] = {
            "iTunesMetadata": itunes_metadata(rng, bundle, 300000000 + i),
            "ApplicationSINF": rng.randbytes(rng.randrange(2000, 5000)),
            "PlaceholderIcon": rng.randbytes(rng.randrange(10_000, 40_000)),
        }
    info = {
        "Build Version": "21E237",
        "Device Name": "iPhone",
        "Display Name": "iPhone",
        "GUID": udid[:32].upper(),
        "ICCID": "8932000000000000000",
        "IMEI": "356789012345678",
        "Installed Applications": installed,
        "Applications": applications,
        "Last Backup Date": datetime.datetime(2026, 11, 1, 12, 0, 0),
        "Phone Number": "+32 470 00 00 00",
        "Product Name": "iPhone 14 Pro",
        "Product Type": "iPhone15,2",
        "Product Version": "17.4.1",
        "Serial Number": "F2LXK0ABCDEF",
        "Target Identifier": udid,
        "Target Type": "Device",
        "Unique Identifier": udid.upper(),
        "iTunes Version": "12.13.1.3",
    }
    return plistlib.dumps(info, fmt=plistlib.FMT_XML)


def manifest_db(rng, path, apps, rows):
    if os.path.exists(path):
        os.remove(path)
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);"
        "CREATE INDEX FilesDomainIdx ON Files(domain);"
        "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
        "CREATE INDEX FilesFlagsIdx ON Files(flags);"
        "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);"
    )
    domains = ["HomeDomain", "CameraRollDomain", "MediaDomain", "KeychainDomain", "WirelessDomain",
               "SystemPreferencesDomain", "ManagedPreferencesDomain", "DatabaseDomain", "RootDomain"]
    domains += [f"AppDomain-{a}" for a in apps]
    domains += [f"AppDomainGroup-group.{a}" for a in apps[: len(apps) * 2 // 3]]
    domains += [f"AppDomainPlugin-{a}.widget" for a in apps[: len(apps) // 2]]
    blob_base = rng.randbytes(300)
    batch = []
    for i in range(rows):
        domain = domains[i % len(domains)] if i % 3 else rng.choice(domains[:9])
        rel = f"Library/Caches/{rng.randrange(10**6)}/item{i}.dat"
        fid = hashlib.sha1(f"{domain}-{rel}".encode()).hexdigest()
        batch.append((fid, domain, rel, 1, blob_base[: 200 + i % 100]))
    conn.executemany("INSERT OR IGNORE INTO Files VALUES (?,?,?,?,?)", batch)
    conn.execute("INSERT INTO Properties VALUES ('salt', x'00')")
    conn.commit()
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("dir")
    ap.add_argument("--templates", type=int, default=100)
    ap.add_argument("--apps", type=int, default=150)
    ap.add_argument("--rows", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    k = max(1, min(a.n, a.templates))
    tdir = os.path.join(a.dir, ".templates")
    bdir = os.path.join(a.dir, "backups")
    os.makedirs(tdir, exist_ok=True)
    os.makedirs(bdir, exist_ok=True)
    templates = []
    for t in range(k):
        trng = random.Random(a.seed * 100003 + t)
        apps = bundle_ids(trng, a.apps)
        info = os.path.join(tdir, f"Info-{t}.plist")
        db = os.path.join(tdir, f"Manifest-{t}.db")
        if not (os.path.exists(info) and os.path.exists(db)):
            udid = hashlib.sha1(f"template-{t}".encode()).hexdigest()
            with open(info + ".tmp", "wb") as f:
                f.write(info_plist(trng, udid, apps, tiktok=(t % 25 == 0)))
            os.replace(info + ".tmp", info)
            manifest_db(trng, db + ".tmp", apps, a.rows)
            os.replace(db + ".tmp", db)
        templates.append((info, db, apps))
        if (t + 1) % 10 == 0 or t + 1 == k:
            print(f"\rtemplates {t + 1}/{k}", end="", file=sys.stderr)
    print(file=sys.stderr)
    for i in range(a.n):
        udid = hashlib.sha1(f"backup-{a.seed}-{i}".encode()).hexdigest()
        d = os.path.join(bdir, udid)
        if os.path.exists(os.path.join(d, "Status.plist")):
            continue
        info, db, apps = templates[i % k]
        os.makedirs(d, exist_ok=True)
        for src, name in ((info, "Info.plist"), (db, "Manifest.db")):
            dst = os.path.join(d, name)
            if os.path.exists(dst):
                os.remove(dst)
            os.link(src, dst)
        manifest = {
            "Version": "10.0",
            "IsEncrypted": False,
            "WasPasscodeSet": True,
            "Date": datetime.datetime(2026, 11, 1, 12, 0, 0),
            "SystemDomainsVersion": "24.0",
            "Lockdown": {"ProductVersion": "17.4.1", "ProductType": "iPhone15,2", "BuildVersion": "21E237",
                         "UniqueDeviceID": udid, "SerialNumber": "F2LXK0ABCDEF", "DeviceName": "iPhone"},
            "Applications": {b: {"CFBundleIdentifier": b, "CFBundleVersion": "100",
                                 "ContainerContentClass": "Data/Application",
                                 "Path": f"/var/containers/Bundle/Application/{i:08X}/{b}.app"} for b in apps},
        }
        with open(os.path.join(d, "Manifest.plist"), "wb") as f:
            plistlib.dump(manifest, f, fmt=plistlib.FMT_BINARY)
        status = {"BackupState": "new", "Date": datetime.datetime(2026, 11, 1, 12, 0, 0), "IsFullBackup": False,
                  "SnapshotState": "finished", "UUID": udid[:8].upper(), "Version": "3.3"}
        for h in range(16):
            sub = os.path.join(d, f"{h:02x}")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, hashlib.sha1(f"{udid}{h}".encode()).hexdigest()), "wb") as f:
                f.write(b"content")
        with open(os.path.join(d, "Status.plist"), "wb") as f:
            plistlib.dump(status, f, fmt=plistlib.FMT_BINARY)
        if (i + 1) % 100 == 0 or i + 1 == a.n:
            print(f"\rbackups {i + 1}/{a.n}", end="", file=sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
