//! `-o json` (one array, one row per line inside it) and `-o ndjson` (one object per line).

use std::io::{self, Write};

use serde::Serialize;

use crate::model::Backup;

/// Writes `[`, one compact object per line, `]`: valid JSON that is also easy to grep.
pub fn write_json_array(out: &mut dyn Write, rows: &[Backup]) -> io::Result<()> {
    write_array(out, rows)
}

/// [`write_json_array`] for any rows (the `backups diff` rows too).
pub fn write_array<T: Serialize>(out: &mut dyn Write, rows: &[T]) -> io::Result<()> {
    if rows.is_empty() {
        return out.write_all(b"[]\n");
    }
    out.write_all(b"[\n")?;
    for (i, row) in rows.iter().enumerate() {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(if i + 1 < rows.len() { b",\n" } else { b"\n" })?;
    }
    out.write_all(b"]\n")
}

/// Writes one row as a JSON line.
pub fn write_ndjson_row(out: &mut dyn Write, row: &Backup) -> io::Result<()> {
    write_line(out, row)
}

/// [`write_ndjson_row`] for any row (a `backups diff` row too).
pub fn write_line<T: Serialize>(out: &mut dyn Write, row: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")
}
