//! Messages on stderr (`appsweep: ...`): escaped like every other untrusted text, and printed
//! above the progress line.

use super::sanitize::sanitize;

/// The text of a message: each line sanitised, line breaks kept (a parse error may draw a caret
/// under the line it quotes).
pub fn message_text(text: &str) -> String {
    text.lines().map(sanitize).collect::<Vec<_>>().join("\n")
}

/// Prints `appsweep: TEXT` on stderr.
pub fn message(text: &str) {
    let safe = message_text(text);
    crate::progress::above(|| eprintln!("appsweep: {safe}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_lines_and_escape_the_rest() {
        assert_eq!(
            message_text("bad file x\x1b]0;owned\x07.toml\n  |\n1 | =\n  | ^"),
            "bad file x\\u{1b}]0;owned\\u{7}.toml\n  |\n1 | =\n  | ^"
        );
        assert_eq!(message_text("cr\roverwrite"), "cr\\u{d}overwrite");
    }
}
