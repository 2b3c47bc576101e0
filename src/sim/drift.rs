//! Response shape drift for the simulators' `drift=P` fault: with
//! probability P an answer is replaced by one a client written against the
//! documented shape does not expect, as happens when a vendor changes its
//! API or a proxy rewrites an answer. Each kind is what such clients meet in
//! practice: a field they need missing or null, an enum value they have never
//! seen, a field of another type, an HTML error page with a 200, a body cut
//! short.

use serde_json::Value;

use super::faults::Dice;

/// One way an answer's shape changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// A field the client needs is gone.
    MissingField,
    /// A field the client needs is null.
    NullField,
    /// An enum field holds a value the client has never seen.
    UnknownEnum,
    /// A field holds another JSON type.
    WrongType,
    /// An HTML page (a proxy's error page) answered with 200.
    HtmlPage,
    /// The body stops halfway.
    Truncated,
}

impl DriftKind {
    /// Every kind, in the order a seeded draw picks from.
    pub const ALL: [DriftKind; 6] = [
        DriftKind::MissingField,
        DriftKind::NullField,
        DriftKind::UnknownEnum,
        DriftKind::WrongType,
        DriftKind::HtmlPage,
        DriftKind::Truncated,
    ];

    /// A seeded draw.
    pub fn draw(dice: &Dice) -> DriftKind {
        DriftKind::ALL[dice.below(DriftKind::ALL.len())]
    }
}

/// What a simulator needs to know about its own answers to change them.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Fields clients rely on, most important first; the first one found
    /// (depth first) is the one changed.
    pub needed: &'static [&'static str],
    /// `(parent key, enum field)`: where an enum value lives, e.g. a Linear
    /// issue's `state.type`.
    pub enum_at: (&'static str, &'static str),
    /// The value no client has seen.
    pub unknown_value: &'static str,
}

/// A changed answer: the bytes and the content type to send with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drifted {
    /// Body bytes.
    pub body: Vec<u8>,
    /// `Content-Type` header value.
    pub content_type: &'static str,
}

fn find_parent<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut serde_json::Map<String, Value>> {
    match v {
        Value::Object(m) => {
            if m.contains_key(key) {
                Some(m)
            } else {
                m.values_mut().find_map(|c| find_parent(c, key))
            }
        }
        Value::Array(a) => a.iter_mut().find_map(|c| find_parent(c, key)),
        _ => None,
    }
}

fn html() -> Drifted {
    Drifted {
        body: b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The upstream server returned an invalid response.</p></body></html>".to_vec(),
        content_type: "text/html; charset=utf-8",
    }
}

/// Change `body` in the way `kind` says. A JSON body without any of the
/// shape's fields falls back to the HTML page, so every drift is felt.
pub fn apply(body: &Value, kind: DriftKind, shape: &Shape) -> Drifted {
    let json = |v: &Value| Drifted {
        body: v.to_string().into_bytes(),
        content_type: "application/json; charset=utf-8",
    };
    let mut v = body.clone();
    match kind {
        DriftKind::HtmlPage => html(),
        DriftKind::Truncated => {
            let mut bytes = body.to_string().into_bytes();
            bytes.truncate((bytes.len() / 2).max(1));
            Drifted {
                body: bytes,
                content_type: "application/json; charset=utf-8",
            }
        }
        DriftKind::UnknownEnum => {
            let (parent, field) = shape.enum_at;
            match find_parent(&mut v, parent).and_then(|m| m.get_mut(parent)) {
                Some(Value::Object(inner)) if inner.contains_key(field) => {
                    inner.insert(field.into(), Value::String(shape.unknown_value.into()));
                    json(&v)
                }
                Some(slot @ Value::String(_)) if parent == field => {
                    *slot = Value::String(shape.unknown_value.into());
                    json(&v)
                }
                _ => apply(body, DriftKind::WrongType, shape),
            }
        }
        DriftKind::MissingField | DriftKind::NullField | DriftKind::WrongType => {
            for key in shape.needed {
                if let Some(m) = find_parent(&mut v, key) {
                    match kind {
                        DriftKind::MissingField => {
                            m.remove(*key);
                        }
                        DriftKind::NullField => {
                            m.insert((*key).into(), Value::Null);
                        }
                        _ => {
                            let other = match m.get(*key) {
                                Some(Value::String(_)) => Value::from(42),
                                _ => Value::String("42".into()),
                            };
                            m.insert((*key).into(), other);
                        }
                    }
                    return json(&v);
                }
            }
            html()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHAPE: Shape = Shape {
        needed: &["state", "title"],
        enum_at: ("state", "type"),
        unknown_value: "paused",
    };

    #[test]
    fn each_kind_changes_the_answer() {
        let body = json!({"data":{"issue":{"id":"1","title":"T","state":{"name":"Todo","type":"unstarted"}}}});
        let parse = |d: &Drifted| serde_json::from_slice::<Value>(&d.body);
        let missing = parse(&apply(&body, DriftKind::MissingField, &SHAPE)).unwrap();
        assert!(missing["data"]["issue"].get("state").is_none());
        let null = parse(&apply(&body, DriftKind::NullField, &SHAPE)).unwrap();
        assert!(null["data"]["issue"]["state"].is_null());
        let unknown = parse(&apply(&body, DriftKind::UnknownEnum, &SHAPE)).unwrap();
        assert_eq!(unknown["data"]["issue"]["state"]["type"], "paused");
        let wrong = parse(&apply(&body, DriftKind::WrongType, &SHAPE)).unwrap();
        assert_eq!(wrong["data"]["issue"]["state"], "42");
        assert!(parse(&apply(&body, DriftKind::HtmlPage, &SHAPE)).is_err());
        assert!(parse(&apply(&body, DriftKind::Truncated, &SHAPE)).is_err());
        let bare = apply(
            &json!({"data":{"viewer":{"id":"v"}}}),
            DriftKind::MissingField,
            &SHAPE,
        );
        assert!(bare.content_type.starts_with("text/html"));
    }
}
