//! Relay pagination (`first/after`, `last/before`) with keyset cursors.
//!
//! A cursor encodes the item's sort key and id rather than its position, so
//! paging stays correct while items change underneath: an issue updated
//! between two page requests moves to the front of `orderBy: updatedAt`
//! instead of shifting every later page. Page size defaults to 50; more than
//! 250 is refused as Linear refuses it.

use serde_json::Value;

use super::exec::Args;
use super::gqlerror::GqlError;

/// Largest page Linear serves.
pub const MAX_PAGE: i64 = 250;
/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i64 = 50;

/// A position in a list: items are ordered ascending by `(key, id)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Primary sort key (e.g. negated epoch ms for newest-first).
    pub key: i64,
    /// Tie-breaker.
    pub id: String,
}

impl Key {
    /// The opaque cursor string for this key.
    pub fn cursor(&self) -> String {
        hex::encode(format!("{}:{}", self.key, self.id))
    }

    /// Decode a cursor made by [`Key::cursor`].
    pub fn parse(cursor: &str) -> Option<Key> {
        let raw = String::from_utf8(hex::decode(cursor).ok()?).ok()?;
        let (k, id) = raw.split_once(':')?;
        Some(Key {
            key: k.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// One page of a connection.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Items with their cursors, in order.
    pub items: Vec<(String, T)>,
    /// More items after this page.
    pub has_next: bool,
    /// More items before this page.
    pub has_prev: bool,
}

fn size(args: &Args, name: &str) -> Result<Option<i64>, GqlError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = v
                .as_i64()
                .ok_or_else(|| GqlError::input(format!("{name} must be an integer")))?;
            if n < 0 {
                Err(GqlError::input(format!("{name} must not be negative")))
            } else if n > MAX_PAGE {
                Err(GqlError::input(format!(
                    "{name} must not be greater than {MAX_PAGE}"
                )))
            } else {
                Ok(Some(n))
            }
        }
    }
}

fn cursor_arg(args: &Args, name: &str) -> Result<Option<Key>, GqlError> {
    match args.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(c) => Key::parse(c)
            .map(Some)
            .ok_or_else(|| GqlError::input(format!("Invalid cursor in '{name}'"))),
    }
}

/// Check `first`/`last` before any work (so a refused page costs nothing).
pub fn check_args(args: &Args) -> Result<(), GqlError> {
    size(args, "first")?;
    size(args, "last")?;
    cursor_arg(args, "after")?;
    cursor_arg(args, "before")?;
    Ok(())
}

/// Cut one page out of `items`, which must be sorted ascending by key.
pub fn paginate<T>(items: Vec<(Key, T)>, args: &Args) -> Result<Page<T>, GqlError> {
    let first = size(args, "first")?;
    let last = size(args, "last")?;
    let after = cursor_arg(args, "after")?;
    let before = cursor_arg(args, "before")?;
    let total = items.len();
    let mut window: Vec<(Key, T)> = items
        .into_iter()
        .filter(|(k, _)| {
            after.as_ref().is_none_or(|a| k > a) && before.as_ref().is_none_or(|b| k < b)
        })
        .collect();
    let mut has_prev = after.is_some() && window.len() < total;
    let mut has_next = before.is_some() && window.len() < total;
    if let Some(l) = last.filter(|_| first.is_none()) {
        let l = l as usize;
        if window.len() > l {
            has_prev = true;
            window.drain(..window.len() - l);
        }
    } else {
        let f = first.unwrap_or(DEFAULT_PAGE) as usize;
        if window.len() > f {
            has_next = true;
            window.truncate(f);
        }
    }
    Ok(Page {
        items: window.into_iter().map(|(k, t)| (k.cursor(), t)).collect(),
        has_next,
        has_prev,
    })
}

