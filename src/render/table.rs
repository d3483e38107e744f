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
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if opts.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    match opts.width {
        Some(w) => {
            table.set_width(w);
            table.set_content_arrangement(ContentArrangement::Dynamic);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    let columns: Vec<Column> = match &opts.columns {
        Some(cols) => cols.iter().map(|c| Column::Field(c.clone())).collect(),
        None => DEFAULT.to_vec(),
    };
    table.set_header(columns.iter().map(|c| {
        let cell = Cell::new(c.header());
        if opts.color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for row in rows {
        table.add_row(columns.iter().map(|c| c.cell(row, opts)));
    }
    let n = columns.len();
    for (i, col) in table.column_iter_mut().enumerate() {
        col.set_padding((0, if i + 1 < n { 2 } else { 0 }));
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
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

    fn cell(&self, b: &Backup, opts: &Options) -> Cell {
        let text = match self {
            Column::Provider => b.provider.to_string(),
            Column::Account => b.account.clone(),
            Column::NameOrId => b.name.clone().unwrap_or_else(|| b.id.clone()),
            Column::Status => return status_cell(b.status, opts.color),
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
            Column::Field(f) if f == "status" => return status_cell(b.status, opts.color),
            Column::Field(f) => b.field_text(f).unwrap_or_else(|| "-".into()),
        };
        Cell::new(text)
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
