//! Request arguments the way Canny accepts them in practice: a JSON body
//! (documented), a form-encoded body, and query-string arguments on POST or
//! GET (API-NOTES.md section 1). All are merged into one JSON object, the
//! body winning over the query string.

use serde_json::{Map, Value};

/// Merged request arguments with lenient typed getters: form and query
/// values arrive as strings even where JSON would carry numbers or booleans.
#[derive(Debug, Clone, Default)]
pub struct Args(pub Map<String, Value>);

/// Why a body could not be read as arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadArgs(pub String);

impl Args {
    /// Merge query-string arguments and a body of the given content type.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Args, BadArgs> {
        let mut out = Map::new();
        if let Some(q) = query {
            merge_pairs(&mut out, form_pairs(q));
        }
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        let trimmed = body.iter().all(u8::is_ascii_whitespace);
        if trimmed {
            return Ok(Args(out));
        }
        if ct.starts_with("application/x-www-form-urlencoded") {
            let text =
                std::str::from_utf8(body).map_err(|_| BadArgs("invalid form body".into()))?;
            merge_pairs(&mut out, form_pairs(text));
        } else {
            // JSON is the documented encoding; accept it with or without the
            // header, as Canny's servers do not insist on it.
            let v: Value =
                serde_json::from_slice(body).map_err(|_| BadArgs("invalid json body".into()))?;
            match v {
                Value::Object(m) => out.extend(m),
                _ => return Err(BadArgs("invalid json body".into())),
            }
        }
        Ok(Args(out))
    }

    /// A string argument; numbers are accepted and rendered.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A non-empty string argument.
    pub fn nonempty(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.is_empty())
    }

    /// A boolean argument: JSON true/false or the strings "true"/"false".
    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    /// A non-negative integer argument, from a number or a numeric string.
    /// `Err` when present but not a number.
    pub fn count(&self, key: &str) -> Result<Option<usize>, BadArgs> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| BadArgs(format!("invalid {key}"))),
            Some(Value::String(s)) => s
                .parse::<usize>()
                .map(Some)
                .map_err(|_| BadArgs(format!("invalid {key}"))),
            Some(_) => Err(BadArgs(format!("invalid {key}"))),
        }
    }

    /// A list of strings: a JSON array, a JSON-encoded array in a string, or
    /// a comma-separated string.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        match self.0.get(key)? {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            ),
            Value::String(s) => {
                if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s) {
                    return Some(
                        items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect(),
                    );
                }
                Some(
                    s.split(',')
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// An object argument (e.g. `customFields`), also from a JSON string.
    pub fn object(&self, key: &str) -> Option<Map<String, Value>> {
        match self.0.get(key)? {
            Value::Object(m) => Some(m.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Some(m),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Put decoded pairs into the map; `key[]` and repeated keys become arrays.
fn merge_pairs(out: &mut Map<String, Value>, pairs: Vec<(String, String)>) {
    for (k, v) in pairs {
        let (key, is_array) = match k.strip_suffix("[]") {
            Some(base) => (base.to_string(), true),
            None => (k, false),
        };
        match out.get_mut(&key) {
            Some(Value::Array(items)) => items.push(Value::String(v)),
            Some(existing) if is_array => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
            _ => {
                let val = if is_array {
                    Value::Array(vec![Value::String(v)])
                } else {
                    Value::String(v)
                };
                out.insert(key, val);
            }
        }
    }
}

/// Split and percent-decode an `application/x-www-form-urlencoded` string.
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_query_form_and_json() {
        let a = Args::parse(
            Some("apiKey=k&limit=5"),
            Some("application/x-www-form-urlencoded"),
            b"title=Hello+world&details=a%26b&tagIDs[]=x&tagIDs[]=y",
        )
        .unwrap();
        assert_eq!(a.str("apiKey").as_deref(), Some("k"));
        assert_eq!(a.count("limit").unwrap(), Some(5));
        assert_eq!(a.str("title").as_deref(), Some("Hello world"));
        assert_eq!(a.str("details").as_deref(), Some("a&b"));
        assert_eq!(a.list("tagIDs").unwrap(), vec!["x", "y"]);

        let j = Args::parse(
            Some("apiKey=q"),
            Some("application/json"),
            br#"{"apiKey":"b","skip":3,"shouldNotifyVoters":false}"#,
        )
        .unwrap();
        assert_eq!(j.str("apiKey").as_deref(), Some("b"));
        assert_eq!(j.count("skip").unwrap(), Some(3));
        assert_eq!(j.bool("shouldNotifyVoters"), Some(false));
    }

    #[test]
    fn rejects_non_object_json_and_bad_numbers() {
        assert!(Args::parse(None, Some("application/json"), b"[1]").is_err());
        let a = Args::parse(None, None, br#"{"limit":"x"}"#).unwrap();
        assert!(a.count("limit").is_err());
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
