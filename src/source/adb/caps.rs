//! What a phone can do, learned in the first round (no extra round trip): the SDK level (from
//! `getprop`), the shell channel (the server's `features` for the device), the request size it
//! takes, which read and hash tools exist, and its UTC offset. Every later round picks its
//! commands from a [`Caps`].
//!
//! Tools are tried, not assumed from the SDK level: an OEM build may lack one or add one. Each
//! probe feeds a fixed input through the tool and checks the exact answer, so a tool that runs
//! but rejects an option (Android 7's `base64 -w 0`) counts as missing.

use super::batch::PartOutput;
use super::transport::Channel;

/// `echo hi` through each tool: the command and the answer that proves it works (`stat`:
/// any answer but "not found").
const PROBES: [(Tool, &str, &str); 6] = [
    (Tool::Base64NoWrap, "echo hi | base64 -w 0 2>&1", "aGkK"),
    (Tool::Base64, "echo hi | base64 2>&1", "aGkK"),
    (Tool::Od, "echo hi | od -A n -t x1 -v 2>&1", "68 69 0a"),
    (Tool::Stat, "stat -c '%s %Y %n' / 2>&1", ""),
    (
        Tool::Sha256sum,
        "echo hi | sha256sum 2>&1",
        "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4",
    ),
    (
        Tool::Sha1sum,
        "echo hi | sha1sum 2>&1",
        "55ca6286e3e4f4fba5d0448333fa99fc5a404a73",
    ),
];

/// A tool the later rounds may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    /// `base64 -w 0` (toybox from Android 8).
    Base64NoWrap,
    /// `base64` (toybox from Android 7; 76-column lines).
    Base64,
    /// `od -A n -t x1 -v` (toybox from Android 6).
    Od,
    /// `stat -c '%s %Y %n'` (toybox from Android 6).
    Stat,
    Sha256sum,
    Sha1sum,
}

/// The phone's capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    /// `ro.build.version.sdk`.
    pub sdk: Option<u32>,
    pub channel: Channel,
    /// `cmd` (the `cmd` feature, Android 7+): `cmd package` answers without the Java VM start
    /// that makes each `pm` call cost hundreds of milliseconds before Android 9.
    pub cmd: bool,
    /// Tools that answered their probe, sorted.
    pub tools: Vec<Tool>,
    /// `date +%z` as RFC 3339 wants it (`+02:00`).
    pub utc_offset: Option<String>,
}

impl Caps {
    pub fn has(&self, t: Tool) -> bool {
        self.tools.contains(&t)
    }
}

/// The probe parts appended to the first round, in order.
pub fn probe_parts() -> Vec<String> {
    let mut parts: Vec<String> = PROBES.iter().map(|p| p.1.to_string()).collect();
    parts.push("date +%z 2>&1".to_string());
    parts
}

/// Reads the outputs of [`probe_parts`] (a shorter slice means the rest did not run).
pub fn read_probes(outs: &[PartOutput]) -> (Vec<Tool>, Option<String>) {
    let mut tools = Vec::new();
    for ((tool, _, want), o) in PROBES.iter().zip(outs) {
        let text = o.text();
        let ok = match tool {
            // Present unless the shell could not find it: a `stat` that cannot read `/` or
            // lacks `-c` still answers, and every path it does not report gets a sync STAT.
            Tool::Stat => o.rc != Some(127) && !text.contains("not found"),
            Tool::Od => {
                o.rc == Some(0) && text.split_whitespace().collect::<Vec<_>>().join(" ") == *want
            }
            Tool::Sha256sum | Tool::Sha1sum => {
                o.rc == Some(0) && text.split_whitespace().next() == Some(want)
            }
            Tool::Base64 | Tool::Base64NoWrap => o.rc == Some(0) && text.trim() == *want,
        };
        if ok {
            tools.push(*tool);
        }
    }
    tools.sort();
    let offset = outs
        .get(PROBES.len())
        .filter(|o| o.rc == Some(0))
        .and_then(|o| utc_offset(o.text().trim()));
    (tools, offset)
}

