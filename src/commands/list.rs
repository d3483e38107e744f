//! `backups list`: every selected account's backups, filtered, sorted and rendered; ndjson
//! without sorting streams rows as pages arrive. With `--record` (or `[inventory] record =
//! true`) each account's listing is also recorded in the inventory once it is complete.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{write_stdout, Context};
use super::record::{self, Recorded, Recording};
use crate::cli::ListArgs;
use crate::config::Account;
use crate::error::{Error, ErrorKind, Outcome};
use crate::filter::{Filter, SortKey};
use crate::http::Http;
use crate::model::Backup;
use crate::providers::{self, AccountResult, ListOptions, Progress};
use crate::render::{self, Column, Format, Options};

/// Runs `backups list`.
pub(crate) async fn run(ctx: &Context, args: &ListArgs) -> anyhow::Result<Outcome> {
    // Every flag is checked before any network traffic.
    let row_filter = record::row_filter_flag(&args.selection, args.limit);
    record::check_flags(&args.inventory, row_filter, false)?;
    let filter = ctx.filter(&args.selection)?;
    let format = ctx.format_or_default(args.output);
    let columns = columns(&args.columns, format)?;
    let accounts = ctx.accounts(&args.selection).await?;
    let recording = Recording::open(&args.inventory, &accounts.inventory, row_filter, false)?;
    let http = ctx.http()?;
    let progress = (format == Format::Table && ctx.stderr_tty).then(Arc::default);
    let options = ListOptions {
        max_pages: args.max_pages.get(),
        parallel: usize::from(args.parallel),
        progress: progress.clone(),
        ..ctx.list_options(&accounts.defaults)
    };
    let listing = Listing {
        ctx,
        http: &http,
        accounts: &accounts.list,
        filter: &filter,
        options: &options,
        started: Instant::now(),
        recording,
    };
    // ndjson with no sort or limit asked for streams rows as pages arrive, in bounded
    // memory (unless recording: each account's rows are kept until the end for its
    // snapshot); everything else needs all rows first.
    let (failures, recorded) =
        if format == Format::Ndjson && args.sort.is_none() && args.limit.is_none() {
            listing.stream().await?
        } else {
            let opts = Options {
                format,
                columns,
                width: ctx.width,
                color: ctx.color,
                now: ctx.now,
            };
            listing.collect(args, &opts, progress).await?
        };
    ctx.note_timeless_left_out(&filter);
    let outcome = ctx.report_failures(&failures);
    Ok(outcome.max(ctx.report_failures(&recorded.errors)))
}

/// One run of `list`: what the two ways of printing it share.
struct Listing<'a> {
    ctx: &'a Context,
    http: &'a Http,
    accounts: &'a [Account],
    filter: &'a Filter,
    options: &'a ListOptions,
    started: Instant,
    recording: Option<Recording>,
}

