//! The command line end to end: `scan files` on IPAs the test builds, report schema, exit codes,
//! output options, signatures and policy files.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::cmd::{
    code, evidence, hermetic, json, jsonl, run, scan_files, scan_files_json as scan, stderr,
};
use crate::support::ipabuild::Ipa;
use crate::support::schema::{assert_valid_report, assert_valid_run, validator};

fn ipa(dir: &Path, name: &str, bundle: &str, item_id: Option<u64>) -> PathBuf {
    let mut app = Ipa::new(bundle);
    if let Some(id) = item_id {
        app = app.item_id(id);
    }
    app.write(&dir.join(name))
}

#[test]
fn tiktok_ipa_is_a_violation_with_exit_1_and_valid_schema() {
    let dir = tempfile::tempdir().unwrap();
    ipa(
        dir.path(),
        "tiktok.ipa",
        "com.zhiliaoapp.musically",
        Some(835599320),
    );
    ipa(dir.path(), "notes.ipa", "com.example.notes", None);
    let (rc, doc) = scan(&[dir.path()], &[]);
    assert_eq!(rc, 1);
    assert_valid_run(&doc);
    let r = &doc["reports"][0];
    assert_eq!(r["status"], "violation");
    assert_eq!(r["device"]["source"], "files");
    assert_eq!(r["device"]["id"], dir.path().to_str().unwrap());
    assert_eq!(r["apps"].as_array().unwrap().len(), 2);
    let f = &r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["signature"], "tiktok.global");
    assert_eq!(f[0]["disposition"], "violation");
    let kinds = evidence(&f[0], "kind");
    assert!(
        kinds.contains(&"bundle_id") && kinds.contains(&"app_store_id"),
        "{kinds:?}"
    );
    // --hash flagged (the default) hashes the flagged file only.
    assert!(kinds.contains(&"file_sha256"), "{kinds:?}");
    let hashed: Vec<bool> = r["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_sha256"].is_string())
        .collect();
    assert_eq!(hashed.iter().filter(|h| **h).count(), 1);
}

#[test]
fn app_store_id_alone_identifies_a_renamed_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let p = ipa(dir.path(), "x.ipa", "com.example.renamed", Some(835599320));
    let out = scan_files("jsonl", &[&p], &[]);
    assert_eq!(code(&out), 1);
    let line = jsonl(&out).remove(0);
    assert_valid_report(&line);
    assert_eq!(line["findings"][0]["signature"], "tiktok.global");
}

#[test]
fn clean_folder_exits_0_and_a_corrupt_file_is_incomplete_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    ipa(dir.path(), "notes.ipa", "com.example.notes", None);
    let (rc, doc) = scan(&[dir.path()], &[]);
    assert_eq!(rc, 0);
    assert_eq!(doc["reports"][0]["status"], "clean");

    std::fs::write(
        dir.path().join("broken.apk"),
        b"PK\x03\x04 definitely not a zip",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.ipa"), b"garbage").unwrap();
    let (rc, doc) = scan(&[dir.path()], &[]);
    assert_eq!(rc, 3);
    assert_valid_run(&doc);
    let r = &doc["reports"][0];
    assert_eq!(r["status"], "incomplete");
    let problems = r["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems
        .iter()
        .any(|p| p["scope"].as_str().unwrap().ends_with("broken.apk")));
}

#[test]
fn violation_wins_over_incomplete_across_arguments() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    ipa(a.path(), "t.ipa", "com.zhiliaoapp.musically", None);
    std::fs::write(b.path().join("broken.apk"), b"nope").unwrap();
    let (rc, doc) = scan(&[a.path(), b.path()], &[]);
    assert_eq!(rc, 1);
    assert_eq!(doc["summary"]["devices"], 2);
    assert_eq!(doc["summary"]["violation"], 1);
    assert_eq!(doc["summary"]["incomplete"], 1);
}

