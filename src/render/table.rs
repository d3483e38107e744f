//! The human tables, laid out by comfy-table: the backup table (a chosen subset of fields,
//! relative ages and human sizes) and the small tables of `accounts`, `providers` and `audit`.
//! No borders (like `gh` and `kubectl`), cut to the terminal width, coloured statuses on
//! request.
//!
//! A listing of any length holds at most [`CHUNK`] rows of cells: a first pass over the rows
//! finds each column's width, then the rows go to comfy-table a chunk at a time, every chunk
//! with the same fixed widths so the chunks line up as one table. Cells are cut to their
//! column with `…` before comfy-table sees them (it would wrap them onto further lines), so one
//! row is always one line; vendor text reaches the terminal only through [`text::clean`].

use std::borrow::Cow;
use std::io::{self, Write};

use chrono::{DateTime, Utc};
use comfy_table::{presets, ColumnConstraint, ContentArrangement, Table, Width};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::inventory::{Change, ChangeKind};
use crate::model::{Backup, Field, Status};

use super::{text, Options};

/// Writes the table; with no rows, writes nothing (the caller says so on stderr).
pub(crate) fn write(out: &mut dyn Write, rows: &[Backup], opts: &Options) -> io::Result<()> {
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
    let mut lines = Chunks::new(out, widths);
    let header_style = opts.color.then_some(BOLD);
    lines.header(headers.iter().map(|h| (h.as_str(), header_style)));
    for row in rows {
        lines.row(columns.iter().map(|c| {
            let style = match c {
                Cell::Status | Cell::Field(Field::Status) => status_style(row.status, opts.color),
                _ => None,
            };
            (c.text(row, opts), style)
        }))?;
    }
    lines.finish()
}

/// The table of `backups diff`: change, provider, account, name or id, the status as
/// `from → to`, whether a vanished backup went early, resource and age. Laid out as the
/// backup table is (chunks of fixed widths, names cut first, the account last); with no
/// rows, writes nothing.
pub(crate) fn write_changes(
    out: &mut dyn Write,
    changes: &[Change],
    opts: &Options,
) -> io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    const HEADER: [&str; 8] = [
        "CHANGE", "PROVIDER", "ACCOUNT", "NAME/ID", "STATUS", "EARLY", "RESOURCE", "AGE",
    ];
    // Names, ids and resources may be cut; the account last of them.
    const CUTTABLE: [bool; 8] = [false, false, true, true, false, false, true, false];
    const ACCOUNT: usize = 2;
    let cells = |c: &Change| -> [String; 8] {
        let b = &c.backup;
        let status = |s: Option<Status>| s.map_or("-", Status::as_str);
        [
            c.change.as_str().to_string(),
            b.provider.as_str().to_string(),
            b.account.clone(),
            b.name.clone().unwrap_or_else(|| b.id.clone()),
            format!("{} → {}", status(c.from_status), status(c.to_status)),
            match c.early {
                Some(true) => "yes".to_string(),
                Some(false) => "no".to_string(),
                None => "-".to_string(),
            },
            b.resource_name
                .clone()
                .or_else(|| b.resource_id.clone())
                .unwrap_or_else(|| "-".to_string()),
            match b.created_at {
                Some(t) => human_age(t.utc(), opts.now),
                None => "no timestamp".to_string(),
            },
        ]
    };
    let headers: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| width(h)).collect();
    for c in changes {
        for (w, text) in widths.iter_mut().zip(cells(c)) {
            *w = (*w).max(width(&text));
        }
    }
    if let Some(max) = opts.width {
        shrink(
            &CUTTABLE,
            Some(ACCOUNT),
            &headers,
            &mut widths,
            usize::from(max),
        );
    }
    let mut lines = Chunks::new(out, widths);
    let header_style = opts.color.then_some(BOLD);
    lines.header(HEADER.iter().map(|h| (*h, header_style)));
    for c in changes {
        // The change is what the reader scans for: an early disappearance stands out.
        let style = opts.color.then_some(match (c.change, c.early) {
            (ChangeKind::Appeared, _) => GREEN,
            (ChangeKind::Vanished, Some(true)) => RED,
            (ChangeKind::Vanished, _) => GREY,
            (ChangeKind::Changed, _) => YELLOW,
        });
        lines.row(
            cells(c)
                .into_iter()
                .enumerate()
                .map(|(i, text)| (text, if i == 0 { style } else { None })),
        )?;
    }
    lines.finish()
}

