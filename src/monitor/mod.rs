//! Watching: what `audit` feeds the monitoring systems operators already run
//! (`docs/monitoring.md`).
//!
//! - [`exposition`]: the Prometheus text format 0.0.4 writer; [`metrics`]: the families of
//!   `docs/monitoring.md` from an audit, and the exporter's memory between listings
//!   ([`metrics::Tracker`]); [`textfile`]: the atomic write for node_exporter's textfile
//!   collector.
//! - [`nagios`]: the Monitoring Plugins status line, perfdata and long output.
//! - [`ping`]: the healthchecks.io dead man's switch.
//!
//! All but `textfile` and `ping` are pure; `backups exporter` (the long-running server) is a
//! command, `commands::exporter`.

use crate::audit::{self, Finding, Summary};

pub(crate) mod exposition;
pub(crate) mod metrics;
pub(crate) mod nagios;
pub(crate) mod ping;
pub(crate) mod textfile;

/// The longest finding line in a text report: one huge vendor message must not push every
/// other finding out of a bounded report.
const MAX_LINE: usize = 1000;

/// One finding as a line of text: `stale huawei/hw-prod vol-1 (db): newest available backup
/// is 4d old (max 26h)`; a finding of no account says `(any account)`. Control characters
/// become spaces, so it is one line whatever the vendor sent.
pub(crate) fn finding_line(f: &Finding) -> String {
    let place = match (f.provider, &f.account) {
        (Some(p), Some(a)) => format!("{p}/{a}"),
        _ => "(any account)".to_string(),
    };
    let resource = match (&f.resource, &f.resource_name) {
        (Some(r), Some(n)) if n != r => format!(" {r} ({n})"),
        (Some(r), _) => format!(" {r}"),
        (None, _) => String::new(),
    };
    let line = format!("{} {place}{resource}: {}", f.kind, f.message);
    let mut line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE - 3;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    line
}

/// `head`, then as many of `lines` as fit in `limit` bytes in all (each line ends with a
/// line feed), then, when some did not fit, one line saying how many were left out.
pub(crate) fn fit(head: &str, lines: &[String], limit: usize) -> String {
    let total: usize = head.len() + 1 + lines.iter().map(|l| l.len() + 1).sum::<usize>();
    let mut out = String::with_capacity(total.min(limit));
    out.push_str(head);
    out.push('\n');
    if total <= limit {
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        return out;
    }
    let trailer = |n: usize| {
        let s = if n == 1 { "" } else { "s" };
        format!("... {n} more finding{s} left out\n")
    };
    let mut kept = 0;
    for l in lines {
        let left = lines.len() - kept - 1;
        let after = out.len() + l.len() + 1;
        let room = if left == 0 { 0 } else { trailer(left).len() };
        if after + room > limit {
            break;
        }
        out.push_str(l);
        out.push('\n');
        kept += 1;
    }
    out.push_str(&trailer(lines.len() - kept));
    out
}

/// The plain text report a ping carries: the summary line, then one line per finding, in
/// at most `limit` bytes.
pub(crate) fn text_report(findings: &[Finding], summary: &Summary, limit: usize) -> String {
    let lines: Vec<String> = findings.iter().map(finding_line).collect();
    fit(&audit::summary_line(summary), &lines, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::FindingKind;
    use crate::model::ProviderId;

    pub(crate) fn finding(
        account: Option<&str>,
        resource: Option<&str>,
        kind: FindingKind,
        message: &str,
    ) -> Finding {
        Finding {
            provider: account.map(|_| ProviderId::Huawei),
            account: account.map(String::from),
            resource: resource.map(String::from),
            resource_name: None,
            kind,
            message: message.to_string(),
            backup_id: None,
            newest_available_id: None,
            newest_available_at: None,
            newest_available_age_seconds: None,
            max_age_seconds: None,
        }
    }

    #[test]
    fn a_finding_is_one_line_naming_provider_account_and_resource() {
        let mut f = finding(Some("hw"), Some("vol-1"), FindingKind::Stale, "old\nnews");
        f.resource_name = Some("db".into());
        assert_eq!(finding_line(&f), "stale huawei/hw vol-1 (db): old news");
        let f = finding(None, Some("vol9"), FindingKind::Missing, "no backup");
        assert_eq!(finding_line(&f), "missing (any account) vol9: no backup");
        let f = finding(
            Some("hw"),
            None,
            FindingKind::AccountFailed,
            &"x".repeat(5000),
        );
        let line = finding_line(&f);
        assert_eq!(line.len(), MAX_LINE);
        assert!(line.ends_with("xx..."));
    }

    #[test]
    fn fit_keeps_what_fits_and_counts_the_rest() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(fit("head", &lines[..2], 100), "head\nline 0\nline 1\n");
        // Exactly at the limit: everything, no trailer.
        let all = fit("head", &lines, 1000);
        assert_eq!(fit("head", &lines, all.len()), all);
        let cut = fit("head", &lines, 60);
        assert!(cut.len() <= 60, "{cut:?}");
        assert_eq!(
            cut,
            "head\nline 0\nline 1\nline 2\n... 7 more findings left out\n"
        );
        assert_eq!(
            fit("head", &lines, 40),
            "head\n... 10 more findings left out\n"
        );
        for limit in 36..200 {
            let text = fit("head", &lines, limit);
            assert!(text.len() <= limit, "{limit}: {text:?}");
        }
    }
}
