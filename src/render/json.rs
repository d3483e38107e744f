//! `-o json` (one array, one row per line inside it) and `-o ndjson` (one object per line).
//!
//! A whole listing is written in chunks of rows, each serialised into a buffer of its own on
//! a core of its own and then written in order: the output of a large listing is the one step
//! that waits for every account, so it is spread across cores and kept off the writer's
//! per-call overhead (serde_json writing straight into a `dyn Write` makes one small call per
//! token). The bytes are the same as one row at a time.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::Backup;

/// Rows serialised into one buffer: each chunk is a few hundred KiB of output, so a window of
/// chunks in progress stays a few MiB however long the listing is; a streamed page of 1000
/// rows is two chunks.
const CHUNK: usize = 512;

/// Writes `[`, one compact object per line, `]`: valid JSON that is also easy to grep.
pub(crate) fn write_json_array(out: &mut dyn Write, rows: &[Backup]) -> io::Result<()> {
    write_array(out, rows)
}

/// [`write_json_array`] for any rows (the `backups diff` rows too).
pub(crate) fn write_array<T: Serialize + Sync>(out: &mut dyn Write, rows: &[T]) -> io::Result<()> {
    if rows.is_empty() {
        return out.write_all(b"[]\n");
    }
    out.write_all(b"[\n")?;
    let last = rows.len() - 1;
    write_chunked(out, rows, |i| if i < last { b",\n" } else { b"\n" })?;
    out.write_all(b"]\n")
}

/// Writes rows as JSON lines, chunk by chunk (see the module docs).
pub(crate) fn write_lines<T: Serialize + Sync>(out: &mut dyn Write, rows: &[T]) -> io::Result<()> {
    write_chunked(out, rows, |_| b"\n")
}

/// Writes a page of streamed rows as JSON lines, serialised as [`write_lines`] does.
pub(crate) fn write_ndjson_rows(out: &mut dyn Write, rows: &[Backup]) -> io::Result<()> {
    write_lines(out, rows)
}

/// Serialises `rows` in chunks of [`CHUNK`], as many chunks at once as there are cores (at
/// most 8), each row followed by `after(index)`, and writes the chunks in order.
fn write_chunked<T, F>(out: &mut dyn Write, rows: &[T], after: F) -> io::Result<()>
where
    T: Serialize + Sync,
    F: Fn(usize) -> &'static [u8] + Sync,
{
    // Asked once: each call reads the cgroup's CPU quota files, and a streamed listing
    // writes page by page.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores =
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));
    let serialise = |start: usize, chunk: &[T]| -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(chunk.len() * 512);
        for (i, row) in chunk.iter().enumerate() {
            serde_json::to_writer(&mut buf, row)?;
            buf.extend_from_slice(after(start + i));
        }
        Ok(buf)
    };
    if cores == 1 || rows.len() <= CHUNK {
        return out.write_all(&serialise(0, rows)?);
    }
    for (w, window) in rows.chunks(CHUNK * cores).enumerate() {
        let base = w * CHUNK * cores;
        let buffers: Vec<io::Result<Vec<u8>>> = std::thread::scope(|s| {
            let serialise = &serialise;
            let workers: Vec<_> = window
                .chunks(CHUNK)
                .enumerate()
                .map(|(c, chunk)| s.spawn(move || serialise(base + c * CHUNK, chunk)))
                .collect();
            workers
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("serialising rows failed")))
                })
                .collect()
        });
        for buf in buffers {
            out.write_all(&buf?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProviderId, Status};

    fn rows(n: usize) -> Vec<Backup> {
        (0..n)
            .map(|i| {
                let mut b = Backup::new(ProviderId::Cf, "a", format!("id-{i}"), Status::Available);
                b.description = Some(format!("row \"{i}\"\n"));
                b
            })
            .collect()
    }

    /// The plain one-row-at-a-time writer the chunks must match byte for byte.
    fn one_by_one(rows: &[Backup], array: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if array {
            if rows.is_empty() {
                return b"[]\n".to_vec();
            }
            out.extend_from_slice(b"[\n");
        }
        for (i, row) in rows.iter().enumerate() {
            serde_json::to_writer(&mut out, row).unwrap();
            let sep: &[u8] = if array && i + 1 < rows.len() {
                b",\n"
            } else {
                b"\n"
            };
            out.extend_from_slice(sep);
        }
        if array {
            out.extend_from_slice(b"]\n");
        }
        out
    }

    #[test]
    fn chunked_output_is_the_same_bytes_at_every_chunk_boundary() {
        for n in [
            0,
            1,
            2,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 7,
            17 * CHUNK,
        ] {
            let rows = rows(n);
            let mut array = Vec::new();
            write_array(&mut array, &rows).unwrap();
            assert_eq!(array, one_by_one(&rows, true), "array of {n}");
            let parsed: Vec<serde_json::Value> = serde_json::from_slice(&array).unwrap();
            assert_eq!(parsed.len(), n);
            let mut lines = Vec::new();
            write_lines(&mut lines, &rows).unwrap();
            assert_eq!(lines, one_by_one(&rows, false), "lines of {n}");
        }
    }
}
