//! Finding a link by what an operator has in hand — `ENG-71`, a Linear
//! issue id or its first characters, a portal post id (or the tail the
//! console shows), a post or issue URL, title words, or the link's own
//! number — through the indexes of migration V7, never a scan: an id or URL
//! is one `link_keys` lookup, a prefix a bounded range of it, title words an
//! FTS5 match read newest first. Listings of links in title order live here
//! too, for the console's sort.

use super::links::Link;
use super::sql::params;
use super::{Db, Result, Window};

/// Shortest id prefix looked up as a prefix (shorter ones match too much
/// to be useful and are looked up whole only).
pub const MIN_PREFIX: usize = 4;

/// Most keys a prefix lookup reads: a prefix matching more ids than this
/// lists the first ones in key order.
pub const PREFIX_SCAN: usize = 2_000;

/// A parsed search: which indexes to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkQuery {
    /// The text as typed.
    pub text: String,
    /// A link number (`L12`, `#12`, `12`).
    pub link_id: Option<i64>,
    /// The whole text as an id or URL key (normalised like the index).
    pub key: Option<String>,
    /// Also match keys starting with `key` — looked up only when no id
    /// equals it, so `ENG-71` finds ENG-71 and not ENG-710 too.
    pub prefix: bool,
    /// An FTS5 expression over title words (whole words; a word ending in
    /// `*` is a prefix), `None` when the text has no words.
    pub words: Option<String>,
    /// The same words as a PostgreSQL `tsquery` (`'dark' & 'mod':*`).
    pub ts_words: Option<String>,
}

/// Whether text is a URL rather than an id or words.
fn looks_like_url(t: &str) -> bool {
    t.contains("://") || t.to_ascii_lowercase().starts_with("www.")
}

/// A URL as the index stores it: lowercase, without scheme, `www.`, query,
/// fragment or trailing slashes — so a link pasted from a browser bar
/// finds the record whatever decoration it carries. Mirrors the
/// `link_urls` view of migration V7.
pub fn url_key(url: &str) -> String {
    let u = url.trim().to_lowercase();
    let u = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or(&u);
    let u = u.strip_prefix("www.").unwrap_or(u);
    let u = u.split('?').next().unwrap_or(u);
    let u = u.split('#').next().unwrap_or(u);
    u.trim_end_matches('/').to_string()
}

/// A word's letters and digits, lowercased, as the title indexes split it.
fn word_runs(word: &str) -> Vec<String> {
    word.split(|c: char| !c.is_alphanumeric())
        .filter(|r| !r.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Title words as an FTS5 expression: each word's letters and digits as a
/// phrase (so `ENG-71` finds the adjacent tokens `eng 71`), all required.
fn fts_words(text: &str) -> Option<String> {
    let mut terms = Vec::new();
    for word in text.split_whitespace() {
        let prefix = word.ends_with('*');
        let runs = word_runs(word);
        if runs.is_empty() {
            continue;
        }
        terms.push(format!(
            "\"{}\"{}",
            runs.join(" "),
            if prefix { "*" } else { "" }
        ));
    }
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// The words of `text` as a `tsquery`: each word's alphanumeric runs a
/// phrase (`'eng' <-> '71'`), a trailing `*` a prefix, all required.
fn ts_words(text: &str) -> Option<String> {
    let mut terms = Vec::new();
    for word in text.split_whitespace() {
        let prefix = word.ends_with('*');
        let runs: Vec<String> = word_runs(word)
            .into_iter()
            .map(|r| format!("'{r}'"))
            .collect();
        let Some(last) = runs.len().checked_sub(1) else {
            continue;
        };
        let mut phrase = runs;
        if prefix {
            phrase[last].push_str(":*");
        }
        terms.push(phrase.join(" <-> "));
    }
    (!terms.is_empty()).then(|| terms.join(" & "))
}

impl LinkQuery {
    /// Parse search text; `None` when there is nothing to look for.
    pub fn parse(text: &str) -> Option<LinkQuery> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let number = t
            .strip_prefix(['L', 'l', '#'])
            .unwrap_or(t)
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0);
        let url = looks_like_url(t);
        let one_token = !t.contains(char::is_whitespace);
        let key = if url {
            Some(url_key(t))
        } else if one_token {
            Some(t.trim_end_matches('*').to_lowercase())
        } else {
            None
        };
        let prefix = !url
            && key
                .as_ref()
                .is_some_and(|k| k.chars().count() >= MIN_PREFIX);
        Some(LinkQuery {
            text: t.to_string(),
            link_id: number,
            key,
            prefix,
            words: if url { None } else { fts_words(t) },
            ts_words: if url { None } else { ts_words(t) },
        })
    }
}

/// The order of a link listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOrder {
    /// By id (newest first, or oldest first when the window ascends).
    Id,
    /// By title, case-insensitive, then id.
    Title,
}

