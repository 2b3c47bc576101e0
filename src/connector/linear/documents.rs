//! Every GraphQL document the Linear connector sends, in one file, so a test
//! can validate each of them against Linear's published schema. Batched
//! documents are generated (one alias per item); their builders live here too
//! and the test validates a few sizes of each.
//!
//! Selections ask only for what the record mapping needs: a 250-issue page
//! reads `labelIds` (0.1 complexity points) and resolves names from the team
//! catalog instead of a nested label connection (~50 points per issue).

/// Issue fields a listing needs to build a [`crate::domain::Record`] without
/// comments: 3.4 complexity points per issue. Relations (a `duplicate` mark
/// naming the canonical issue) cost 11 more, so listings read them only for
/// canceled issues (marking a duplicate cancels it), with [`ISSUE_DUPLICATES`].
macro_rules! issue_list_fields {
    () => {
        "id identifier title description priority url createdAt updatedAt archivedAt trashed labelIds state { id name type }"
    };
}

/// The first relations of an issue: a `duplicate` relation names the
/// canonical issue.
macro_rules! relation_fields {
    () => {
        "relations(first: 5) { nodes { type relatedIssue { id } } }"
    };
}

/// Comment fields for the canonical [`crate::domain::Comment`].
macro_rules! comment_fields {
    () => {
        "id body createdAt user { id name displayName }"
    };
}

/// The signed-in user: a cheap credential check for `doctor`-style commands.
pub const VIEWER: &str = "query RoundtripViewer { viewer { id name email } }";

/// The newest changes of an issue with who made them, and who we are: a
/// retry after a lost answer finds out whether its write landed. 25 entries
/// cover any retry window (one write makes one entry) at ~10 points.
pub const ISSUE_HISTORY: &str = "query RoundtripIssueHistory($id: String!) { viewer { id } \
issue(id: $id) { history(first: 25) { nodes { createdAt actorId toTitle updatedDescription \
toStateId toPriority addedLabelIds removedLabelIds } } } }";

/// All teams the credential can see, to find the configured team key.
pub const TEAMS: &str = "query RoundtripTeams($after: String) { \
teams(first: 100, after: $after) { nodes { id key name } pageInfo { hasNextPage endCursor } } }";

/// The team's workflow states, to resolve a state name or type to an id.
pub const WORKFLOW_STATES: &str = "query RoundtripWorkflowStates($teamId: ID!, $after: String) { \
workflowStates(filter: { team: { id: { eq: $teamId } } }, first: 250, after: $after) { \
nodes { id name type position team { id } } pageInfo { hasNextPage endCursor } } }";

/// Labels usable on the team's issues: its own and the workspace's.
pub const ISSUE_LABELS: &str = "query RoundtripIssueLabels($teamId: ID!, $after: String) { \
issueLabels(filter: { or: [{ team: { id: { eq: $teamId } } }, { team: { null: true } }] }, first: 250, after: $after) { \
nodes { id name isGroup team { id } } pageInfo { hasNextPage endCursor } } }";

/// Create a team label that a portal tag needs but Linear lacks.
pub const ISSUE_LABEL_CREATE: &str = "mutation RoundtripIssueLabelCreate($input: IssueLabelCreateInput!) { \
issueLabelCreate(input: $input) { success issueLabel { id name isGroup team { id } } } }";

/// One page of issues changed since a time, oldest cursor first, archived and
/// trashed included so deletions are seen. `$filter` is built by the caller so
/// an absent `since` means "everything".
pub const ISSUES_CHANGED: &str = concat!(
    "query RoundtripIssuesChanged($filter: IssueFilter!, $first: Int!, $after: String) { ",
    "issues(filter: $filter, orderBy: updatedAt, first: $first, after: $after, includeArchived: true) { ",
    "nodes { ",
    issue_list_fields!(),
    " } pageInfo { hasNextPage endCursor } } }"
);

/// The issue's team: listings ask per team (so they need not select it,
/// 1.2 points an issue); reads of single issues and of write batches do.
macro_rules! team_fields {
    () => {
        "team { id key }"
    };
}

/// Issues by id with their team: what a batch of writes re-reads just
/// before it is sent (writes resolve states and labels in the issue's team).
pub const ISSUES_BY_IDS: &str = concat!(
    "query RoundtripIssuesByIds($filter: IssueFilter!, $first: Int!) { ",
    "issues(filter: $filter, first: $first, includeArchived: true) { ",
    "nodes { ",
    issue_list_fields!(),
    " ",
    team_fields!(),
    " } } }"
);

/// One issue with everything the engine may compare or recover from: labels by
/// name, the first comments page and the attachments (portal links).
pub const ISSUE_GET: &str = concat!(
    "query RoundtripIssue($id: String!) { issue(id: $id) { ",
    issue_list_fields!(),
    " ",
    team_fields!(),
    " ",
    relation_fields!(),
    " labels(first: 100) { nodes { id name } }",
    " comments(first: 100) { nodes { ",
    comment_fields!(),
    " } pageInfo { hasNextPage endCursor } }",
    " attachments(first: 50) { nodes { id url title } } } }"
);

