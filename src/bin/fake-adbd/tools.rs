//! The phone's command-line tools (toybox, and toolbox before it) over the read-only file
//! system, with the options and messages of the phone's Android version (see `profile.rs`).

use crate::conn::Conn;
use crate::profile::{Base64, Dd};
use crate::scenario::{civil, format_time, Scenario};
use crate::shell::{data_len, file_bytes, for_each_block, materialise, slice, CmdOut, Piece};
use crate::vfs::{FileSrc, Node};
use sha2::Digest;
use std::sync::Arc;

/// The tools, run on behalf of one shell of one connection.
pub struct Tools<'a> {
    pub conn: &'a Conn,
}

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

/// `date [-u] [+FORMAT]` on the phone's clock and UTC offset: `%Y %m %d %H %M %S %y %e %j
/// %a %b %z %Z %s %T %F %%` (what a scanner needs; others are printed as given).
pub fn date(sc: &Scenario, rest: &[&str]) -> CmdOut {
    let mut utc = false;
    let mut fmt = "%a %b %e %H:%M:%S %Z %Y".to_string();
    for a in rest {
        match *a {
            "-u" => utc = true,
            f if f.starts_with('+') => fmt = f.get(1..).unwrap_or("").to_string(),
            other => return CmdOut::fail(format!("date: bad date '{other}'\n"), 1),
        }
    }
    let now = sc.now();
    let off = if utc { 0 } else { sc.utc_offset_secs(now) };
    let local = u64::try_from(i64::try_from(now).unwrap_or(0) + off).unwrap_or(0);
    let (y, m, d, hh, mm, ss) = civil(local);
    let days = local / 86_400;
    const WDAY: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let yday = days
        - crate::scenario::parse_time(&format!("{y:04}-01-01 00:00:00")).unwrap_or(0) / 86_400
        + 1;
    let zone = {
        let a = off.abs();
        format!(
            "{}{:02}{:02}",
            if off < 0 { '-' } else { '+' },
            a / 3600,
            a % 3600 / 60
        )
    };
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('y') => out.push_str(&format!("{:02}", y % 100)),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('e') => out.push_str(&format!("{d:2}")),
            Some('H') => out.push_str(&format!("{hh:02}")),
            Some('M') => out.push_str(&format!("{mm:02}")),
            Some('S') => out.push_str(&format!("{ss:02}")),
            Some('T') => out.push_str(&format!("{hh:02}:{mm:02}:{ss:02}")),
            Some('F') => out.push_str(&format!("{y:04}-{m:02}-{d:02}")),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('a') => out.push_str(WDAY.get((days % 7) as usize).copied().unwrap_or("")),
            Some('b') => out.push_str(
                MON.get(usize::try_from(m - 1).unwrap_or(0))
                    .copied()
                    .unwrap_or(""),
            ),
            Some('z') => out.push_str(&zone),
            Some('Z') if off == 0 => out.push_str("UTC"),
            Some('Z') => out.push_str(&format!("GMT{zone}")),
            Some('s') => out.push_str(&now.to_string()),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out.push('\n');
    CmdOut::ok(out)
}

