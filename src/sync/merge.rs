//! Per-field three-way merge of one link: the base snapshot against the
//! current portal and Linear records, all in canonical values (see `codec`).
//!
//! Rules, per mapped field (direction `none` fields are not looked at):
//!
//! * neither side differs from the base → nothing;
//! * one side differs → its value is written to the other side and becomes
//!   the base;
//! * both differ but agree → the base advances, nothing is written;
//! * both differ and disagree → the field's policy decides (`ask` opens a
//!   conflict; `linear-wins`/`portal-wins` write the winner to the loser;
//!   `newest` compares the change times given in [`ChangeTimes`], missing or
//!   equal times open a conflict; `merge` merges text line by line with diffy
//!   or sets by additions/removals, overlap opens a conflict).
//!
//! One-way fields (`portal-to-linear`, `linear-to-portal`) keep the *source*
//! value as their base. A change on the target side alone is left alone
//! (reported as `Ignored`, base unchanged) so a human may own the target
//! value; when the source changes again, the change is written unless the
//! target also changed, in which case the policy decides (a target win keeps
//! the target's value and the base still follows the source). A field whose
//! base is missing (new link, newly mapped field) compares against `Null`.
//!
//! A field with an open conflict is skipped until the conflict is resolved,
//! unless both sides now agree, which settles it. A write that would continue
//! a flip-flop (see `guard::PingPongGuard`) is turned into a conflict.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::domain::{FieldValue, Record, Side};

use super::codec::{self, compose_votes_line, split_votes_line};
use super::comments::{CommentMap, plan_comments};
use super::guard::{FieldHistory, PingPongGuard};
use super::mapping::{Direction, FieldMapping, Mapping, Policy, Transform};
use super::plan::{
    ConflictDraft, ConflictReason, Decision, DecisionKind, FieldWrites, Plan, Snapshot, possessive,
    show, show_field, side_name,
};

/// When each side's change happened, for the `newest` policy. Linear's is the
/// issue's `updatedAt`; Canny has none, so the engine passes the time
/// roundtrip first observed the post's current content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeTimes {
    /// When the portal's current value appeared.
    pub portal: Option<DateTime<Utc>>,
    /// When Linear's current value appeared.
    pub linear: Option<DateTime<Utc>>,
}

impl ChangeTimes {
    fn of(&self, side: Side) -> Option<DateTime<Utc>> {
        match side {
            Side::Portal => self.portal,
            Side::Linear => self.linear,
        }
    }
}

static NO_COMMENTS: CommentMap = CommentMap { pairs: Vec::new() };
static NO_CONFLICTS: BTreeSet<String> = BTreeSet::new();
static NO_HISTORY: FieldHistory = BTreeMap::new();
static NO_DETAILS: BTreeMap<String, OpenConflict> = BTreeMap::new();

/// What an open conflict recorded, so the merge can tell whether its
/// question still stands (a refused or overwritten value waits only until a
/// side changes the field again) and show the sides' current values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConflict {
    /// Why it is open.
    pub reason: ConflictReason,
    /// The side a refused or overwritten value concerns.
    pub side: Option<Side>,
    /// The portal value it shows.
    pub portal: FieldValue,
    /// The Linear value it shows.
    pub linear: FieldValue,
}

/// A value one side refused (a validation error on a write of that one
/// field). The same write is not planned again: the merge opens a "cannot
/// write" conflict instead, until one side changes the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The side that refused.
    pub side: Side,
    /// That side's field name.
    pub field: String,
    /// The value it refused, as it was sent.
    pub value: FieldValue,
    /// The remote's message.
    pub message: String,
}

