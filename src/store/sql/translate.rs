//! The store's queries are written once, with SQLite's placeholders (`?1`,
//! `:name`); PostgreSQL numbers its parameters (`$1`). This rewrites one
//! into the other, leaving string literals, quoted identifiers, comments
//! and `::` casts alone.

/// A statement in PostgreSQL's placeholder syntax, with the names of its
/// `:name` parameters in `$n` order (empty for a positional statement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The rewritten SQL.
    pub sql: String,
    /// `names[n - 1]` is bound to `$n` when the statement used names.
    pub names: Vec<String>,
}

/// Rewrite `?N`, bare `?` and `:name` placeholders as `$N`.
pub fn to_postgres(sql: &str) -> Translated {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut names: Vec<String> = Vec::new();
    let mut next_bare = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let end = closing(&chars, i, c);
                out.extend(&chars[i..end]);
                i = end;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&ch| ch == '\n')
                    .map_or(chars.len(), |p| i + p);
                out.extend(&chars[i..end]);
                i = end;
            }
            '?' => {
                let digits: String = chars[i + 1..]
                    .iter()
                    .take_while(|ch| ch.is_ascii_digit())
                    .collect();
                if digits.is_empty() {
                    next_bare += 1;
                    out.push_str(&format!("${next_bare}"));
                } else {
                    next_bare = digits.parse().unwrap_or(next_bare);
                    out.push('$');
                    out.push_str(&digits);
                }
                i += 1 + digits.len();
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if chars
                .get(i + 1)
                .is_some_and(|ch| ch.is_ascii_alphabetic() || *ch == '_') =>
            {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || **ch == '_')
                    .collect();
                let key = format!(":{name}");
                let n = match names.iter().position(|n| *n == key) {
                    Some(p) => p + 1,
                    None => {
                        names.push(key);
                        names.len()
                    }
                };
                out.push_str(&format!("${n}"));
                i += 1 + name.len();
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Translated { sql: out, names }
}

/// Index just past the quote that closes the one at `start` (a doubled
/// quote is an escaped one).
fn closing(chars: &[char], start: usize, quote: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_bare_placeholders_become_dollars() {
        let t = to_postgres("SELECT a FROM t WHERE a = ?1 AND b = ?2 OR c = ?1");
        assert_eq!(t.sql, "SELECT a FROM t WHERE a = $1 AND b = $2 OR c = $1");
        assert!(t.names.is_empty());
        assert_eq!(to_postgres("VALUES (?, ?)").sql, "VALUES ($1, $2)");
    }

    #[test]
    fn names_are_numbered_in_order_of_first_use() {
        let t =
            to_postgres("WHERE id > :from AND link = :link ORDER BY id LIMIT :limit OR x = :from");
        assert_eq!(
            t.sql,
            "WHERE id > $1 AND link = $2 ORDER BY id LIMIT $3 OR x = $1"
        );
        assert_eq!(t.names, [":from", ":link", ":limit"]);
    }

    #[test]
    fn literals_identifiers_comments_and_casts_are_left_alone() {
        let t = to_postgres(
            "SELECT 'a ? :b', \"c?\", x::text -- what ?1 :x\n FROM t WHERE y = ?1 AND z = 'it''s ?'",
        );
        assert_eq!(
            t.sql,
            "SELECT 'a ? :b', \"c?\", x::text -- what ?1 :x\n FROM t WHERE y = $1 AND z = 'it''s ?'"
        );
        assert!(t.names.is_empty());
    }
}
