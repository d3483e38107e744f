//! `-o csv` and `-o tsv`: a header row of model field names, then one row per backup; null is
//! an empty cell, times are RFC 3339, sizes raw bytes, `extra` compact JSON. CSV quotes as
//! RFC 4180; TSV never quotes and escapes `\`, tab, newline and carriage return instead.
//!
//! On a terminal, [`TerminalSafe`] also escapes what the formats leave raw (other controls,
//! bidi and other format characters, line separators), so a vendor's value cannot drive the
//! terminal; in a pipe the bytes stay exactly as the vendor sent them.

use std::io::{self, Write};

use crate::inventory::Change;
use crate::model::{Backup, Field};

/// Writes rows with `sep` (`b','` or `b'\t'`) as the separator.
pub(crate) fn write(
    out: &mut dyn Write,
    rows: &[Backup],
    columns: Option<&[Field]>,
    sep: u8,
) -> io::Result<()> {
    let default = super::default_flat_columns();
    let columns = columns.unwrap_or(&default);
    if sep == b'\t' {
        return write_tsv(out, rows, columns);
    }
    let mut w = ::csv::WriterBuilder::new().delimiter(sep).from_writer(out);
    w.write_record(columns.iter().map(|c| c.as_str()))
        .map_err(io_error)?;
    for row in rows {
        w.write_record(
            columns
                .iter()
                .map(|c| row.field_text(*c).unwrap_or_default()),
        )
        .map_err(io_error)?;
    }
    w.flush()
}

/// Writes `backups diff` rows with `sep`: the four diff columns, then every model field but
/// `extra` (the default columns of `list`).
pub(crate) fn write_changes(out: &mut dyn Write, changes: &[Change], sep: u8) -> io::Result<()> {
    let fields = super::default_flat_columns();
    let header = Change::COLUMNS
        .iter()
        .copied()
        .chain(fields.iter().map(|f| f.as_str()));
    let cells = |c: &Change| -> Vec<Option<String>> {
        c.column_texts()
            .into_iter()
            .chain(fields.iter().map(|f| c.backup.field_text(*f)))
            .collect()
    };
    if sep == b'\t' {
        writeln!(out, "{}", header.collect::<Vec<_>>().join("\t"))?;
        let mut line = String::new();
        for c in changes {
            line.clear();
            for (i, v) in cells(c).into_iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                if let Some(v) = v {
                    escape_tsv(&v, &mut line);
                }
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        return Ok(());
    }
    let mut w = ::csv::WriterBuilder::new().delimiter(sep).from_writer(out);
    w.write_record(header).map_err(io_error)?;
    for c in changes {
        w.write_record(cells(c).into_iter().map(Option::unwrap_or_default))
            .map_err(io_error)?;
    }
    w.flush()
}

/// The I/O error inside a csv error, kind and all: a reader that went away (`| head`) must
/// stay a broken pipe, which is success, not a failed run.
fn io_error(e: ::csv::Error) -> io::Error {
    let message = e.to_string();
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => io,
        _ => io::Error::other(message),
    }
}

