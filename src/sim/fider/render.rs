//! The site's objects as Fider's API renders them (`entity/*.go` JSON
//! names), and the flat properties its webhook templates see
//! (`pkg/webhook/props.go`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::model::{PostStatus, SimComment, SimPost, SimTag, SimUser, State, json_time};

/// A user as embedded in posts and comments (no email).
pub fn user(u: Option<&SimUser>) -> Value {
    match u {
        Some(u) => json!({
            "id": u.id,
            "name": u.name,
            "role": u.role.name(),
            "avatarURL": format!("/static/avatars/letter/{}/{}", u.id, u.name.replace(' ', "%20")),
            "status": if u.blocked { "blocked" } else { "active" },
            "isTrusted": false,
        }),
        None => Value::Null,
    }
}

/// A post as `viewer` sees it: `hasVoted` is theirs, private tags only for
/// staff, `response` only once a status was set.
pub fn post(s: &State, p: &SimPost, viewer: Option<&SimUser>) -> Value {
    let staff = viewer.is_some_and(|v| v.role.is_staff());
    let has_voted = viewer.is_some_and(|v| s.votes.contains_key(&(p.id, v.id)));
    let mut v = json!({
        "id": p.id,
        "number": p.number,
        "title": p.title,
        "slug": p.slug,
        "description": p.description,
        "createdAt": json_time(p.created),
        "user": user(s.users.get(&p.user_id)),
        "hasVoted": has_voted,
        "votesCount": s.votes_of(p.id),
        "commentsCount": s.comment_count(p.id),
        "status": p.status.name(),
        "tags": s.tag_slugs(p.id, staff),
        "isApproved": p.approved,
    });
    if let Some(r) = &p.response {
        let original = p
            .original_id
            .and_then(|o| s.posts.get(&o))
            .filter(|_| p.status == PostStatus::Duplicate)
            .map(|o| json!({"number": o.number, "title": o.title, "slug": o.slug, "status": o.status.name()}));
        v["response"] = json!({
            "text": r.text,
            "respondedAt": json_time(r.responded_at),
            "user": user(s.users.get(&r.user_id)),
            "original": original,
        });
    }
    v
}

/// A comment.
pub fn comment(s: &State, c: &SimComment) -> Value {
    let mut v = json!({
        "id": c.id,
        "content": c.content,
        "createdAt": json_time(c.created),
        "user": user(s.users.get(&c.user_id)),
        "isApproved": true,
    });
    if let Some(t) = c.edited_at {
        v["editedAt"] = json!(json_time(t));
    }
    v
}

/// A tag.
pub fn tag(t: &SimTag) -> Value {
    json!({"id": t.id, "name": t.name, "slug": t.slug, "color": t.color, "isPublic": t.public})
}

/// A value a webhook template can print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    /// A string.
    Str(String),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A time (Go prints `2006-01-02 15:04:05.999999999 -0700 MST`).
    Time(DateTime<Utc>),
    /// A list of strings (Go prints `[a b]`).
    List(Vec<String>),
}

impl Prop {
    /// What Go's `fmt.Sprintf("%v", v)` prints.
    pub fn go_string(&self) -> String {
        match self {
            Prop::Str(s) => s.clone(),
            Prop::Int(n) => n.to_string(),
            Prop::Bool(b) => b.to_string(),
            Prop::Time(t) => {
                let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
                let nanos = t.timestamp_subsec_nanos();
                let frac = if nanos == 0 {
                    String::new()
                } else {
                    format!(".{nanos:09}").trim_end_matches('0').to_string()
                };
                format!("{base}{frac} +0000 UTC")
            }
            Prop::List(l) => format!("[{}]", l.join(" ")),
        }
    }
}

/// A webhook's properties.
pub type Props = BTreeMap<String, Prop>;

fn set_user(p: &mut Props, u: Option<&SimUser>, prefix: &str) {
    if let Some(u) = u {
        p.insert(format!("{prefix}_id"), Prop::Int(u.id));
        p.insert(format!("{prefix}_name"), Prop::Str(u.name.clone()));
        p.insert(format!("{prefix}_email"), Prop::Str(u.email.clone()));
        p.insert(format!("{prefix}_role"), Prop::Str(u.role.name().into()));
        p.insert(format!("{prefix}_avatar"), Prop::Str(String::new()));
    }
}

/// `SetPost`, `SetUser(author)` and `SetTenant` for one event: `all`
/// adds votes, comments, status, tags and the response (every type but
/// new_post).
pub fn props(s: &State, p: &SimPost, actor: Option<&SimUser>, all: bool) -> Props {
    let mut out = Props::new();
    let site = s.site_url.clone();
    out.insert("post_id".into(), Prop::Int(p.id));
    out.insert("post_number".into(), Prop::Int(p.number));
    out.insert("post_title".into(), Prop::Str(p.title.clone()));
    out.insert("post_slug".into(), Prop::Str(p.slug.clone()));
    out.insert("post_description".into(), Prop::Str(p.description.clone()));
    out.insert("post_created_at".into(), Prop::Time(p.created));
    out.insert(
        "post_url".into(),
        Prop::Str(format!("{site}/posts/{}/{}", p.number, p.slug)),
    );
    if all {
        set_user(&mut out, s.users.get(&p.user_id), "post_author");
        out.insert("post_votes".into(), Prop::Int(s.votes_of(p.id) as i64));
        out.insert(
            "post_comments".into(),
            Prop::Int(s.comment_count(p.id) as i64),
        );
        out.insert("post_status".into(), Prop::Str(p.status.name().into()));
        out.insert("post_tags".into(), Prop::List(s.tag_slugs(p.id, true)));
        out.insert("post_response".into(), Prop::Bool(p.response.is_some()));
        if let Some(r) = &p.response {
            out.insert("post_response_text".into(), Prop::Str(r.text.clone()));
            out.insert(
                "post_response_responded_at".into(),
                Prop::Time(r.responded_at),
            );
            set_user(&mut out, s.users.get(&r.user_id), "post_response_author");
        }
    }
    set_user(&mut out, actor, "author");
    out.insert("tenant_name".into(), Prop::Str("Roundtrip Sim".into()));
    out.insert("tenant_url".into(), Prop::Str(site));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn go_prints_values_its_own_way() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(Prop::Time(t).go_string(), "2026-01-02 03:04:05 +0000 UTC");
        let t = t + chrono::Duration::milliseconds(120);
        assert_eq!(
            Prop::Time(t).go_string(),
            "2026-01-02 03:04:05.12 +0000 UTC"
        );
        assert_eq!(
            Prop::List(vec!["a".into(), "b".into()]).go_string(),
            "[a b]"
        );
    }
}
