//! Several mutations in one GraphQL document, one alias each (DESIGN.md
//! section 7): one request against the quota instead of many.
//!
//! Mutation fields run one after another, and every payload type here is
//! non-null (`IssuePayload!`), so when one alias fails a spec-following
//! server nulls the whole `data` (the null propagates to the root) and may
//! not run the aliases after it. The error's `path[0]` names the failing
//! alias: the aliases before it ran (their errors would be listed too) but
//! their answers are lost; the ones after it are unanswered. Those are sent
//! again at once, one per request, so a single bad item never costs the good
//! ones a failed job or another full round, and nothing is applied twice: a
//! lost update is not re-sent, a lost create is fetched by its client id.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::LinearConnector;
use super::classify::{GqlBody, remote_error, remote_error_with_status};
use super::documents::{create_alias, create_batch_document, update_alias, update_batch_document};
use super::mapping::catalog_probe;
use super::transport::Answer;
use super::writes::{is_already_exists, written};
use crate::connector::Written;
use crate::domain::{ErrorClass, FieldValue, Record, RemoteError};
use crate::domain::{NewRecord, Update};

/// Rounds of re-sending unanswered items (singly) before giving up on them.
const RESEND_ROUNDS: usize = 2;

/// What a batched answer says about one alias.
#[derive(Debug, Clone, PartialEq)]
pub enum AliasOutcome {
    /// Answered with its payload.
    Done(Value),
    /// It ran before the failing alias, but the answer was nulled with the
    /// rest of `data`.
    RanUnanswered,
    /// Not known to have run: send it again.
    Unanswered,
    /// Failed with its own error.
    Failed(RemoteError),
}

/// Per-alias outcomes of one batched answer, or the error that failed the
/// whole request (transport, auth, rate limit, 5xx, an error not tied to one
/// of our aliases, or no GraphQL answer at all).
pub fn split_answer(answer: &Answer, aliases: &[String]) -> Result<Vec<AliasOutcome>, RemoteError> {
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
    let first_failed = aliases.iter().position(|a| {
        errors
            .iter()
            .any(|e| e.alias.as_deref() == Some(a.as_str()))
    });
    Ok(aliases
        .iter()
        .enumerate()
        .map(|(i, alias)| {
            let own: Vec<_> = errors
                .iter()
                .filter(|e| e.alias.as_deref() == Some(alias.as_str()))
                .cloned()
                .collect();
            if !own.is_empty() {
                return AliasOutcome::Failed(remote_error_with_status(&own, meta, 200, &fallback));
            }
            match data.as_ref() {
                Some(d) => match d.get(alias) {
                    Some(v) if !v.is_null() => AliasOutcome::Done(v.clone()),
                    _ => AliasOutcome::Unanswered,
                },
                // `data: null`: serial execution reached the first failure.
                None if first_failed.is_some_and(|k| i < k) => AliasOutcome::RanUnanswered,
                None => AliasOutcome::Unanswered,
            }
        })
        .collect())
}

/// An item sent but never answered, after the re-send rounds.
fn never_answered() -> RemoteError {
    RemoteError::new(
        ErrorClass::Server,
        "Linear returned no result for this item, even when sent on its own",
    )
}

/// Items of a batch still to send, with their inputs, and the results so
/// far; `round` counts re-sends.
struct Batch<'a> {
    results: Vec<Option<Result<Value, RemoteError>>>,
    pending: Vec<(usize, &'a Map<String, Value>)>,
    round: usize,
}

/// What to send for one chunk: the document and its variables.
type Request = (String, Value);

