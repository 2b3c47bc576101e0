//! A shared, bounded, oldest-first log: the simulators' instruments keep
//! what happened for tests to inspect afterwards without growing for ever
//! in a long soak or demo.

use std::collections::VecDeque;
use std::sync::Mutex;

/// At most `cap` items; pushing beyond drops the oldest.
#[derive(Debug)]
pub struct Bounded<T> {
    cap: usize,
    items: Mutex<VecDeque<T>>,
}

impl<T: Clone> Bounded<T> {
    /// An empty log keeping at most `cap` items.
    pub fn new(cap: usize) -> Self {
        Bounded {
            cap,
            items: Mutex::new(VecDeque::new()),
        }
    }

    /// Append the item `make` builds; it runs under the lock, so anything
    /// it numbers is numbered in log order.
    pub fn push_with(&self, make: impl FnOnce() -> T) {
        let mut items = self
            .items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if items.len() >= self.cap {
            items.pop_front();
        }
        items.push_back(make());
    }

    /// Every item kept, oldest first.
    pub fn snapshot(&self) -> Vec<T> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}
