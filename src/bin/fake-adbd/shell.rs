//! A small `sh` (mksh/toybox flavoured) interpreter over the scenario's read-only phone.
//!
//! Supports lists (`;`, `&&`, `||`, newlines), `$?`, quotes, redirections (`N>/dev/null`,
//! `N>&M`, `< FILE`), pipes, and the commands a scanner needs. Output is kept as pieces
//! (literal bytes or ranges of served files), so `cat` of a 200 MB APK is never held in memory.

use crate::conn::Conn;
use crate::tools::{self, Tools};
use crate::vfs::{FileSrc, Node};
use crate::{dumpsys, pm};
use std::sync::Arc;

const STDOUT: u8 = 1;
const STDERR: u8 = 2;
/// Largest stream a command (e.g. `base64`) materialises in memory.
const MATERIALISE_MAX: u64 = 512 * 1024 * 1024;
const STATUS_MARK: char = '\u{1}';

#[derive(Debug, Clone)]
pub enum Piece {
    Bytes(Vec<u8>),
    File {
        src: Arc<FileSrc>,
        start: u64,
        len: u64,
    },
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }
}

/// Bytes of served files among the pieces (what reading them costs the phone).
pub fn file_bytes(d: &[Piece]) -> u64 {
    d.iter()
        .map(|p| match p {
            Piece::File { len, .. } => *len,
            Piece::Bytes(_) => 0,
        })
        .sum()
}

pub fn data_len(d: &[Piece]) -> u64 {
    d.iter().map(Piece::len).sum()
}

/// The bytes `[start, start+len)` of a stream of pieces, still as pieces.
pub fn slice(d: &[Piece], start: u64, len: u64) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    let end = start.saturating_add(len);
    for p in d {
        let plen = p.len();
        let (a, b) = (pos, pos + plen);
        pos = b;
        let from = a.max(start);
        let to = b.min(end);
        if from >= to {
            continue;
        }
        let (off, n) = (from - a, to - from);
        match p {
            Piece::Bytes(bytes) => {
                let o = usize::try_from(off).unwrap_or(0);
                let n = usize::try_from(n).unwrap_or(0);
                out.push(Piece::Bytes(
                    bytes.get(o..o.saturating_add(n)).unwrap_or(&[]).to_vec(),
                ));
            }
            Piece::File { src, start: s, .. } => out.push(Piece::File {
                src: Arc::clone(src),
                start: s + off,
                len: n,
            }),
        }
    }
    out
}

pub fn for_each_block(
    d: &[Piece],
    mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for p in d {
        match p {
            Piece::Bytes(b) => f(b)?,
            Piece::File { src, start, len } => src.for_each_block(*start, *len, 1 << 20, &mut f)?,
        }
    }
    Ok(())
}

