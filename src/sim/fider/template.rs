//! The part of Go's `text/template` Fider's webhook templates use
//! (`app/pkg/tpl`): text with `{{ .prop }}` and `{{ fn .prop }}` actions,
//! `{{-`/`-}}` trimming, and Fider's functions that take one value. A
//! template Go would refuse (an unknown function, an unclosed action, a
//! pipeline this subset does not know) is an error, as in Fider: the
//! delivery fails and the webhook is turned off.

use super::render::{Prop, Props};

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

/// Go's `strconv.Quote`: a double-quoted Go string literal (non-printable
/// characters become `\x..`/`\u....`, which JSON does not accept).
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn url_query(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One action's value: `.name` (a missing property prints Go's `<no
/// value>`; a function given it sees nil, `<nil>`).
fn action(expr: &str, props: &Props) -> Result<String, TemplateError> {
    let words: Vec<&str> = expr.split_whitespace().collect();
    let lookup = |w: &str| -> Result<Option<&Prop>, TemplateError> {
        let key = w
            .strip_prefix('.')
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .ok_or_else(|| TemplateError(format!("cannot evaluate '{w}'")))?;
        Ok(props.get(key))
    };
    match words.as_slice() {
        [value] => Ok(lookup(value)?.map_or("<no value>".into(), Prop::go_string)),
        [func, value] => {
            let v = lookup(value)?.map_or("<nil>".into(), Prop::go_string);
            Ok(match *func {
                "quote" => go_quote(&v),
                "escape" => {
                    let q = go_quote(&v);
                    q[1..q.len() - 1].to_string()
                }
                "urlquery" => url_query(&v),
                "lower" => v.to_lowercase(),
                "upper" => v.to_uppercase(),
                "markdown" | "stripHtml" => v,
                other => return Err(TemplateError(format!("function \"{other}\" not defined"))),
            })
        }
        _ => Err(TemplateError(format!(
            "unsupported action '{{{{{expr}}}}}'"
        ))),
    }
}

/// Render `template` with `props`.
pub fn render(template: &str, props: &Props) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError("unclosed action".into()))?;
        let mut inner = &after[..end];
        if let Some(t) = inner.strip_prefix('-') {
            text = text.trim_end();
            inner = t;
        }
        let trim_after = inner.ends_with('-');
        if trim_after {
            inner = &inner[..inner.len() - 1];
        }
        out.push_str(text);
        out.push_str(&action(inner.trim(), props)?);
        rest = &after[end + 2..];
        if trim_after {
            rest = rest.trim_start();
        }
    }
    if rest.contains("}}") {
        return Err(TemplateError("unexpected \"}}\"".into()));
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> Props {
        let mut p = Props::new();
        p.insert("post_number".into(), Prop::Int(12));
        p.insert("post_title".into(), Prop::Str("Say \"hi\"\n".into()));
        p
    }

    #[test]
    fn renders_actions_like_go() {
        let out = render(
            "{\"n\": {{ quote .post_number }}, \"t\": {{quote .post_title}}, \"raw\": \"{{ .post_number }}\", \"x\": {{ quote .missing }}}",
            &props(),
        )
        .unwrap();
        assert_eq!(
            out,
            "{\"n\": \"12\", \"t\": \"Say \\\"hi\\\"\\n\", \"raw\": \"12\", \"x\": \"<nil>\"}"
        );
        assert_eq!(
            render("a {{- .post_number -}} b", &props()).unwrap(),
            "a12b"
        );
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
        assert!(render("{{ shout .post_title }}", &props()).is_err());
        assert!(render("{{ .post_title", &props()).is_err());
        assert!(render("{{ printf \"%d\" .post_number }}", &props()).is_err());
    }
}