/// A plain aligned table of text cells for small listings (`accounts`, `providers`, `audit`):
/// the layout of the backup table, every column cut to fit `width` when one is given (the
/// first column last).
pub(crate) fn simple_table(
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
    let mut lines = Chunks::new(out, widths);
    lines.header(header.iter().map(|h| (*h, None)));
    for row in rows {
        lines.row(row.iter().map(|c| (c.as_str(), None)))?;
    }
    lines.finish()
}

/// Rows per comfy-table: it holds every cell of a table and its rendered lines, so a chunk
/// bounds what a listing of any length costs beyond its rows.
const CHUNK: usize = 1000;
/// Spaces between columns.
const GAP: usize = 2;
/// A truncated column keeps at least this many characters.
const MIN_WIDTH: usize = 8;
/// The widest a column may be: comfy-table counts widths in `u16`, the gap included.
const MAX_WIDTH: usize = u16::MAX as usize - GAP;

/// A style as the two marker characters around a cell's text: (start, end).
///
/// comfy-table measures text with `unicode-width`, which would count an SGR code's `[32m` as
/// four columns and pad the cell short. The markers are zero-width format characters (Cf),
/// which vendor text never contains here ([`text::printable`] replaces every Cf character);
/// they become [`SGR`] codes once comfy-table has laid the line out.
type Style = (char, char);
const BOLD: Style = ('\u{206a}', '\u{206b}');
const GREEN: Style = ('\u{206c}', '\u{2064}');
const RED: Style = ('\u{206d}', '\u{2064}');
const YELLOW: Style = ('\u{206e}', '\u{2064}');
const GREY: Style = ('\u{206f}', '\u{2064}');

/// Each marker and the SGR code it stands for.
const SGR: [(char, &str); 7] = [
    ('\u{206a}', "\x1b[1m"),  // bold
    ('\u{206b}', "\x1b[22m"), // normal intensity
    ('\u{206c}', "\x1b[32m"), // green
    ('\u{206d}', "\x1b[31m"), // red
    ('\u{206e}', "\x1b[33m"), // yellow
    ('\u{206f}', "\x1b[90m"), // grey (bright black)
    ('\u{2064}', "\x1b[39m"), // default colour
];

/// Lines of one table written through comfy-table, [`CHUNK`] rows per comfy-table, every chunk
/// with the same fixed column widths.
struct Chunks<'a> {
    out: &'a mut dyn Write,
    widths: Vec<usize>,
    table: Table,
    /// Whether a marker may be in the chunk (only then are lines scanned for them).
    styled: bool,
    /// The text of a chunk, written at once.
    buf: String,
}

impl<'a> Chunks<'a> {
    fn new(out: &'a mut dyn Write, widths: Vec<usize>) -> Self {
        let widths = widths.into_iter().map(|w| w.min(MAX_WIDTH)).collect();
        Chunks {
            out,
            widths,
            table: chunk_table(),
            styled: false,
            buf: String::new(),
        }
    }

