//! Renderers: pure functions from rows to bytes. The terminal width, colour choice and `now`
//! are passed in, so golden tests pin them.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::{Backup, Field};

mod csv;
mod json;
mod table;

pub use json::{write_json_array, write_ndjson_row};
pub use table::{human_age, human_size, simple_table};

/// Output formats (spec §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
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
pub struct Options {
    /// The format.
    pub format: Format,
    /// Columns for table/csv/tsv (validated model field names); `None` = the format's default.
    pub columns: Option<Vec<Field>>,
    /// Terminal width for the table; `None` = no wrapping.
    pub width: Option<u16>,
    /// Colour the table.
    pub color: bool,
    /// "Now", for relative ages.
    pub now: DateTime<Utc>,
}

/// Checks `--columns` against the model's fields; the error lists the valid names.
pub fn parse_columns(items: &[String]) -> Result<Option<Vec<Field>>> {
    let mut cols = Vec::new();
    for c in items.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        cols.push(
            c.parse::<Field>()
                .map_err(|e| Error::usage(format!("--columns: {e}")))?,
        );
    }
    Ok((!cols.is_empty()).then_some(cols))
}

/// Renders `rows` to `out` in the chosen format.
pub fn render(out: &mut dyn Write, rows: &[Backup], opts: &Options) -> io::Result<()> {
    match opts.format {
        Format::Table => table::write(out, rows, opts),
        Format::Json => write_json_array(out, rows),
        Format::Ndjson => {
            for row in rows {
                write_ndjson_row(out, row)?;
            }
            Ok(())
        }
        Format::Csv => csv::write(out, rows, opts.columns.as_deref(), b','),
        Format::Tsv => csv::write(out, rows, opts.columns.as_deref(), b'\t'),
    }
}

/// The columns csv and tsv print by default: every field but `extra`.
pub fn default_flat_columns() -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| *f != Field::Extra)
        .collect()
}

/// The terminal's width, when stdout is one.
pub fn terminal_width() -> Option<u16> {
    terminal_size::terminal_size().map(|(terminal_size::Width(w), _)| w)
}
