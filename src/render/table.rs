//! The human table: a chosen subset of fields, relative ages and human sizes, no borders
//! (like `gh` and `kubectl`), cut to the terminal width, coloured statuses on request.
//!
//! Rendered in two passes over the rows (widths, then lines), so a listing of any length holds
//! no cells: memory is the rows themselves. One row is always one line: control characters a
//! vendor put in a name are shown as spaces or U+FFFD, never sent to the terminal.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use unicode_width::UnicodeWidthChar;

use crate::model::{Backup, Field, Status};

use super::Options;

/// Writes the table; with no rows, writes nothing (the caller says so on stderr).
pub fn write(out: &mut dyn Write, rows: &[Backup], opts: &Options) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns: Vec<Cell> = match &opts.columns {
        Some(cols) => cols
            .iter()
            .map(|c| match c {
                super::Column::Field(f) => Cell::Field(*f),
                super::Column::Age => Cell::Age,
            })
            .collect(),
        None => DEFAULT.to_vec(),
    };
    let headers: Vec<String> = columns.iter().map(Cell::header).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(&columns) {
            *w = (*w).max(width(&c.text(row, opts)));
        }
    }
    if let Some(max) = opts.width {
        fit(&columns, &headers, &mut widths, usize::from(max));
    }
    let mut line = String::new();
    let header_style = opts.color.then_some(BOLD);
    let cells = headers.iter().map(|h| (h.clone(), header_style));
    write_line(out, &mut line, cells, &widths)?;
    for row in rows {
        let cells = columns.iter().map(|c| {
            let style = match c {
                Cell::Status => status_style(row.status, opts.color),
                Cell::Field(Field::Status) => status_style(row.status, opts.color),
                _ => None,
            };
            (c.text(row, opts), style)
        });
        write_line(out, &mut line, cells, &widths)?;
    }
    Ok(())
}

/// A plain aligned table of text cells for small listings (`accounts`, `providers`, `audit`):
/// the layout of the backup table, every column cut to fit `width` when one is given (the
/// first column last).
pub fn simple_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
    width_limit: Option<u16>,
) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    if let Some(max) = width_limit {
        let headers: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        let cuttable = vec![true; widths.len()];
        shrink(&cuttable, Some(0), &headers, &mut widths, usize::from(max));
    }
    let mut line = String::new();
    let header = header.iter().map(|h| (h.to_string(), None));
    write_line(out, &mut line, header, &widths)?;
    for row in rows {
        write_line(
            out,
            &mut line,
            row.iter().map(|c| (c.clone(), None)),
            &widths,
        )?;
    }
    Ok(())
}

/// Spaces between columns.
const GAP: usize = 2;
/// A truncated column keeps at least this many characters.
const MIN_WIDTH: usize = 8;

/// SGR codes: (start, end).
type Style = (&'static str, &'static str);
const BOLD: Style = ("\x1b[1m", "\x1b[22m");
const GREEN: Style = ("\x1b[32m", "\x1b[39m");
const RED: Style = ("\x1b[31m", "\x1b[39m");
const YELLOW: Style = ("\x1b[33m", "\x1b[39m");
const GREY: Style = ("\x1b[90m", "\x1b[39m");

/// Writes one line: each cell cut to its column's width with `…` and padded to it, the last
/// one unpadded, trailing blanks trimmed.
fn write_line(
    out: &mut dyn Write,
    line: &mut String,
    cells: impl Iterator<Item = (String, Option<Style>)>,
    widths: &[usize],
) -> io::Result<()> {
    line.clear();
    let last = widths.len().saturating_sub(1);
    for (i, ((text, style), &w)) in cells.zip(widths).enumerate() {
        if let Some((on, _)) = style {
            line.push_str(on);
        }
        let used = push_fitted(line, &text, w);
        if let Some((_, off)) = style {
            line.push_str(off);
        }
        if i < last {
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(used) + GAP));
        }
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Appends `text` in at most `w` columns, cut with `…` when longer; returns the columns used.
fn push_fitted(line: &mut String, text: &str, w: usize) -> usize {
    let cut = width(text) > w;
    let room = if cut { w.saturating_sub(1) } else { w };
    let mut used = 0;
    for ch in text.chars().map(printable) {
        let cw = ch.width().unwrap_or(0);
        if used + cw > room {
            break;
        }
        line.push(ch);
        used += cw;
    }
    if cut {
        line.push('…');
        used += 1;
    }
    used
}

