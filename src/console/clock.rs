//! The console's notion of "now", injectable so snapshot tests render the
//! same ages and times on every run, and the time formats every view uses.

use chrono::{DateTime, Datelike, Utc};

use crate::store::{from_ms, now_ms};

/// Where the current time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (ms since the epoch), for tests.
    Fixed(i64),
}

impl Clock {
    /// Milliseconds since the epoch.
    pub fn now_ms(self) -> i64 {
        match self {
            Clock::System => now_ms(),
            Clock::Fixed(t) => t,
        }
    }
}

/// "14:03:07" for times today (relative to `now`), "Mar 17 14:03" earlier
/// this year, "2025-03-17" before that; always UTC so operators in
/// different zones read the same screen, and never a bare time for a day
/// that is not today.
pub fn short_time(ms: i64, now: i64) -> String {
    let t: DateTime<Utc> = from_ms(ms);
    let today: DateTime<Utc> = from_ms(now);
    if today.date_naive() == t.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else if today.year() == t.year() {
        t.format("%b %d %H:%M").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

/// "4s", "3m", "2h", "5d": an age at the precision a glance needs, so a
/// clock on screen changes (and the screen redraws) at most once a second
/// while young and once a minute after that.
pub fn coarse_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_773_842_400_000; // 2026-03-18 14:00:00 UTC

    #[test]
    fn old_times_carry_their_date() {
        assert_eq!(short_time(T0 - 60_000, T0), "13:59:00");
        assert_eq!(short_time(T0 - 86_400_000, T0), "Mar 17 14:00");
        assert_eq!(short_time(T0 - 400 * 86_400_000, T0), "2025-02-11");
        assert_eq!(coarse_age(4_000), "4s");
        assert_eq!(coarse_age(190_000), "3m");
    }
}