pub fn materialise(d: &[Piece]) -> Result<Vec<u8>, String> {
    if data_len(d) > MATERIALISE_MAX {
        return Err("out of memory".to_string());
    }
    let mut out = Vec::new();
    for_each_block(d, |b| {
        out.extend_from_slice(b);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(out)
}

pub struct ShellResult {
    pub events: Vec<(u8, Piece)>,
    pub status: u8,
    /// Phone time the script took (the cost model, before `scale`).
    pub phone_ms: f64,
}

/// Output of one simple command.
#[derive(Default)]
pub struct CmdOut {
    pub out: Vec<Piece>,
    pub err: Vec<u8>,
    pub code: u8,
    /// Phone time beyond the command's fixed cost (what `dumpsys` dumped).
    pub extra_ms: f64,
}

impl CmdOut {
    pub fn ok(text: impl Into<Vec<u8>>) -> CmdOut {
        CmdOut {
            out: vec![Piece::Bytes(text.into())],
            ..CmdOut::default()
        }
    }
    pub fn fail(err: impl Into<Vec<u8>>, code: u8) -> CmdOut {
        CmdOut {
            err: err.into(),
            code,
            ..CmdOut::default()
        }
    }
    pub fn push_out(&mut self, b: impl Into<Vec<u8>>) {
        self.out.push(Piece::Bytes(b.into()));
    }
    pub fn push_err(&mut self, s: &str) {
        self.err.extend_from_slice(s.as_bytes());
    }
}

pub fn run(conn: &Conn, cmd: &str) -> ShellResult {
    let mut sh = Shell {
        conn,
        status: 0,
        exited: false,
        events: Vec::new(),
        depth: 0,
        phone_ms: 0.0,
    };
    sh.run_script(cmd);
    ShellResult {
        events: sh.events,
        status: sh.status,
        phone_ms: sh.phone_ms,
    }
}

// ---------------------------------------------------------------- lexing and parsing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Semi,
    And,
    Or,
    Pipe,
    /// `N>`, `N>>`, `N>&M`, `<`.
    Redir {
        fd: u8,
        dup: Option<u8>,
        input: bool,
    },
}

/// The lexer's state: the characters, where it is, the tokens so far and the word being read.
struct Lexer {
    chars: Vec<char>,
    i: usize,
    toks: Vec<Tok>,
    cur: String,
    in_word: bool,
    quoted: bool,
}

impl Lexer {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn flush(&mut self) {
        if self.in_word {
            self.toks.push(Tok::Word(std::mem::take(&mut self.cur)));
            self.in_word = false;
            self.quoted = false;
        }
    }

    /// `>` at `i`: `N>`, `N>>` or `N>&M`, the fd taken from the word before it.
    fn redirect_out(&mut self) -> Result<(), String> {
        let fd = if self.in_word && !self.quoted && (self.cur == "1" || self.cur == "2") {
            let fd = if self.cur == "2" { 2 } else { 1 };
            self.cur.clear();
            self.in_word = false;
            fd
        } else {
            self.flush();
            1
        };
        if self.at(self.i + 1) == Some('>') {
            self.i += 1;
        }
        let mut dup = None;
        if self.at(self.i + 1) == Some('&') {
            match self.at(self.i + 2) {
                Some('1') => dup = Some(1),
                Some('2') => dup = Some(2),
                _ => return Err("syntax error: bad fd".to_string()),
            }
            self.i += 2;
        }
        self.toks.push(Tok::Redir {
            fd,
            dup,
            input: false,
        });
        Ok(())
    }

    /// `'...'` from the opening quote at `i` to the closing one.
    fn single_quoted(&mut self) -> Result<(), String> {
        self.in_word = true;
        self.quoted = true;
        self.i += 1;
        loop {
            match self.at(self.i) {
                Some('\'') => return Ok(()),
                Some(ch) => self.cur.push(ch),
                None => return Err("syntax error: unterminated quoted string".into()),
            }
            self.i += 1;
        }
    }

    /// `"..."` from the opening quote at `i` to the closing one: `\` escapes and `$?`.
    fn double_quoted(&mut self) -> Result<(), String> {
        self.in_word = true;
        self.quoted = true;
        self.i += 1;
        loop {
            match self.at(self.i) {
                Some('"') => return Ok(()),
                Some('\\') => match self.at(self.i + 1) {
                    Some(n @ ('"' | '\\' | '$' | '`')) => {
                        self.cur.push(n);
                        self.i += 1;
                    }
                    Some('\n') => self.i += 1,
                    _ => self.cur.push('\\'),
                },
                Some('$') if self.at(self.i + 1) == Some('?') => {
                    self.cur.push(STATUS_MARK);
                    self.i += 1;
                }
                Some(ch) => self.cur.push(ch),
                None => return Err("syntax error: unterminated quoted string".into()),
            }
            self.i += 1;
        }
    }

    /// `c` doubled (`&&`, `||`) is `twice`, alone `once`.
    fn one_or_two(&mut self, c: char, once: Tok, twice: Tok) {
        self.flush();
        if self.at(self.i + 1) == Some(c) {
            self.toks.push(twice);
            self.i += 1;
        } else {
            self.toks.push(once);
        }
    }
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut lx = Lexer {
        chars: s.chars().collect(),
        i: 0,
        toks: Vec::new(),
        cur: String::new(),
        in_word: false,
        quoted: false,
    };
    while let Some(c) = lx.at(lx.i) {
        match c {
            ' ' | '\t' | '\r' => lx.flush(),
            '\n' | ';' => {
                lx.flush();
                lx.toks.push(Tok::Semi);
            }
            // A lone `&` (background) runs in the foreground, as a separator.
            '&' => lx.one_or_two('&', Tok::Semi, Tok::And),
            '|' => lx.one_or_two('|', Tok::Pipe, Tok::Or),
            '<' => {
                lx.flush();
                lx.toks.push(Tok::Redir {
                    fd: 0,
                    dup: None,
                    input: true,
                });
            }
            '>' => lx.redirect_out()?,
            '\'' => lx.single_quoted()?,
            '"' => lx.double_quoted()?,
            '\\' => {
                if let Some(n) = lx.at(lx.i + 1).filter(|&n| n != '\n') {
                    lx.in_word = true;
                    lx.quoted = true;
                    lx.cur.push(n);
                }
                lx.i += 1;
            }
            '$' if lx.at(lx.i + 1) == Some('?') => {
                lx.in_word = true;
                lx.cur.push(STATUS_MARK);
                lx.i += 1;
            }
            '#' if !lx.in_word => {
                while lx.at(lx.i).is_some_and(|ch| ch != '\n') {
                    lx.i += 1;
                }
                continue;
            }
            other => {
                lx.in_word = true;
                lx.cur.push(other);
            }
        }
        lx.i += 1;
    }
    lx.flush();
    Ok(lx.toks)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Conn2 {
    Always,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
enum RedirTarget {
    Fd(u8),
    File(String),
}

#[derive(Debug, Default)]
struct Simple {
    args: Vec<String>,
    /// (fd, target, input)
    redirs: Vec<(u8, RedirTarget, bool)>,
}

type Pipeline = Vec<Simple>;

fn parse(toks: Vec<Tok>) -> Result<Vec<(Conn2, Pipeline)>, String> {
    let mut list = Vec::new();
    let mut pending = Conn2::Always;
    let mut pipeline: Pipeline = Vec::new();
    let mut cur = Simple::default();
    let mut it = toks.into_iter().peekable();
    let unexpected = |t: &str| format!("syntax error: '{t}' unexpected");
    while let Some(t) = it.next() {
        match t {
            Tok::Word(w) => cur.args.push(w),
            Tok::Redir { fd, dup, input } => {
                let target = match dup {
                    Some(d) => RedirTarget::Fd(d),
                    None => match it.next() {
                        Some(Tok::Word(w)) => RedirTarget::File(w),
                        _ => return Err("syntax error: redirection without a file".into()),
                    },
                };
                cur.redirs.push((fd, target, input));
            }
            Tok::Pipe => {
                if cur.args.is_empty() {
                    return Err(unexpected("|"));
                }
                pipeline.push(std::mem::take(&mut cur));
            }
            Tok::Semi | Tok::And | Tok::Or => {
                let next = match t {
                    Tok::And => Conn2::And,
                    Tok::Or => Conn2::Or,
                    _ => Conn2::Always,
                };
                if cur.args.is_empty() && cur.redirs.is_empty() {
                    if !pipeline.is_empty() {
                        return Err(unexpected("|"));
                    }
                    if next != Conn2::Always {
                        return Err(unexpected(if next == Conn2::And { "&&" } else { "||" }));
                    }
                    continue;
                }
                pipeline.push(std::mem::take(&mut cur));
                list.push((pending, std::mem::take(&mut pipeline)));
                pending = next;
            }
        }
    }
    if !cur.args.is_empty() || !cur.redirs.is_empty() {
        pipeline.push(cur);
    } else if !pipeline.is_empty() {
        return Err("syntax error: unexpected end of file".into());
    }
    if !pipeline.is_empty() {
        list.push((pending, pipeline));
    } else if pending != Conn2::Always {
        return Err("syntax error: unexpected end of file".into());
    }
    Ok(list)
}

// ---------------------------------------------------------------- execution

struct Shell<'a> {
    conn: &'a Conn,
    status: u8,
    exited: bool,
    events: Vec<(u8, Piece)>,
    depth: u32,
    phone_ms: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Sink {
    Out,
    Err,
    Null,
}

impl Shell<'_> {
    fn run_script(&mut self, script: &str) {
        let list = match lex(script).and_then(parse) {
            Ok(l) => l,
            Err(e) => {
                self.events.push((
                    STDERR,
                    Piece::Bytes(format!("/system/bin/sh: {e}\n").into_bytes()),
                ));
                self.status = 2;
                return;
            }
        };
        for (how, pipeline) in list {
            if self.exited {
                break;
            }
            match how {
                Conn2::And if self.status != 0 => continue,
                Conn2::Or if self.status == 0 => continue,
                _ => {}
            }
            self.run_pipeline(pipeline);
        }
    }

    fn run_pipeline(&mut self, pipeline: Pipeline) {
        let status_text = self.status.to_string();
        let n = pipeline.len();
        let mut input: Vec<Piece> = Vec::new();
        let mut last_code = 0;
        for (idx, simple) in pipeline.into_iter().enumerate() {
            let args: Vec<String> = simple
                .args
                .iter()
                .map(|a| a.replace(STATUS_MARK, &status_text))
                .collect();
            let is_last = idx + 1 == n;
            // fd table: where stdout (1) and stderr (2) of this command go.
            let mut fd1 = Sink::Out;
            let mut fd2 = Sink::Err;
            let mut redirect_error = None;
            let mut stdin_override = None;
            for (fd, target, is_input) in &simple.redirs {
                if *is_input {
                    if let RedirTarget::File(f) = target {
                        match self.conn.vfs().lookup(f) {
                            Some(Node::File(src)) => {
                                stdin_override = Some(vec![Piece::File {
                                    src: Arc::clone(src),
                                    start: 0,
                                    len: src.size,
                                }])
                            }
                            _ => {
                                redirect_error = Some(format!(
                                    "/system/bin/sh: can't open '{f}': No such file or directory\n"
                                ));
                            }
                        }
                    }
                    continue;
                }
                let sink = match target {
                    RedirTarget::Fd(1) => fd1,
                    RedirTarget::Fd(_) => fd2,
                    RedirTarget::File(f) if f == "/dev/null" => Sink::Null,
                    RedirTarget::File(f) if f == "/dev/stderr" => Sink::Err,
                    RedirTarget::File(f) if f == "/dev/stdout" => Sink::Out,
                    RedirTarget::File(f) => {
                        self.conn.stats().update(|c| {
                            c.write_attempts
                                .push(format!("redirect to {f}: {}", args.join(" ")))
                        });
                        redirect_error = Some(format!(
                            "/system/bin/sh: can't create {f}: Read-only file system\n"
                        ));
                        Sink::Null
                    }
                };
                if *fd == 2 {
                    fd2 = sink;
                } else {
                    fd1 = sink;
                }
            }
            let stdin = stdin_override.unwrap_or_else(|| std::mem::take(&mut input));
            let out = match redirect_error {
                Some(e) => CmdOut::fail(e, 1),
                None if args.is_empty() => CmdOut::default(),
                None => self.run_simple(&args, stdin),
            };
            last_code = out.code;
            let CmdOut { out, err, .. } = out;
            let mut to_out: Vec<Piece> = Vec::new();
            let mut to_err: Vec<Piece> = Vec::new();
            match fd1 {
                Sink::Out => to_out.extend(out),
                Sink::Err => to_err.extend(out),
                Sink::Null => {}
            }
            if !err.is_empty() {
                match fd2 {
                    Sink::Out => to_out.push(Piece::Bytes(err)),
                    Sink::Err => to_err.push(Piece::Bytes(err)),
                    Sink::Null => {}
                }
            }
            if is_last {
                self.events.extend(to_out.into_iter().map(|p| (STDOUT, p)));
            } else {
                input = to_out;
            }
            self.events.extend(to_err.into_iter().map(|p| (STDERR, p)));
            if self.exited {
                break;
            }
        }
        self.status = last_code;
    }

    fn count(&self, name: &str) {
        self.conn
            .stats()
            .update(|c| *c.commands.entry(name.to_string()).or_default() += 1);
    }

    fn run_simple(&mut self, args: &[String], stdin: Vec<Piece>) -> CmdOut {
        let Some(name) = args.first() else {
            return CmdOut::default();
        };
        let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
        let base = name.rsplit('/').next().unwrap_or(name);
        self.count(base);
        let profile = self.conn.profile();
        let known = KNOWN.contains(&base) || WRITING.contains(&base);
        if !known || !profile.has_tool(base) {
            return CmdOut::fail(
                format!("/system/bin/sh: {name}: {}\n", profile.not_found),
                127,
            );
        }
        let out = self.dispatch(base, args, &rest, stdin);
        self.phone_ms += profile.costs.command_ms(base) + out.extra_ms;
        out
    }

    fn dispatch(
        &mut self,
        base: &str,
        args: &[String],
        rest: &[&str],
        stdin: Vec<Piece>,
    ) -> CmdOut {
        let conn = self.conn;
        let t = Tools { conn };
        match base {
            "echo" => tools::echo(rest),
            "true" | ":" => CmdOut::default(),
            "false" => CmdOut::fail(Vec::new(), 1),
            "exit" => {
                self.exited = true;
                let code = rest
                    .first()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(i64::from(self.status));
                CmdOut::fail(Vec::new(), (code & 0xff) as u8)
            }
            "sh" | "mksh" => self.sh(rest),
            "getprop" => tools::getprop(conn.scenario(), rest),
            "date" => tools::date(conn.scenario(), rest),
            "command" => self.command(args, rest, stdin),
            "which" => {
                let mut out = CmdOut::default();
                for name in rest {
                    match self.locate(name) {
                        Some(p) if p.starts_with('/') => out.push_out(format!("{p}\n")),
                        _ => out.code = 1,
                    }
                }
                out
            }
            "pm" => pm::pm(conn, rest, "pm"),
            "cmd" => pm::cmd(conn, rest),
            "dumpsys" => dumpsys::dumpsys(conn, rest),
            "id" => CmdOut::ok("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet),3006(net_bw_stats),3009(readproc),3011(uhid) context=u:r:shell:s0\n"),
            "whoami" => CmdOut::ok("shell\n"),
            "uname" => CmdOut::ok("Linux\n"),
            "stat" => t.stat(rest),
            "sha256sum" | "sha1sum" | "sha224sum" | "sha384sum" | "sha512sum" | "md5sum" => {
                t.hashsum(base, rest, &stdin)
            }
            "dd" => t.dd(rest, &stdin),
            "cat" => t.cat(rest, stdin),
            "head" | "tail" => t.head_tail(base, rest, stdin),
            "wc" => t.wc(rest, &stdin),
            "base64" => t.base64(rest, stdin),
            "od" => t.od(rest, &stdin),
            "ls" => t.ls(rest),
            _ => {
                // One of WRITING: anything that would change the phone is refused and recorded.
                let line = args.join(" ");
                conn.stats()
                    .update(|c| c.write_attempts.push(format!("shell {line}")));
                CmdOut::fail(
                    format!("{base}: refused: this device is read-only for scanners\n"),
                    1,
                )
            }
        }
    }

    /// Where a command is: `/system/bin/NAME`, the bare name for a shell builtin, or `None`.
    fn locate(&self, name: &str) -> Option<String> {
        if BUILTINS.contains(&name) {
            return Some(name.to_string());
        }
        let exists = KNOWN.contains(&name) || WRITING.contains(&name);
        (exists && self.conn.profile().has_tool(name)).then(|| format!("/system/bin/{name}"))
    }

    /// mksh's `command`: `-v NAME...` says where each is (exit 1 if one is missing); without
    /// `-v` it runs the command.
    fn command(&mut self, args: &[String], rest: &[&str], stdin: Vec<Piece>) -> CmdOut {
        match rest.split_first() {
            Some((&"-v", names)) => {
                let mut out = CmdOut::default();
                for name in names {
                    match self.locate(name) {
                        Some(p) => out.push_out(format!("{p}\n")),
                        None => out.code = 1,
                    }
                }
                out
            }
            Some(_) => self.run_simple(args.get(1..).unwrap_or(&[]), stdin),
            None => CmdOut::default(),
        }
    }

    fn sh(&mut self, rest: &[&str]) -> CmdOut {
        let script = match rest {
            ["-c", script, ..] => *script,
            [] => return CmdOut::default(),
            [other, ..] => {
                return CmdOut::fail(format!("sh: {other}: No such file or directory\n"), 127)
            }
        };
        if self.depth >= 8 {
            return CmdOut::fail("sh: too deeply nested\n", 2);
        }
        let mut inner = Shell {
            conn: self.conn,
            status: self.status,
            exited: false,
            events: Vec::new(),
            depth: self.depth + 1,
            phone_ms: 0.0,
        };
        inner.run_script(script);
        self.phone_ms += inner.phone_ms;
        let mut out = CmdOut {
            code: inner.status,
            ..CmdOut::default()
        };
        for (id, p) in inner.events {
            if id == STDOUT {
                out.out.push(p);
            } else if let Ok(b) = materialise(&[p]) {
                out.err.extend(b);
            }
        }
        out
    }
}

/// mksh builtins: they exist at every level and cost nothing.
const BUILTINS: &[&str] = &["echo", "true", ":", "false", "exit", "command"];

/// Commands the phone has (subject to the SDK: [`crate::profile::Profile::has_tool`]).
#[rustfmt::skip]
const KNOWN: &[&str] = &[
    "echo", "true", ":", "false", "exit", "command", "sh", "mksh", "getprop", "date", "which",
    "pm", "cmd", "dumpsys", "id", "whoami", "uname", "stat", "sha256sum", "sha1sum", "sha224sum",
    "sha384sum", "sha512sum", "md5sum", "dd", "cat", "head", "tail", "wc", "base64", "od", "ls",
];

/// Commands that would change the phone: they exist, and are refused and recorded.
#[rustfmt::skip]
const WRITING: &[&str] = &[
    "rm", "mv", "cp", "touch", "mkdir", "rmdir", "chmod", "chown", "ln", "am", "input", "svc",
    "reboot", "setprop", "settings", "dpm", "wm", "monkey", "kill", "pkill", "truncate",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_redirections_and_lists() {
        let t = lex("a 'b c' \"d$?\" 2>/dev/null && e || f; g | h").unwrap();
        assert_eq!(t[0], Tok::Word("a".into()));
        assert_eq!(t[1], Tok::Word("b c".into()));
        assert_eq!(t[2], Tok::Word(format!("d{STATUS_MARK}")));
        assert_eq!(
            t[3],
            Tok::Redir {
                fd: 2,
                dup: None,
                input: false
            }
        );
        let l = parse(t).unwrap();
        assert_eq!(l.len(), 4);
        assert_eq!(l[1].0, Conn2::And);
        assert_eq!(l[2].0, Conn2::Or);
        assert_eq!(l[3].1.len(), 2);
    }

    #[test]
    fn lexes_escapes_comments_and_fd_duplication() {
        let w = |s: &str| Tok::Word(s.into());
        let out = |fd, dup| Tok::Redir {
            fd,
            dup,
            input: false,
        };
        let t = lex("a\\ b \"x\\\"y\" 2>&1 >>f & c < g # d e\nh\\\nz").unwrap();
        assert_eq!(
            t,
            vec![
                w("a b"),
                w("x\"y"),
                out(2, Some(1)),
                out(1, None),
                w("f"),
                Tok::Semi,
                w("c"),
                Tok::Redir {
                    fd: 0,
                    dup: None,
                    input: true
                },
                w("g"),
                Tok::Semi,
                w("hz"),
            ]
        );
        assert!(lex("a >&3").is_err());
        assert!(lex("a \"b").is_err());
    }

    #[test]
    fn syntax_errors_are_errors() {
        assert!(lex("echo 'x").is_err());
        assert!(lex("a | ").and_then(parse).is_err());
        assert!(lex("&& a").and_then(parse).is_err());
    }
}
