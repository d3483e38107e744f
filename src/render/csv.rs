//! `-o csv` and `-o tsv`: a header row of model field names, then one row per backup; null is
//! an empty cell, times are RFC 3339, sizes raw bytes, `extra` compact JSON. CSV quotes as
//! RFC 4180; TSV never quotes and escapes `\`, tab, newline and carriage return instead.

use std::io::{self, Write};

use crate::inventory::Change;
use crate::model::{Backup, Field};

/// Writes rows with `sep` (`b','` or `b'\t'`) as the separator.
pub fn write(
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
pub fn write_changes(out: &mut dyn Write, changes: &[Change], sep: u8) -> io::Result<()> {
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
}