impl Tools<'_> {
    fn file(&self, path: &str) -> Result<Arc<FileSrc>, String> {
        match self.conn.vfs().lookup(path) {
            Some(Node::File(f)) => Ok(Arc::clone(f)),
            Some(Node::Dir) => Err(format!("{path}: Is a directory")),
            None => Err(format!("{path}: No such file or directory")),
        }
    }

    fn whole(&self, f: &Arc<FileSrc>) -> Vec<Piece> {
        vec![Piece::File {
            src: Arc::clone(f),
            start: 0,
            len: f.size,
        }]
    }

    pub fn stat(&self, rest: &[&str]) -> CmdOut {
        let mut fmt: Option<String> = None;
        let mut files = Vec::new();
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            if *a == "-c" {
                i += 1;
                match rest.get(i) {
                    Some(f) => fmt = Some((*f).to_string()),
                    None => return CmdOut::fail("stat: Needs 1 argument\n", 1),
                }
            } else if let Some(f) = a.strip_prefix("--format=") {
                fmt = Some(f.to_string());
            } else if let Some(f) = a.strip_prefix("-c") {
                fmt = Some(f.to_string());
            } else if *a == "-L" || *a == "-f" {
            } else {
                files.push(*a);
            }
            i += 1;
        }
        if files.is_empty() {
            return CmdOut::fail("stat: Needs 1 argument\n", 1);
        }
        let mut out = CmdOut::default();
        let mut text = String::new();
        for f in files {
            let (size, mtime, mode, kind) = match self.conn.vfs().lookup(f) {
                Some(Node::File(src)) => (src.size, src.mtime, "644", "regular file"),
                Some(Node::Dir) => (4096, 1_230_768_000, "755", "directory"),
                None => {
                    out.push_err(&format!("stat: '{f}': No such file or directory\n"));
                    out.code = 1;
                    continue;
                }
            };
            match &fmt {
                Some(fmt) => {
                    let mut chars = fmt.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c != '%' {
                            text.push(c);
                            continue;
                        }
                        match chars.next() {
                            Some('s') => text.push_str(&size.to_string()),
                            Some('Y') => text.push_str(&mtime.to_string()),
                            Some('n') => text.push_str(f),
                            Some('N') => text.push_str(&format!("'{f}'")),
                            Some('a') => text.push_str(mode),
                            Some('F') => text.push_str(kind),
                            Some('b') => text.push_str(&size.div_ceil(512).to_string()),
                            Some('B') => text.push_str("512"),
                            Some('U') | Some('G') => text.push_str("system"),
                            Some('u') | Some('g') => text.push_str("1000"),
                            Some('%') => text.push('%'),
                            Some(o) => {
                                text.push('%');
                                text.push(o);
                            }
                            None => text.push('%'),
                        }
                    }
                    text.push('\n');
                }
                None => {
                    text.push_str(&format!(
                        "  File: {f}\n  Size: {size}\t Blocks: {}\t IO Blocks: 512\t{kind}\nAccess: (0{mode}/{}) Uid: ( 1000/  system)   Gid: ( 1000/  system)\nModify: {}\n",
                        size.div_ceil(512),
                        if kind == "directory" { "drwxr-xr-x" } else { "-rw-r--r--" },
                        format_time(mtime)
                    ));
                }
            }
        }
        if !text.is_empty() {
            out.out.insert(0, Piece::Bytes(text.into_bytes()));
        }
        out
    }

    pub fn hashsum(&self, name: &str, rest: &[&str], stdin: &[Piece]) -> CmdOut {
        fn hex_digest<D: Digest>(data: &[Piece]) -> std::io::Result<String> {
            let mut h = D::new();
            for_each_block(data, |b| {
                h.update(b);
                Ok(())
            })?;
            Ok(h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>())
        }
        let digest = |data: &[Piece]| -> std::io::Result<String> {
            match name {
                "md5sum" => md5_hex(data),
                "sha1sum" => hex_digest::<sha1::Sha1>(data),
                "sha224sum" => hex_digest::<sha2::Sha224>(data),
                "sha384sum" => hex_digest::<sha2::Sha384>(data),
                "sha512sum" => hex_digest::<sha2::Sha512>(data),
                _ => hex_digest::<sha2::Sha256>(data),
            }
        };
        let files: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-') || *a == "-")
            .collect();
        let costs = &self.conn.profile().costs;
        let mut out = CmdOut::default();
        let mut text = String::new();
        if files.is_empty() || files == ["-"] {
            out.extra_ms += costs.file_ms(file_bytes(stdin));
            match digest(stdin) {
                Ok(h) => text.push_str(&format!("{h}  -\n")),
                Err(e) => return CmdOut::fail(format!("{name}: -: {e}\n"), 1),
            }
        }
        for f in files.iter().filter(|f| **f != "-") {
            match self.file(f) {
                Ok(src) => {
                    let n = src.size;
                    self.conn.stats().update(|c| c.file_bytes_read += n);
                    out.extra_ms += costs.file_ms(n);
                    match digest(&self.whole(&src)) {
                        Ok(h) => text.push_str(&format!("{h}  {f}\n")),
                        Err(e) => {
                            out.push_err(&format!("{name}: {f}: {e}\n"));
                            out.code = 1;
                        }
                    }
                }
                Err(e) => {
                    out.push_err(&format!("{name}: {e}\n"));
                    out.code = 1;
                }
            }
        }
        out.out.insert(0, Piece::Bytes(text.into_bytes()));
        out
    }

    /// `dd`: toybox's from Android 10, toolbox's NetBSD one before (no `iflag=`, `status=`;
    /// its own summary line).
    pub fn dd(&self, rest: &[&str], stdin: &[Piece]) -> CmdOut {
        let bsd = self.conn.profile().dd == Dd::Bsd;
        let unknown = |a: &str, k: &str| {
            if bsd {
                CmdOut::fail(format!("dd: unknown operand {k}\n"), 1)
            } else {
                CmdOut::fail(format!("dd: unknown argument '{a}'\n"), 1)
            }
        };
        let mut input: Option<&str> = None;
        let (mut ibs, mut skip, mut count) = (512u64, 0u64, None::<u64>);
        let (mut skip_bytes, mut count_bytes, mut quiet) = (false, false, false);
        for a in rest {
            let Some((k, v)) = a.split_once('=') else {
                return unknown(a, a);
            };
            let num = || parse_size(v);
            match k {
                "if" => input = Some(v),
                "of" => {
                    if v != "/dev/stdout" && v != "-" {
                        let line = rest.join(" ");
                        self.conn
                            .stats()
                            .update(|c| c.write_attempts.push(format!("shell dd {line}")));
                        return CmdOut::fail(format!("dd: {v}: Read-only file system\n"), 1);
                    }
                }
                "bs" | "ibs" => match num() {
                    Some(n) if n > 0 => ibs = n,
                    _ => return CmdOut::fail(format!("dd: invalid number '{v}'\n"), 1),
                },
                "obs" | "conv" => {}
                "oflag" if !bsd => {}
                "skip" => match num() {
                    Some(n) => skip = n,
                    None => return CmdOut::fail(format!("dd: invalid number '{v}'\n"), 1),
                },
                "count" => match num() {
                    Some(n) => count = Some(n),
                    None => return CmdOut::fail(format!("dd: invalid number '{v}'\n"), 1),
                },
                "iflag" if !bsd => {
                    for f in v.split(',') {
                        match f {
                            "skip_bytes" => skip_bytes = true,
                            "count_bytes" => count_bytes = true,
                            "fullblock" | "direct" | "sync" | "" => {}
                            other => {
                                return CmdOut::fail(format!("dd: unknown iflag '{other}'\n"), 1)
                            }
                        }
                    }
                }
                "status" if !bsd => quiet = v == "none",
                _ => return unknown(a, k),
            }
        }
        let data: Vec<Piece> = match input {
            Some(p) => match self.file(p) {
                Ok(src) => self.whole(&src),
                Err(e) => return CmdOut::fail(format!("dd: {e}\n"), 1),
            },
            None => stdin.to_vec(),
        };
        let total = data_len(&data);
        let start = if skip_bytes {
            skip
        } else {
            skip.saturating_mul(ibs)
        };
        let want = match count {
            Some(c) if count_bytes => c,
            Some(c) => c.saturating_mul(ibs),
            None => u64::MAX,
        };
        let start = start.min(total);
        let len = want.min(total - start);
        let mut out = CmdOut {
            out: slice(&data, start, len),
            ..CmdOut::default()
        };
        let (full, part) = (len / ibs, u64::from(len % ibs != 0));
        if bsd {
            out.push_err(&format!(
                "{full}+{part} records in\n{full}+{part} records out\n{len} bytes transferred in 0.001 secs ({} bytes/sec)\n",
                len.saturating_mul(1000)
            ));
        } else if !quiet {
            out.push_err(&format!(
                "{full}+{part} records in\n{full}+{part} records out\n{len} bytes ({}) copied, 0.001 s, {}/s\n",
                human(len),
                human(len.saturating_mul(1000))
            ));
        }
        out
    }

    pub fn cat(&self, rest: &[&str], stdin: Vec<Piece>) -> CmdOut {
        let files: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-') || *a == "-")
            .collect();
        if files.is_empty() {
            return CmdOut {
                out: stdin,
                ..CmdOut::default()
            };
        }
        let mut out = CmdOut::default();
        let mut stdin = Some(stdin);
        for f in files {
            if f == "-" {
                out.out.extend(stdin.take().unwrap_or_default());
                continue;
            }
            match self.file(f) {
                Ok(src) => out.out.extend(self.whole(&src)),
                Err(e) => {
                    out.push_err(&format!("cat: {e}\n"));
                    out.code = 1;
                }
            }
        }
        out
    }

    pub fn head_tail(&self, name: &str, rest: &[&str], stdin: Vec<Piece>) -> CmdOut {
        let mut bytes: Option<(u64, bool)> = None; // (n, from_start for `tail -c +N`)
        let mut lines: Option<u64> = None;
        let mut files = Vec::new();
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let (flag, val) = if *a == "-c" || *a == "-n" {
                i += 1;
                (*a, rest.get(i).copied())
            } else if let Some(v) = a.strip_prefix("-c") {
                ("-c", Some(v))
            } else if let Some(v) = a.strip_prefix("-n") {
                ("-n", Some(v))
            } else if a.starts_with('-')
                && a.len() > 1
                && a.chars().skip(1).all(|c| c.is_ascii_digit())
            {
                ("-n", a.get(1..))
            } else {
                files.push(*a);
                i += 1;
                continue;
            };
            let Some(v) = val else {
                return CmdOut::fail(format!("{name}: option requires an argument\n"), 1);
            };
            let plus = v.starts_with('+');
            let Some(n) = parse_size(v.trim_start_matches('+')) else {
                return CmdOut::fail(format!("{name}: invalid number '{v}'\n"), 1);
            };
            if flag == "-c" {
                bytes = Some((n, plus));
            } else {
                lines = Some(n);
            }
            i += 1;
        }
        let mut out = CmdOut::default();
        let mut inputs: Vec<Vec<Piece>> = Vec::new();
        if files.is_empty() {
            inputs.push(stdin);
        }
        for f in files {
            match self.file(f) {
                Ok(src) => inputs.push(self.whole(&src)),
                Err(e) => {
                    out.push_err(&format!("{name}: {e}\n"));
                    out.code = 1;
                }
            }
        }
        for data in inputs {
            let total = data_len(&data);
            if let Some((n, plus)) = bytes {
                let (start, len) = if name == "head" {
                    (0, n.min(total))
                } else if plus {
                    let s = n.saturating_sub(1).min(total);
                    (s, total - s)
                } else {
                    (total - n.min(total), n.min(total))
                };
                out.out.extend(slice(&data, start, len));
            } else {
                let n = lines.unwrap_or(10);
                let text = match materialise(&data) {
                    Ok(t) => t,
                    Err(e) => return CmdOut::fail(format!("{name}: {e}\n"), 1),
                };
                let parts: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
                let k = usize::try_from(n).unwrap_or(usize::MAX).min(parts.len());
                let chosen = if name == "head" {
                    parts.get(..k).unwrap_or(&[])
                } else {
                    parts.get(parts.len() - k..).unwrap_or(&[])
                };
                out.push_out(chosen.concat());
            }
        }
        out
    }

    pub fn wc(&self, rest: &[&str], stdin: &[Piece]) -> CmdOut {
        let mut want_lines = false;
        let mut files = Vec::new();
        for a in rest {
            match *a {
                "-c" => {}
                "-l" => want_lines = true,
                f => files.push(f),
            }
        }
        let measure = |d: &[Piece]| -> u64 {
            if want_lines {
                let mut n = 0u64;
                let _ = for_each_block(d, |b| {
                    n += b.iter().filter(|c| **c == b'\n').count() as u64;
                    Ok(())
                });
                n
            } else {
                data_len(d)
            }
        };
        if files.is_empty() {
            return CmdOut::ok(format!("{}\n", measure(stdin)));
        }
        let mut out = CmdOut::default();
        let mut text = String::new();
        for f in files {
            match self.file(f) {
                Ok(src) => text.push_str(&format!("{} {f}\n", measure(&self.whole(&src)))),
                Err(e) => {
                    out.push_err(&format!("wc: {e}\n"));
                    out.code = 1;
                }
            }
        }
        out.out.insert(0, Piece::Bytes(text.into_bytes()));
        out
    }

    pub fn base64(&self, rest: &[&str], stdin: Vec<Piece>) -> CmdOut {
        let min_wrap = if self.conn.profile().base64 == Base64::NoUnwrapped {
            1
        } else {
            0
        };
        let mut wrap = 76usize;
        let mut file = None;
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            if *a == "-w" {
                i += 1;
                match rest.get(i).and_then(|v| v.parse().ok()) {
                    Some(w) => wrap = w,
                    None => return CmdOut::fail("base64: bad -w\n", 1),
                }
            } else if let Some(v) = a.strip_prefix("-w") {
                match v.parse() {
                    Ok(w) => wrap = w,
                    Err(_) => return CmdOut::fail("base64: bad -w\n", 1),
                }
            } else if *a == "-d" || *a == "--decode" {
                return CmdOut::fail("base64: decoding is not supported here\n", 1);
            } else {
                file = Some(*a);
            }
            i += 1;
        }
        if wrap < min_wrap {
            // toybox's option parser (`w#<1`) before Android 8.
            return CmdOut::fail(format!("base64: -w < {min_wrap}\n"), 1);
        }
        let data = match file {
            Some(f) if f != "-" => match self.file(f) {
                Ok(src) => self.whole(&src),
                Err(e) => return CmdOut::fail(format!("base64: {e}\n"), 1),
            },
            _ => stdin,
        };
        let read_ms = self.conn.profile().costs.file_ms(file_bytes(&data));
        let bytes = match materialise(&data) {
            Ok(b) => b,
            Err(e) => return CmdOut::fail(format!("base64: {e}\n"), 1),
        };
        let enc = base64_encode(&bytes);
        let mut text = String::with_capacity(enc.len() + enc.len() / 76 + 2);
        if wrap == 0 {
            text.push_str(&enc);
        } else {
            let mut col = 0;
            for c in enc.chars() {
                text.push(c);
                col += 1;
                if col == wrap {
                    text.push('\n');
                    col = 0;
                }
            }
            if col != 0 {
                text.push('\n');
            }
        }
        CmdOut {
            extra_ms: read_ms,
            ..CmdOut::ok(text)
        }
    }

    pub fn ls(&self, rest: &[&str]) -> CmdOut {
        let mut long = false;
        let mut dir_only = false;
        let mut all = false;
        let mut paths = Vec::new();
        for a in rest {
            if let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
                long |= flags.contains('l');
                dir_only |= flags.contains('d');
                all |= flags.contains('a');
            } else {
                paths.push(*a);
            }
        }
        if paths.is_empty() {
            paths.push("/");
        }
        let line = |name: &str, node: &Node, long: bool| -> String {
            if !long {
                return format!("{name}\n");
            }
            match node {
                Node::File(f) => format!(
                    "-rw-r--r-- 1 system system {} {} {name}\n",
                    f.size,
                    format_time(f.mtime)
                ),
                Node::Dir => format!("drwxr-xr-x 2 system system 4096 2009-01-01 00:00 {name}\n"),
            }
        };
        let mut out = CmdOut::default();
        let mut text = String::new();
        let multi = paths.len() > 1;
        for p in paths {
            match self.conn.vfs().lookup(p) {
                None => {
                    out.push_err(&format!("ls: {p}: No such file or directory\n"));
                    out.code = 1;
                }
                Some(n @ Node::File(_)) => text.push_str(&line(p, &n, long)),
                Some(n @ Node::Dir) if dir_only => text.push_str(&line(p, &n, long)),
                Some(Node::Dir) => {
                    if multi {
                        text.push_str(&format!("{p}:\n"));
                    }
                    if long {
                        let kids = self.conn.vfs().children(p);
                        text.push_str(&format!("total {}\n", kids.len() * 8));
                    }
                    if all {
                        text.push_str(&line(".", &Node::Dir, long));
                        text.push_str(&line("..", &Node::Dir, long));
                    }
                    for (name, node) in self.conn.vfs().children(p) {
                        text.push_str(&line(&name, &node, long));
                    }
                }
            }
        }
        out.out.insert(0, Piece::Bytes(text.into_bytes()));
        out
    }

    /// `od` (toybox): `-A n|d|o|x`, `-t x1` (the only type a scanner needs; others refused),
    /// `-v`, `-j SKIP`, `-N COUNT`, files or stdin. Without `-v` repeated lines become `*`.
    pub fn od(&self, rest: &[&str], stdin: &[Piece]) -> CmdOut {
        let mut radix = Some('o');
        let mut verbose = false;
        let (mut skip, mut count) = (0u64, None::<u64>);
        let mut files = Vec::new();
        let mut i = 0;
        while let Some(a) = rest.get(i) {
            let mut value = |flag: &str| -> Option<String> {
                if *a == flag {
                    i += 1;
                    rest.get(i).map(|s| (*s).to_string())
                } else {
                    a.strip_prefix(flag).map(str::to_string)
                }
            };
            if a.starts_with("-A") {
                radix = match value("-A").as_deref() {
                    Some("n") => None,
                    Some(r @ ("d" | "o" | "x")) => r.chars().next(),
                    other => {
                        return CmdOut::fail(format!("od: bad -A '{}'\n", other.unwrap_or("")), 1)
                    }
                };
            } else if a.starts_with("-t") {
                match value("-t").as_deref() {
                    Some("x1") => {}
                    other => {
                        return CmdOut::fail(
                            format!("od: unsupported -t '{}'\n", other.unwrap_or("")),
                            1,
                        )
                    }
                }
            } else if a.starts_with("-j") {
                match value("-j").as_deref().and_then(parse_size) {
                    Some(n) => skip = n,
                    None => return CmdOut::fail("od: bad -j\n", 1),
                }
            } else if a.starts_with("-N") {
                match value("-N").as_deref().and_then(parse_size) {
                    Some(n) => count = Some(n),
                    None => return CmdOut::fail("od: bad -N\n", 1),
                }
            } else if *a == "-v" {
                verbose = true;
            } else {
                files.push(*a);
            }
            i += 1;
        }
        let mut data: Vec<Piece> = Vec::new();
        if files.is_empty() {
            data.extend_from_slice(stdin);
        }
        for f in files {
            match self.file(f) {
                Ok(src) => data.extend(self.whole(&src)),
                Err(e) => return CmdOut::fail(format!("od: {e}\n"), 1),
            }
        }
        let total = data_len(&data);
        let start = skip.min(total);
        let len = count.unwrap_or(u64::MAX).min(total - start);
        let wanted = slice(&data, start, len);
        let read_ms = self.conn.profile().costs.file_ms(file_bytes(&wanted));
        let bytes = match materialise(&wanted) {
            Ok(b) => b,
            Err(e) => return CmdOut::fail(format!("od: {e}\n"), 1),
        };
        let offset = |n: u64| -> String {
            match radix {
                Some('d') => format!("{n:07}"),
                Some('x') => format!("{n:06x}"),
                Some(_) => format!("{n:07o}"),
                None => String::new(),
            }
        };
        let mut text = String::with_capacity(bytes.len() * 3 + bytes.len() / 16 * 8);
        let mut previous: Option<&[u8]> = None;
        let mut starred = false;
        for (k, line) in bytes.chunks(16).enumerate() {
            if !verbose && previous == Some(line) {
                if !starred {
                    text.push_str("*\n");
                    starred = true;
                }
                continue;
            }
            starred = false;
            previous = Some(line);
            text.push_str(&offset(start + 16 * k as u64));
            for b in line {
                text.push_str(&format!(" {b:02x}"));
            }
            text.push('\n');
        }
        if radix.is_some() {
            text.push_str(&offset(start + len));
            text.push('\n');
        }
        CmdOut {
            extra_ms: read_ms,
            ..CmdOut::ok(text)
        }
    }
}