/// Everything one merge of one link looks at. Plain values: the engine reads
/// them from the store; no clock is read here (`now` is passed in).
#[derive(Debug, Clone)]
pub struct MergeInput<'a> {
    /// The link's base snapshot.
    pub base: &'a Snapshot,
    /// The portal post as last fetched.
    pub portal: &'a Record,
    /// The Linear issue as last fetched.
    pub linear: &'a Record,
    /// Comments already mirrored on this link.
    pub comments: &'a CommentMap,
    /// Mapping field names with an open conflict on this link.
    pub open_conflicts: &'a BTreeSet<String>,
    /// What those open conflicts recorded, by field (missing: an ordinary
    /// "both changed" conflict whose values are not known here).
    pub conflict_details: &'a BTreeMap<String, OpenConflict>,
    /// Values a side refused on this link, not yet turned into conflicts.
    pub refusals: &'a [Refusal],
    /// Recent base values per field, for the ping-pong guard.
    pub history: &'a FieldHistory,
    /// Change times for the `newest` policy.
    pub times: ChangeTimes,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Ping-pong guard settings.
    pub guard: PingPongGuard,
    /// How mirrored comments name the portal ("Canny", "Fider"; "the
    /// portal" unless set).
    pub portal_name: &'a str,
}

impl<'a> MergeInput<'a> {
    /// An input with no comment map, no open conflicts, no history, unknown
    /// change times and default guard settings; set the rest as needed.
    pub fn new(
        base: &'a Snapshot,
        portal: &'a Record,
        linear: &'a Record,
        now: DateTime<Utc>,
    ) -> Self {
        MergeInput {
            base,
            portal,
            linear,
            comments: &NO_COMMENTS,
            open_conflicts: &NO_CONFLICTS,
            conflict_details: &NO_DETAILS,
            refusals: &[],
            history: &NO_HISTORY,
            times: ChangeTimes::default(),
            now,
            guard: PingPongGuard::default(),
            portal_name: "the portal",
        }
    }

    fn record(&self, side: Side) -> &Record {
        match side {
            Side::Portal => self.portal,
            Side::Linear => self.linear,
        }
    }
}

/// Plan everything one link needs: field writes, comment mirrors, conflicts
/// and the new base.
pub fn plan_link(mapping: &Mapping, input: &MergeInput<'_>) -> Plan {
    let mut b = Builder::new(mapping, input);
    for f in &mapping.fields {
        b.field(f);
    }
    let (mirrors, recovered) = plan_comments(
        &input.portal.comments,
        &input.linear.comments,
        input.comments,
        input.portal_name,
    );
    for m in &mirrors {
        b.decisions.push(Decision {
            field: "comments".into(),
            kind: DecisionKind::Write,
            explanation: format!(
                "comments: new comment {} on {} mirrored to {}",
                m.source_id,
                side_name(m.from),
                side_name(m.to)
            ),
        });
    }
    for r in &recovered {
        let (copy_side, copy_id, source_id) = match r.origin {
            Side::Portal => (Side::Linear, &r.linear_id, &r.portal_id),
            Side::Linear => (Side::Portal, &r.portal_id, &r.linear_id),
        };
        b.decisions.push(Decision {
            field: "comments".into(),
            kind: DecisionKind::Agreed,
            explanation: format!(
                "comments: {copy_id} on {} is roundtrip's copy of {} comment {source_id} (found by its marker); pair re-recorded",
                side_name(copy_side),
                possessive(r.origin)
            ),
        });
    }
    let mut plan = b.finish();
    plan.comments_to_mirror = mirrors;
    plan.recovered_comment_pairs = recovered;
    plan
}

/// How a field's disagreement is settled before direction is applied.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Keep `side`'s value; `why` is the explanation so far.
    Take { side: Side, why: String },
    /// Both sides already hold the same new value.
    Agreed,
    /// A new value for both sides (text/set merge or an operator's choice).
    Value {
        value: FieldValue,
        why: String,
        guarded: bool,
    },
    /// Nobody can decide automatically.
    Conflict { reason: ConflictReason, why: String },
}