impl LinearConnector {
    /// Send `inputs` (index, input) in aliased chunks, re-sending unanswered
    /// items singly; each item ends with `Ok(payload)`, `Ok(Value::Null)`
    /// (it ran, the answer was lost) or its error. The outer error means the
    /// very first request failed as a whole and nothing was settled.
    async fn run_batch(
        &self,
        total: usize,
        inputs: &[(usize, Map<String, Value>)],
        had_prior: bool,
        request: impl Fn(&[(usize, &Map<String, Value>)]) -> (Request, Vec<String>),
    ) -> Result<Vec<Option<Result<Value, RemoteError>>>, RemoteError> {
        let mut b = Batch {
            results: vec![None; total],
            pending: inputs.iter().map(|(i, m)| (*i, m)).collect(),
            round: 0,
        };
        let mut first = true;
        while !b.pending.is_empty() {
            let size = if b.round == 0 { self.batch_size } else { 1 };
            let mut next = Vec::new();
            let pending = std::mem::take(&mut b.pending);
            for (n, chunk) in pending.chunks(size).enumerate() {
                let ((doc, vars), aliases) = request(chunk);
                let outcome = self
                    .transport
                    .post(&doc, vars)
                    .await
                    .and_then(|answer| split_answer(&answer, &aliases));
                let outcomes = match outcome {
                    Ok(o) => o,
                    Err(e) => {
                        if first && !had_prior {
                            return Err(e);
                        }
                        // Stop here: this chunk and everything not sent yet
                        // carry the request's error.
                        for (index, _) in pending[n * size..].iter().chain(next.iter()) {
                            b.results[*index] = Some(Err(e.clone()));
                        }
                        return Ok(b.results);
                    }
                };
                first = false;
                for ((index, input), o) in chunk.iter().zip(outcomes) {
                    match o {
                        AliasOutcome::Done(v) => b.results[*index] = Some(Ok(v)),
                        AliasOutcome::RanUnanswered => b.results[*index] = Some(Ok(Value::Null)),
                        AliasOutcome::Failed(e) => b.results[*index] = Some(Err(e)),
                        AliasOutcome::Unanswered if b.round < RESEND_ROUNDS => {
                            next.push((*index, *input));
                        }
                        AliasOutcome::Unanswered => {
                            b.results[*index] = Some(Err(never_answered()));
                        }
                    }
                }
            }
            b.pending = next;
            b.round += 1;
        }
        Ok(b.results)
    }

    /// Apply field updates to several issues with as few requests as
    /// possible: chunks of aliased `issueUpdate`s. The outer error means the
    /// first request failed as a whole (nothing was applied); otherwise each
    /// item has its own result. After a chunk fails as a whole, later chunks
    /// are not sent and their items carry that error.
    pub async fn update_issues(
        &self,
        items: &[(String, Update)],
    ) -> Result<Vec<Result<Written, RemoteError>>, RemoteError> {
        let mut settled: Vec<Option<Result<Written, RemoteError>>> = vec![None; items.len()];
        // Each team's catalog once, with every label its items want.
        let mut by_team: BTreeMap<String, Vec<BTreeMap<String, FieldValue>>> = BTreeMap::new();
        for (id, update) in items {
            by_team
                .entry(self.update_team(id, update).to_uppercase())
                .or_default()
                .push(catalog_probe(update));
        }
        for (team, probes) in &by_team {
            let maps: Vec<&BTreeMap<String, FieldValue>> = probes.iter().collect();
            self.catalog_for(team, &maps).await?;
        }
        let mut ready: Vec<(usize, Map<String, Value>)> = Vec::new();
        for (index, (id, update)) in items.iter().enumerate() {
            if update.placement.is_none()
                && update.fields.is_empty()
                && update.deltas.values().all(|d| d.is_empty())
            {
                settled[index] = Some(Ok(Written::default()));
                continue;
            }
            match self.prepared_update(id, update).await {
                Ok(input) => ready.push((index, input)),
                Err(e) if e.class == ErrorClass::Validation => settled[index] = Some(Err(e)),
                Err(e) => return Err(e),
            }
        }
        let had_prior = settled.iter().any(Option::is_some);
        let answers = self
            .run_batch(items.len(), &ready, had_prior, |chunk| {
                let mut vars = Map::new();
                let mut aliases = Vec::new();
                for (i, (index, input)) in chunk.iter().enumerate() {
                    vars.insert(format!("id{i}"), json!(items[*index].0));
                    vars.insert(format!("in{i}"), Value::Object((*input).clone()));
                    aliases.push(update_alias(i));
                }
                (
                    (update_batch_document(chunk.len()), Value::Object(vars)),
                    aliases,
                )
            })
            .await?;
        Ok(settled
            .into_iter()
            .zip(answers)
            .map(|(done, answer)| match (done, answer) {
                (Some(r), _) => r,
                (None, Some(Ok(Value::Null))) => Ok(Written::default()),
                (None, Some(Ok(payload))) => written(&payload),
                (None, Some(Err(e))) => Err(e),
                (None, None) => Err(never_answered()),
            })
            .collect())
    }