/// Links the PostgreSQL word search reads newest first before it asks the
/// title index (see [`Db::pg_word_matches`]).
const WORD_WINDOW: i64 = 4_000;

/// The key just above every key starting with `prefix` (a bound for a
/// range scan of the text index).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Db<'_> {
    /// Links matching a search, newest first, at most `limit`, below link
    /// id `before`: the union of every index the query names, each read
    /// newest first and cut at `limit`, so a page costs the same on any
    /// store size.
    pub fn search_links(
        &self,
        q: &LinkQuery,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Link>> {
        let key = q.key.clone().unwrap_or_default();
        let prefix = q.prefix && !self.key_exists(&key)?;
        let mut arms = Vec::new();
        if q.key.is_some() {
            arms.push(
                "SELECT link_id FROM (SELECT link_id FROM link_keys
                   WHERE key = :key AND link_id < :before ORDER BY link_id DESC LIMIT :limit) exact",
            );
        }
        if prefix {
            arms.push(
                "SELECT link_id FROM (SELECT link_id FROM link_keys
                   WHERE key > :key AND key < :key_end LIMIT :scan) prefixed WHERE link_id < :before",
            );
        }
        // SQLite's FTS5 reads its matches newest first; PostgreSQL's title
        // index cannot, so its word matches are found apart (below).
        let pg = self.dialect() == super::sql::Dialect::Postgres;
        let sql_words = q.words.is_some() && !pg;
        if sql_words {
            arms.push(
                "SELECT rowid FROM (SELECT rowid FROM links_fts
                   WHERE links_fts MATCH :words AND rowid < :before ORDER BY rowid DESC LIMIT :limit) words",
            );
        }
        if q.link_id.is_some() {
            arms.push("SELECT id FROM links WHERE id = :id AND id < :before");
        }
        let before = before.unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut found = match (&q.ts_words, pg) {
            (Some(words), true) => self.pg_word_matches(words, before, limit)?,
            _ => Vec::new(),
        };
        if arms.is_empty() {
            return Ok(found);
        }
        let sql = format!(
            "SELECT {} FROM links WHERE id IN ({}) ORDER BY id DESC LIMIT :limit",
            super::links::COLS,
            arms.join(" UNION ")
        );
        let key_end = prefix_end(&key);
        let words = q.words.clone().unwrap_or_default();
        let scan = PREFIX_SCAN as i64;
        let id = q.link_id.unwrap_or(0);
        let mut params: Vec<(&str, super::sql::Value<'_>)> = vec![
            (":before", super::sql::ToValue::to_value(&before)),
            (":limit", super::sql::ToValue::to_value(&limit)),
        ];
        if q.key.is_some() {
            params.push((":key", super::sql::ToValue::to_value(&key)));
        }
        if prefix {
            params.push((":key_end", super::sql::ToValue::to_value(&key_end)));
            params.push((":scan", super::sql::ToValue::to_value(&scan)));
        }
        if sql_words {
            params.push((":words", super::sql::ToValue::to_value(&words)));
        }
        if q.link_id.is_some() {
            params.push((":id", super::sql::ToValue::to_value(&id)));
        }
        for link in self.links_by(&sql, params.as_slice())? {
            if !found.iter().any(|l| l.id == link.id) {
                found.push(link);
            }
        }
        found.sort_unstable_by_key(|l| std::cmp::Reverse(l.id));
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(found)
    }

    /// PostgreSQL: links whose title has `words` (a `tsquery`), newest
    /// first, below `before`, at most `limit`. Matching the newest
    /// [`WORD_WINDOW`] links row by row finds common words at once; a rare
    /// word (an id typed as text, a word few titles have) is then looked
    /// up in the title index, which finds every match at once but in no
    /// order — too many for common words, and the planner cannot tell the
    /// two apart.
    fn pg_word_matches(&self, words: &str, before: i64, limit: i64) -> Result<Vec<Link>> {
        let cols = super::links::COLS;
        let mut found = self.links_by(
            &format!(
                "SELECT {cols} FROM (SELECT * FROM links WHERE id < ?2 ORDER BY id DESC LIMIT ?3) recent
                 WHERE to_tsvector('simple', title) @@ to_tsquery('simple', ?1)
                 ORDER BY id DESC LIMIT ?4"
            ),
            params![words, before, WORD_WINDOW, limit],
        )?;
        let missing = limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
        if missing <= 0 {
            return Ok(found);
        }
        let (floor, scanned): (Option<i64>, i64) = self.conn.query_row(
            "SELECT min(id), count(*) FROM (SELECT id FROM links WHERE id < ?1 ORDER BY id DESC LIMIT ?2) recent",
            params![before, WORD_WINDOW],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some(floor) = floor.filter(|_| scanned >= WORD_WINDOW) else {
            return Ok(found);
        };
        found.extend(self.links_by(
            &format!(
                "WITH matches AS MATERIALIZED (
                     SELECT id FROM links
                     WHERE to_tsvector('simple', title) @@ to_tsquery('simple', ?1) AND id < ?2),
                 newest AS (SELECT id FROM matches ORDER BY id DESC LIMIT ?3)
                 SELECT {cols} FROM links JOIN newest USING (id) ORDER BY id DESC"
            ),
            params![words, floor, missing],
        )?);
        Ok(found)
    }

    /// The links a statement selects (with [`super::links::COLS`]).
    fn links_by(&self, sql: &str, params: impl super::sql::Params) -> Result<Vec<Link>> {
        self.conn
            .prepare_cached(sql)?
            .query_map(params, super::links::row)?
            .map(|raw| raw.and_then(super::links::finish))
            .collect()
    }

    fn key_exists(&self, key: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM link_keys WHERE key = ?1)")?
            .query_row([key], |r| r.get(0))
    }

    /// A keyset window of links in `order`. For [`LinkOrder::Title`] the
    /// window's `from` is the id of the row to continue after (its title is
    /// looked up), and `descending` walks the titles backwards.
    pub fn links_ordered(&self, order: LinkOrder, window: Window) -> Result<Vec<Link>> {
        if order == LinkOrder::Id {
            return self.links(window);
        }
        let cols = super::links::COLS;
        let dir = if window.descending { "DESC" } else { "ASC" };
        let limit = window.limit_i64();
        // The same folding as each backend's `links_title` index.
        let folded = self.dialect_sql("title COLLATE NOCASE", "lower(title)");
        match window.from {
            None => self.links_by(
                &format!("SELECT {cols} FROM links ORDER BY {folded} {dir}, id {dir} LIMIT ?1"),
                [limit],
            ),
            Some(from) => {
                let Some(title) = self.link(from)?.map(|l| l.title) else {
                    return Ok(Vec::new());
                };
                let (op, eq) = if window.descending {
                    ("<", "<=")
                } else {
                    (">", ">=")
                };
                let given = self.dialect_sql("?1", "lower(?1)");
                self.links_by(
                    &format!(
                        "SELECT {cols} FROM links
                         WHERE {folded} {eq} {given} AND ({folded} {op} {given} OR id {op} ?2)
                         ORDER BY {folded} {dir}, id {dir} LIMIT ?3"
                    ),
                    params![title, from, limit],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LinkState;
    use crate::store::test_backends::on_both_backends;

    on_both_backends! {
        fn a_rare_word_is_found_far_below_the_newest_links(store) {
            let base = std::collections::BTreeMap::new();
            let oldest = store
                .write(|d| -> Result<i64> {
                    let oldest = d.insert_link(Some("p-okta"), None, Some("c-okta"), LinkState::Pending, "SSO with Okta", &base)?;
                    for i in 0..(WORD_WINDOW + 50) {
                        d.insert_link(Some(&format!("p{i}")), None, Some(&format!("c{i}")), LinkState::Pending, "Export reports", &base)?;
                    }
                    Ok(oldest)
                })
                .unwrap();
            let q = LinkQuery::parse("okta").unwrap();
            let found: Vec<i64> = store.db().search_links(&q, None, 10).unwrap().iter().map(|l| l.id).collect();
            assert_eq!(found, [oldest]);
            let q = LinkQuery::parse("export").unwrap();
            assert_eq!(store.db().search_links(&q, None, 10).unwrap().len(), 10);
        }
    }

    on_both_backends! {
        fn words_ids_and_title_order_find_the_same_links_on_each_backend(store) {
            let db = store.db();
            let base = std::collections::BTreeMap::new();
            let mut ids = Vec::new();
            for (p, title) in [("p1", "Dark mode"), ("p2", "dark Modes please"), ("p3", "Light theme"), ("p4", "Export to CSV")] {
                ids.push(db.insert_link(Some(p), Some(&format!("l-{p}")), None, LinkState::Active, title, &base).unwrap());
            }
            let found = |text: &str| -> Vec<i64> {
                let q = LinkQuery::parse(text).unwrap();
                db.search_links(&q, None, 10).unwrap().iter().map(|l| l.id).collect()
            };
            assert_eq!(found("mode"), [ids[0]], "whole words only");
            assert_eq!(found("DARK"), [ids[1], ids[0]], "without case");
            assert_eq!(found("dark mod*"), [ids[1], ids[0]], "newest first");
            assert_eq!(found("csv"), [ids[3]]);
            assert_eq!(found("p3"), [ids[2]], "a portal id");
            assert!(found("nothing").is_empty());
            let titles = |descending: bool, from: Option<i64>| -> Vec<String> {
                let w = Window { from, limit: 2, descending };
                db.links_ordered(LinkOrder::Title, w).unwrap().into_iter().map(|l| l.title).collect()
            };
            assert_eq!(titles(false, None), ["Dark mode", "dark Modes please"], "case folded");
            assert_eq!(titles(false, Some(ids[1])), ["Export to CSV", "Light theme"]);
            assert_eq!(titles(true, None), ["Light theme", "Export to CSV"]);
        }
    }

    #[test]
    fn parses_ids_urls_and_words() {
        let q = LinkQuery::parse(" ENG-71 ").unwrap();
        assert_eq!(q.key.as_deref(), Some("eng-71"));
        assert!(q.prefix);
        assert_eq!(q.words.as_deref(), Some("\"eng 71\""));
        assert_eq!(q.link_id, None);
        let q = LinkQuery::parse("L12").unwrap();
        assert_eq!(q.link_id, Some(12));
        assert!(!q.prefix);
        let q = LinkQuery::parse("https://www.Acme.canny.io/b/p/dark-mode/?utm=x#c").unwrap();
        assert_eq!(q.key.as_deref(), Some("acme.canny.io/b/p/dark-mode"));
        assert_eq!(q.words, None);
        assert!(!q.prefix, "a URL is looked up whole");
        let q = LinkQuery::parse("dark mod*").unwrap();
        assert_eq!(q.key, None);
        assert_eq!(q.words.as_deref(), Some("\"dark\" AND \"mod\"*"));
        assert_eq!(q.ts_words.as_deref(), Some("'dark' & 'mod':*"));
        let q = LinkQuery::parse("ENG-71").unwrap();
        assert_eq!(q.ts_words.as_deref(), Some("'eng' <-> '71'"));
        assert!(LinkQuery::parse("   ").is_none());
        assert_eq!(LinkQuery::parse("--").unwrap().words, None);
    }
}
