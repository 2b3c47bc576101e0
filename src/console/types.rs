//! The console's shared vocabulary: which view, which key command, what a
//! view or dialog asks for ([`Action`]), what a dialog decided
//! ([`Outcome`]), what the mouse can hit. It imports nothing from its
//! sibling modules, so every other console module can depend on it and the
//! console's import graph stays a tree (a test checks).

use crate::domain::{ErrorClass, JobStatus, Side};
use crate::ops::{conflicts::Choice, resume::Pause};
use crate::store::{ConflictStatus, JobFilter, Level};

/// The six views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewId {
    /// Health at a glance.
    Overview,
    /// Conflicts waiting for a human.
    Conflicts,
    /// The job queue.
    Jobs,
    /// Linked records and their timelines.
    Links,
    /// Field mappings.
    Mappings,
    /// Engine events.
    Log,
}

impl ViewId {
    /// Tab order.
    pub const ALL: [ViewId; 6] = [
        ViewId::Overview,
        ViewId::Conflicts,
        ViewId::Jobs,
        ViewId::Links,
        ViewId::Mappings,
        ViewId::Log,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            ViewId::Overview => "Overview",
            ViewId::Conflicts => "Conflicts",
            ViewId::Jobs => "Jobs",
            ViewId::Links => "Links",
            ViewId::Mappings => "Mappings",
            ViewId::Log => "Log",
        }
    }

    /// Position in tab order.
    pub fn index(self) -> usize {
        ViewId::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// The view `step` tabs away (wrapping).
    pub fn step(self, forward: bool) -> ViewId {
        let n = ViewId::ALL.len();
        let i = if forward {
            (self.index() + 1) % n
        } else {
            (self.index() + n - 1) % n
        };
        ViewId::ALL[i]
    }

    /// Parse a view name (any prefix) or number from the command line.
    pub fn parse(s: &str) -> Option<ViewId> {
        let s = s.to_ascii_lowercase();
        if s.is_empty() {
            return None;
        }
        ViewId::ALL.into_iter().enumerate().find_map(|(i, v)| {
            (s == (i + 1).to_string() || v.title().to_ascii_lowercase().starts_with(&s))
                .then_some(v)
        })
    }
}

/// Where a key binding applies: everywhere, in one view, or in a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// Any view (when no dialog is open).
    Global,
    /// A single view.
    View(ViewId),
    /// The text editor (mapping or merged value).
    Editor,
    /// A yes/no question.
    Confirm,
    /// The `/` search prompt.
    Prompt,
    /// The `:` command line.
    Command,
    /// A list to choose from (filters, sort order, policies).
    Picker,
    /// A read-only text panel (help, details, timeline).
    Panel,
}

impl Ctx {
    /// Heading in the help panel and the README key table.
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::View(v) => v.title(),
            Ctx::Editor => "Editor",
            Ctx::Confirm => "Question",
            Ctx::Prompt => "Search prompt",
            Ctx::Command => "Command line",
            Ctx::Picker => "Choice list",
            Ctx::Panel => "Text panel",
        }
    }
}

