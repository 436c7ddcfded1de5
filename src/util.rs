//! Small shared helpers: time parsing and formatting, temporaries beside outputs.

pub mod tmp;

/// Parse an RFC 3339 timestamp into seconds since the Unix epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| e.to_string())
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// RFC 3339 (UTC, seconds) for a Unix time.
pub fn format_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trip() {
        let t = parse_time("2027-01-02T03:04:05Z").unwrap();
        assert_eq!(format_time(t), "2027-01-02T03:04:05Z");
        assert!(parse_time("yesterday").is_err());
    }
}
