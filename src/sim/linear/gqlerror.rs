//! GraphQL errors in the shape Linear sends them (API-NOTES section 2):
//! `{message, path?, locations?, extensions: {code, type, statusCode,
//! userError?, userPresentableMessage?}}`. Clients classify by `code`, then
//! `type`, then HTTP status, so all three are always present.

use serde_json::{Value, json};

/// One entry of a response's `errors` array.
#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    /// Human-readable message, Linear's wording where known.
    pub message: String,
    /// `extensions.code`, e.g. `INPUT_ERROR`.
    pub code: &'static str,
    /// `extensions.type`, e.g. `invalid input`.
    pub kind: &'static str,
    /// `extensions.statusCode`, e.g. 400.
    pub status: u16,
    /// Response path of the failing field, if any.
    pub path: Option<Vec<Value>>,
    /// Source locations (line, column), if known.
    pub locations: Vec<(usize, usize)>,
    /// Whether Linear flags it as the user's fault (input errors).
    pub user_error: bool,
}

impl GqlError {
    fn new(
        message: impl Into<String>,
        code: &'static str,
        kind: &'static str,
        status: u16,
    ) -> Self {
        GqlError {
            message: message.into(),
            code,
            kind,
            status,
            path: None,
            locations: Vec::new(),
            user_error: false,
        }
    }

    /// INPUT_ERROR / "invalid input" / 400: bad arguments, unknown ids,
    /// duplicate ids, too-complex queries.
    pub fn input(message: impl Into<String>) -> Self {
        let mut e = Self::new(message, "INPUT_ERROR", "invalid input", 400);
        e.user_error = true;
        e
    }

    /// GRAPHQL_VALIDATION_FAILED / "graphql error" / 400: the document does
    /// not parse or validate against the schema.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(message, "GRAPHQL_VALIDATION_FAILED", "graphql error", 400)
    }

    /// AUTHENTICATION_ERROR / "authentication error" / 401.
    pub fn auth() -> Self {
        Self::new(
            "Authentication required, not authenticated",
            "AUTHENTICATION_ERROR",
            "authentication error",
            401,
        )
    }

    /// RATELIMITED / "ratelimited" / 429 (sent with HTTP 400).
    pub fn ratelimited() -> Self {
        Self::new("Rate limit exceeded", "RATELIMITED", "ratelimited", 429)
    }

    /// INTERNAL_SERVER_ERROR / "internal error" / 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(message, "INTERNAL_SERVER_ERROR", "internal error", 500)
    }

    /// The same error at a response path.
    pub fn at(mut self, path: Vec<Value>) -> Self {
        self.path = Some(path);
        self
    }

    /// The JSON object for the `errors` array.
    pub fn to_json(&self) -> Value {
        let mut ext = json!({"code": self.code, "type": self.kind, "statusCode": self.status});
        if self.user_error {
            ext["userError"] = json!(true);
            ext["userPresentableMessage"] = json!(self.message);
        }
        let mut e = json!({"message": self.message, "extensions": ext});
        if let Some(p) = &self.path {
            e["path"] = json!(p);
        }
        if !self.locations.is_empty() {
            e["locations"] = self
                .locations
                .iter()
                .map(|(l, c)| json!({"line": l, "column": c}))
                .collect();
        }
        e
    }
}

/// A whole error response body: `{"data": null, "errors": [...]}` style.
pub fn error_body(errors: &[GqlError], data: Option<Value>) -> Value {
    let mut body = json!({"errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>()});
    if let Some(d) = data {
        body["data"] = d;
    }
    body
}
