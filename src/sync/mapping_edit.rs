//! Edits to a mapping document that keep the operator's formatting and
//! comments (`toml_edit`): the version number the store gives a document,
//! and one field's conflict policy ("always do this for this field").

use toml_edit::{DocumentMut, Item, value};

use super::mapping::Policy;

/// Why a document could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text is not TOML at all.
    #[error("the mapping is not valid TOML: {0}")]
    Syntax(String),
    /// The field named is not in the document.
    #[error("the mapping has no field `{0}`")]
    NoField(String),
}

fn parse(document: &str) -> Result<DocumentMut, EditError> {
    document
        .parse::<DocumentMut>()
        .map_err(|e| EditError::Syntax(e.message().to_string()))
}

/// The document with its top-level `version` set to `version`: a stored
/// version carries its own number, so a file saved from `mapping show`
/// says which version it came from.
pub fn stamp_version(document: &str, version: i64) -> Result<String, EditError> {
    let mut doc = parse(document)?;
    match doc.get_mut("version") {
        Some(item @ Item::Value(_)) => {
            let decor = item.as_value().map(|v| v.decor().clone());
            *item = value(version);
            if let (Some(decor), Some(v)) = (decor, item.as_value_mut()) {
                *v.decor_mut() = decor;
            }
        }
        _ => {
            doc.insert("version", value(version));
        }
    }
    Ok(doc.to_string())
}

/// The document with `fields.<field>.on_conflict` set to `policy`; every
/// other line is kept as written.
pub fn set_field_policy(document: &str, field: &str, policy: Policy) -> Result<String, EditError> {
    let mut doc = parse(document)?;
    let spec = doc
        .get_mut("fields")
        .and_then(|f| f.get_mut(field))
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| EditError::NoField(field.to_string()))?;
    spec.insert("on_conflict", value(policy.as_str()));
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# mine\nversion = 2 # keep\n\n[fields.title] # the title\nportal = \"title\"\nlinear = \"title\"\ndirection = \"both\"\non_conflict = \"ask\"\n";

    #[test]
    fn stamping_keeps_comments_and_sets_the_number() {
        let out = stamp_version(DOC, 3).unwrap();
        assert_eq!(out, DOC.replace("version = 2", "version = 3"));
        let none = stamp_version("[fields.title]\nportal = \"title\"\n", 4).unwrap();
        assert!(none.starts_with("version = 4\n"), "{none}");
        assert!(matches!(stamp_version("= x", 1), Err(EditError::Syntax(_))));
    }

    #[test]
    fn policy_edit_changes_only_that_field() {
        let out = set_field_policy(DOC, "title", Policy::LinearWins).unwrap();
        assert_eq!(
            out,
            DOC.replace("on_conflict = \"ask\"", "on_conflict = \"linear-wins\"")
        );
        assert_eq!(
            set_field_policy(DOC, "nope", Policy::Ask),
            Err(EditError::NoField("nope".into()))
        );
    }
}
