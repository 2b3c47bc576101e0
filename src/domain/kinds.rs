//! Closed sets of names the store, the engine, the CLI and the console
//! compare: who acted, what an audit entry records, what a job writes, which
//! rate limit a reading is about. Each is an enum with one stored spelling, so
//! a typo is a compile error instead of a row nobody matches.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::UnknownName;

/// Declares a fieldless enum with its stored names: `ALL`, `as_str`,
/// `Display`, `FromStr` (unknown names are an [`UnknownName`]) and serde as
/// that string.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in the store, JSON output and messages.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName::new($what, s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named_enum! {
    /// Who made a change: the audit log's actor, a conflict's `resolved_by`,
    /// a mapping version's `created_by`.
    pub enum Actor ("actor") {
        /// A person at the CLI or the console.
        Operator = "operator",
        /// The sync engine.
        Engine = "engine",
        /// The demo's scripted day.
        Demo = "demo",
        /// The built-in default mapping, installed on first start.
        BuiltIn = "default",
    }
}

named_enum! {
    /// What an audit entry records. Engine entries describe remote writes
    /// and sync decisions; operator entries name the operator action.
    pub enum AuditAction ("audit action") {
        /// A record was created on a side.
        Create = "create",
        /// A field was written on a side.
        Write = "write",
        /// A comment was mirrored.
        Comment = "comment",
        /// A record was deleted on a side.
        Delete = "delete",
        /// A create on the other side was planned.
        PlanCreate = "plan_create",
        /// Both sides agreed and the base moved.
        Settled = "settled",
        /// A conflict was opened.
        Conflict = "conflict",
        /// A change was not propagated (and why).
        Skipped = "skipped",
        /// A link was removed.
        Unlink = "unlink",
        /// A conflict was decided (by an operator) or applied (by the engine).
        Resolve = "resolve",
        /// Jobs were put back in the queue.
        Retry = "retry",
        /// Jobs were cancelled.
        Cancel = "cancel",
        /// A mapping document was stored as the new active version.
        ApplyMapping = "mapping",
        /// An earlier mapping version was made active again.
        Rollback = "rollback",
        /// "Always resolve this field this way" saved a field's conflict policy.
        SavePolicy = "policy",
        /// The engine refused a mapping version it could not load.
        RefuseMapping = "refuse_mapping",
        /// A pause (deletes, a connector) was lifted.
        Resume = "resume",
        /// A pair linked before roundtrip (the portal's own Linear
        /// integration, a post URL attached to an issue) became a link.
        Adopt = "adopt",
        /// A link moved to the canonical record after a merge or a
        /// duplicate mark.
        Follow = "follow",
        /// An admin-only note was left on a record (or kept here only when
        /// the remote has no place for one).
        Note = "note",
        /// A write left a field alone because its target changed it while
        /// the write was on its way; or a refused/overwritten conflict
        /// closed because a side changed the field again.
        Superseded = "superseded",
        /// An open conflict now shows the sides' newer values.
        ConflictUpdated = "conflict_updated",
        /// A record's voters were added to another (a duplicate's post
        /// closing in favour of the canonical post).
        Voters = "voters",
        /// A post was routed: which route took it, and why.
        Route = "route",
        /// A post came to match another route: its issue moved, or a
        /// conflict asks whether it should.
        Reroute = "reroute",
        /// A shipped issue's loop was closed (comment, changelog place).
        Ship = "ship",
        /// A changelog entry was published for a completed cycle or project.
        Changelog = "changelog",
    }
}

named_enum! {
    /// What an outbound write job does (the `jobs.kind` column).
    pub enum JobKind ("job kind") {
        /// Create the record on the target side.
        Create = "create",
        /// Update fields of an existing record.
        Update = "update",
        /// Mirror one comment.
        Comment = "comment",
        /// Delete (trash or archive) the target record.
        Delete = "delete",
        /// Leave an admin-only note on the target record (why a link
        /// ended or moved); customers never read it.
        Note = "note",
        /// Add one record's voters to another.
        Voters = "voters",
        /// Move a Linear issue to another team or project (a re-route).
        Move = "move",
        /// Close the loop for a shipped issue: the route's comment on the
        /// post, and the post's place in its changelog entry.
        Ship = "ship",
        /// Publish the changelog entry of a completed cycle or project.
        Changelog = "changelog",
    }
}

named_enum! {
    /// What ships together in Linear, and so shares one changelog entry.
    pub enum GroupKind ("changelog group") {
        /// A team's cycle; complete when the cycle completes.
        Cycle = "cycle",
        /// A project; complete when its status is a completed one.
        Project = "project",
    }
}

named_enum! {
    /// Which rate limit a quota reading is about.
    pub enum QuotaKind ("quota kind") {
        /// Requests per window (Linear's hourly requests, a portal's plan).
        Requests = "requests",
        /// Linear's GraphQL complexity points per window.
        Complexity = "complexity",
        /// A per-second request limit (Canny's 429s).
        RequestsPerSecond = "requests_per_second",
    }
}

named_enum! {
    /// Which feedback portal product the portal side is: the one setting
    /// that picks the connector, its webhook route, its default mapping and
    /// how messages name it.
    pub enum PortalKind ("portal kind") {
        /// Canny (canny.io).
        Canny = "canny",
        /// Fider (fider.io, or self-hosted).
        Fider = "fider",
    }
}

impl PortalKind {
    /// How people call the product, for comment copies and messages.
    pub fn display_name(self) -> &'static str {
        match self {
            PortalKind::Canny => "Canny",
            PortalKind::Fider => "Fider",
        }
    }
}

#[allow(clippy::derivable_impls)] // the macro owns the derive list
impl Default for PortalKind {
    fn default() -> Self {
        PortalKind::Canny
    }
}

named_enum! {
    /// What kind of change reconcile found on a record, so a remote whose
    /// webhooks announce only some changes (Fider: new posts, comments,
    /// status changes and deletions, never edits) can say which of them a
    /// delivery should have reported.
    pub enum ChangeKind ("change kind") {
        /// The record is new.
        Created = "created",
        /// Its status changed.
        StatusChanged = "status",
        /// It has a comment it did not have before.
        Commented = "comment",
        /// Its title, text, tags or votes changed.
        Edited = "edit",
        /// It was deleted.
        Deleted = "deleted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), *a);
        }
        assert_eq!("default".parse::<Actor>().unwrap(), Actor::BuiltIn);
        let err = "boss".parse::<Actor>().unwrap_err();
        assert_eq!(err.to_string(), "unknown actor 'boss'");
        assert_eq!(
            serde_json::to_string(&QuotaKind::RequestsPerSecond).unwrap(),
            "\"requests_per_second\""
        );
        assert_eq!(
            serde_json::from_str::<JobKind>("\"comment\"").unwrap(),
            JobKind::Comment
        );
        assert!(serde_json::from_str::<JobKind>("\"explode\"").is_err());
    }
}