    fn header<'t>(&mut self, cells: impl Iterator<Item = (&'t str, Option<Style>)>) {
        let cells = self.cells(cells);
        self.table.set_header(cells);
    }

    fn row<T: AsRef<str>>(
        &mut self,
        cells: impl Iterator<Item = (T, Option<Style>)>,
    ) -> io::Result<()> {
        let cells = self.cells(cells);
        self.table.add_row(cells);
        if self.table.row_count() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush()
    }

    /// One comfy-table cell per column: the text made printable, cut to the column and
    /// wrapped in its style's markers. Cells beyond the header's columns are left out.
    fn cells<T: AsRef<str>>(
        &mut self,
        cells: impl Iterator<Item = (T, Option<Style>)>,
    ) -> Vec<comfy_table::Cell> {
        cells
            .zip(&self.widths)
            .map(|((text, style), &w)| {
                let mut text = fitted(text.as_ref(), w);
                if let Some((on, off)) = style {
                    self.styled = true;
                    text.insert(0, on);
                    text.push(off);
                }
                comfy_table::Cell::new_owned(text)
            })
            .collect()
    }

    /// Lays the chunk out and writes it: trailing blanks trimmed, markers made SGR codes.
    fn flush(&mut self) -> io::Result<()> {
        let mut table = std::mem::replace(&mut self.table, chunk_table());
        if table.header().is_none() && table.is_empty() {
            return Ok(());
        }
        let last = self.widths.len().saturating_sub(1);
        for (i, column) in table.column_iter_mut().enumerate() {
            let w = self.widths.get(i).copied().unwrap_or(0);
            let gap = if i < last { GAP } else { 0 };
            column.set_padding((0, gap as u16));
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed((w + gap) as u16)));
        }
        self.buf.clear();
        for line in table.lines() {
            let line = line.trim_end();
            if self.styled {
                for c in line.chars() {
                    match SGR.iter().find(|(marker, _)| *marker == c) {
                        Some((_, code)) => self.buf.push_str(code),
                        None => self.buf.push(c),
                    }
                }
            } else {
                self.buf.push_str(line);
            }
            self.buf.push('\n');
        }
        self.styled = false;
        self.out.write_all(self.buf.as_bytes())
    }
}

/// An empty comfy-table without borders or wrapping: widths are fixed per chunk.
fn chunk_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table
}

/// `text` made printable and cut to `w` columns with `…` when wider.
fn fitted(text: &str, w: usize) -> String {
    if is_plain(text) {
        return match text.get(..w.saturating_sub(1)) {
            Some(head) if text.len() > w => format!("{head}…"),
            _ => text.to_owned(),
        };
    }
    let clean = text::clean(text);
    if clean.width() <= w {
        return clean.into_owned();
    }
    let room = w.saturating_sub(1);
    let mut cut = String::with_capacity(room + 3);
    let mut used = 0;
    for ch in clean.chars() {
        let cw = ch.width().unwrap_or(0);
        if used + cw > room {
            break;
        }
        cut.push(ch);
        used += cw;
    }
    if cut.width() > room {
        // A sequence can be wider than its characters (an emoji and its presentation
        // selector): keep the longest prefix that fits, found by halving.
        let ends: Vec<usize> = cut
            .char_indices()
            .map(|(i, _)| i)
            .chain([cut.len()])
            .collect();
        let (mut fits, mut too_wide) = (0, ends.len() - 1);
        while fits + 1 < too_wide {
            let mid = (fits + too_wide) / 2;
            if cut[..ends[mid]].width() <= room {
                fits = mid;
            } else {
                too_wide = mid;
            }
        }
        cut.truncate(ends[fits]);
    }
    cut.push('…');
    cut
}

/// Display columns of a cell's text as shown (East Asian wide characters take two), measured
/// as comfy-table measures it.
fn width(text: &str) -> usize {
    if is_plain(text) {
        return text.len();
    }
    text::clean(text).width()
}