/// Accumulates one plan.
pub(crate) struct Builder<'m, 'a> {
    mapping: &'m Mapping,
    input: &'m MergeInput<'a>,
    portal_writes: BTreeMap<String, FieldValue>,
    linear_writes: BTreeMap<String, FieldValue>,
    notify_voters: bool,
    votes_line: Option<FieldValue>,
    new_base: Snapshot,
    conflicts: Vec<ConflictDraft>,
    resolved: Vec<String>,
    refreshed: Vec<ConflictDraft>,
    superseded: Vec<String>,
    origin: BTreeMap<String, Side>,
    pub(crate) decisions: Vec<Decision>,
}

/// The canonical values of one field at merge time.
pub(crate) struct Values {
    pub(crate) base: FieldValue,
    pub(crate) portal: FieldValue,
    pub(crate) linear: FieldValue,
}

impl OpenConflict {
    fn of(&self, side: Side) -> &FieldValue {
        match side {
            Side::Portal => &self.portal,
            Side::Linear => &self.linear,
        }
    }
}

impl Values {
    fn of(&self, side: Side) -> &FieldValue {
        match side {
            Side::Portal => &self.portal,
            Side::Linear => &self.linear,
        }
    }
}

impl<'m, 'a> Builder<'m, 'a> {
    pub(crate) fn new(mapping: &'m Mapping, input: &'m MergeInput<'a>) -> Self {
        Builder {
            mapping,
            input,
            portal_writes: BTreeMap::new(),
            linear_writes: BTreeMap::new(),
            notify_voters: false,
            votes_line: None,
            new_base: input.base.clone(),
            conflicts: Vec::new(),
            resolved: Vec::new(),
            refreshed: Vec::new(),
            superseded: Vec::new(),
            origin: BTreeMap::new(),
            decisions: Vec::new(),
        }
    }

    fn decide(&mut self, f: &FieldMapping, kind: DecisionKind, explanation: String) {
        self.decisions.push(Decision {
            field: f.name.clone(),
            kind,
            explanation,
        });
    }

    /// Read the field's base and both sides; unreadable sides count as
    /// unchanged (and say so).
    pub(crate) fn values(&mut self, f: &FieldMapping) -> Values {
        let base = self
            .input
            .base
            .get(&f.name)
            .cloned()
            .unwrap_or(FieldValue::Null);
        let mut read =
            |side: Side| match codec::read(self.mapping, f, side, self.input.record(side)) {
                Ok(v) => v,
                Err(why) => {
                    self.decisions.push(Decision {
                        field: f.name.clone(),
                        kind: DecisionKind::Skipped,
                        explanation: format!("{}: {why}; treated as unchanged", f.name),
                    });
                    base.clone()
                }
            };
        let portal = read(Side::Portal);
        let linear = read(Side::Linear);
        Values {
            base,
            portal,
            linear,
        }
    }

    fn field(&mut self, f: &FieldMapping) {
        if f.direction == Direction::None {
            return;
        }
        let v = self.values(f);
        if self.input.open_conflicts.contains(&f.name) && self.waits_on_conflict(f, &v) {
            return;
        }
        let pc = v.portal != v.base;
        let lc = v.linear != v.base;
        let outcome = match (pc, lc) {
            (false, false) => return,
            (true, false) => Outcome::Take {
                side: Side::Portal,
                why: format!(
                    "{}: changed on the portal only ({} → {})",
                    f.name,
                    show_field(f, &v.base),
                    show_field(f, &v.portal)
                ),
            },
            (false, true) => Outcome::Take {
                side: Side::Linear,
                why: format!(
                    "{}: changed on Linear only ({} → {})",
                    f.name,
                    show_field(f, &v.base),
                    show_field(f, &v.linear)
                ),
            },
            (true, true) if v.portal == v.linear => Outcome::Agreed,
            (true, true) => self.policy(f, &v),
        };
        self.settle(f, &v, outcome);
    }