/// Display columns of a cell's text (East Asian wide characters take two).
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| printable(c).width().unwrap_or(0))
        .sum()
}

/// What a character is shown as: whitespace controls as a space, other controls as U+FFFD.
fn printable(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => ' ',
        c if c.is_control() => '\u{fffd}',
        c => c,
    }
}

/// Shrinks the widest truncatable columns until the table fits `max` columns. Fixed columns
/// (provider, status, size, age) are never cut; if the table cannot fit even then, it is left
/// wider than the terminal.
fn fit(columns: &[Cell], headers: &[String], widths: &mut [usize], max: usize) {
    let cuttable: Vec<bool> = columns.iter().map(Cell::truncatable).collect();
    // Account names are cut last: they say whose backup it is.
    let last = columns.iter().position(|c| matches!(c, Cell::Account));
    shrink(&cuttable, last, headers, widths, max);
}

/// Shrinks the widest of the `cuttable` columns, one column at a time, until the widths fit
/// `max` (or nothing more can be cut); `cut_last` is cut only when no other column can be.
fn shrink(
    cuttable: &[bool],
    cut_last: Option<usize>,
    headers: &[String],
    widths: &mut [usize],
    max: usize,
) {
    let total =
        |widths: &[usize]| widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
    // One column at a time from the widest, so equally long columns (names and resource ids)
    // are cut evenly rather than one of them to the bone.
    while total(widths) > max {
        let widest = (0..widths.len())
            .filter(|&i| cuttable[i] && widths[i] > MIN_WIDTH.max(width(&headers[i])))
            .max_by_key(|&i| (Some(i) != cut_last, widths[i], std::cmp::Reverse(i)));
        let Some(i) = widest else { break };
        widths[i] -= 1;
    }
}

#[derive(Clone, Debug)]
enum Cell {
    Provider,
    Account,
    NameOrId,
    Status,
    Resource,
    Size,
    Age,
    Field(Field),
}

const DEFAULT: [Cell; 7] = [
    Cell::Provider,
    Cell::Account,
    Cell::NameOrId,
    Cell::Status,
    Cell::Resource,
    Cell::Size,
    Cell::Age,
];

impl Cell {
    fn header(&self) -> String {
        match self {
            Cell::Provider => "PROVIDER".into(),
            Cell::Account => "ACCOUNT".into(),
            Cell::NameOrId => "NAME/ID".into(),
            Cell::Status => "STATUS".into(),
            Cell::Resource => "RESOURCE".into(),
            Cell::Size => "SIZE".into(),
            Cell::Age => "AGE".into(),
            Cell::Field(f) => f.as_str().to_uppercase(),
        }
    }

    /// Whether the column may be cut to fit the terminal.
    fn truncatable(&self) -> bool {
        matches!(
            self,
            Cell::Account | Cell::NameOrId | Cell::Resource | Cell::Field(_)
        )
    }

    fn text(&self, b: &Backup, opts: &Options) -> String {
        match self {
            Cell::Provider => b.provider.to_string(),
            Cell::Account => b.account.clone(),
            Cell::NameOrId => b.name.clone().unwrap_or_else(|| b.id.clone()),
            Cell::Status => b.status.to_string(),
            Cell::Resource => b
                .resource_name
                .clone()
                .or_else(|| b.resource_id.clone())
                .unwrap_or_else(|| "-".into()),
            Cell::Size => b.size_bytes.map_or_else(|| "-".into(), human_size),
            Cell::Age => match b.created_at {
                Some(t) => human_age(t.utc(), opts.now),
                None => "no timestamp".into(),
            },
            Cell::Field(Field::SizeBytes) => b.size_bytes.map_or_else(|| "-".into(), human_size),
            Cell::Field(f) => b.field_text(*f).unwrap_or_else(|| "-".into()),
        }
    }
}