/// Whether `text` is printable ASCII, one column a byte: most cells, measured and cut without
/// a look-up.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Shrinks the widest truncatable columns until the table fits `max` columns. Fixed columns
/// (provider, status, size, age, timestamps) are never cut; if the table cannot fit even then,
/// it is left wider than the terminal.
fn fit(columns: &[Cell], headers: &[String], widths: &mut [usize], max: usize) {
    let cuttable: Vec<bool> = columns.iter().map(Cell::truncatable).collect();
    // Account names are cut last: they say whose backup it is.
    let last = columns
        .iter()
        .position(|c| matches!(c, Cell::Account | Cell::Field(Field::Account)));
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

    /// Whether the column may be cut to fit the terminal: names, ids and free text may; a
    /// short value of a fixed form (provider, status, a size, an age, a timestamp, a flag)
    /// cut would be a different value, so it never is.
    fn truncatable(&self) -> bool {
        match self {
            Cell::Account | Cell::NameOrId | Cell::Resource => true,
            Cell::Provider | Cell::Status | Cell::Size | Cell::Age => false,
            Cell::Field(f) => !matches!(
                f,
                Field::Provider
                    | Field::Status
                    | Field::SizeBytes
                    | Field::CreatedAt
                    | Field::UpdatedAt
                    | Field::ExpiresAt
                    | Field::Incremental
            ),
        }
    }

    fn text<'b>(&self, b: &'b Backup, opts: &Options) -> Cow<'b, str> {
        let or_dash = |v: Option<&'b String>| v.map_or(Cow::Borrowed("-"), |s| Cow::Borrowed(s));
        match self {
            Cell::Provider => Cow::Borrowed(b.provider.as_str()),
            Cell::Account => Cow::Borrowed(&b.account),
            Cell::NameOrId => Cow::Borrowed(b.name.as_ref().unwrap_or(&b.id)),
            Cell::Status => Cow::Borrowed(b.status.as_str()),
            Cell::Resource => or_dash(b.resource_name.as_ref().or(b.resource_id.as_ref())),
            Cell::Size => b
                .size_bytes
                .map_or(Cow::Borrowed("-"), |n| human_size(n).into()),
            Cell::Age => match b.created_at {
                Some(t) => human_age(t.utc(), opts.now).into(),
                None => Cow::Borrowed("no timestamp"),
            },
            Cell::Field(f) => b.field_text(*f).map_or(Cow::Borrowed("-"), Cow::Owned),
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
pub(crate) fn human_size(bytes: u64) -> String {
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
pub(crate) fn human_age(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    crate::duration::human(now - t)
}

#[cfg(test)]
mod tests {
    use super::super::Column;
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
        o.columns = Some(vec![Column::Field(Field::Id), Column::Field(Field::Status)]);
        let mut out = Vec::new();
        write(&mut out, &[row(), failed], &o).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[1mID\x1b[22m                                    \x1b[1mSTATUS\x1b[22m\n\
             9acc15a2-8277-4991-8b14-a8d77fbd3f81  \x1b[32mavailable\x1b[39m\n\
             9acc15a2-8277-4991-8b14-a8d77fbd3f81  \x1b[31merror\x1b[39m\n"
        );
    }

    #[test]
    fn columns_show_raw_values_and_timestamps_are_never_cut() {
        let mut b = row();
        b.size_bytes = Some(20 << 30);
        let mut o = opts(None);
        o.columns = Some(vec![
            Column::Field(Field::SizeBytes),
            Column::Age,
            Column::Field(Field::CreatedAt),
        ]);
        let mut out = Vec::new();
        write(&mut out, &[b.clone()], &o).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SIZE_BYTES   AGE  CREATED_AT\n\
             21474836480  3h   2026-11-23T09:00:00Z\n"
        );
        // The id gives way to the timestamp, down to its shortest cut...
        o.columns = Some(vec![
            Column::Field(Field::Id),
            Column::Field(Field::CreatedAt),
        ]);
        o.width = Some(30);
        let mut out = Vec::new();
        write(&mut out, &[b.clone()], &o).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID        CREATED_AT\n\
             9acc15a…  2026-11-23T09:00:00Z\n"
        );
        // ...and past that the line is wider than the terminal, the timestamp whole.
        o.width = Some(20);
        let mut out = Vec::new();
        write(&mut out, &[b], &o).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID        CREATED_AT\n\
             9acc15a…  2026-11-23T09:00:00Z\n"
        );
    }

    #[test]
    fn chunks_line_up_as_one_table() {
        // The widest name is in the last chunk; every chunk pads to it.
        let rows: Vec<Backup> = (0..2 * CHUNK + 500)
            .map(|i| {
                let mut b = row();
                b.name = Some(if i == 2 * CHUNK + 400 {
                    "the-longest-name-of-all".into()
                } else {
                    format!("n{i}")
                });
                b
            })
            .collect();
        let mut out = Vec::new();
        write(&mut out, &rows, &opts(None)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), rows.len() + 1);
        let status_at = |l: &str| l.find("available").or_else(|| l.find("STATUS"));
        assert!(text.lines().all(|l| status_at(l) == Some(44)), "{text}");
        assert_eq!(
            text.lines().nth(1001).unwrap(),
            "cf        cf-prod  n1000                    available  orders-db  -     3h"
        );
    }

    #[test]
    fn simple_tables_cut_the_first_column_last_and_take_ragged_rows() {
        let rows = vec![
            vec![
                "oracle".to_string(),
                "password (nimbula session cookie)".into(),
            ],
            vec!["a-very-long-provider-name".into()],
            vec![
                "cf".into(),
                "UAA".into(),
                "ignored: beyond the header".into(),
            ],
        ];
        let mut out = Vec::new();
        simple_table(&mut out, &["PROVIDER", "AUTH"], &rows, Some(30)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PROVIDER              AUTH\n\
             oracle                passwor…\n\
             a-very-long-provide…\n\
             cf                    UAA\n"
        );
    }

    #[test]
    fn a_sequence_wider_than_its_characters_is_cut_to_fit() {
        // Each heart takes two columns with its presentation selector, one without.
        let hearts = "\u{2764}\u{fe0f}".repeat(3);
        assert_eq!(width(&hearts), 6);
        let cut = fitted(&hearts, 4);
        assert_eq!(cut, "\u{2764}\u{fe0f}\u{2764}…");
        assert!(cut.width() <= 4);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Text with the characters that could break a line or the terminal: C0 and C1
        /// controls, bidi overrides and isolates, zero-width and other format characters (the
        /// table's own colour markers among them), line and paragraph separators, a
        /// presentation selector, wide characters; mixed with anything at all.
        fn hostile_text() -> impl Strategy<Value = String> {
            let hostile = prop::sample::select(vec![
                '\x1b',
                '\r',
                '\n',
                '\t',
                '\x0b',
                '\x0c',
                '\x7f',
                '\u{85}',
                '\u{9b}',
                '\u{ad}',
                '\u{200b}',
                '\u{200d}',
                '\u{200e}',
                '\u{202a}',
                '\u{202e}',
                '\u{2066}',
                '\u{2069}',
                '\u{2064}',
                '\u{206a}',
                '\u{206f}',
                '\u{feff}',
                '\u{fff9}',
                '\u{e0041}',
                '\u{2028}',
                '\u{2029}',
                '\u{fe0f}',
                '\u{2764}',
                'バ',
                '…',
                ' ',
            ]);
            prop::collection::vec(prop_oneof![any::<char>(), hostile], 0..40)
                .prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #![proptest_config(crate::providers::arbitrary::config())]

            /// Whatever a vendor puts in names and ids: one line per row plus the header, no
            /// control, format or separator character (only the table's own SGR codes when
            /// coloured), and no line wider than the terminal unless the fixed columns and the
            /// shortest cuts cannot fit.
            #[test]
            fn any_text_gives_one_clean_line_per_row(
                cells in proptest::collection::vec((hostile_text(), hostile_text(), hostile_text()), 1..6),
                columns in 40u16..140,
                color: bool,
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
                let mut o = opts(Some(columns));
                o.color = color;
                let mut out = Vec::new();
                write(&mut out, &rows, &o).unwrap();
                let mut text = String::from_utf8(out).unwrap();
                if color {
                    prop_assert!(text.starts_with("\x1b[1mPROVIDER\x1b[22m"), "{:?}", text);
                    for (_, code) in SGR {
                        text = text.replace(code, "");
                    }
                }
                prop_assert_eq!(text.lines().count(), rows.len() + 1);
                let unsafe_char = |c: char| {
                    (c.is_control() && c != '\n') || text::is_format(c) || c == '\u{2028}' || c == '\u{2029}'
                };
                prop_assert!(!text.chars().any(unsafe_char), "{:?}", text);
                // Provider, status, size and age are never cut; account, name and resource
                // keep at least MIN_WIDTH columns each.
                let floor = 8 + 9 + 4 + 3 + 3 * MIN_WIDTH.max(8) + 6 * GAP;
                for line in text.lines() {
                    prop_assert!(line.width() <= usize::from(columns).max(floor), "{:?}", line);
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
