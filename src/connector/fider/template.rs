//! The webhooks an admin creates in Fider (Administration → Webhooks,
//! `/admin/webhooks`) so that roundtrip hears of new posts, comments, status
//! changes and deletions. Fider renders the URL and content as Go
//! `text/template`s from flat properties (`app/pkg/webhook/props.go`);
//! every value goes through `quote`, so the content is JSON whatever the
//! post says. The content carries only numbers, ids, status names and the
//! status change's time — never free text, whose control characters
//! `quote` would escape the Go way, not JSON's — so roundtrip never has to
//! refuse a delivery (one refusal turns the webhook off).

use serde::Serialize;

use super::config::SecretIn;

/// One webhook to create in Fider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookTemplate {
    /// Fider's type name ("new_post").
    pub kind: &'static str,
    /// The type as Fider's form lists it ("New Post").
    pub label: &'static str,
    /// What to name it.
    pub name: String,
    /// URL template.
    pub url: String,
    /// HTTP method.
    pub method: &'static str,
    /// Static headers, in order.
    pub headers: Vec<(String, String)>,
    /// Content template.
    pub content: String,
}

/// The content template of each type: the fields after `event` are what
/// Fider offers that type (`post_old_status` and the response time only on
/// status changes, `comment_id` only on new comments).
fn content(kind: &str) -> String {
    let extra = match kind {
        "new_comment" => r#", "comment_id": {{ quote .comment_id }}"#,
        "change_status" => {
            r#", "post_status": {{ quote .post_status }}, "post_old_status": {{ quote .post_old_status }}, "responded_at": {{ quote .post_response_responded_at }}"#
        }
        _ => r#", "post_id": {{ quote .post_id }}"#,
    };
    format!(r#"{{"event": "{kind}", "post_number": {{{{ quote .post_number }}}}{extra}}}"#)
}

/// The four webhooks, pointing at roundtrip's `base_url` (how Fider
/// reaches `roundtrip run`, e.g. `https://sync.example.com`). `secret` is
/// written into the header or the URL as `secret_in` says: pass a
/// placeholder to print the templates without it.
pub fn webhook_templates(
    base_url: &str,
    secret_in: &SecretIn,
    secret: &str,
) -> Vec<WebhookTemplate> {
    let base = base_url.trim_end_matches('/');
    let url = match secret_in {
        SecretIn::Header(_) => format!("{base}/webhooks/fider"),
        SecretIn::Path => format!("{base}/webhooks/fider/{secret}"),
    };
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let SecretIn::Header(name) = secret_in {
        headers.push((name.clone(), secret.to_string()));
    }
    [
        ("new_post", "New Post"),
        ("new_comment", "New Comment"),
        ("change_status", "Change Status"),
        ("delete_post", "Delete Post"),
    ]
    .into_iter()
    .map(|(kind, label)| WebhookTemplate {
        kind,
        label,
        name: format!("roundtrip {kind}"),
        url: url.clone(),
        method: "POST",
        headers: headers.clone(),
        content: content(kind),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Render the `{{ quote .x }}` actions the way Go's `strconv.Quote`
    /// renders plain strings (enough for these templates).
    fn render(t: &str, props: &[(&str, &str)]) -> String {
        let mut out = t.to_string();
        for (k, v) in props {
            out = out.replace(&format!("{{{{ quote .{k} }}}}"), &format!("\"{v}\""));
        }
        out
    }

    #[test]
    fn every_template_renders_to_json_naming_event_and_post() {
        let ts = webhook_templates(
            "https://sync.example.com/",
            &SecretIn::Header("X-S".into()),
            "sec",
        );
        assert_eq!(ts.len(), 4);
        for t in &ts {
            assert_eq!(t.url, "https://sync.example.com/webhooks/fider");
            assert!(t.headers.contains(&("X-S".into(), "sec".into())));
            let json = render(
                &t.content,
                &[
                    ("post_number", "12"),
                    ("post_id", "40"),
                    ("comment_id", "7"),
                    ("post_status", "planned"),
                    ("post_old_status", "open"),
                    (
                        "post_response_responded_at",
                        "2026-01-02 03:04:05 +0000 UTC",
                    ),
                ],
            );
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["event"], t.kind);
            assert_eq!(v["post_number"], "12");
        }
        let path = webhook_templates("http://h:8787", &SecretIn::Path, "abc");
        assert_eq!(path[0].url, "http://h:8787/webhooks/fider/abc");
        assert_eq!(path[0].headers.len(), 1);
    }
}
