//! Reads that never show a commit before it is durable.
//!
//! The committer applies a batch to sled's trees and then flushes it. Between the two, a
//! plain tree read already sees the batch: a client could read `Completed` (or miss a deleted
//! instance) and a `kill -9` in that window would undo what it saw. Found by the torture
//! probe (`duroxide-torture probe`): without this barrier 8 to 10 of 150 debug-build runs
//! were undone.
//!
//! The committer numbers its batches. It announces a batch ([`ReadBarrier::begin`]) before
//! touching the trees and publishes it ([`ReadBarrier::end`]) once it is flushed and its
//! in-memory effects (queue index, released locks, watchers) are applied. A reader reads
//! first and then calls [`ReadBarrier::settle`], which waits until every batch announced so
//! far is published. Whatever the read saw was written by a batch announced before the read
//! returned, so after `settle` it is durable. When the store is idle `settle` returns at once;
//! under load it waits for at most the flush in progress.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// Batch counters shared by the committer (writer) and the store's readers.
#[derive(Debug)]
pub(super) struct ReadBarrier {
    announced: AtomicU64,
    published: watch::Sender<u64>,
}

impl ReadBarrier {
    pub(super) fn new() -> Self {
        ReadBarrier {
            announced: AtomicU64::new(0),
            published: watch::Sender::new(0),
        }
    }

    /// Called by the committer before it applies a batch; returns the batch's number.
    pub(super) fn begin(&self) -> u64 {
        self.announced.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Called by the committer when batch `n` is durable and its effects are applied, or when
    /// it failed and was rolled back (either way readers must not wait for it any longer).
    pub(super) fn end(&self, n: u64) {
        self.published.send_replace(n);
    }

    /// Waits until every batch announced so far is published. Call after reading.
    pub(super) async fn settle(&self) {
        let target = self.announced.load(Ordering::SeqCst);
        if *self.published.borrow() >= target {
            return;
        }
        let mut rx = self.published.subscribe();
        // The sender lives as long as the store, which outlives this borrow.
        let _ = rx.wait_for(|published| *published >= target).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::ReadBarrier;

    #[tokio::test]
    async fn settle_waits_for_the_batch_in_flight_only() {
        let barrier = Arc::new(ReadBarrier::new());
        barrier.settle().await; // idle: returns at once
        let first = barrier.begin();
        let waiter = tokio::spawn({
            let barrier = Arc::clone(&barrier);
            async move { barrier.settle().await }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "settle returned before the batch was published"
        );
        barrier.end(first);
        waiter.await.unwrap();
        // A batch announced after a read began does not hold that read back forever.
        let second = barrier.begin();
        barrier.end(second);
        barrier.settle().await;
    }
}
