#!/usr/bin/env python3
"""Check signatures/*.toml against the signature file format (signatures/README.md).

A quick offline check for people editing signature data; the binary's loader
(`appsweep signatures check`) is the authority. Usage:

    python3 scripts/check_signatures.py [DIR]        # default: signatures/

Exits 1 and prints one line per problem (file, id) when something is wrong.
"""

import pathlib
import re
import sys
import tomllib

KINDS = {"app", "signer", "markers", "sdk", "webapk"}
SEVERITIES = {"high", "medium", "low", "info"}
CONFIDENCES = {"official", "verified", "single-source"}
FAMILY_KEYS = {"id", "title", "vendor", "description"}
LIST_MATCHERS = [
    "packages",
    "package_prefixes",
    "signers_sha256",
    "components",
    "component_prefixes",
    "native_libs",
    "webapk_hosts",
    "bundle_ids",
    "app_store_ids",
]
SIG_KEYS = {"id", "kind", "title", "severity", "confidence", "references", "note", *LIST_MATCHERS}
FAMILY_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SIG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PACKAGE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$")
NATIVE_LIB = re.compile(r"^lib[A-Za-z0-9_.+-]+\.so$")
HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def check(directory: pathlib.Path) -> list[str]:
    errors: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_families: dict[str, str] = {}
    app_packages: dict[str, str] = {}
    app_bundles: dict[str, str] = {}
    app_store: dict[int, str] = {}
    files = sorted(directory.glob("*.toml"))
    if not files:
        return [f"{directory}: no *.toml files"]
    for path in files:
        name = path.name

        def err(where: str, msg: str) -> None:
            errors.append(f"{name}: {where}: {msg}")

        text = path.read_text(encoding="utf-8")
        if not text.startswith("#"):
            err("file", "must start with a header comment")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            err("file", f"TOML parse error: {e}")
            continue
        unknown_top = set(data) - {"family", "signature"}
        if unknown_top:
            err("file", f"unknown top-level keys {sorted(unknown_top)}")
        family = data.get("family")
        if not isinstance(family, dict):
            err("file", "missing [family]")
            continue
        fid = family.get("id", "")
        if set(family) - FAMILY_KEYS:
            err("family", f"unknown keys {sorted(set(family) - FAMILY_KEYS)}")
        for key in sorted(FAMILY_KEYS):
            if not isinstance(family.get(key), str) or not family.get(key).strip():
                err("family", f"{key} missing or empty")
        if not FAMILY_ID.match(fid):
            err("family", f"bad family id {fid!r}")
        if path.stem != fid:
            err("family", f"file name should be {fid}.toml")
        if fid in seen_families:
            err("family", f"family id {fid} also in {seen_families[fid]}")
        seen_families[fid] = name
        sigs = data.get("signature", [])
        if not sigs:
            err("file", "no [[signature]]")
        ids_in_file = [s.get("id", "") for s in sigs]
        if ids_in_file != sorted(ids_in_file):
            err("file", "signatures are not sorted by id")
        for sig in sigs:
            sid = sig.get("id", "")
            where = sid or "<no id>"
            if set(sig) - SIG_KEYS:
                err(where, f"unknown keys {sorted(set(sig) - SIG_KEYS)}")
            prefix = fid + "."
            if not sid.startswith(prefix) or not SIG_NAME.match(sid[len(prefix):]):
                err(where, f"id must be '{fid}.<name>' with <name> in [a-z0-9-]")
            if sid in seen_ids:
                err(where, f"duplicate id (also in {seen_ids[sid]})")
            seen_ids[sid] = name
            for key in ("title",):
                if not isinstance(sig.get(key), str) or not sig[key].strip():
                    err(where, f"{key} missing or empty")
            kind = sig.get("kind")
            if kind not in KINDS:
                err(where, f"bad kind {kind!r}")
            if sig.get("severity") not in SEVERITIES:
                err(where, f"bad severity {sig.get('severity')!r}")
            if sig.get("confidence") not in CONFIDENCES:
                err(where, f"bad confidence {sig.get('confidence')!r}")
            refs = sig.get("references")
            if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
                err(where, "references must be a non-empty list of non-empty strings")
            if "note" in sig and (not isinstance(sig["note"], str) or not sig["note"].strip()):
                err(where, "note, when present, must be non-empty text")
            present = []
            for key in LIST_MATCHERS:
                if key not in sig:
                    continue
                values = sig[key]
                if not isinstance(values, list):
                    err(where, f"{key} must be a list")
                    continue
                if not values:
                    err(where, f"{key} is empty (leave it out instead)")
                    continue
                present.append(key)
                if len(set(values)) != len(values):
                    err(where, f"{key} has duplicates")
                if values != sorted(values):
                    err(where, f"{key} is not sorted")
                for v in values:
                    if key == "app_store_ids":
                        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                            err(where, f"app_store_ids: bad value {v!r}")
                        continue
                    if not isinstance(v, str) or v != v.strip() or not v:
                        err(where, f"{key}: bad value {v!r}")
                        continue
                    if key == "signers_sha256" and not HEX64.match(v):
                        err(where, f"signers_sha256: not 64 lowercase hex: {v}")
                    if key in ("package_prefixes", "component_prefixes"):
                        if not v.endswith("."):
                            err(where, f"{key}: prefix must end with '.': {v}")
                        if v in ("com.ss.android.", "com.bytedance.", "com.", "com.ss."):
                            err(where, f"{key}: prefix {v} is too broad (see reference §0)")
                    if key in ("packages", "bundle_ids") and not PACKAGE.match(v):
                        err(where, f"{key}: bad id {v}")
                    if key == "components":
                        ok = v.startswith("authority:") or v.startswith("{package}.") or PACKAGE.match(v)
                        if not ok:
                            err(where, f"components: bad class name {v}")
                    if key == "native_libs" and not NATIVE_LIB.match(v):
                        err(where, f"native_libs: bad file name {v}")
                    if key == "webapk_hosts" and not HOST.match(v):
                        err(where, f"webapk_hosts: bad host {v}")
            if not present:
                err(where, "no matcher (at least one non-empty matcher list is required)")
            if kind == "app" and not ({"packages", "bundle_ids", "app_store_ids"} & set(present)):
                err(where, "kind app needs packages, bundle_ids or app_store_ids")
            if kind == "signer" and set(present) != {"signers_sha256"}:
                err(where, "kind signer takes signers_sha256 only")
            if kind in ("markers", "sdk"):
                extra = set(present) - {"components", "component_prefixes", "native_libs"}
                if extra:
                    err(where, f"kind {kind} takes content markers only, not {sorted(extra)}")
            if kind == "sdk" and sig.get("severity") not in ("low", "info"):
                err(where, "kind sdk must be severity low or info")
            if kind == "sdk" and fid != "bytedance-sdk":
                err(where, "kind sdk belongs to family bytedance-sdk")
            if kind == "webapk" and not {"package_prefixes", "webapk_hosts"} <= set(present):
                err(where, "kind webapk needs package_prefixes and webapk_hosts")
            if kind == "app":
                for key, seen in (("packages", app_packages), ("bundle_ids", app_bundles), ("app_store_ids", app_store)):
                    for v in sig.get(key, []):
                        if v in seen and seen[v] != sid:
                            err(where, f"{key} {v} is also in app signature {seen[v]}")
                        seen[v] = sid
    return errors


def main() -> int:
    directory = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "signatures")
    errors = check(directory)
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} problem(s)")
        return 1
    print(f"ok: {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
