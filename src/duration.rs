//! Human durations as users type them: `36h`, `7d`, `90m`, `1d12h`, `2w`.

use chrono::Duration;

/// The longest duration accepted anywhere (`--max-age`, `--since 7d`, `--deadline`,
/// `audit_max_age`): 100 years. Longer ones are typing mistakes, and near chrono's limits
/// the date arithmetic they meet (now minus an age) would overflow.
pub(crate) const MAX: Duration = Duration::days(36_525);

/// Why a duration was refused, worded to follow the flag or key that gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not `<number><unit>` parts.
    Malformed,
    /// Longer than [`MAX`] (or than any number holds).
    TooLong,
    /// Zero where a positive duration is needed.
    Zero,
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DurationError::Malformed => "not a duration like 26h or 8d",
            DurationError::TooLong => "longer than 100 years (the most a duration may be)",
            DurationError::Zero => "must be longer than zero",
        })
    }
}

/// Parses a duration made of `<number><unit>` parts, units `s`, `m`, `h`, `d`, `w`, of at
/// most [`MAX`]. Arithmetic on the parts is checked: a number too large for any duration is
/// [`DurationError::TooLong`], never a wrapped value.
pub(crate) fn parse_checked(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DurationError::Malformed);
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut too_long = false;
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
            _ => return Err(DurationError::Malformed),
        };
        if digits.is_empty() {
            return Err(DurationError::Malformed);
        }
        // Digits that overflow an i64 still make a well-formed (too long) duration.
        let part = digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .and_then(|n| total.checked_add(n));
        digits.clear();
        match part {
            Some(t) => total = t,
            None => too_long = true,
        }
    }
    if !digits.is_empty() {
        return Err(DurationError::Malformed);
    }
    if too_long || total > MAX.num_seconds() {
        return Err(DurationError::TooLong);
    }
    Ok(Duration::seconds(total))
}

/// [`parse_checked`] without the reason: `None` for anything it refuses.
#[cfg(test)]
fn parse(s: &str) -> Option<Duration> {
    parse_checked(s).ok()
}

/// Parses a duration that must be longer than zero (`--max-age`, `audit_max_age`,
/// `--deadline`); the error says what is expected.
pub(crate) fn parse_positive(s: &str) -> Result<Duration, String> {
    match parse_checked(s) {
        Ok(d) if d > Duration::zero() => Ok(d),
        Ok(_) => Err(DurationError::Zero.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Formats a duration compactly for messages and tables: `3d`, `5h`, `12m`, `40s`.
pub(crate) fn human(d: Duration) -> String {
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
        for s in ["", "h", "36", "3x", "-1h", "1.5h", "d1", "1d2"] {
            assert_eq!(parse_checked(s), Err(DurationError::Malformed), "{s}");
            assert_eq!(parse(s), None, "{s}");
        }
    }

    #[test]
    fn durations_longer_than_100_years_are_refused_not_overflowed() {
        assert_eq!(parse_checked("36525d"), Ok(MAX));
        for s in [
            "36526d",
            "5218w",
            "15000000w",
            "99999w",
            "99999999999999999999d",
            "9223372036854775807s1s",
            "1000000000000000w",
        ] {
            assert_eq!(parse_checked(s), Err(DurationError::TooLong), "{s}");
        }
        assert_eq!(
            parse_positive("15000000w"),
            Err("longer than 100 years (the most a duration may be)".to_string())
        );
    }

    #[test]
    fn a_max_age_is_longer_than_zero() {
        assert_eq!(parse_positive("26h"), Ok(Duration::hours(26)));
        assert_eq!(
            parse_positive("0h"),
            Err("must be longer than zero".to_string())
        );
        assert_eq!(
            parse_positive("soon"),
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