fn write_tsv(out: &mut dyn Write, rows: &[Backup], columns: &[Field]) -> io::Result<()> {
    let header: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
    writeln!(out, "{}", header.join("\t"))?;
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            if let Some(v) = row.field_text(*c) {
                escape_tsv(&v, &mut line);
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn escape_tsv(v: &str, out: &mut String) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A writer for stdout on a terminal: escapes every character [`crate::text::is_unsafe`]
/// names except the tab and the newline the formats are made of (as `\x1b`, `\r`,
/// `\u{202e}`). In JSON mode the escapes are JSON's own (`\u202e`), so the document keeps its
/// meaning; JSON already escapes C0 itself, and its line breaks stay. A character split across
/// two writes is held until the rest arrives.
pub(crate) struct TerminalSafe<W: Write> {
    inner: W,
    json: bool,
    /// The start of a UTF-8 sequence whose rest is in the next write.
    pending: Vec<u8>,
}

impl<W: Write> TerminalSafe<W> {
    /// Wraps `inner`; `json` for `-o json` and `-o ndjson`.
    pub(crate) fn new(inner: W, json: bool) -> TerminalSafe<W> {
        TerminalSafe {
            inner,
            json,
            pending: Vec::new(),
        }
    }

    fn escape(&self, c: char, out: &mut Vec<u8>) {
        let mut s = String::new();
        if self.json {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                s.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            crate::text::escape_into(c, &mut s);
        }
        out.extend_from_slice(s.as_bytes());
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let joined;
        let data = if self.pending.is_empty() {
            buf
        } else {
            joined = [std::mem::take(&mut self.pending).as_slice(), buf].concat();
            &joined[..]
        };
        let mut out = Vec::with_capacity(data.len());
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            let plain = (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t';
            if plain || (self.json && b < 0x20) {
                out.push(b);
                i += 1;
                continue;
            }
            let len = match b {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => 0,
            };
            if len > 1 && i + len > data.len() {
                self.pending = data[i..].to_vec();
                break;
            }
            match std::str::from_utf8(data.get(i..i + len.max(1)).unwrap_or(&[]))
                .ok()
                .and_then(|s| s.chars().next())
            {
                Some(c) if crate::text::is_unsafe(c) => self.escape(c, &mut out),
                Some(_) => out.extend_from_slice(&data[i..i + len]),
                // Not UTF-8: passed on as it is (the renderers only write UTF-8).
                None => {
                    out.push(b);
                    i += 1;
                    continue;
                }
            }
            i += len;
        }
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for TerminalSafe<W> {
    fn drop(&mut self) {
        // An incomplete character at the very end: passed on as it is.
        if !self.pending.is_empty() {
            let _ = self.inner.write_all(&std::mem::take(&mut self.pending));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProviderId, Status};

    fn row() -> Backup {
        let mut b = Backup::new(ProviderId::Bycloud, "by", "b1".into(), Status::Error);
        b.description = Some("weekly, \"full\"\tbackup".into());
        b.size_bytes = Some(1024);
        b
    }

    #[test]
    fn csv_quotes_and_leaves_null_empty() {
        let mut out = Vec::new();
        let cols = [Field::Id, Field::Name, Field::SizeBytes, Field::Description];
        write(&mut out, &[row()], Some(&cols), b',').unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,name,size_bytes,description\nb1,,1024,\"weekly, \"\"full\"\"\tbackup\"\n"
        );
    }

    #[test]
    fn tsv_escapes_instead_of_quoting() {
        let mut out = Vec::new();
        let cols = [Field::Id, Field::Description, Field::Extra];
        write(&mut out, &[row()], Some(&cols), b'\t').unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id\tdescription\textra\nb1\tweekly, \"full\"\\tbackup\t{}\n"
        );
    }

    fn on_terminal(rows: &[Backup], sep: u8, chunk: usize) -> String {
        let mut raw = Vec::new();
        write(&mut raw, rows, Some(&[Field::Id, Field::Description]), sep).unwrap();
        let mut out = Vec::new();
        {
            let mut safe = TerminalSafe::new(&mut out, false);
            // Written in small pieces: characters split across writes are put back together.
            for piece in raw.chunks(chunk) {
                safe.write_all(piece).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn on_a_terminal_controls_and_bidi_are_escaped() {
        let mut b = row();
        b.id = "b\u{202e}1".into();
        b.description = Some("\x1b[2K\r\x1b[32mOK\u{9b}\u{2028}é\tend".into());
        for chunk in [1, 2, 3, 1000] {
            assert_eq!(
                on_terminal(&[b.clone()], b'\t', chunk),
                "id\tdescription\nb\\u{202e}1\t\\x1b[2K\\r\\x1b[32mOK\\x9b\\u{2028}é\\tend\n",
                "{chunk}"
            );
            assert_eq!(
                on_terminal(&[b.clone()], b',', chunk),
                "id,description\nb\\u{202e}1,\"\\x1b[2K\\r\\x1b[32mOK\\x9b\\u{2028}é\tend\"\n",
                "{chunk}"
            );
        }
    }

    #[test]
    fn json_on_a_terminal_keeps_its_meaning() {
        let value = serde_json::json!({"d": "a\u{202e}b\u{e0001}c\u{7f}\u{9b}é\x1b"});
        let text = serde_json::to_string(&value).unwrap();
        let mut out = Vec::new();
        TerminalSafe::new(&mut out, true)
            .write_all(text.as_bytes())
            .unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert_eq!(shown, r#"{"d":"a\u202eb\udb40\udc01c\u007f\u009bé\u001b"}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&shown).unwrap(),
            value
        );
    }

    #[test]
    fn in_a_pipe_bytes_stay_as_they_are() {
        let mut b = row();
        b.description = Some("\x1b[31m\u{202e}".into());
        let mut out = Vec::new();
        write(&mut out, &[b], Some(&[Field::Description]), b',').unwrap();
        assert_eq!(out, "description\n\x1b[31m\u{202e}\n".as_bytes());
    }
}
