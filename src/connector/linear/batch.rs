//! Several mutations in one GraphQL document, one alias each (DESIGN.md
//! section 7): one request against the quota instead of many. Linear answers a
//! failed alias with an error whose `path[0]` is that alias; the others still
//! ran, so results are reported per item.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::LinearConnector;
use super::classify::{GqlBody, remote_error, remote_error_with_status};
use super::documents::{create_alias, create_batch_document, update_alias, update_batch_document};
use super::mapping::{catalog_probe, update_input};
use super::transport::Answer;
use super::writes::{is_already_exists, written};
use crate::connector::Written;
use crate::domain::{ErrorClass, FieldValue, Record, RemoteError};
use crate::domain::{NewRecord, Update};

/// Per-alias results of one batched answer, or the error that failed the
/// whole request (transport, auth, rate limit, 5xx, an error not tied to one
/// of our aliases, or no GraphQL answer at all).
pub fn split_answer(
    answer: &Answer,
    aliases: &[String],
) -> Result<Vec<Result<Value, RemoteError>>, RemoteError> {
    let meta = &answer.meta;
    let fallback = format!("HTTP {} from Linear without a GraphQL answer", meta.status);
    let Some(GqlBody { data, errors }) = answer.body.as_ref() else {
        return Err(remote_error(&[], meta, &fallback));
    };
    let request_level = matches!(meta.status, 401 | 403 | 429)
        || meta.status >= 500
        || (data.is_none() && errors.is_empty())
        || errors.iter().any(|e| {
            matches!(
                e.class(),
                ErrorClass::RateLimited | ErrorClass::Auth | ErrorClass::Server
            ) || !e.alias.as_ref().is_some_and(|a| aliases.contains(a))
        });
    if request_level {
        return Err(remote_error(errors, meta, &fallback));
    }
    Ok(aliases
        .iter()
        .map(|alias| {
            let own: Vec<_> = errors
                .iter()
                .filter(|e| e.alias.as_deref() == Some(alias.as_str()))
                .cloned()
                .collect();
            if !own.is_empty() {
                return Err(remote_error_with_status(&own, meta, 200, &fallback));
            }
            match data.as_ref().and_then(|d| d.get(alias)) {
                Some(v) if !v.is_null() => Ok(v.clone()),
                _ => Err(RemoteError::new(
                    ErrorClass::Server,
                    "Linear returned no result for this item; it may not have run",
                )
                .with_status(meta.status)),
            }
        })
        .collect())
}

/// Fill `results` for items that were sent in one chunk; returns the chunk's
/// request-level error, if any, after giving it to each of those items.
fn apply_chunk<T>(
    results: &mut [Option<Result<T, RemoteError>>],
    sent: &[usize],
    outcome: Result<Vec<Result<T, RemoteError>>, RemoteError>,
) -> Option<RemoteError> {
    match outcome {
        Ok(items) => {
            for (&index, item) in sent.iter().zip(items) {
                results[index] = Some(item);
            }
            None
        }
        Err(e) => {
            for &index in sent {
                results[index] = Some(Err(e.clone()));
            }
            Some(e)
        }
    }
}

/// Close out a batch: items never sent after a failed chunk get its error;
/// if nothing at all succeeded because the first request failed, that is
/// the outer error.
fn finish<T>(
    results: Vec<Option<Result<T, RemoteError>>>,
    first_failure: Option<(bool, RemoteError)>,
) -> Result<Vec<Result<T, RemoteError>>, RemoteError> {
    if let Some((true, e)) = &first_failure {
        return Err(e.clone());
    }
    let stop = first_failure.map(|(_, e)| e);
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(stop.clone().unwrap_or_else(|| {
                    RemoteError::new(ErrorClass::Server, "batch item was not sent")
                }))
            })
        })
        .collect())
}

