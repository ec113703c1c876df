//! Untrusted text (from a phone, a backup, a file or a server) made safe for where it goes.
//!
//! Terminals: control characters (C0, DEL, C1: ESC, BEL, CR...), bidi overrides and isolates,
//! zero-width characters and the byte-order mark are shown as `\u{..}` escapes, so a label cannot
//! move the cursor, recolour the screen, hide text or reverse it. Spreadsheets: a CSV cell is
//! sanitised the same way, and one that a spreadsheet would read as a formula (first character
//! `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`.

/// Whether a character must not reach a terminal as is.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Escapes control, bidi and zero-width characters before untrusted text reaches a terminal.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(is_hazard) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hazard(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// One CSV cell: sanitised, neutralised against formula injection, quoted when needed.
pub fn csv_cell(s: &str) -> String {
    let mut text = sanitize(s);
    if text.starts_with(['=', '+', '-', '@']) {
        text.insert(0, '\'');
    }
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_tricks_are_escaped() {
        assert_eq!(sanitize("ok"), "ok");
        assert_eq!(sanitize("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(sanitize("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(sanitize("bell\x07"), "bell\\u{7}");
        assert_eq!(sanitize("over\rwrite"), "over\\u{d}write");
        assert_eq!(sanitize("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(sanitize("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(sanitize("iso\u{2067}late"), "iso\\u{2067}late");
        assert_eq!(sanitize("抖音 TikTok"), "抖音 TikTok");
    }

    #[test]
    fn csv_cells_escape_quote_and_defuse_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("two\nlines"), "two\\u{a}lines");
        assert_eq!(csv_cell("\tcmd"), "\\u{9}cmd");
        assert_eq!(csv_cell("rtl\u{202e}txt.apk"), "rtl\\u{202e}txt.apk");
    }
}
