//! Timestamps are stored as integer milliseconds since the Unix epoch: small,
//! index-friendly and comparable in SQL.

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the epoch for a timestamp.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A timestamp from stored milliseconds (out-of-range values clamp to the epoch).
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The current time in stored form.
pub fn now_ms() -> i64 {
    to_ms(Utc::now())
}
