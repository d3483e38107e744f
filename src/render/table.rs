//! The human table: a chosen subset of fields, relative ages and human sizes, no borders
//! (like `gh` and `kubectl`), wrapped to the terminal width, coloured statuses on request.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};

use crate::model::{Backup, Status};

use super::Options;

/// Writes the table; with no rows, writes nothing (the caller says so on stderr).
pub fn write(out: &mut dyn Write, rows: &[Backup], opts: &Options) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns: Vec<Column> = match &opts.columns {
        Some(cols) => cols.iter().map(|c| Column::Field(c.clone())).collect(),
        None => DEFAULT.to_vec(),
    };
    let headers: Vec<String> = columns.iter().map(Column::header).collect();
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|c| c.text(row, opts)).collect())
        .collect();
    if let Some(width) = opts.width {
        fit(&columns, &headers, &mut cells, usize::from(width));
    }
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if opts.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    // Cells are already cut to the width: long ids are truncated with `…`, never wrapped
    // onto a second line that breaks `grep` and the eye alike.
    table.set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers.iter().map(|h| {
        let cell = Cell::new(h);
        if opts.color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for (row, texts) in rows.iter().zip(cells) {
        table.add_row(columns.iter().zip(texts).map(|(c, text)| match c {
            Column::Status => status_cell(row.status, opts.color),
            Column::Field(f) if f == "status" => status_cell(row.status, opts.color),
            _ => Cell::new(text),
        }));
    }
    let n = columns.len();
    for (i, col) in table.column_iter_mut().enumerate() {
        col.set_padding((0, if i + 1 < n { GAP as u16 } else { 0 }));
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Spaces between columns.
const GAP: usize = 2;
/// A truncated column keeps at least this many characters.
const MIN_WIDTH: usize = 8;

/// Shrinks the widest truncatable columns until the table fits `width`, cutting their cells
/// with `…`. Fixed columns (provider, status, size, age) are never cut; if the table cannot
/// fit even then, it is left wider than the terminal.
fn fit(columns: &[Column], headers: &[String], cells: &mut [Vec<String>], width: usize) {
    let chars = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| chars(h)).collect();
    for row in cells.iter() {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(chars(c));
        }
    }
    let total =
        |widths: &[usize]| widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
    // One character at a time from the widest column, so equally long columns (names and
    // resource ids) are cut evenly rather than one of them to the bone.
    while total(&widths) > width {
        // Account names are cut last: they say whose backup it is.
        let widest = (0..columns.len())
            .filter(|&i| columns[i].truncatable() && widths[i] > MIN_WIDTH.max(chars(&headers[i])))
            .max_by_key(|&i| {
                (
                    !matches!(columns[i], Column::Account),
                    widths[i],
                    std::cmp::Reverse(i),
                )
            });
        let Some(i) = widest else { break };
        widths[i] -= 1;
    }
    for row in cells.iter_mut() {
        for (i, cell) in row.iter_mut().enumerate() {
            if chars(cell) > widths[i] {
                let mut cut: String = cell.chars().take(widths[i].saturating_sub(1)).collect();
                cut.push('…');
                *cell = cut;
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Column {
    Provider,
    Account,
    NameOrId,
    Status,
    Resource,
    Size,
    Age,
    Field(String),
}

const DEFAULT: [Column; 7] = [
    Column::Provider,
    Column::Account,
    Column::NameOrId,
    Column::Status,
    Column::Resource,
    Column::Size,
    Column::Age,
];

impl Column {
    fn header(&self) -> String {
        match self {
            Column::Provider => "PROVIDER".into(),
            Column::Account => "ACCOUNT".into(),
            Column::NameOrId => "NAME/ID".into(),
            Column::Status => "STATUS".into(),
            Column::Resource => "RESOURCE".into(),
            Column::Size => "SIZE".into(),
            Column::Age => "AGE".into(),
            Column::Field(f) => f.to_uppercase(),
        }
    }

    /// Whether the column may be cut to fit the terminal.
    fn truncatable(&self) -> bool {
        matches!(
            self,
            Column::Account | Column::NameOrId | Column::Resource | Column::Field(_)
        )
    }

    fn text(&self, b: &Backup, opts: &Options) -> String {
        match self {
            Column::Provider => b.provider.to_string(),
            Column::Account => b.account.clone(),
            Column::NameOrId => b.name.clone().unwrap_or_else(|| b.id.clone()),
            Column::Status => b.status.to_string(),
            Column::Resource => b
                .resource_name
                .clone()
                .or_else(|| b.resource_id.clone())
                .unwrap_or_else(|| "-".into()),
            Column::Size => b.size_bytes.map_or_else(|| "-".into(), human_size),
            Column::Age => match b.created_at {
                Some(t) => human_age(t.utc(), opts.now),
                None => "no timestamp".into(),
            },
            Column::Field(f) if f == "size_bytes" => {
                b.size_bytes.map_or_else(|| "-".into(), human_size)
            }
            Column::Field(f) => b.field_text(f).unwrap_or_else(|| "-".into()),
        }
    }
}

fn status_cell(status: Status, color: bool) -> Cell {
    let cell = Cell::new(status.as_str());
    if !color {
        return cell;
    }
    match status {
        Status::Available => cell.fg(Color::Green),
        Status::Error | Status::Cancelled => cell.fg(Color::Red),
        Status::Creating | Status::Restoring | Status::Deleting => cell.fg(Color::Yellow),
        Status::Deleted | Status::Unknown => cell.fg(Color::DarkGrey),
    }
}

/// Bytes in IEC units: `512 B`, `1.5 KiB`, `40 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// How long ago `t` was: `45s`, `12m`, `5h`, `3d`; a future time (clock skew) is `0s`.
pub fn human_age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    crate::duration::human(now - t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(width: Option<u16>) -> Options {
        Options {
            format: super::super::Format::Table,
            columns: None,
            width,
            color: false,
            now: "2026-11-23T12:00:00Z".parse().unwrap(),
        }
    }

    fn row() -> Backup {
        let mut b = Backup::new(
            crate::model::ProviderId::Cf,
            "cf-prod",
            "9acc15a2-8277-4991-8b14-a8d77fbd3f81".into(),
            Status::Available,
        );
        b.resource_name = Some("orders-db".into());
        b.created_at = crate::model::Timestamp::parse_vendor("2026-11-23T09:00:00Z");
        b
    }

    #[test]
    fn long_ids_are_cut_to_the_width_not_wrapped() {
        let mut out = Vec::new();
        write(&mut out, &[row()], &opts(Some(60))).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "PROVIDER  ACCOUNT  NAME/ID   STATUS     RESOURCE   SIZE  AGE\n\
             cf        cf-prod  9acc15a…  available  orders-db  -     3h\n"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 60));
        let mut out = Vec::new();
        write(&mut out, &[row()], &opts(None)).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("9acc15a2-8277-4991-8b14-a8d77fbd3f81"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(40 << 30), "40 GiB");
        assert_eq!(human_size(u64::MAX), "16 EiB");
    }
}