/// What a key asks for; views and dialogs interpret these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Leave the console.
    Quit,
    /// Show the help panel.
    Help,
    /// Next view.
    NextView,
    /// Previous view.
    PrevView,
    /// Jump to a view.
    Go(ViewId),
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Scroll long text left.
    Left,
    /// Scroll long text right.
    Right,
    /// Open the selected item's detail.
    Open,
    /// Close or go back.
    Back,
    /// Search (Links) or find in the rows (other views).
    Search,
    /// Next search match.
    NextMatch,
    /// Previous search match.
    PrevMatch,
    /// Open the `:` command line.
    CommandLine,
    /// Copy the selected id to the clipboard (OSC 52).
    Copy,
    /// Show both sides' URLs of the selected record.
    Urls,
    /// Choose the sort order.
    Sort,
    /// Overview: jump to open conflicts.
    GoConflicts,
    /// Overview: jump to the jobs that need attention (failed and dead).
    GoProblems,
    /// Conflicts: mark or unmark for a bulk resolve.
    ToggleMark,
    /// Conflicts: keep the portal's value.
    TakePortal,
    /// Conflicts: keep Linear's value.
    TakeLinear,
    /// Conflicts: restore the base value.
    KeepBase,
    /// Conflicts: edit a merged value.
    EditMerged,
    /// Conflicts: always let one side win for this field.
    Always,
    /// Conflicts: open, resolved or all.
    ConflictStatus,
    /// Jobs: retry the selected job.
    Retry,
    /// Jobs: retry every job matching the filter.
    RetryAll,
    /// Jobs: cancel the selected job.
    Cancel,
    /// Jobs: choose the status filter.
    StatusFilter,
    /// Jobs: choose the error-class filter.
    ClassFilter,
    /// Mappings: edit the active mapping.
    EditMapping,
    /// Mappings / editor: validate the document.
    Validate,
    /// Mappings / editor: dry-run preview.
    Preview,
    /// Mappings: make the selected version active again.
    Rollback,
    /// Log: choose the minimum level.
    LevelFilter,
    /// Editor: save (apply a mapping, resolve with the merged value).
    Save,
    /// Confirm: yes.
    Yes,
    /// Confirm: no.
    No,
    /// Prompt: submit; picker: choose.
    Submit,
    /// Command line: complete the word.
    Complete,
    /// Prompt: older entry from history.
    HistoryPrev,
    /// Prompt: newer entry from history.
    HistoryNext,
}

/// Which jobs the Jobs view lists by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatuses {
    /// Failed and dead: what needs a human (the default).
    Attention,
    /// One status.
    One(JobStatus),
    /// Every status.
    Any,
}

impl JobStatuses {
    /// The statuses listed (empty for all).
    pub fn statuses(self) -> Vec<JobStatus> {
        match self {
            JobStatuses::Attention => vec![JobStatus::Failed, JobStatus::Dead],
            JobStatuses::One(s) => vec![s],
            JobStatuses::Any => Vec::new(),
        }
    }

    /// A few words for titles and pickers.
    pub fn words(self) -> String {
        match self {
            JobStatuses::Attention => "failed + dead".into(),
            JobStatuses::One(s) => s.as_str().into(),
            JobStatuses::Any => "any status".into(),
        }
    }

    /// The operator-actions filter "retry all matching" uses (failed and
    /// dead unless one status is named).
    pub fn retry_filter(self, error_class: Option<ErrorClass>) -> JobFilter {
        JobFilter {
            status: match self {
                JobStatuses::One(s) => Some(s),
                JobStatuses::Attention | JobStatuses::Any => None,
            },
            error_class,
        }
    }
}

/// Row orders a table can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Highest id (most recent) first.
    Newest,
    /// Lowest id (oldest) first.
    Oldest,
    /// Title A–Z.
    Title,
}

impl SortKey {
    /// Words for the table title and the picker.
    pub fn words(self) -> &'static str {
        match self {
            SortKey::Newest => "newest first",
            SortKey::Oldest => "oldest first",
            SortKey::Title => "title A–Z",
        }
    }
}

/// A change a picker (or a jump from the Overview) asks a view to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewMsg {
    /// Jobs: list these statuses.
    JobStatuses(JobStatuses),
    /// Jobs: only this error class (or any).
    JobClass(Option<ErrorClass>),
    /// Conflicts: only this status (or any).
    ConflictStatus(Option<ConflictStatus>),
    /// Log: minimum level.
    Level(Level),
    /// Any table: sort order.
    Sort(SortKey),
}