impl LinearConnector {
    /// Apply field updates to several issues with as few requests as
    /// possible: chunks of aliased `issueUpdate`s. The outer error means the
    /// first request failed as a whole (nothing was applied); otherwise each
    /// item has its own result. After a chunk fails as a whole, later chunks
    /// are not sent and their items carry that error.
    pub async fn update_issues(
        &self,
        items: &[(String, Update)],
    ) -> Result<Vec<Result<Written, RemoteError>>, RemoteError> {
        let mut results: Vec<Option<Result<Written, RemoteError>>> = vec![None; items.len()];
        let probes: Vec<BTreeMap<String, FieldValue>> =
            items.iter().map(|(_, u)| catalog_probe(u)).collect();
        let field_maps: Vec<&BTreeMap<String, FieldValue>> = probes.iter().collect();
        let catalog = self.catalog_for(&field_maps).await?;
        let mut ready: Vec<(usize, Map<String, Value>)> = Vec::new();
        for (index, (_, update)) in items.iter().enumerate() {
            if update.fields.is_empty() && update.deltas.values().all(|d| d.is_empty()) {
                results[index] = Some(Ok(Written::default()));
                continue;
            }
            match update_input(update, &catalog) {
                Ok(input) => ready.push((index, input)),
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        // Items settled before any request (empty or invalid) keep the
        // outer result Ok even if the first request fails.
        let had_prior = results.iter().any(Option::is_some);
        let mut first_failure = None;
        for (chunk_no, chunk) in ready.chunks(self.batch_size).enumerate() {
            let mut vars = Map::new();
            let mut aliases = Vec::new();
            for (i, (index, input)) in chunk.iter().enumerate() {
                vars.insert(format!("id{i}"), json!(items[*index].0));
                vars.insert(format!("in{i}"), Value::Object(input.clone()));
                aliases.push(update_alias(i));
            }
            let sent: Vec<usize> = chunk.iter().map(|(index, _)| *index).collect();
            let outcome = self
                .transport
                .post(&update_batch_document(chunk.len()), Value::Object(vars))
                .await
                .and_then(|answer| split_answer(&answer, &aliases))
                .map(|items| {
                    items
                        .into_iter()
                        .map(|r| r.and_then(|v| written(&v)))
                        .collect()
                });
            if let Some(e) = apply_chunk(&mut results, &sent, outcome) {
                first_failure = Some((chunk_no == 0 && !had_prior, e));
                break;
            }
        }
        finish(results, first_failure)
    }

    /// Create several issues with aliased `issueCreate`s, each with its
    /// client id; an alias answered "already exists" is fetched, as in
    /// [`LinearConnector::create_issue`]. Portal URLs are attached afterwards,
    /// one request per created issue.
    pub async fn create_issues(
        &self,
        items: &[NewRecord],
    ) -> Result<Vec<Result<Record, RemoteError>>, RemoteError> {
        let mut results: Vec<Option<Result<Record, RemoteError>>> = vec![None; items.len()];
        let field_maps: Vec<&BTreeMap<String, FieldValue>> =
            items.iter().map(|n| &n.fields).collect();
        let catalog = self.catalog_for(&field_maps).await?;
        let mut ready: Vec<(usize, Map<String, Value>)> = Vec::new();
        for (index, new) in items.iter().enumerate() {
            match Self::create_input(new, &catalog) {
                Ok(input) => ready.push((index, input)),
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        // Items settled before any request (empty or invalid) keep the
        // outer result Ok even if the first request fails.
        let had_prior = results.iter().any(Option::is_some);
        let mut first_failure = None;
        for (chunk_no, chunk) in ready.chunks(self.batch_size).enumerate() {
            let mut vars = Map::new();
            let mut aliases = Vec::new();
            for (i, (_, input)) in chunk.iter().enumerate() {
                vars.insert(format!("in{i}"), Value::Object(input.clone()));
                aliases.push(create_alias(i));
            }
            let sent: Vec<usize> = chunk.iter().map(|(index, _)| *index).collect();
            let outcome = match self
                .transport
                .post(&create_batch_document(chunk.len()), Value::Object(vars))
                .await
                .and_then(|answer| split_answer(&answer, &aliases))
            {
                Ok(per_alias) => {
                    let mut out = Vec::with_capacity(per_alias.len());
                    for (&index, result) in sent.iter().zip(per_alias) {
                        let new = &items[index];
                        let record = match result {
                            Ok(payload) => self.created_record(&payload, new, &catalog).await,
                            Err(e) if is_already_exists(&e) => {
                                self.existing_after_retry(new, e).await
                            }
                            Err(e) => Err(e),
                        };
                        out.push(match record {
                            Ok(r) => self.link_source(&r.remote_id, new).await.map(|()| r),
                            Err(e) => Err(e),
                        });
                    }
                    Ok(out)
                }
                Err(e) => Err(e),
            };
            if let Some(e) = apply_chunk(&mut results, &sent, outcome) {
                first_failure = Some((chunk_no == 0 && !had_prior, e));
                break;
            }
        }
        finish(results, first_failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::linear::classify::{ResponseMeta, parse_body};

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            meta: ResponseMeta {
                status,
                request_id: None,
                rate_limit_wait: None,
            },
            body: parse_body(body.to_string().as_bytes()),
        }
    }

    fn aliases(n: usize) -> Vec<String> {
        (0..n).map(update_alias).collect()
    }

    #[test]
    fn one_failing_alias_fails_only_its_item() {
        let a = answer(
            200,
            json!({"data":{"u0":{"success":true},"u1":null,"u2":{"success":true}},
                   "errors":[{"message":"Entity not found: Issue","path":["u1"],"extensions":{"code":"INPUT_ERROR"}}]}),
        );
        let r = split_answer(&a, &aliases(3)).unwrap();
        assert!(r[0].is_ok() && r[2].is_ok());
        assert_eq!(r[1].as_ref().unwrap_err().class, ErrorClass::NotFound);
    }

    #[test]
    fn null_data_leaves_unanswered_items_transient() {
        let a = answer(
            400,
            json!({"data":null,"errors":[{"message":"Argument Validation Error","path":["u0"],"extensions":{"code":"INPUT_ERROR","statusCode":400}}]}),
        );
        let r = split_answer(&a, &aliases(2)).unwrap();
        assert_eq!(r[0].as_ref().unwrap_err().class, ErrorClass::Validation);
        assert_eq!(r[1].as_ref().unwrap_err().class, ErrorClass::Server);
    }

    #[test]
    fn request_level_errors_fail_the_whole_batch() {
        let a = answer(
            400,
            json!({"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}),
        );
        assert_eq!(
            split_answer(&a, &aliases(2)).unwrap_err().class,
            ErrorClass::RateLimited
        );
        let a = answer(
            400,
            json!({"errors":[{"message":"Syntax Error","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}),
        );
        assert_eq!(
            split_answer(&a, &aliases(2)).unwrap_err().class,
            ErrorClass::Validation
        );
        assert_eq!(
            split_answer(&answer(503, json!("x")), &aliases(1))
                .unwrap_err()
                .class,
            ErrorClass::Server
        );
    }

    #[test]
    fn finish_gives_unsent_items_the_stopping_error() {
        let e = RemoteError::new(ErrorClass::RateLimited, "slow");
        let results = vec![Some(Ok(())), None];
        let out = finish(results, Some((false, e.clone()))).unwrap();
        assert!(out[0].is_ok());
        assert_eq!(out[1].as_ref().unwrap_err(), &e);
        assert!(finish::<()>(vec![None], Some((true, e))).is_err());
    }
}
