//! `backups emulator`: the five vendor APIs on 127.0.0.1 in the foreground, until Ctrl-C.

use super::context::Context;
use crate::cli::EmulatorArgs;
use crate::error::Outcome;

/// Runs `backups emulator`.
#[cfg(feature = "emulator")]
pub(crate) async fn run(ctx: &Context, args: &EmulatorArgs) -> anyhow::Result<Outcome> {
    use std::io::Write;
    use std::time::Duration;

    use anyhow::Context as _;

    use crate::emulator::net::{trusting, Wire};
    use crate::emulator::{Emulator, EmulatorOptions};
    use crate::error::{Error, ErrorKind};

    let emu = Emulator::start(EmulatorOptions {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        wire: Wire {
            tls: args.tls,
            http1_only: args.http1,
            rtt: Duration::from_millis(args.rtt_ms),
        },
        scale: args.scale,
        faults: args.faults,
        now: ctx.now,
        day: args.day,
        accounts: args.accounts.map(|n| n as usize),
        echo_credentials: args.echo_credentials,
    })
    .await
    .context("starting the emulator")?;
    let mut ca_written = None;
    if let Some(path) = &args.write_config {
        // A path the user named that cannot be written is a usage error (exit 2).
        let usage = |e: std::io::Error| Error::new(ErrorKind::Usage, e.to_string()).with_source(e);
        let mut config = emu.config_toml();
        if let Some(pem) = emu.ca_pem() {
            // The CA goes next to the config, and every account trusts it.
            let ca = ca_path(path);
            std::fs::write(&ca, pem)
                .map_err(usage)
                .with_context(|| format!("--write-config: writing the CA to {}", ca.display()))?;
            let ca = std::path::absolute(&ca).unwrap_or(ca);
            config = trusting(&config, &ca);
            ca_written = Some(ca);
        }
        write_private(path, &config)
            .map_err(usage)
            .with_context(|| format!("--write-config {}", path.display()))?;
    }
    // The URLs go to stdout; a reader that takes only the first line (`| head -1`) and
    // closes the pipe must not stop the emulator, so write errors are ignored here.
    let _ = (|| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", emu.base)?;
        writeln!(out, "oracle  {}", emu.urls.oracle)?;
        writeln!(
            out,
            "zcom    {}v2.0 (identity), {}v2 (compute)",
            emu.urls.zcom, emu.urls.zcom
        )?;
        writeln!(out, "huawei  {}", emu.urls.huawei)?;
        writeln!(out, "cf      {}", emu.urls.cf)?;
        writeln!(out, "bycloud {}", emu.urls.bycloud)?;
        if let Some(ca) = &ca_written {
            writeln!(out, "ca      {}", ca.display())?;
        }
        out.flush()
    })();
    eprintln!("backups: emulator running; press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(Outcome::Success)
}

/// Where `--tls` writes the CA for the config at `config`: beside it, `<stem>-ca.pem`.
#[cfg(feature = "emulator")]
fn ca_path(config: &std::path::Path) -> std::path::PathBuf {
    let stem = config
        .file_stem()
        .map_or_else(|| "emulator".into(), |s| s.to_string_lossy().into_owned());
    config.with_file_name(format!("{stem}-ca.pem"))
}

/// Writes a file only its owner can read: it holds (demo) credentials.
#[cfg(feature = "emulator")]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Built without the emulator: a usage error.
#[cfg(not(feature = "emulator"))]
pub(crate) async fn run(_ctx: &Context, _args: &EmulatorArgs) -> anyhow::Result<Outcome> {
    Err(
        crate::error::Error::usage("this build has no emulator (the `emulator` feature is off)")
            .into(),
    )
}