    /// An open conflict on the field: wait for the operator (showing the
    /// sides' current values), settle it when both sides agree, or — for a
    /// refused or overwritten value a side has since changed — close it as
    /// superseded and merge the field as usual (returns false).
    fn waits_on_conflict(&mut self, f: &FieldMapping, v: &Values) -> bool {
        let detail = self.input.conflict_details.get(&f.name).cloned();
        let reason = detail
            .as_ref()
            .map_or(ConflictReason::BothChanged, |d| d.reason);
        match (reason, detail) {
            (ConflictReason::Refused, Some(d)) if v.portal != d.portal || v.linear != d.linear => {
                self.superseded.push(f.name.clone());
                self.decide(
                    f,
                    DecisionKind::Resolved,
                    format!(
                        "{}: changed since {} refused the value; merged again",
                        f.name,
                        d.side.map_or("the other side", side_name)
                    ),
                );
                false
            }
            (ConflictReason::Overwritten, Some(d)) => {
                let lost = d.side.unwrap_or(Side::Linear);
                let written = d.of(lost.other());
                if v.of(lost) != written {
                    self.superseded.push(f.name.clone());
                    self.decide(
                        f,
                        DecisionKind::Resolved,
                        format!(
                            "{}: {} changed it again after its edit was overwritten; merged again",
                            f.name,
                            side_name(lost)
                        ),
                    );
                    return false;
                }
                // The lost edit stays on display; the other side's value is
                // its current one.
                let mut shown = d.clone();
                match lost.other() {
                    Side::Portal => shown.portal = v.portal.clone(),
                    Side::Linear => shown.linear = v.linear.clone(),
                }
                self.refresh(f, v, &d, &shown);
                self.waiting(f);
                true
            }
            (ConflictReason::Refused, _) => {
                self.waiting(f);
                true
            }
            (_, detail) => {
                if v.portal == v.linear {
                    if v.base != v.portal {
                        self.new_base.insert(f.name.clone(), v.portal.clone());
                    }
                    self.resolved.push(f.name.clone());
                    self.decide(
                        f,
                        DecisionKind::Resolved,
                        format!(
                            "{}: both sides now hold {}; the open conflict is settled",
                            f.name,
                            show_field(f, &v.portal)
                        ),
                    );
                    return true;
                }
                if let Some(d) = detail {
                    let shown = OpenConflict {
                        portal: v.portal.clone(),
                        linear: v.linear.clone(),
                        ..d.clone()
                    };
                    self.refresh(f, v, &d, &shown);
                }
                self.waiting(f);
                true
            }
        }
    }

    fn waiting(&mut self, f: &FieldMapping) {
        self.decide(
            f,
            DecisionKind::Waiting,
            format!("{}: a conflict is open; waiting for an operator", f.name),
        );
    }

    /// Record new values for an open conflict when they differ from what it
    /// shows.
    fn refresh(&mut self, f: &FieldMapping, v: &Values, was: &OpenConflict, now: &OpenConflict) {
        if was.portal == now.portal && was.linear == now.linear {
            return;
        }
        let draft = ConflictDraft {
            portal: now.portal.clone(),
            linear: now.linear.clone(),
            ..self.draft(f, v, now.reason, now.side, None)
        };
        self.refreshed.push(draft);
    }

