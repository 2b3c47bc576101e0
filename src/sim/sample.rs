//! The sample data both portal simulators seed from: customers, post
//! topics, remarks and the time the sample day starts, so a seed gives
//! comparable boards on either portal.

use chrono::{DateTime, TimeZone, Utc};

/// Customers' names.
pub const CUSTOMERS: [&str; 4] = [
    "Nora Customer",
    "Sam Customer",
    "Lee Customer",
    "Kim Customer",
];
/// Topics of sample posts.
pub const TOPICS: [&str; 8] = [
    "Dark mode",
    "Export to CSV",
    "Slack notifications",
    "Keyboard shortcuts",
    "SSO with Okta",
    "Faster search",
    "Offline mobile app",
    "Custom fields on cards",
];
/// Sample comments.
pub const REMARKS: [&str; 4] = [
    "We need this too.",
    "Any update on this?",
    "This would save my team hours every week.",
    "+1 from our company",
];

/// When the sample day starts.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}