/// A write through the operator-actions module (`crate::ops`), the only
/// way the console changes the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Requeue these jobs.
    RetryJobs(Vec<i64>),
    /// Requeue every failed/dead job matching the filter.
    RetryMatching(JobFilter),
    /// Cancel these jobs.
    CancelJobs(Vec<i64>),
    /// Decide these conflicts the same way.
    Resolve {
        /// Conflict ids.
        ids: Vec<i64>,
        /// The decision.
        choice: Choice,
    },
    /// Save "always resolve this field this way" as a new mapping version,
    /// and resolve these conflicts that way now.
    AlwaysResolve {
        /// Conflicts to resolve now.
        ids: Vec<i64>,
        /// The mapping field.
        field: String,
        /// The side that wins from now on.
        winner: Side,
    },
    /// Store a mapping document as a new active version.
    ApplyMapping {
        /// The TOML document.
        document: String,
        /// Why.
        note: String,
    },
    /// Make an earlier mapping version active.
    Rollback(i64),
    /// Lift a pause the engine raised.
    Resume(Pause),
}

/// One choice in a picker.
#[derive(Debug, Clone, PartialEq)]
pub struct PickItem {
    /// What it is.
    pub label: String,
    /// A count or note shown beside it.
    pub detail: String,
    /// What choosing it does.
    pub action: Action,
}

/// A dialog a view or command asks the app to open; the app loads what it
/// needs from the store and builds the dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum Open {
    /// Key and command help.
    Help,
    /// Lines of text in a wrapped, scrollable panel.
    Text {
        /// Title.
        title: String,
        /// The lines (wrapped when drawn).
        lines: Vec<String>,
    },
    /// A job with its attempt log.
    Job(i64),
    /// A link's audit timeline.
    Timeline(i64),
    /// Both sides' URLs of a link.
    Urls(i64),
    /// The active mapping in the editor.
    EditMapping,
    /// A merged value for a conflict in the editor.
    EditMerged(i64),
    /// A list to choose from.
    Picker {
        /// Title.
        title: String,
        /// The choices.
        items: Vec<PickItem>,
        /// Initially highlighted.
        selected: usize,
    },
}

/// Something a view, a dialog or the command line asks for. Views and
/// dialogs never act themselves: they return one of these, and the app
/// carries it out (writes through [`crate::ops`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Show a view.
    Show(ViewId),
    /// Show a view and change its filter or order.
    Tell(ViewId, ViewMsg),
    /// Say something in the status bar.
    Note(String),
    /// Say something went wrong.
    Fail(String),
    /// Open a dialog.
    Open(Open),
    /// Search or find text in a view (the `/` prompt was submitted).
    Search(ViewId, String),
    /// Run a `:` command line.
    Command(String),
    /// Put text on the clipboard (OSC 52, works over SSH).
    Copy(String),
    /// A write, asked about first when it is bulk, writes to a remote
    /// system or cannot be undone.
    Write(Write),
    /// A write the operator has already confirmed.
    Confirmed(Write),
}

/// What a dialog decided about a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stay open; nothing else happens.
    Stay,
    /// Close.
    Close,
    /// Close, then do this.
    Then(Action),
    /// Stay open and do this.
    Keep(Action),
}

/// Something drawn that the mouse can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// A tab in the title bar.
    Tab(ViewId),
    /// A row of the current view's table (index into its loaded window).
    Row(usize),
    /// A count or marker that stands for a key command.
    Key(Cmd),
}

/// What the view on screen has selected: the implicit target of a `:`
/// command typed without ids (and only that view's).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Selection {
    /// Nothing a command can act on.
    #[default]
    None,
    /// Jobs: the selected job and the filter on screen.
    Jobs {
        /// The selected job.
        selected: Option<i64>,
        /// What "retry all matching" would cover.
        filter: JobFilter,
    },
    /// Conflicts: the marked conflicts, or the selected one.
    Conflicts(Vec<i64>),
    /// Mappings: the selected version.
    Mappings(Option<i64>),
    /// Links: the selected link.
    Links(Option<i64>),
}

/// A one-line message in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
}