impl Listing<'_> {
    /// When the listing finished: `now` (pinned by BACKUPS_NOW in tests) moved on by the
    /// time it took.
    fn finished(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx.now + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }

    /// ndjson as pages arrive, then each account's snapshot (its rows were kept for it when
    /// recording). The failed accounts, and what recording left.
    async fn stream(mut self) -> anyhow::Result<(Vec<Error>, Recorded)> {
        let keep = self.recording.is_some();
        let streamed = stream_ndjson(
            self.http,
            self.accounts,
            self.filter,
            self.options,
            self.ctx.stdout_tty,
            keep,
        )
        .await?;
        let Streamed {
            results,
            mut kept,
            written,
        } = streamed;
        let finished = self.finished();
        let recorded =
            match &mut self.recording {
                None => Recorded::default(),
                Some(rec) => {
                    // Each account's rows were kept by the writer, by account.
                    let rows: Vec<Vec<Backup>> = self
                        .accounts
                        .iter()
                        .map(|a| kept.remove(&a.name).unwrap_or_default())
                        .collect();
                    let listings = self.accounts.iter().zip(&results).zip(&rows).map(
                        |((account, r), rows)| {
                            (account, r.result.as_ref().map(|_| rows.as_slice()))
                        },
                    );
                    tokio::task::block_in_place(|| rec.record_listings(listings, finished))
                }
            };
        let failures = match written {
            // The reader is gone (`| head`): nothing more to say, not even the failures.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Vec::new(),
            Err(e) => return Err(anyhow::Error::new(e).context("writing to stdout")),
            Ok(()) => results.into_iter().filter_map(|r| r.result.err()).collect(),
        };
        Ok((failures, recorded))
    }

    /// Every row first (recorded per account), then sorted, cut to `--limit` and rendered.
    /// The failed accounts, and what recording left.
    async fn collect(
        mut self,
        args: &ListArgs,
        opts: &Options,
        progress: Option<Arc<Progress>>,
    ) -> anyhow::Result<(Vec<Error>, Recorded)> {
        let results = list_all(
            self.http,
            self.accounts,
            self.filter,
            self.options,
            progress,
        )
        .await;
        let mut recorded = Recorded::default();
        let finished = self.finished();
        if let Some(rec) = &mut self.recording {
            recorded = rec.record_all(self.accounts, &results, finished);
        }
        let (mut rows, failures) = merge(results);
        args.sort.unwrap_or(SortKey::DEFAULT).sort(&mut rows);
        if let Some(n) = args.limit {
            rows.truncate(n);
        }
        let format = opts.format;
        write_stdout(|out| match format {
            // On a terminal, what csv, tsv and JSON leave raw is escaped; the table cleans
            // its own cells.
            Format::Table => render::render(out, &rows, opts),
            _ if self.ctx.stdout_tty => {
                let json = matches!(format, Format::Json | Format::Ndjson);
                render::render(&mut render::TerminalSafe::new(out, json), &rows, opts)
            }
            _ => render::render(out, &rows, opts),
        })?;
        if rows.is_empty() && format == Format::Table {
            eprintln!("backups: no backups found");
        }
        // The run ends here: the process gives the memory back at once, where freeing every
        // row's strings one by one took a tenth of the CPU of a 60,000-row listing.
        std::mem::forget(rows);
        Ok((failures, recorded))
    }
}

/// `--columns` for this format: json always has every field, and `age` is a table column.
fn columns(asked: &[Column], format: Format) -> Result<Option<Vec<Column>>, Error> {
    if asked.is_empty() {
        return Ok(None);
    }
    match format {
        Format::Json | Format::Ndjson => Err(Error::usage(
            "--columns applies to table, csv and tsv; json always has every field",
        )),
        Format::Csv | Format::Tsv if asked.contains(&Column::Age) => Err(Error::usage(
            "--columns: `age` is a table column; csv and tsv print created_at as RFC 3339",
        )),
        _ => Ok(Some(asked.to_vec())),
    }
}

/// Lists every account, with a progress line on stderr while it takes long.
async fn list_all(
    http: &Http,
    accounts: &[Account],
    filter: &Filter,
    options: &ListOptions,
    progress: Option<Arc<Progress>>,
) -> Vec<AccountResult> {
    let ticker = progress
        .clone()
        .map(|p| tokio::spawn(show_progress(p, accounts.len())));
    let results = providers::run_all(http, accounts, filter, options).await;
    if let Some(t) = ticker {
        t.abort();
        let _ = t.await;
        if progress.is_some_and(|p| p.drawn.load(Relaxed)) {
            eprint!("\r\x1b[2K");
        }
    }
    results
}

/// All accounts' rows in one vector, and the failures.
fn merge(results: Vec<AccountResult>) -> (Vec<Backup>, Vec<Error>) {
    // One vector sized once: at 100k rows a copy per account, or the doubling of a growing
    // vector, would hold tens of MiB twice.
    let total: usize = results
        .iter()
        .map(|r| r.result.as_ref().map_or(0, Vec::len))
        .sum();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r.result {
            Ok(v) if rows.is_empty() && v.len() == total => rows = v,
            Ok(v) => {
                rows.reserve_exact(total - rows.len());
                rows.extend(v);
            }
            Err(e) => failures.push(e),
        }
    }
    (rows, failures)
}