fn status_style(status: Status, color: bool) -> Option<Style> {
    if !color {
        return None;
    }
    Some(match status {
        Status::Available => GREEN,
        Status::Error | Status::Cancelled => RED,
        Status::Creating | Status::Restoring | Status::Deleting => YELLOW,
        Status::Deleted | Status::Unknown => GREY,
    })
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
    fn wide_characters_take_two_columns_and_controls_never_reach_the_terminal() {
        let mut wide = row();
        wide.name = Some("バックアップ\x1b[2J".into());
        wide.resource_name = Some("db\n01".into());
        let mut out = Vec::new();
        write(&mut out, &[wide, row()], &opts(None)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PROVIDER  ACCOUNT  NAME/ID                               STATUS     RESOURCE   SIZE  AGE\n\
             cf        cf-prod  バックアップ\u{fffd}[2J                      available  db 01      -     3h\n\
             cf        cf-prod  9acc15a2-8277-4991-8b14-a8d77fbd3f81  available  orders-db  -     3h\n"
        );
        // Cut by display width: a wide character that would straddle the edge is left out.
        let mut out = Vec::new();
        let mut wide = row();
        wide.name = Some("バックアップ".into());
        write(&mut out, &[wide], &opts(Some(59))).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PROVIDER  ACCOUNT  NAME/ID   STATUS     RESOURCE  SIZE  AGE\n\
             cf        cf-prod  バック…   available  orders-…  -     3h\n"
        );
    }

    #[test]
    fn colour_marks_the_header_and_statuses_only() {
        let mut failed = row();
        failed.status = Status::Error;
        let mut o = opts(None);
        o.color = true;
        o.columns = Some(vec![
            super::super::Column::Field(Field::Id),
            super::super::Column::Field(Field::Status),
        ]);
        let mut out = Vec::new();
        write(&mut out, &[row(), failed], &o).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[1mID\x1b[22m                                    \x1b[1mSTATUS\x1b[22m\n\
             9acc15a2-8277-4991-8b14-a8d77fbd3f81  \x1b[32mavailable\x1b[39m\n\
             9acc15a2-8277-4991-8b14-a8d77fbd3f81  \x1b[31merror\x1b[39m\n"
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(crate::providers::arbitrary::config())]

            /// Whatever a vendor puts in names and ids: one line per row plus the header, no
            /// control characters, and no line wider than the terminal unless the fixed
            /// columns and the shortest cuts cannot fit.
            #[test]
            fn any_text_gives_one_clean_line_per_row(
                cells in proptest::collection::vec((any::<String>(), any::<String>(), any::<String>()), 1..6),
                columns in 40u16..140,
            ) {
                let rows: Vec<Backup> = cells
                    .into_iter()
                    .map(|(id, name, resource)| {
                        let mut b = row();
                        b.id = id;
                        b.name = Some(name);
                        b.resource_name = Some(resource);
                        b
                    })
                    .collect();
                let mut out = Vec::new();
                write(&mut out, &rows, &opts(Some(columns))).unwrap();
                let text = String::from_utf8(out).unwrap();
                prop_assert_eq!(text.lines().count(), rows.len() + 1);
                prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{:?}", text);
                // Provider, status, size and age are never cut; account, name and resource
                // keep at least MIN_WIDTH columns each.
                let floor = 8 + 9 + 4 + 3 + 3 * MIN_WIDTH.max(8) + 6 * GAP;
                for line in text.lines() {
                    prop_assert!(width(line) <= usize::from(columns).max(floor), "{:?}", line);
                }
            }
        }
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