    fn policy(&self, f: &FieldMapping, v: &Values) -> Outcome {
        let both = format!(
            "{}: changed on both sides (base {}, portal {}, Linear {})",
            f.name,
            show_field(f, &v.base),
            show_field(f, &v.portal),
            show_field(f, &v.linear)
        );
        match f.on_conflict {
            Policy::Ask => Outcome::Conflict {
                reason: ConflictReason::BothChanged,
                why: format!("{both}; policy ask"),
            },
            Policy::LinearWins => Outcome::Take {
                side: Side::Linear,
                why: format!(
                    "{both}; policy linear-wins keeps Linear's {}",
                    show_field(f, &v.linear)
                ),
            },
            Policy::PortalWins => Outcome::Take {
                side: Side::Portal,
                why: format!(
                    "{both}; policy portal-wins keeps the portal's {}",
                    show_field(f, &v.portal)
                ),
            },
            Policy::Newest => {
                let times = self.input.times;
                let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
                match (times.portal, times.linear) {
                    (Some(tp), Some(tl)) if tp != tl => {
                        let winner = if tp > tl { Side::Portal } else { Side::Linear };
                        let loser = winner.other();
                        let (tw, tlo) = (times.of(winner), times.of(loser));
                        Outcome::Take {
                            side: winner,
                            why: format!(
                                "{both}; policy newest keeps {} {} (changed {}, after {} change at {})",
                                possessive(winner),
                                show_field(f, v.of(winner)),
                                tw.map(fmt).unwrap_or_default(),
                                possessive(loser),
                                tlo.map(fmt).unwrap_or_default()
                            ),
                        }
                    }
                    _ => Outcome::Conflict {
                        reason: ConflictReason::NewestUndecided,
                        why: format!("{both}; policy newest cannot tell which change is newer"),
                    },
                }
            }
            Policy::Merge => match merge_values(&v.base, &v.portal, &v.linear) {
                Some(m) => Outcome::Value {
                    why: format!(
                        "{both}; policy merge combines them into {}",
                        show_field(f, &m)
                    ),
                    value: m,
                    guarded: true,
                },
                None => Outcome::Conflict {
                    reason: ConflictReason::MergeOverlap,
                    why: format!("{both}; policy merge found overlapping edits"),
                },
            },
        }
    }

    /// Apply an outcome under the field's direction: plan writes, move the
    /// base, or open a conflict.
    pub(crate) fn settle(&mut self, f: &FieldMapping, v: &Values, outcome: Outcome) {
        let source = f.direction.source();
        match outcome {
            Outcome::Agreed => {
                let value = v.portal.clone();
                let base = source.map_or(&value, |s| v.of(s)).clone();
                self.new_base.insert(f.name.clone(), base);
                self.decide(
                    f,
                    DecisionKind::Agreed,
                    format!(
                        "{}: both sides changed to {}; base advanced",
                        f.name,
                        show_field(f, &value)
                    ),
                );
            }
            Outcome::Conflict { reason, why } => self.conflict(f, v, reason, why),
            Outcome::Take { side, why } => {
                if source == Some(side.other()) {
                    // The change (or the winner) is on the target of a one-way field.
                    let changed_source = v.of(side.other()) != &v.base;
                    if changed_source {
                        self.new_base
                            .insert(f.name.clone(), v.of(side.other()).clone());
                    }
                    let note = if changed_source {
                        format!(
                            "{why}; {} is not written back ({} field)",
                            side_name(side.other()),
                            f.direction
                        )
                    } else {
                        format!("{why}, but the field syncs {}; left alone", f.direction)
                    };
                    self.decide(f, DecisionKind::Ignored, note);
                    return;
                }
                let value = v.of(side).clone();
                self.write_value(f, v, value, why, true);
            }
            Outcome::Value {
                value,
                why,
                guarded,
            } => self.write_value(f, v, value, why, guarded),
        }
    }

    fn conflict(&mut self, f: &FieldMapping, v: &Values, reason: ConflictReason, why: String) {
        self.conflicts.push(self.draft(f, v, reason, None, None));
        self.decide(f, DecisionKind::Conflict, format!("{why}: conflict opened"));
    }

    /// A conflict on the field with its values as the merge sees them.
    fn draft(
        &self,
        f: &FieldMapping,
        v: &Values,
        reason: ConflictReason,
        side: Option<Side>,
        note: Option<String>,
    ) -> ConflictDraft {
        ConflictDraft {
            field: f.name.clone(),
            base: v.base.clone(),
            portal: v.portal.clone(),
            linear: v.linear.clone(),
            portal_changed_at: self.input.times.portal,
            linear_changed_at: self.input.times.linear,
            reason,
            side,
            note,
        }
    }

