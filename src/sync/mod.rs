//! The heart of roundtrip as pure logic: the field mapping, the per-field
//! three-way merge, conflicts, comment mirroring, create/delete rules and the
//! plan of writes. No I/O and no clock reads (time is passed in), so all of it
//! is unit- and property-tested without a network or a database.
//!
//! The engine's loop for one link: `plan_link(mapping, &MergeInput)` →
//! send `plan.portal_writes` / `plan.linear_writes` (via
//! `FieldWrites::to_update`) and `comments_to_mirror`, open `conflicts`, and
//! store `new_base` once the writes succeeded.

pub mod adopt;
pub mod catalog;
pub mod changes;
pub mod close_loop;
pub mod codec;
pub mod comments;
pub mod create;
pub mod delete;
pub mod errors;
pub mod guard;
pub mod mapping;
pub mod mapping_edit;
mod mapping_parse;
mod mapping_toml;
pub mod merge;
pub mod plan;
pub mod preview;
pub mod resolve;
pub mod routing;
mod routing_parse;
pub mod routing_plan;
mod routing_toml;

pub use adopt::{AdoptPair, AdoptPlan, AdoptReason, AdoptSkip, plan_adoption};
pub use catalog::{Catalog, LinearState, PortalFeatures};
pub use changes::change_kinds;
pub use comments::{CommentMap, CommentMirror, CommentPair};
pub use create::{
    CreateRule, PlannedCreate, PortalCreateOptions, plan_create, should_create_in_linear,
    should_create_in_portal,
};
pub use delete::{DeleteAction, DeletePlan, DeletePolicy, close_writes, plan_delete};
pub use errors::{MappingError, MappingErrors};
pub use guard::{
    DeleteVerdict, FieldHistory, HistoryEntry, MassDeleteGuard, PingPongGuard, record_history,
};
pub use mapping::{Direction, FieldMapping, Mapping, Policy, StatusTable, Transform, VoteRule};
pub use mapping_edit::{EditError, set_field_policy, stamp_version};
pub use mapping_parse::DEFAULT_VOTES_PREFIX;
pub use merge::{
    ChangeTimes, MergeInput, OpenConflict, Refusal, agreed_snapshot, merge_values, plan_link,
};
pub use plan::{
    ConflictDraft, ConflictReason, Decision, DecisionKind, FieldWrites, Plan, Snapshot,
};
pub use preview::{LinkPreview, PreviewAction, PreviewRow, link_label, preview};
pub use resolve::{ResolveError, Take, resolve_conflict};
pub use routing::{
    ChangelogGroup, ChangelogRule, CloseLoop, EntryType, ReroutePolicy, Route, RouteTarget,
    RouteWhen, Routing, VoteRange, effective_routes, route_post,
};
pub use routing_plan::{Admission, Placed, Reroute, admit, place_create, reroute};

#[cfg(test)]
mod explain_tests;
#[cfg(test)]
mod mapping_tests;
#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod routing_tests;
#[cfg(test)]
mod test_support;
