//! Errors of the mapping document. Every message names the line and the key
//! at fault, because the operator fixes them in an editor (or the console's
//! mapping editor, which jumps to the line).

use std::fmt;

/// One problem in a mapping document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MappingError {
    /// 1-based line in the document; `None` only for mappings built in code
    /// (e.g. the default) and checked against a catalog.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what would be accepted.
    pub message: String,
}

impl MappingError {
    /// An error at a known line.
    pub fn at(line: Option<usize>, message: impl Into<String>) -> Self {
        MappingError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// All problems found in one pass, so the operator can fix them together
/// instead of one per attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MappingErrors(pub Vec<MappingError>);

impl MappingErrors {
    /// The individual errors, in document order.
    pub fn errors(&self) -> &[MappingError] {
        &self.0
    }
}

impl fmt::Display for MappingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Convert a byte offset in `text` into a 1-based line number.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    let prefix = text.get(..end).unwrap_or(text);
    prefix.matches('\n').count() + 1
}
