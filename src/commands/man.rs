//! `backups man`: the man page, in roff. `backups man` prints backups(1), whose sections
//! document the global options and then each subcommand with all of its flags;
//! `backups man SUB` prints that subcommand's own page, backups-SUB(1).

use std::io::{self, Write};

use clap_mangen::Man;

use super::context::write_stdout;
use crate::cli::{self, ManPage};
use crate::error::Outcome;

/// Runs `backups man [SUB]`.
pub(crate) fn run(page: Option<ManPage>) -> anyhow::Result<Outcome> {
    let mut text = Vec::new();
    match page {
        None => main_page(&mut text)?,
        Some(p) => sub_page(&mut text, p)?,
    }
    write_stdout(|out| out.write_all(&text))?;
    Ok(Outcome::Success)
}

/// backups(1): the usual sections, then one section per subcommand.
fn main_page(out: &mut dyn Write) -> io::Result<()> {
    // `backups help` is left out: it has no page, and `--help` is documented everywhere.
    let cmd = cli::command().disable_help_subcommand(true);
    let man = Man::new(cmd.clone());
    man.render_title(out)?;
    write_section(out, |w| man.render_name_section(w))?;
    write_section(out, |w| man.render_synopsis_section(w))?;
    write_section(out, |w| man.render_description_section(w))?;
    write_section(out, |w| man.render_options_section(w))?;
    write_section(out, |w| man.render_subcommands_section(w))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand_section(out, sub)?;
    }
    exit_status_section(out)?;
    write_section(out, |w| man.render_version_section(w))
}

/// EXIT STATUS, from [`Outcome`] (the same table as `--help` shows).
fn exit_status_section(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for o in Outcome::ALL {
        let meaning = o.meaning().replace('\\', "\\\\").replace('-', "\\-");
        writeln!(out, ".TP\n{}\n{meaning}", o.code())?;
    }
    Ok(())
}

/// A `BACKUPS LIST` section: the subcommand's description, synopsis and every flag of its
/// own, its headings one level down (the global options are documented above).
fn subcommand_section(out: &mut dyn Write, sub: &clap::Command) -> io::Result<()> {
    let name = format!("backups {}", sub.get_name());
    let man = Man::new(sub.clone().bin_name(&name));
    writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
    let mut body = Vec::new();
    write_section(&mut body, |w| man.render_description_section(w))?;
    write_section(&mut body, |w| man.render_synopsis_section(w))?;
    write_section(&mut body, |w| man.render_options_section(w))?;
    for line in String::from_utf8_lossy(&body).lines() {
        match line.strip_prefix(".SH ") {
            Some(heading) => writeln!(out, ".SS {heading}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

/// backups-SUB(1): the subcommand's page, its global options included.
fn sub_page(out: &mut dyn Write, page: ManPage) -> io::Result<()> {
    let mut cmd = cli::command();
    // Building propagates the global options (and the version) to the subcommands.
    cmd.build();
    let Some(sub) = cmd.find_subcommand(page.name()) else {
        return Err(io::Error::other(format!("no subcommand `{}`", page.name())));
    };
    let sub = sub
        .clone()
        .display_name(format!("backups-{}", page.name()))
        .bin_name(format!("backups {}", page.name()));
    Man::new(sub)
        .source(format!("backups {}", env!("CARGO_PKG_VERSION")))
        .render(out)
}

/// Writes one section rendered by clap_mangen without the roff preamble it repeats before
/// every section (the title already wrote it).
fn write_section(
    out: &mut dyn Write,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = Vec::new();
    render(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    for line in text
        .lines()
        .skip_while(|l| l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq"))
    {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(p: Option<ManPage>) -> String {
        let mut out = Vec::new();
        match p {
            None => main_page(&mut out).unwrap(),
            Some(p) => sub_page(&mut out, p).unwrap(),
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_main_page_documents_every_subcommand_flag() {
        let text = page(None);
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{text}");
        assert_eq!(text.matches(".ie \\n(.g").count(), 1, "one preamble");
        assert!(text.contains("\n.TH backups 1 "), "{text}");
        for (section, flag) in [
            ("BACKUPS LIST", "\\-\\-columns"),
            ("BACKUPS AUDIT", "\\-\\-max\\-age"),
            ("BACKUPS ACCOUNTS", "\\-\\-check"),
            ("BACKUPS EMULATOR", "\\-\\-write\\-config"),
        ] {
            let at = text
                .find(&format!(".SH \"{section}\""))
                .unwrap_or_else(|| panic!("no section {section}"));
            let rest = &text[at..];
            let end = rest[1..].find("\n.SH ").map_or(rest.len(), |i| i + 1);
            assert!(rest[..end].contains(flag), "{section} lacks {flag}");
        }
        assert!(text.contains("GLOBAL OPTIONS"), "{text}");
        assert!(
            text.contains(".SH \"EXIT STATUS\"\n.TP\n0\nsuccess (also when stdout closes early"),
            "{text}"
        );
        assert!(text.contains("\n.TP\n1\naudit found problems\n"), "{text}");
        assert!(!text.contains("backups\\-help"), "no page for `help`");
    }

    #[test]
    fn a_subcommand_page_has_its_flags_and_the_global_ones() {
        let text = page(Some(ManPage::List));
        assert!(text.contains("\n.TH backups-list 1 "), "{text}");
        assert!(text.contains("\\-\\-sort"), "{text}");
        assert!(text.contains("\\-\\-config"), "the global options: {text}");
    }
}
