//! Where records go as devices finish: an injected writer (stdout in the binary), or `--output`
//! (written atomically at the end), plus `--out-dir` (one file per record). The sink renders and
//! counts; the exit outcome is merged by the caller from the records' statuses.

use super::human::{verdict_line, write_human, Style};
use super::schema::{DeviceReport, Summary};
use super::{csv, json, Format};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where reports go, fed as devices finish.
pub struct Sink {
    format: Format,
    style: Style,
    output: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    /// File stems already written in `out_dir` this run (two backups of one device share an id).
    used_stems: BTreeSet<String>,
    /// json: serialised reports, sorted at the end; human/csv/jsonl to a file: text so far.
    buffered: Vec<(String, String)>,
    writer: Box<dyn Write + Send>,
    summary: Summary,
    quiet: bool,
}

impl Sink {
    /// `writer` receives what does not go to `--output` (stdout in the binary).
    pub fn new(
        format: Format,
        style: Style,
        output: Option<PathBuf>,
        out_dir: Option<PathBuf>,
        quiet: bool,
        writer: Box<dyn Write + Send>,
    ) -> io::Result<Self> {
        if let Some(dir) = &out_dir {
            std::fs::create_dir_all(dir)?;
        }
        let mut sink = Self {
            format,
            style,
            output,
            out_dir,
            used_stems: BTreeSet::new(),
            buffered: Vec::new(),
            writer,
            summary: Summary::default(),
            quiet,
        };
        if format == Format::Csv {
            sink.emit_text(String::new(), csv::CSV_HEADER.to_string())?;
        }
        Ok(sink)
    }

    fn emit_text(&mut self, key: String, text: String) -> io::Result<()> {
        if self.output.is_some() {
            self.buffered.push((key, text));
            Ok(())
        } else {
            self.writer.write_all(text.as_bytes())?;
            self.writer.flush()
        }
    }

    /// Writes the record's `--out-dir` file, if there is an out-dir: `<device>-<time>.json`, so a
    /// re-scan of the same phone adds a record, it does not replace the earlier one. Returns the
    /// path written.
    pub fn store(&mut self, r: &DeviceReport) -> io::Result<Option<PathBuf>> {
        let Some(dir) = self.out_dir.clone() else {
            return Ok(None);
        };
        let body = json::pretty(r)?;
        let time: String = r
            .scanned_at
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        let base = format!("{}-{time}", file_stem(&r.device.id));
        let mut stem = base.clone();
        let mut n = 1;
        while !self.used_stems.insert(stem.clone()) || dir.join(format!("{stem}.json")).exists() {
            n += 1;
            stem = format!("{base}-{n}");
        }
        let path = dir.join(format!("{stem}.json"));
        super::atomic_file::write(&path, &body)?;
        Ok(Some(path))
    }

    /// Renders one finished device.
    pub fn device(&mut self, r: &DeviceReport) -> io::Result<()> {
        self.summary.add(r.status);
        let key = r.device.id.clone();
        match self.format {
            Format::Json => {
                self.buffered.push((key, json::line(r)?));
                Ok(())
            }
            Format::Jsonl => self.emit_text(key, json::line(r)? + "\n"),
            Format::Csv => self.emit_text(key, csv::csv_rows(r)),
            Format::Human => {
                if self.quiet && self.output.is_none() {
                    return self.emit_text(key, verdict_line(r, self.style) + "\n");
                }
                let mut buf = Vec::new();
                write_human(&mut buf, r, self.style)?;
                self.emit_text(key, String::from_utf8_lossy(&buf).into_owned())
            }
        }
    }

    /// All devices done: writes what was buffered and returns the run's counts.
    pub fn finish(mut self) -> io::Result<Summary> {
        let buffered = std::mem::take(&mut self.buffered);
        let text = match self.format {
            Format::Json => Some(json::run_document(buffered, &self.summary)?),
            Format::Human => {
                let mut t: String = buffered.iter().map(|(_, s)| s.as_str()).collect();
                t.push_str(&self.summary.line());
                t.push('\n');
                Some(t)
            }
            Format::Jsonl | Format::Csv => self
                .output
                .is_some()
                .then(|| buffered.iter().map(|(_, s)| s.as_str()).collect()),
        };
        if let Some(text) = text {
            match &self.output {
                Some(path) => super::atomic_file::write(path, text.as_bytes())?,
                None => {
                    self.writer.write_all(text.as_bytes())?;
                    self.writer.flush()?;
                }
            }
        }
        Ok(self.summary)
    }

    /// How many devices were rendered so far.
    pub fn devices(&self) -> usize {
        self.summary.devices
    }

    /// The `--out-dir` folder, if any.
    pub fn out_dir(&self) -> Option<&Path> {
        self.out_dir.as_deref()
    }
}

/// A file name for a device id: letters, digits, `-`, `_` and `.` kept, the rest `_`.
pub fn file_stem(device_id: &str) -> String {
    let s: String = device_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "device".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("127.0.0.1:5555"), "127.0.0.1_5555");
        assert_eq!(file_stem("../etc/passwd"), "_etc_passwd");
        assert_eq!(file_stem(""), "device");
    }
}