/// The relations of some listed issues (the canceled ones of a page), to
/// tell a duplicate from an ordinary cancel without reading relations for
/// every issue of every page.
pub const ISSUE_DUPLICATES: &str = concat!(
    "query RoundtripIssueDuplicates($ids: [ID!]!, $first: Int!) { ",
    "issues(filter: { id: { in: $ids } }, first: $first, includeArchived: true) { nodes { id ",
    relation_fields!(),
    " } } }"
);

/// Further comment pages of one issue, for the rare issue with more than 100.
pub const ISSUE_COMMENTS: &str = concat!(
    "query RoundtripIssueComments($id: String!, $after: String) { issue(id: $id) { id ",
    "comments(first: 100, after: $after) { nodes { ",
    comment_fields!(),
    " } pageInfo { hasNextPage endCursor } } } }"
);

/// Create an issue with a client-chosen id (`IssueCreateInput.id`), which makes
/// a retry detectable: Linear refuses the second one with "already exists".
pub const ISSUE_CREATE: &str = concat!(
    "mutation RoundtripIssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { ",
    issue_list_fields!(),
    " ",
    team_fields!(),
    " } } }"
);

/// Apply field changes to one issue.
pub const ISSUE_UPDATE: &str = "mutation RoundtripIssueUpdate($id: String!, $input: IssueUpdateInput!) { \
issueUpdate(id: $id, input: $input) { success issue { id updatedAt } } }";

/// Archive an issue (reversible, hidden from default listings).
pub const ISSUE_ARCHIVE: &str =
    "mutation RoundtripIssueArchive($id: String!) { issueArchive(id: $id) { success } }";

/// Move an issue to the trash (Linear hard-deletes it after 30 days).
pub const ISSUE_DELETE: &str =
    "mutation RoundtripIssueDelete($id: String!) { issueDelete(id: $id) { success } }";

/// One comment by id: finds the comment a timed-out `commentCreate` with a
/// client id may already have made.
pub const COMMENT_GET: &str = concat!(
    "query RoundtripComment($id: String!) { comment(id: $id) { ",
    comment_fields!(),
    " issue { id } } }"
);

/// Post a comment on an issue (with a client-chosen id, so a retry is
/// refused as "already exists" instead of posting it twice).
pub const COMMENT_CREATE: &str = concat!(
    "mutation RoundtripCommentCreate($input: CommentCreateInput!) { commentCreate(input: $input) { success comment { ",
    comment_fields!(),
    " } } }"
);

/// Attach the portal post's URL to an issue: the external key that lets
/// `attachmentsForURL` find the link again if the store is lost.
/// `createAsUser`/`displayIconUrl` stay null except with an app-actor token.
pub const ATTACHMENT_LINK_URL: &str = "mutation RoundtripAttachmentLinkUrl($issueId: String!, $url: String!, $title: String, $createAsUser: String, $displayIconUrl: String) { \
attachmentLinkURL(issueId: $issueId, url: $url, title: $title, createAsUser: $createAsUser, displayIconUrl: $displayIconUrl) { success attachment { id url title } } }";

/// Issues carrying an attachment with this URL, archived ones included (an
/// archived issue is a finished one, still linked).
pub const ATTACHMENTS_FOR_URL: &str = "query RoundtripAttachmentsForUrl($url: String!) { \
attachmentsForURL(url: $url, first: 50, includeArchived: true) { nodes { id url issue { id } } } }";

/// Attachments whose URL starts with a prefix (a portal's post URLs), with
/// their issues: the links an earlier integration (or a lost store) left.
pub const ATTACHMENTS_BY_URL_PREFIX: &str = "query RoundtripAttachmentsByUrlPrefix($prefix: String!, $after: String) { \
attachments(filter: { url: { startsWith: $prefix } }, first: 250, after: $after, includeArchived: true) { \
nodes { id url issue { id } } pageInfo { hasNextPage endCursor } } }";

/// A team's projects, to place a routed issue in one by name.
pub const TEAM_PROJECTS: &str = "query RoundtripTeamProjects($teamId: String!, $after: String) { \
team(id: $teamId) { id projects(first: 250, after: $after) { nodes { id name } pageInfo { hasNextPage endCursor } } } }";

/// A team's members, to assign a routed issue to one by email.
pub const TEAM_MEMBERS: &str = "query RoundtripTeamMembers($teamId: String!, $after: String) { \
team(id: $teamId) { id members(first: 250, after: $after) { nodes { id email } pageInfo { hasNextPage endCursor } } } }";

/// Where an issue shipped: its cycle and project (what the ship comment
/// and the changelog grouping read).
pub const ISSUE_SHIPPED: &str = "query RoundtripIssueShipped($id: String!) { issue(id: $id) { \
id identifier url team { id key } cycle { id number name } project { id name } } }";

