//! The time window `observers stats` and `observers report` look at: `--since 24h`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// Calls from `start` (inclusive) on, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) start: Option<DateTime<Utc>>,
}

impl Window {
    /// `--since`: a duration back from `now` (`90s`, `30m`, `24h`, `7d`, `2w`), a date
    /// (`2026-12-01`, midnight UTC) or a time (`2026-12-01T08:00:00Z`, or without the zone:
    /// UTC); none: every call.
    pub(crate) fn parse(since: Option<&str>, now: DateTime<Utc>) -> Result<Window, String> {
        let Some(text) = since.map(str::trim) else { return Ok(Window { start: None }) };
        let start = duration(text)
            .map(|d| now - d)
            .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc)))
            .or_else(|| {
                NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                    .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
                    .ok()
                    .map(|t| t.and_utc())
            })
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            });
        match start {
            Some(start) => Ok(Window { start: Some(start) }),
            None => Err(format!(
                "--since takes a duration back from now (90s, 30m, 24h, 7d, 2w) or a UTC date or time \
                 (2026-12-01, 2026-12-01T08:00:00Z), not `{text}`"
            )),
        }
    }

    /// The SQL condition on `timestamp`. Built from a number this code computed, never from
    /// the user's text, so it can be spliced into a query.
    pub(crate) fn condition(&self) -> String {
        match self.start {
            Some(start) => format!("timestamp >= make_timestamp({}::BIGINT)", start.timestamp_micros()),
            None => "true".into(),
        }
    }

    /// How the window reads in a title: `since 2026-12-01 08:00:00 UTC`, or `all calls`.
    pub(crate) fn describe(&self) -> String {
        match self.start {
            Some(start) => format!("since {}", start.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "all calls".into(),
        }
    }
}

fn duration(text: &str) -> Option<TimeDelta> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    TimeDelta::try_seconds(n.checked_mul(seconds)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_durations_dates_and_times_and_says_what_it_takes() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z").map(|t| t.with_timezone(&Utc));
        let now = now.unwrap_or_default();
        let start = |s: &str| Window::parse(Some(s), now).map(|w| w.start.map(|t| t.to_rfc3339()));
        let at = |s: &str| Ok(Some(s.to_string()));
        assert_eq!(start("24h"), at("2026-12-01T12:00:00+00:00"));
        assert_eq!(start("30m"), at("2026-12-02T11:30:00+00:00"));
        assert_eq!(start("7d"), at("2026-11-25T12:00:00+00:00"));
        assert_eq!(start("2w"), at("2026-11-18T12:00:00+00:00"));
        assert_eq!(start("2026-12-01"), at("2026-12-01T00:00:00+00:00"));
        assert_eq!(start("2026-12-01T08:00:00Z"), at("2026-12-01T08:00:00+00:00"));
        assert_eq!(start("2026-12-01T08:00:00+02:00"), at("2026-12-01T06:00:00+00:00"));
        assert_eq!(start("2026-12-01 08:00:00"), at("2026-12-01T08:00:00+00:00"));
        assert_eq!(Window::parse(None, now).map(|w| w.condition()), Ok("true".into()));
        for bad in ["yesterday", "24", "h", "-3h", "99999999999999999w", "2026-13-01", ""] {
            let error = start(bad).err().unwrap_or_default();
            assert!(error.contains("--since takes") && error.contains(bad), "{bad}: {error}");
        }
    }
}
