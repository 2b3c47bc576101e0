//! Reading a webhook body under two limits: the per-request size and the
//! bytes all requests together may hold before their signature is checked.
//! The shared budget is a semaphore counted in bytes; a request takes from
//! it as frames arrive (or all at once when `Content-Length` announces the
//! size) and gives it back when its bytes are dropped, so the memory held
//! for unverified bodies is bounded whatever the number of clients.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Body bytes that may be held before verification, shared by all requests.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    capacity: usize,
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the per-request limit (413).
    TooLarge,
    /// The shared budget is spent (503 + `Retry-After`).
    Busy,
    /// The client stopped sending or the connection broke (400).
    Broken(String),
}

/// A read body and the share of the budget it holds until dropped.
#[derive(Debug)]
pub struct HeldBody {
    /// The bytes.
    pub bytes: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    /// A budget of `capacity` bytes (at most `u32::MAX`, the semaphore's
    /// unit of acquisition; larger values are clamped).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Bytes currently held by requests.
    pub fn in_use(&self) -> usize {
        self.capacity - self.bytes.available_permits()
    }

    fn take(&self, n: usize) -> Result<Option<OwnedSemaphorePermit>, BodyError> {
        if n == 0 {
            return Ok(None);
        }
        let n = u32::try_from(n).map_err(|_| BodyError::Busy)?;
        self.bytes
            .clone()
            .try_acquire_many_owned(n)
            .map(Some)
            .map_err(|_| BodyError::Busy)
    }

    /// Read `body` whole. `announced` is the `Content-Length`, if any: a
    /// body announced too large is refused without reading a byte, and an
    /// announced size is reserved up front so a request either gets all the
    /// room it needs or none.
    pub async fn read(
        &self,
        body: Body,
        announced: Option<u64>,
        max: usize,
    ) -> Result<HeldBody, BodyError> {
        let mut permit = match announced {
            Some(n) if n > max as u64 => return Err(BodyError::TooLarge),
            Some(n) => self.take(n as usize)?,
            None => None,
        };
        let reserved = announced.map_or(0, |n| n as usize);
        let mut buf: Vec<u8> = Vec::with_capacity(reserved);
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                if is_length_limit(&e) {
                    BodyError::TooLarge
                } else {
                    BodyError::Broken(e.to_string())
                }
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let after = buf.len() + data.len();
            if after > max {
                return Err(BodyError::TooLarge);
            }
            if after > reserved {
                let more = self.take(after - buf.len().max(reserved))?;
                match (&mut permit, more) {
                    (Some(p), Some(m)) => p.merge(m),
                    (slot @ None, m) => *slot = m,
                    (Some(_), None) => {}
                }
            }
            buf.extend_from_slice(&data);
        }
        Ok(HeldBody {
            bytes: Bytes::from(buf),
            _permit: permit,
        })
    }
}

/// Whether a body error is tower-http's size limit (a body without
/// `Content-Length` that grew past it).
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: Vec<&'static [u8]>) -> Body {
        Body::from_stream(futures_util::stream::iter(
            parts
                .into_iter()
                .map(|b| Ok::<_, std::io::Error>(Bytes::from_static(b))),
        ))
    }

    #[tokio::test]
    async fn announced_sizes_are_refused_or_reserved_up_front() {
        let budget = BodyBudget::new(100);
        assert_eq!(
            budget
                .read(Body::from("x"), Some(5000), 1000)
                .await
                .unwrap_err(),
            BodyError::TooLarge
        );
        let held = budget
            .read(Body::from(vec![b'a'; 60]), Some(60), 1000)
            .await
            .unwrap();
        assert_eq!(budget.in_use(), 60);
        assert_eq!(
            budget
                .read(Body::from(vec![b'b'; 50]), Some(50), 1000)
                .await
                .unwrap_err(),
            BodyError::Busy,
            "the budget is shared"
        );
        drop(held);
        assert_eq!(budget.in_use(), 0, "dropping the body gives the bytes back");
    }

    #[tokio::test]
    async fn unannounced_bodies_take_from_the_budget_as_they_arrive() {
        let budget = BodyBudget::new(10);
        let held = budget
            .read(chunked(vec![b"abc", b"def"]), None, 100)
            .await
            .unwrap();
        assert_eq!(&held.bytes[..], b"abcdef");
        assert_eq!(budget.in_use(), 6);
        assert_eq!(
            budget
                .read(chunked(vec![b"12", b"345"]), None, 100)
                .await
                .unwrap_err(),
            BodyError::Busy
        );
        assert_eq!(budget.in_use(), 6, "a refused read holds nothing");
        drop(held);
        assert_eq!(
            budget
                .read(chunked(vec![b"0123456789", b"x"]), None, 10)
                .await
                .unwrap_err(),
            BodyError::TooLarge
        );
        assert_eq!(budget.in_use(), 0);
    }
}