/// Whether a cycle has completed.
pub const CYCLE_STATE: &str = "query RoundtripCycleState($id: String!) { cycle(id: $id) { \
id number name completedAt archivedAt } }";

/// Whether a project has completed.
pub const PROJECT_STATE: &str = "query RoundtripProjectState($id: String!) { project(id: $id) { \
id name completedAt canceledAt archivedAt trashed status { type } } }";

/// Every fixed document, by name, for the schema-validation test.
pub const ALL: &[(&str, &str)] = &[
    ("VIEWER", VIEWER),
    ("ISSUE_HISTORY", ISSUE_HISTORY),
    ("TEAMS", TEAMS),
    ("WORKFLOW_STATES", WORKFLOW_STATES),
    ("ISSUE_LABELS", ISSUE_LABELS),
    ("ISSUE_LABEL_CREATE", ISSUE_LABEL_CREATE),
    ("ISSUES_CHANGED", ISSUES_CHANGED),
    ("ISSUE_GET", ISSUE_GET),
    ("ISSUES_BY_IDS", ISSUES_BY_IDS),
    ("TEAM_PROJECTS", TEAM_PROJECTS),
    ("TEAM_MEMBERS", TEAM_MEMBERS),
    ("ISSUE_SHIPPED", ISSUE_SHIPPED),
    ("CYCLE_STATE", CYCLE_STATE),
    ("PROJECT_STATE", PROJECT_STATE),
    ("ISSUE_DUPLICATES", ISSUE_DUPLICATES),
    ("ISSUE_COMMENTS", ISSUE_COMMENTS),
    ("ISSUE_CREATE", ISSUE_CREATE),
    ("ISSUE_UPDATE", ISSUE_UPDATE),
    ("ISSUE_ARCHIVE", ISSUE_ARCHIVE),
    ("ISSUE_DELETE", ISSUE_DELETE),
    ("COMMENT_GET", COMMENT_GET),
    ("COMMENT_CREATE", COMMENT_CREATE),
    ("ATTACHMENT_LINK_URL", ATTACHMENT_LINK_URL),
    ("ATTACHMENTS_FOR_URL", ATTACHMENTS_FOR_URL),
    ("ATTACHMENTS_BY_URL_PREFIX", ATTACHMENTS_BY_URL_PREFIX),
];

/// At most this many aliased mutations go in one document. Each update costs a
/// few complexity points, so 50 stays far below the 10,000-point cap while
/// cutting request count 50-fold (the fields re-read before the writes is
/// one more request per batch).
pub const MAX_BATCH: usize = 50;

/// The alias of the `index`-th update in a batched document.
pub fn update_alias(index: usize) -> String {
    format!("u{index}")
}

/// The alias of the `index`-th create in a batched document.
pub fn create_alias(index: usize) -> String {
    format!("c{index}")
}

/// A document with `count` aliased `issueUpdate` mutations:
/// `u0: issueUpdate(id: $id0, input: $in0) { success }` and so on.
pub fn update_batch_document(count: usize) -> String {
    let vars: Vec<String> = (0..count)
        .map(|i| format!("$id{i}: String!, $in{i}: IssueUpdateInput!"))
        .collect();
    let fields: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "{}: issueUpdate(id: $id{i}, input: $in{i}) {{ success issue {{ id updatedAt }} }}",
                update_alias(i)
            )
        })
        .collect();
    format!(
        "mutation RoundtripIssueUpdateBatch({}) {{ {} }}",
        vars.join(", "),
        fields.join(" ")
    )
}

/// A document with `count` aliased `issueCreate` mutations, each returning the
/// issue fields a record needs.
pub fn create_batch_document(count: usize) -> String {
    let vars: Vec<String> = (0..count)
        .map(|i| format!("$in{i}: IssueCreateInput!"))
        .collect();
    let fields: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "{}: issueCreate(input: $in{i}) {{ success issue {{ {} {} }} }}",
                create_alias(i),
                issue_list_fields!(),
                team_fields!()
            )
        })
        .collect();
    format!(
        "mutation RoundtripIssueCreateBatch({}) {{ {} }}",
        vars.join(", "),
        fields.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_documents_alias_every_item() {
        let doc = update_batch_document(3);
        assert!(
            doc.contains(
                "u0: issueUpdate(id: $id0, input: $in0) { success issue { id updatedAt } }"
            )
        );
        assert!(doc.contains("u2: issueUpdate(id: $id2, input: $in2)"));
        assert!(!doc.contains("u3:"));
        let doc = create_batch_document(2);
        assert!(doc.contains("c1: issueCreate(input: $in1)"));
        assert!(doc.contains("$in1: IssueCreateInput!"));
    }

    #[test]
    fn every_fixed_document_names_its_operation() {
        for (name, doc) in ALL {
            assert!(doc.contains("Roundtrip"), "{name} has no operation name");
        }
    }
}