#[test]
fn missing_path_is_incomplete_not_clean() {
    let (rc, doc) = scan(&[Path::new("/nonexistent/appsweep-test")], &[]);
    assert_eq!(rc, 3);
    assert_eq!(doc["reports"][0]["status"], "incomplete");
}

#[test]
fn output_file_and_out_dir_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ipa(&data, "t.ipa", "com.zhiliaoapp.musically", None);
    let report = dir.path().join("report.json");
    let per_device = dir.path().join("devices");
    let out = scan_files(
        "json",
        &[&data],
        &[
            "--output",
            report.to_str().unwrap(),
            "--out-dir",
            per_device.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        out.stdout.is_empty(),
        "stdout carries nothing when --output is given"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_valid_run(&doc);
    let files: Vec<_> = std::fs::read_dir(&per_device)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let one: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_valid_report(&one);
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn parallel_equals_sequential_and_reruns_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..40 {
        let bundle = if i % 7 == 0 {
            "com.zhiliaoapp.musically".to_string()
        } else {
            format!("com.example.app{i}")
        };
        ipa(dir.path(), &format!("app{i:02}.ipa"), &bundle, None);
    }
    let threads = |t: &str| scan_files("json", &[dir.path()], &["--threads", t]);
    let one = threads("1");
    let two = threads("2");
    let again = threads("2");
    assert_eq!(code(&one), 1);
    // Each run is a new record (its own record id); everything else but the measured duration
    // is identical, finding ids included.
    let record = |o: &Output| json(o)["reports"][0]["record_id"].clone();
    assert_ne!(record(&one), record(&two));
    assert_ne!(record(&two), record(&again));
    let strip = |o: &Output| {
        let mut v = json(o);
        v["reports"][0]["stats"]["duration_ms"] = Value::from(0);
        v["reports"][0]["record_id"] = Value::from("");
        v
    };
    assert_eq!(strip(&one), strip(&two));
    assert_eq!(strip(&two), strip(&again));
    let ids: Vec<&str> = json(&one)["reports"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string().leak() as &str)
        .collect();
    assert_eq!(ids.len(), 6);
}

#[test]
fn policy_file_changes_dispositions_and_rejects_typos() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ipa(&data, "capcut.ipa", "com.lemon.lvoverseas", None);
    let (rc, doc) = scan(&[&data], &[]);
    assert_eq!(rc, 0, "CapCut is a notice under the default policy");
    let r = &doc["reports"][0];
    assert_eq!(r["findings"][0]["disposition"], "notice");
    assert_eq!(r["status"], "clean");

    let policy = dir.path().join("strict.toml");
    std::fs::write(
        &policy,
        "name = \"omb-m-23-13\"\n[dispositions]\nbytedance = \"violation\"\n",
    )
    .unwrap();
    let (rc, doc) = scan(&[&data], &["--policy", policy.to_str().unwrap()]);
    assert_eq!(rc, 1);
    assert_eq!(doc["reports"][0]["policy"]["name"], "omb-m-23-13");

    std::fs::write(
        &policy,
        "name = \"x\"\n[dispositions]\nbytedanse = \"violation\"\n",
    )
    .unwrap();
    let out = scan_files("json", &[&data], &["--policy", policy.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("bytedanse"));
}

#[test]
fn allowlist_policy_flags_unapproved_apps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ipa(&data, "ok.ipa", "com.agency.mail", None);
    ipa(&data, "game.ipa", "com.example.game", None);
    let policy = dir.path().join("allow.toml");
    std::fs::write(&policy, "name = \"approved\"\nmode = \"allowlist\"\n[allowlist]\nbundle_ids = [\"com.agency.mail\"]\n").unwrap();
    let (rc, doc) = scan(&[&data], &["--policy", policy.to_str().unwrap()]);
    assert_eq!(rc, 1);
    let f = doc["reports"][0]["findings"].clone();
    assert_eq!(f.as_array().unwrap().len(), 1);
    assert_eq!(f[0]["app"]["id"], "com.example.game");
    assert_eq!(f[0]["match"], "not_approved");
}