/// [`paginate`] for items already sorted ascending and unique by key, by
/// reference: the cursor bounds are binary searched and only the page is
/// copied, so a page costs O(page + log n) instead of O(n).
pub fn paginate_sorted<T: Clone>(items: &[(Key, T)], args: &Args) -> Result<Page<T>, GqlError> {
    let first = size(args, "first")?;
    let last = size(args, "last")?;
    let after = cursor_arg(args, "after")?;
    let before = cursor_arg(args, "before")?;
    let total = items.len();
    let lo = after
        .as_ref()
        .map_or(0, |a| items.partition_point(|(k, _)| k <= a));
    let hi = before
        .as_ref()
        .map_or(total, |b| items.partition_point(|(k, _)| k < b))
        .max(lo);
    let mut window = &items[lo..hi];
    let mut has_prev = after.is_some() && window.len() < total;
    let mut has_next = before.is_some() && window.len() < total;
    if let Some(l) = last.filter(|_| first.is_none()) {
        let l = l as usize;
        if window.len() > l {
            has_prev = true;
            window = &window[window.len() - l..];
        }
    } else {
        let f = first.unwrap_or(DEFAULT_PAGE) as usize;
        if window.len() > f {
            has_next = true;
            window = &window[..f];
        }
    }
    Ok(Page {
        items: window
            .iter()
            .map(|(k, t)| (k.cursor(), t.clone()))
            .collect(),
        has_next,
        has_prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: i64) -> Vec<(Key, i64)> {
        (0..n)
            .map(|i| {
                (
                    Key {
                        key: i,
                        id: format!("id{i}"),
                    },
                    i,
                )
            })
            .collect()
    }

    fn args(v: Value) -> Args {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn walks_forward_through_pages() {
        let p1 = paginate(items(5), &args(json!({"first": 2}))).unwrap();
        assert_eq!(p1.items.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 1]);
        assert!(p1.has_next && !p1.has_prev);
        let p2 = paginate(items(5), &args(json!({"first": 2, "after": p1.items[1].0}))).unwrap();
        assert_eq!(p2.items.iter().map(|x| x.1).collect::<Vec<_>>(), vec![2, 3]);
        let p3 = paginate(items(5), &args(json!({"first": 2, "after": p2.items[1].0}))).unwrap();
        assert_eq!(p3.items.iter().map(|x| x.1).collect::<Vec<_>>(), vec![4]);
        assert!(!p3.has_next && p3.has_prev);
    }

    #[test]
    fn last_before_and_limits() {
        let p = paginate(items(5), &args(json!({"last": 2}))).unwrap();
        assert_eq!(p.items.iter().map(|x| x.1).collect::<Vec<_>>(), vec![3, 4]);
        assert!(p.has_prev);
        let e = paginate(items(5), &args(json!({"first": 251}))).unwrap_err();
        assert_eq!(e.message, "first must not be greater than 250");
        assert_eq!(e.code, "INPUT_ERROR");
        assert!(paginate(items(5), &args(json!({"after": "zz"}))).is_err());
        assert_eq!(
            paginate(items(80), &args(json!({}))).unwrap().items.len(),
            50
        );
    }

    #[test]
    fn sorted_pagination_matches_the_reference() {
        let all = items(7);
        let cursors: Vec<Option<String>> = std::iter::once(None)
            .chain(all.iter().map(|(k, _)| Some(k.cursor())))
            .chain(std::iter::once(Some(
                Key {
                    key: 3,
                    id: "id3x".into(),
                }
                .cursor(),
            )))
            .collect();
        for after in &cursors {
            for before in &cursors {
                for (first, last) in [
                    (None, None),
                    (Some(2), None),
                    (None, Some(3)),
                    (Some(0), None),
                ] {
                    let a = args(
                        json!({"after": after, "before": before, "first": first, "last": last}),
                    );
                    let want = paginate(all.clone(), &a).unwrap();
                    let got = paginate_sorted(&all, &a).unwrap();
                    assert_eq!(got.items, want.items, "{a:?}");
                    assert_eq!(
                        (got.has_next, got.has_prev),
                        (want.has_next, want.has_prev),
                        "{a:?}"
                    );
                }
            }
        }
    }
}