    /// Write `value` to every side that may be written and does not hold it;
    /// the base becomes `value` (or the source's value for one-way fields).
    fn write_value(
        &mut self,
        f: &FieldMapping,
        v: &Values,
        value: FieldValue,
        why: String,
        guarded: bool,
    ) {
        let new_base = f.direction.source().map_or(&value, |s| v.of(s)).clone();
        let from = [Side::Portal, Side::Linear]
            .into_iter()
            .find(|s| v.of(*s) == &new_base && v.of(s.other()) != &new_base);
        if guarded
            && new_base != v.base
            && let Some(flap) = self.input.guard.check(
                self.input
                    .history
                    .get(&f.name)
                    .map_or(&[][..], Vec::as_slice),
                &new_base,
                from,
                self.input.now,
            )
        {
            let why = format!(
                "{why}; but it flipped between {} and {} {} times within {}, so it is frozen",
                show_field(f, &flap.b),
                show_field(f, &flap.a),
                flap.flips,
                crate::duration::format_duration(self.input.guard.window)
            );
            self.conflict(f, v, ConflictReason::PingPong, why);
            return;
        }
        let mut planned: Vec<(Side, FieldValue)> = Vec::new();
        for side in [Side::Portal, Side::Linear] {
            if !f.direction.writes_to(side) || v.of(side) == &value {
                continue;
            }
            match codec::write(f, side, &value) {
                Ok(tv) => planned.push((side, tv)),
                Err(e) => {
                    self.decide(
                        f,
                        DecisionKind::Skipped,
                        format!("{why}, but {e}; not written"),
                    );
                    return;
                }
            }
        }
        if let Some((side, refusal)) = planned.iter().find_map(|(side, tv)| {
            self.refusal_for(f, *side, tv)
                .map(|r| (*side, r.message.clone()))
        }) {
            let note = format!(
                "{} refused {}: {refusal}",
                side_name(side),
                show_field(f, &value)
            );
            let draft = self.draft(f, v, ConflictReason::Refused, Some(side), Some(note));
            self.conflicts.push(draft);
            self.decide(
                f,
                DecisionKind::Conflict,
                format!(
                    "{why}, but {} refused that value ({refusal}); not written again until a side changes it: conflict opened",
                    side_name(side)
                ),
            );
            return;
        }
        if let Some(from) = from {
            self.origin.insert(f.name.clone(), from);
        }
        let mut parts = Vec::new();
        for (side, tv) in planned {
            let as_note = if tv != value {
                format!(" as {}", show(&tv))
            } else {
                String::new()
            };
            parts.push(format!("{}{as_note}", side_name(side)));
            self.put(f, side, &value, tv);
        }
        self.new_base.insert(f.name.clone(), new_base);
        let explanation = if parts.is_empty() {
            format!("{why}; base advanced")
        } else {
            format!("{why}, written to {}", parts.join(" and "))
        };
        let kind = if parts.is_empty() {
            DecisionKind::Agreed
        } else {
            DecisionKind::Write
        };
        self.decide(f, kind, explanation);
    }

    /// The refusal a planned write of `target` to `side` would repeat.
    fn refusal_for(&self, f: &FieldMapping, side: Side, target: &FieldValue) -> Option<&Refusal> {
        let name = f.side_field(side);
        let prefix = (side == Side::Linear && name == "description")
            .then(|| self.mapping.votes_line_prefix())
            .flatten();
        let same = |sent: &FieldValue| match (sent, target) {
            (FieldValue::Text(a), FieldValue::Text(b)) => {
                let a = match prefix {
                    Some(p) => split_votes_line(a, p).0,
                    None => codec::normalize_text(a),
                };
                a == codec::normalize_text(b)
            }
            (a, b) => a == b,
        };
        self.input
            .refusals
            .iter()
            .find(|r| r.side == side && r.field == name && same(&r.value))
    }

    fn put(&mut self, f: &FieldMapping, side: Side, canonical: &FieldValue, target: FieldValue) {
        match (side, &f.transform) {
            (Side::Linear, Transform::VotesLine { .. }) => self.votes_line = Some(target),
            (Side::Linear, _) => {
                self.linear_writes.insert(f.linear.clone(), target);
            }
            (Side::Portal, t) => {
                if let (Transform::Status(table), FieldValue::Text(s)) = (t, canonical)
                    && table.notifies(s)
                {
                    self.notify_voters = true;
                }
                self.portal_writes.insert(f.portal.clone(), target);
            }
        }
    }