/// What streaming gave: each account's outcome (its rows went to the writer), the rows kept
/// per account for recording (when asked), and how writing went.
struct Streamed {
    results: Vec<AccountResult>,
    kept: HashMap<String, Vec<Backup>>,
    written: io::Result<()>,
}

/// Streams rows to stdout as JSON lines while the accounts are listed. `terminal`: stdout is
/// one (what JSON leaves raw is escaped). With `keep`, the writer also keeps every row, by
/// account, for the inventory.
async fn stream_ndjson(
    http: &Http,
    accounts: &[Account],
    filter: &Filter,
    options: &ListOptions,
    terminal: bool,
    keep: bool,
) -> anyhow::Result<Streamed> {
    // A few pages of slack: enough to keep the writer busy, little enough to bound memory.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = std::thread::spawn(move || write_stream(rx, terminal, keep));
    let results = providers::run_all_into(http, accounts, filter, options, Some(tx)).await;
    let (written, kept) = writer
        .join()
        .map_err(|_| Error::new(ErrorKind::Io, "the output thread failed"))?;
    Ok(Streamed {
        results,
        kept,
        written,
    })
}

/// Writes streamed rows as JSON lines until every sender is gone; flushes per page so a
/// reader sees rows as they arrive. On a write error, stops writing; stops reading too
/// (and so stops the output) unless `keep`, when every row is kept, by account, for the
/// inventory: the listing is complete even when the reader went away.
fn write_stream(
    mut rx: tokio::sync::mpsc::Receiver<Vec<Backup>>,
    terminal: bool,
    keep: bool,
) -> (io::Result<()>, HashMap<String, Vec<Backup>>) {
    let stdout = BufWriter::new(io::stdout().lock());
    let mut out: Box<dyn Write> = if terminal {
        Box::new(render::TerminalSafe::new(stdout, true))
    } else {
        Box::new(stdout)
    };
    let mut kept: HashMap<String, Vec<Backup>> = HashMap::new();
    let mut written = Ok(());
    while let Some(rows) = rx.blocking_recv() {
        if written.is_ok() {
            written = render::write_ndjson_rows(&mut out, &rows).and_then(|()| out.flush());
        }
        if keep {
            for row in rows {
                match kept.get_mut(&row.account) {
                    Some(v) => v.push(row),
                    None => {
                        kept.insert(row.account.clone(), vec![row]);
                    }
                }
            }
        } else if written.is_err() {
            break;
        }
    }
    (written, kept)
}

/// After a second, a one-line progress display on stderr (a terminal only; the caller checks),
/// redrawn until aborted.
async fn show_progress(p: Arc<Progress>, accounts: usize) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spinner = ['|', '/', '-', '\\'];
    p.drawn.store(true, Relaxed);
    for i in 0.. {
        eprint!(
            "\r\x1b[2K{} listing: {} of {accounts} accounts done, {} backups so far",
            spinner[i % spinner.len()],
            p.accounts_done.load(Relaxed),
            p.rows.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    #[test]
    fn columns_follow_the_format() {
        let id = Column::Field(Field::Id);
        assert_eq!(columns(&[], Format::Csv).unwrap(), None);
        assert_eq!(
            columns(&[id, Column::Age], Format::Table).unwrap(),
            Some(vec![id, Column::Age])
        );
        assert_eq!(
            columns(&[id, Column::Age], Format::Tsv)
                .unwrap_err()
                .to_string(),
            "--columns: `age` is a table column; csv and tsv print created_at as RFC 3339"
        );
        assert_eq!(
            columns(&[id], Format::Json).unwrap_err().to_string(),
            "--columns applies to table, csv and tsv; json always has every field"
        );
    }
}