/// `+0200` / `-0530` → `+02:00` / `-05:30`.
pub fn utc_offset(z: &str) -> Option<String> {
    let b = z.as_bytes();
    if b.len() != 5 || !matches!(b.first(), Some(b'+' | b'-')) {
        return None;
    }
    let digits = z.get(1..)?;
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (digits.get(..2)?, digits.get(2..)?);
    if h > "18" || m > "59" {
        return None;
    }
    Some(format!("{}{h}:{m}", z.get(..1)?))
}

/// A phone-local `YYYY-MM-DD HH:MM:SS` (dumpsys install times) with the phone's offset, as RFC
/// 3339 (`2024-05-01T10:00:00+02:00`); `None` when the text is not such a time.
pub fn local_time_rfc3339(local: &str, offset: &str) -> Option<String> {
    let b = local.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    Some(format!("{}T{}{offset}", local.get(..10)?, local.get(11..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(text: &str, rc: i32) -> PartOutput {
        PartOutput::new(text.as_bytes().to_vec(), Some(rc))
    }

    /// Captured answers of the probes on phones of each kind.
    #[test]
    fn probes_table() {
        let not_found = |t: &str| out(&format!("/system/bin/sh: {t}: not found\n"), 127);
        let android14 = [
            out("aGkK", 0),
            out("aGkK\n", 0),
            out(" 68 69 0a\n", 0),
            out("4096 1700000000 /\n", 0),
            out(
                "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4  -\n",
                0,
            ),
            out("55ca6286e3e4f4fba5d0448333fa99fc5a404a73  -\n", 0),
            out("+0200\n", 0),
        ];
        let android7 = [
            out("base64: Unknown option 'w' (see \"base64 --help\")\n", 1),
            out("aGkK\n", 0),
            out(" 68 69 0a\n", 0),
            out("4096 1700000000 /\n", 0),
            not_found("sha256sum"),
            out("55ca6286e3e4f4fba5d0448333fa99fc5a404a73  -\n", 0),
            out("-0530\n", 0),
        ];
        let android5 = [
            not_found("base64"),
            not_found("base64"),
            not_found("od"),
            not_found("stat"),
            not_found("sha256sum"),
            not_found("sha1sum"),
            out("+0000\n", 0),
        ];
        use Tool::*;
        let table: &[(&[PartOutput], &[Tool], Option<&str>)] = &[
            (
                &android14,
                &[Base64NoWrap, Base64, Od, Stat, Sha256sum, Sha1sum],
                Some("+02:00"),
            ),
            (&android7, &[Base64, Od, Stat, Sha1sum], Some("-05:30")),
            (&android5, &[], Some("+00:00")),
            (&android14[..3], &[Base64NoWrap, Base64, Od], None),
        ];
        for (outs, tools, offset) in table {
            let (t, o) = read_probes(outs);
            assert_eq!(&t, tools);
            assert_eq!(o.as_deref(), *offset);
        }
    }

    #[test]
    fn times_and_offsets() {
        assert_eq!(utc_offset("+0200").as_deref(), Some("+02:00"));
        assert_eq!(utc_offset("+02:00"), None);
        assert_eq!(utc_offset("2"), None);
        assert_eq!(
            local_time_rfc3339("2024-05-01 10:00:00", "+02:00").as_deref(),
            Some("2024-05-01T10:00:00+02:00")
        );
        assert_eq!(local_time_rfc3339("2024-05-01 10:00", "+02:00"), None);
        assert_eq!(local_time_rfc3339("2024-05-01 10:00:0x", "+02:00"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "(?s).{0,40}", rc in 0i32..256) {
            let _ = read_probes(&[out(&s, rc), out(&s, rc)]);
            let _ = utc_offset(&s);
            let _ = local_time_rfc3339(&s, "+00:00");
        }
    }
}
