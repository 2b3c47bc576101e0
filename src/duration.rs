//! Human durations ("500ms", "30s", "5m", "2h", "1d") as used in the config
//! file and fault specs. One parser so every place accepts the same words.

use std::time::Duration;

/// Why a duration string was refused; the message names the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a duration (use a number followed by ms, s, m, h or d, e.g. \"30s\" or \"5m\")"
)]
pub struct BadDuration(pub String);

/// Parse "<number><unit>" with unit one of ms, s, m, h, d.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| BadDuration(text.to_string()))?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| BadDuration(text.to_string()))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    }
    .ok_or_else(|| BadDuration(text.to_string()))?;
    Ok(Duration::from_millis(ms))
}

/// Render a duration in the largest unit that divides it exactly, the inverse
/// of [`parse_duration`] (used when showing effective config values).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms != 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["5x", "", "m", "5", "-5s", "5.5s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn format_inverts_parse() {
        for s in ["500ms", "30s", "5m", "2h", "1d", "90s"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
