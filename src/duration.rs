//! Human durations as users type them: `36h`, `7d`, `90m`, `1d12h`, `2w`.

use chrono::Duration;

/// Parses a duration made of `<number><unit>` parts, units `s`, `m`, `h`, `d`, `w`.
/// Returns `None` for anything else, including zero-length input and overflow.
pub fn parse(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() {
        return None;
    }
    Duration::try_seconds(total)
}

/// Parses a duration that must be longer than zero (`--max-age`, `audit_max_age`); the error
/// says what is expected.
pub fn parse_positive(s: &str) -> Result<Duration, String> {
    parse(s)
        .filter(|d| *d > Duration::zero())
        .ok_or_else(|| "not a duration like 26h or 8d".to_string())
}

/// Formats a duration compactly for messages and tables: `3d`, `5h`, `12m`, `40s`.
pub fn human(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        s if s >= 86_400 * 2 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("36h"), Some(Duration::hours(36)));
        assert_eq!(parse("7d"), Some(Duration::days(7)));
        assert_eq!(parse("1d12h"), Some(Duration::hours(36)));
        assert_eq!(parse("2w"), Some(Duration::days(14)));
        assert_eq!(parse("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse("45s"), Some(Duration::seconds(45)));
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "h", "36", "3x", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse(s), None, "{s}");
        }
    }

    #[test]
    fn a_max_age_is_longer_than_zero() {
        assert_eq!(parse_positive("26h"), Ok(Duration::hours(26)));
        assert_eq!(
            parse_positive("0h"),
            Err("not a duration like 26h or 8d".to_string())
        );
    }

    #[test]
    fn human_form() {
        assert_eq!(human(Duration::seconds(40)), "40s");
        assert_eq!(human(Duration::minutes(12)), "12m");
        assert_eq!(human(Duration::hours(30)), "30h");
        assert_eq!(human(Duration::days(3)), "3d");
    }
}