#[test]
fn signatures_dir_adds_and_bad_files_name_file_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let sigs = dir.path().join("sigs");
    std::fs::create_dir(&sigs).unwrap();
    std::fs::write(
        sigs.join("agency.toml"),
        "[family]\nid = \"agency\"\ntitle = \"Agency list\"\n[[signature]]\nid = \"agency.game\"\nkind = \"app\"\ntitle = \"Banned game\"\nseverity = \"medium\"\nconfidence = \"verified\"\nreferences = [\"internal memo\"]\nbundle_ids = [\"com.example.game\"]\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    ipa(&data, "game.ipa", "com.example.game", None);
    let (rc, doc) = scan(&[&data], &["--signatures", sigs.to_str().unwrap()]);
    assert_eq!(rc, 0, "a family without a policy entry is a notice");
    assert_eq!(doc["reports"][0]["findings"][0]["signature"], "agency.game");

    let out = run(&[
        "signatures",
        "check",
        "--signatures",
        sigs.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: "));

    std::fs::write(sigs.join("agency.toml"), "[family]\nid = \"agency\"\ntitle = \"x\"\n[[signature]]\nid = \"agency.bad\"\nkind = \"signer\"\ntitle = \"x\"\nseverity = \"high\"\nconfidence = \"verified\"\nreferences = [\"r\"]\nsigners_sha256 = [\"xyz\"]\n").unwrap();
    let out = run(&[
        "signatures",
        "check",
        "--signatures",
        sigs.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agency.toml") && err.contains("agency.bad"),
        "{err}"
    );
}

#[test]
fn signatures_list_show_and_builtin_invariants() {
    let out = run(&["signatures", "list"]);
    assert_eq!(code(&out), 0);
    let list = String::from_utf8_lossy(&out.stdout);
    for id in [
        "tiktok.global",
        "tiktok.trill",
        "tiktok.repackaged",
        "tiktok.webapk",
    ] {
        assert!(list.contains(id), "{id} missing from:\n{list}");
    }
    let out = run(&["signatures", "show", "tiktok.global"]);
    let sig: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(sig["signers_sha256"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "9041803e91bcb814b4b4399fb5c85a91640b755e5e8ba76813814bf4cf2ab5ba"));
    let out = run(&["signatures", "show", "no.such"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(code(&run(&["scan", "files"])), 2);
    assert_eq!(code(&run(&["scan", "files", ".", "--format", "xml"])), 2);
    assert_eq!(code(&run(&["bogus"])), 2);
}

#[test]
fn csv_escapes_names_from_devices_and_has_a_row_per_clean_device() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Ipa::new("com.zhiliaoapp.musically")
        .info("CFBundleDisplayName", "Tik, \"Tok\"\nLite\x1b[2J=cmd")
        .xml()
        .write(&data.join("t.ipa"));
    let clean = dir.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    ipa(&clean, "n.ipa", "com.example.notes", None);
    let out = scan_files("csv", &[&data, &clean], &[]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    // Quotes doubled, the comma kept inside one cell, control characters escaped (no raw
    // newline or escape sequence reaches the spreadsheet or terminal).
    assert!(
        text.contains(",\"Tik, \"\"Tok\"\"\\u{a}Lite\\u{1b}[2J=cmd\","),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text}");
    // A CSV reader sees the header's column count on every record.
    let header_cols = text.lines().next().unwrap().split(',').count();
    let records: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(header_cols, 17);
    assert!(
        records
            .iter()
            .any(|r| r.starts_with(clean.to_str().unwrap())
                && r.trim_end().ends_with(",clean,,,,,,,,,,,,,")),
        "{text}"
    );
}

#[test]
fn csv_and_human_formats() {
    let dir = tempfile::tempdir().unwrap();
    ipa(dir.path(), "t.ipa", "com.zhiliaoapp.musically", None);
    let out = scan_files("csv", &[dir.path()], &[]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("device_id,platform,model,status,finding_id"));
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains("tiktok.global"));

    let out = scan_files("human", &[dir.path()], &["--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("VIOLATION"), "{text}");
    assert!(text.contains("1 device(s): 1 violation"), "{text}");
}

#[test]
fn schema_check_catches_drift() {
    let dir = tempfile::tempdir().unwrap();
    ipa(dir.path(), "t.ipa", "com.zhiliaoapp.musically", None);
    let out = scan_files("jsonl", &[dir.path()], &[]);
    let mut r = jsonl(&out).remove(0);
    assert_valid_report(&r);
    let v = validator();
    r["device"]["unexpected"] = Value::from(1);
    assert!(!v.is_valid(&r), "an unknown field must fail the schema");
    r["device"].as_object_mut().unwrap().remove("unexpected");
    r["status"] = Value::from("fine");
    assert!(!v.is_valid(&r), "an unknown status must fail the schema");
}

#[test]
fn out_dir_keeps_every_record_when_device_ids_repeat() {
    // The same folder given twice is two "devices" with one id: both records are kept.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ipa(&data, "t.ipa", "com.example.notes", None);
    let per_device = dir.path().join("devices");
    let out = scan_files(
        "jsonl",
        &[&data, &data],
        &["--out-dir", per_device.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0);
    assert_eq!(std::fs::read_dir(&per_device).unwrap().count(), 2);
}

#[test]
fn version_names_the_signature_set() {
    let check = String::from_utf8(run(&["signatures", "check"]).stdout).unwrap();
    let set_version = check
        .split("version ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let out = run(&["--version"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "appsweep {} (signatures {set_version}, ",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
}

#[test]
fn bash_completion_completes_commands_and_shared_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("appsweep.bash");
    let out = run(&["completions", "bash"]);
    assert_eq!(code(&out), 0);
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |words: &str| {
        let line = format!(
            r#"source "$0"; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ));
               _appsweep appsweep "${{COMP_WORDS[-1]}}" "${{COMP_WORDS[-2]}}"; echo "${{COMPREPLY[*]}}""#
        );
        let out = hermetic("bash")
            .arg("-c")
            .arg(line)
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(complete("appsweep sc"), "scan");
    assert_eq!(complete("appsweep scan adb --adb"), "--adb-server");
    assert_eq!(complete("appsweep watch --adb"), "--adb-server");
    assert!(complete("appsweep devices --").contains("--adb-server"));
    assert_eq!(code(&run(&["completions", "tcsh"])), 2);
}

#[test]
fn every_manual_page_a_page_names_can_be_printed() {
    let mut todo = vec![String::new()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(page) = todo.pop() {
        if !seen.insert(page.clone()) {
            continue;
        }
        let mut args = vec!["man"];
        args.extend(page.split_whitespace());
        let out = run(&args);
        assert_eq!(code(&out), 0, "appsweep man {page}: {}", stderr(&out));
        let roff = String::from_utf8(out.stdout).unwrap();
        let title = if page.is_empty() {
            "appsweep".to_string()
        } else {
            format!("appsweep-{}", page.replace(' ', "-"))
        };
        assert!(roff.contains(&format!(".TH {title} 1 ")), "{roff}");
        assert!(roff.contains("signatures"), "the page carries --version");
        // Each `appsweep\-scan\-files(1)` line of SUBCOMMANDS is another page to print.
        for line in roff.lines() {
            if let Some(name) = line
                .strip_prefix("appsweep\\-")
                .and_then(|l| l.strip_suffix("(1)"))
            {
                todo.push(name.replace("\\-", " "));
            }
        }
    }
    for page in [
        "scan files",
        "scan backup",
        "scan adb",
        "watch",
        "outbox flush",
    ] {
        assert!(seen.contains(page), "{page} not reached: {seen:?}");
    }
    assert_eq!(code(&run(&["man", "scan", "nope"])), 2);
}