pub fn echo(rest: &[&str]) -> CmdOut {
    let mut newline = true;
    let mut args = rest;
    while let Some((first, tail)) = args.split_first() {
        if *first == "-n" {
            newline = false;
            args = tail;
        } else if *first == "-e" || *first == "-E" {
            args = tail;
        } else {
            break;
        }
    }
    let mut s = args.join(" ");
    if newline {
        s.push('\n');
    }
    CmdOut::ok(s)
}

/// Numbers as dd/head/tail take them: decimal with an optional k/m/g suffix.
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()? {
        'k' | 'K' => (v.get(..v.len() - 1)?, 1024u64),
        'm' | 'M' => (v.get(..v.len() - 1)?, 1024 * 1024),
        'g' | 'G' => (v.get(..v.len() - 1)?, 1024 * 1024 * 1024),
        'c' => (v.get(..v.len() - 1)?, 1),
        'b' => (v.get(..v.len() - 1)?, 512),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

fn human(n: u64) -> String {
    let units = ["", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    let unit = units.get(u).copied().unwrap_or("");
    if u == 0 {
        format!("{n}")
    } else {
        format!("{v:.1} {unit}")
    }
}

pub fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(T.get((i & 63) as usize).copied().unwrap_or(b'='));
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

/// MD5 (RFC 1321) of a stream of pieces, as lowercase hex.
fn md5_hex(data: &[Piece]) -> std::io::Result<String> {
    let mut st: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut pending: Vec<u8> = Vec::with_capacity(128);
    let mut total: u64 = 0;
    for_each_block(data, |b| {
        total += b.len() as u64;
        pending.extend_from_slice(b);
        let whole = pending.len() / 64 * 64;
        for chunk in pending.get(..whole).unwrap_or(&[]).chunks_exact(64) {
            md5_block(&mut st, chunk);
        }
        pending.drain(..whole);
        Ok(())
    })?;
    pending.push(0x80);
    while pending.len() % 64 != 56 {
        pending.push(0);
    }
    pending.extend_from_slice(&total.wrapping_mul(8).to_le_bytes());
    for chunk in pending.chunks_exact(64) {
        md5_block(&mut st, chunk);
    }
    Ok(st
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn md5_block(st: &mut [u32; 4], chunk: &[u8]) {
    const SHIFTS: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    let mut m = [0u32; 16];
    for (w, b) in m.iter_mut().zip(chunk.chunks_exact(4)) {
        *w = u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
    }
    let [mut a, mut b, mut c, mut d] = *st;
    for i in 0..64usize {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        // K[i] = floor(|sin(i + 1)| * 2^32)
        let k = ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32;
        let shift = SHIFTS.get(i / 16 * 4 + i % 4).copied().unwrap_or(0);
        let f = f
            .wrapping_add(a)
            .wrapping_add(k)
            .wrapping_add(m.get(g).copied().unwrap_or(0));
        a = d;
        d = c;
        c = b;
        b = b.wrapping_add(f.rotate_left(shift));
    }
    for (s, v) in st.iter_mut().zip([a, b, c, d]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn md5_matches_rfc_1321_vectors() {
        let md5 = |s: &str| md5_hex(&[Piece::Bytes(s.as_bytes().to_vec())]).unwrap();
        assert_eq!(md5(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }
}