    /// Create several issues with aliased `issueCreate`s, each with its
    /// client id; an alias answered "already exists", or one that ran but
    /// whose answer was lost, is fetched by its id, as in
    /// [`LinearConnector::create_issue`]. Portal URLs are attached
    /// afterwards, one request per created issue.
    pub async fn create_issues(
        &self,
        items: &[NewRecord],
    ) -> Result<Vec<Result<Record, RemoteError>>, RemoteError> {
        let mut settled: Vec<Option<Result<Record, RemoteError>>> = vec![None; items.len()];
        let mut catalogs = Vec::with_capacity(items.len());
        let mut ready: Vec<(usize, Map<String, Value>)> = Vec::new();
        for (index, new) in items.iter().enumerate() {
            let placed = match self.placement_ids(new.placement.as_ref()).await {
                Ok(p) => p,
                Err(e) if e.class == ErrorClass::Validation => {
                    settled[index] = Some(Err(e));
                    catalogs.push(None);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let catalog = self.catalog_for(&placed.0, &[&new.fields]).await?;
            match Self::create_input(new, &catalog, &placed.1) {
                Ok(input) => ready.push((index, input)),
                Err(e) => settled[index] = Some(Err(e)),
            }
            catalogs.push(Some(catalog));
        }
        let had_prior = settled.iter().any(Option::is_some);
        let answers = self
            .run_batch(items.len(), &ready, had_prior, |chunk| {
                let mut vars = Map::new();
                let mut aliases = Vec::new();
                for (i, (_, input)) in chunk.iter().enumerate() {
                    vars.insert(format!("in{i}"), Value::Object((*input).clone()));
                    aliases.push(create_alias(i));
                }
                (
                    (create_batch_document(chunk.len()), Value::Object(vars)),
                    aliases,
                )
            })
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for (((new, done), answer), catalog) in items.iter().zip(settled).zip(answers).zip(catalogs)
        {
            let record = match (done, answer) {
                (Some(r), _) => r,
                (None, Some(Ok(Value::Null))) => {
                    self.existing_after_retry(new, never_answered()).await
                }
                (None, Some(Ok(payload))) => match &catalog {
                    Some(c) => self.created_record(&payload, new, c).await,
                    None => Err(never_answered()),
                },
                (None, Some(Err(e))) if is_already_exists(&e) => {
                    self.existing_after_retry(new, e).await
                }
                (None, Some(Err(e))) => Err(e),
                (None, None) => Err(never_answered()),
            };
            out.push(match record {
                Ok(r) => self.link_source(&r.remote_id, new).await.map(|()| r),
                Err(e) => Err(e),
            });
        }
        Ok(out)
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
        assert!(matches!(r[0], AliasOutcome::Done(_)) && matches!(r[2], AliasOutcome::Done(_)));
        assert!(matches!(&r[1], AliasOutcome::Failed(e) if e.class == ErrorClass::NotFound));
    }

    #[test]
    fn null_data_marks_earlier_aliases_ran_and_later_ones_unanswered() {
        let a = answer(
            200,
            json!({"data":null,"errors":[{"message":"Argument Validation Error","path":["u1"],"extensions":{"code":"INPUT_ERROR","statusCode":400}}]}),
        );
        let r = split_answer(&a, &aliases(3)).unwrap();
        assert_eq!(r[0], AliasOutcome::RanUnanswered);
        assert!(matches!(&r[1], AliasOutcome::Failed(e) if e.class == ErrorClass::Validation));
        assert_eq!(r[2], AliasOutcome::Unanswered);
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
}
