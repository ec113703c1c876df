//! The command under test, hermetic: nothing from the developer's environment changes what
//! appsweep does. Every variable appsweep or its tools read is removed (`APPSWEEP_*`, the adb
//! server port and serial, `XDG_*`, `NO_COLOR`, proxies, certificate paths), `HOME` is a private
//! folder, and `SOURCE_DATE_EPOCH` fixes `scanned_at`. A test sets what it needs on top.

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `scanned_at` of every run: 2026-11-22T10:00:00Z.
pub const EPOCH: &str = "1795341600";

/// Path of the `appsweep` binary under test.
pub const APPSWEEP: &str = env!("CARGO_BIN_EXE_appsweep");

fn private_home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// `appsweep` with a clean environment.
pub fn appsweep() -> Command {
    hermetic(APPSWEEP)
}

/// `program` with the clean environment of [`appsweep`].
pub fn hermetic(program: &str) -> Command {
    let mut c = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let drop = k.starts_with("APPSWEEP_")
            || k.starts_with("XDG_")
            || k.starts_with("ANDROID_")
            || k.starts_with("ADB_")
            || k.starts_with("SSL_CERT_")
            || k.starts_with("USBMUXD_")
            || k.to_ascii_lowercase().ends_with("_proxy")
            || k == "NO_COLOR"
            || k == "TERM";
        if drop {
            c.env_remove(&key);
        }
    }
    c.env("HOME", private_home());
    c.env("SOURCE_DATE_EPOCH", EPOCH);
    c
}

/// Runs `appsweep ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    appsweep().args(args).output().unwrap()
}

/// The exit code (-1 for a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Asserts the exit code, showing stderr when it is another.
pub fn assert_code(o: &Output, want: i32) {
    assert_eq!(code(o), want, "{}", String::from_utf8_lossy(&o.stderr));
}

/// stdout parsed as JSON, or a panic showing both streams.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Runs `appsweep scan files --format FORMAT PATHS... EXTRA...` to completion.
pub fn scan_files(format: &str, paths: &[&Path], extra: &[&str]) -> Output {
    appsweep()
        .args(["scan", "files", "--format", format])
        .args(paths)
        .args(extra)
        .output()
        .unwrap()
}

/// `appsweep scan files --format json PATHS... EXTRA...`: the exit code and the report document
/// (a panic showing stderr when stdout is not JSON).
pub fn scan_files_json(paths: &[&Path], extra: &[&str]) -> (i32, Value) {
    let out = scan_files("json", paths, extra);
    (code(&out), json(&out))
}

/// stdout as JSON Lines: one record per line.
pub fn jsonl(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The sorted `record_id`s of JSON Lines output.
pub fn record_ids(o: &Output) -> Vec<String> {
    let mut ids: Vec<String> = jsonl(o)
        .iter()
        .map(|r| r["record_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// One field (`kind` or `value`) of each evidence item of a finding.
pub fn evidence<'a>(finding: &'a Value, field: &str) -> Vec<&'a str> {
    finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_str().unwrap())
        .collect()
}

/// The record of device `id` in a `--format json` document (a panic showing the document when
/// it has none).
pub fn report<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["reports"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["device"]["id"] == id))
        .unwrap_or_else(|| panic!("no report for {id}: {doc:#}"))
}

/// The app `id` of a device report (a panic showing the report when it has none).
pub fn app<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["apps"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["id"] == id))
        .unwrap_or_else(|| panic!("no app {id} in {report}"))
}

/// The `*.json` entries of `dir` (none when it does not exist): records written by `--out-dir`,
/// records queued in an outbox.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Ctrl-C for a running `appsweep watch` (spawned with stderr piped): SIGINT, then its exit
/// code and stderr once it stopped. A generous deadline (the machine may be busy); past it the
/// child is killed and the test fails.
pub fn interrupt(child: &mut Child) -> (i32, String) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("watch did not stop on Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    (status.code().unwrap_or(-1), err)
}

/// stdout and stderr as one text, for a message.
pub fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// How [`appsweep_on_small_fs`] mounts its folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmallFs {
    /// A tmpfs filled to the last byte before appsweep runs (disk full).
    Full,
    /// An empty read-only tmpfs.
    ReadOnly,
}

/// `appsweep ARGS` in a private mount namespace (`unshare -m`, so nothing leaks to the host)
/// where `dir` is a tiny tmpfs, full or read-only. After appsweep exits, the names left in `dir`
/// are printed on stderr as `LEFT: ...`. Needs root (as CI runs): without it the test fails
/// with the reason, it does not skip.
pub fn appsweep_on_small_fs(dir: &Path, fs: SmallFs) -> Command {
    const SCRIPT: &str = r#"
dir="$1"; mode="$2"; shift 2
if [ "$mode" = ro ]; then opts=ro,size=64k; else opts=size=64k; fi
mount -t tmpfs -o "$opts" tmpfs "$dir" || { echo "cannot mount a tmpfs (needs root)" >&2; exit 97; }
[ "$mode" = full ] && dd if=/dev/zero of="$dir/fill" bs=4k 2>/dev/null
"$@"; rc=$?
echo "LEFT: $(ls -A "$dir" | grep -v '^fill$' | tr '\n' ' ')" >&2
exit $rc
"#;
    let mut c = hermetic("unshare");
    c.args(["-m", "sh", "-c", SCRIPT, "sh"])
        .arg(dir)
        .arg(match fs {
            SmallFs::Full => "full",
            SmallFs::ReadOnly => "ro",
        })
        .arg(APPSWEEP);
    c
}

/// `appsweep ARGS` under an address-space cap (`ulimit -v`, in MiB) and a wall-clock limit
/// (`timeout -s KILL`, in seconds; exit 137 when it expires): a hostile input must not blow
/// either.
pub fn appsweep_limited(mem_mib: u64, secs: u64) -> Command {
    let mut c = hermetic("sh");
    c.args([
        "-c",
        r#"ulimit -v "$1" || exit 98; shift; exec timeout -s KILL "$@""#,
        "sh",
    ])
    .arg((mem_mib * 1024).to_string())
    .arg(secs.to_string())
    .arg(APPSWEEP);
    c
}
