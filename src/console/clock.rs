//! The console's notion of "now", injectable so snapshot tests render the
//! same ages and times on every run.

use chrono::{DateTime, Utc};

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

/// "14:03:07" for times today (relative to `now`), "03-18 14:03" otherwise;
/// always UTC so operators in different zones read the same screen.
pub fn short_time(ms: i64, now: i64) -> String {
    let t: DateTime<Utc> = from_ms(ms);
    if from_ms(now).date_naive() == t.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}