    /// Fold the votes line into the Linear description write, so writing
    /// either the description or the count keeps the other intact.
    fn finish_linear_description(&mut self) {
        let Some(prefix) = self.mapping.votes_line_prefix() else {
            return;
        };
        let written = match self.linear_writes.get("description") {
            Some(FieldValue::Text(t)) => Some(t.clone()),
            _ => None,
        };
        if written.is_none() && self.votes_line.is_none() {
            return;
        }
        let (current_text, current_votes) =
            split_votes_line(&self.input.linear.description, prefix);
        let text = written.unwrap_or(current_text);
        let votes = match &self.votes_line {
            Some(FieldValue::Number(n)) => Some(*n),
            Some(_) => None,
            None => current_votes,
        };
        self.linear_writes.insert(
            "description".into(),
            FieldValue::Text(compose_votes_line(&text, votes, prefix)),
        );
    }

    pub(crate) fn finish(mut self) -> Plan {
        self.finish_linear_description();
        let writes = |fields: BTreeMap<String, FieldValue>, notify: bool| {
            (!fields.is_empty()).then_some(FieldWrites {
                fields,
                notify_voters: notify,
            })
        };
        let base_changed = &self.new_base != self.input.base;
        Plan {
            refreshed_conflicts: self.refreshed,
            superseded_conflicts: self.superseded,
            base_origin: self.origin,
            portal_writes: writes(self.portal_writes, self.notify_voters),
            linear_writes: writes(self.linear_writes, false),
            comments_to_mirror: Vec::new(),
            recovered_comment_pairs: Vec::new(),
            new_base: self.new_base,
            base_changed,
            conflicts: self.conflicts,
            resolved_conflicts: self.resolved,
            decisions: self.decisions,
        }
    }
}

/// Three-way merge of two changed values: text line by line (diffy), sets by
/// additions and removals. `None` when the edits overlap or the values are
/// not mergeable.
pub fn merge_values(
    base: &FieldValue,
    portal: &FieldValue,
    linear: &FieldValue,
) -> Option<FieldValue> {
    let text = |v: &FieldValue| match v {
        FieldValue::Text(t) => Some(t.clone()),
        FieldValue::Null => Some(String::new()),
        _ => None,
    };
    let set = |v: &FieldValue| match v {
        FieldValue::Set(s) => Some(s.clone()),
        FieldValue::Null => Some(BTreeSet::new()),
        _ => None,
    };
    match (portal, linear) {
        (FieldValue::Set(p), FieldValue::Set(l)) => {
            let b = set(base)?;
            let merged: BTreeSet<String> = b
                .iter()
                .filter(|x| p.contains(*x) && l.contains(*x))
                .chain(p.difference(&b))
                .chain(l.difference(&b))
                .cloned()
                .collect();
            Some(FieldValue::Set(merged))
        }
        (FieldValue::Text(p), FieldValue::Text(l)) => {
            let b = text(base)?;
            let nl = |s: &str| format!("{s}\n");
            diffy::merge(&nl(&b), &nl(p), &nl(l))
                .ok()
                .map(|m| FieldValue::Text(codec::normalize_text(&m)))
        }
        _ => None,
    }
}

/// The base for linking two records that already exist (e.g. a link found
/// again through the attachment URL): every field both sides already agree
/// on. Fields they disagree on stay out, so the first merge treats them as
/// changed on both sides and applies the policy.
pub fn agreed_snapshot(mapping: &Mapping, portal: &Record, linear: &Record) -> Snapshot {
    mapping
        .fields
        .iter()
        .filter(|f| f.direction != Direction::None)
        .filter_map(|f| {
            let p = codec::read(mapping, f, Side::Portal, portal).ok()?;
            let l = codec::read(mapping, f, Side::Linear, linear).ok()?;
            (p == l).then(|| (f.name.clone(), p))
        })
        .collect()
}
