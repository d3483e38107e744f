//! Renderers: pure functions from rows to bytes. The terminal width, colour choice and `now`
//! are passed in, so golden tests pin them.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use crate::inventory::Change;
use crate::model::{Backup, Field};

mod csv;
mod json;
mod table;
mod text;

pub(crate) use csv::TerminalSafe;
pub(crate) use json::{write_json_array, write_ndjson_rows};
pub(crate) use table::simple_table;

/// Output formats (`docs/model.md#output-formats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned, human table.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
}

/// Everything a renderer needs besides the rows.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// The format.
    pub(crate) format: Format,
    /// Columns for table/csv/tsv; `None` = the format's default.
    pub(crate) columns: Option<Vec<Column>>,
    /// Terminal width for the table; `None` = no wrapping.
    pub(crate) width: Option<u16>,
    /// Colour the table.
    pub(crate) color: bool,
    /// "Now", for relative ages.
    pub(crate) now: DateTime<Utc>,
}

/// A column `--columns` can name: any model field, or `age` (the table only: the time since
/// `created_at`, as the default table shows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    /// A model field, printed as its raw value.
    Field(Field),
    /// The relative age of `created_at`.
    Age,
}

impl Column {
    /// Every name `--columns` accepts, model fields first.
    pub(crate) fn names() -> impl Iterator<Item = &'static str> {
        Field::ALL.into_iter().map(Field::as_str).chain(["age"])
    }

    /// The name as typed.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Column::Field(f) => f.as_str(),
            Column::Age => "age",
        }
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Column {
    type Err = String;

    /// Parses a column name; the error lists the valid names.
    fn from_str(s: &str) -> std::result::Result<Column, String> {
        if s.trim() == "age" {
            return Ok(Column::Age);
        }
        s.parse::<Field>().map(Column::Field).map_err(|_| {
            format!(
                "unknown column `{}` (valid: {})",
                s.trim(),
                Column::names().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// Renders `rows` to `out` in the chosen format.
pub(crate) fn render(out: &mut dyn Write, rows: &[Backup], opts: &Options) -> io::Result<()> {
    match opts.format {
        Format::Table => table::write(out, rows, opts),
        Format::Json => write_json_array(out, rows),
        Format::Ndjson => json::write_lines(out, rows),
        Format::Csv => csv::write(out, rows, flat_columns(opts).as_deref(), b','),
        Format::Tsv => csv::write(out, rows, flat_columns(opts).as_deref(), b'\t'),
    }
}

/// Renders `backups diff` rows (`docs/cli.md#diff`) in the chosen format: the four diff columns
/// first, then the model; the table shows change, provider, account, name or id, `from → to`
/// status, early, resource and age.
pub(crate) fn render_changes(
    out: &mut dyn Write,
    changes: &[Change],
    opts: &Options,
) -> io::Result<()> {
    match opts.format {
        Format::Table => table::write_changes(out, changes, opts),
        Format::Json => json::write_array(out, changes),
        Format::Ndjson => json::write_lines(out, changes),
        Format::Csv => csv::write_changes(out, changes, b','),
        Format::Tsv => csv::write_changes(out, changes, b'\t'),
    }
}

/// The model fields of `--columns` for csv and tsv (which never take `age`).
fn flat_columns(opts: &Options) -> Option<Vec<Field>> {
    opts.columns.as_ref().map(|cols| {
        cols.iter()
            .filter_map(|c| match c {
                Column::Field(f) => Some(*f),
                Column::Age => None,
            })
            .collect()
    })
}

/// The columns csv and tsv print by default: every field but `extra`.
pub(crate) fn default_flat_columns() -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| *f != Field::Extra)
        .collect()
}

/// The terminal's width, when stdout is one.
pub(crate) fn terminal_width() -> Option<u16> {
    terminal_size::terminal_size().map(|(terminal_size::Width(w), _)| w)
}
