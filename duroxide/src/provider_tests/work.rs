//! The worker queue: atomic completion, peek-lock, expiry, attempts.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::*;
use crate::error::ProviderError;
use crate::providers::{OrchestratorMessage, Provider};

async fn with_work_item(store: &dyn Provider, instance: &str) {
    let item = create_and_fetch(store, instance).await;
    let mut c = commit(instance, vec![started_event()]);
    c.work_items.push(work_item(instance, 2));
    store
        .ack_orchestration_item(&item.lock_token, c)
        .await
        .expect("ack");
}

fn completion(instance: &str) -> OrchestratorMessage {
    OrchestratorMessage::ActivityCompleted {
        instance: instance.to_string(),
        incarnation: 1,
        execution_id: 1,
        id: 2,
        result: "done".into(),
    }
}

/// Acking a work item removes it and enqueues its completion in the same step.
pub async fn work_item_ack_enqueues_completion_atomically(store: Arc<dyn Provider>) {
    with_work_item(store.as_ref(), "w").await;
    let lease = store
        .fetch_work_item(LONG_LOCK, PATIENCE)
        .await
        .expect("fetch")
        .expect("item");
    assert_eq!(lease.attempt, 1);
    store
        .ack_work_item(&lease.lock_token, Some(completion("w")))
        .await
        .expect("ack work");
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(item.messages, vec![completion("w")]);
    let more = store
        .fetch_work_item(LONG_LOCK, Duration::ZERO)
        .await
        .expect("fetch");
    assert!(more.is_none(), "the acked work item is gone: {more:?}");
    assert_eq!(
        store
            .ack_work_item(&lease.lock_token, Some(completion("w")))
            .await,
        Err(ProviderError::LockLost),
        "a second ack of the same lease must fail"
    );
}

/// A locked work item is not handed out twice; once its lock expires it is, with a higher
/// attempt count, and the first holder is fenced.
pub async fn work_item_lock_is_exclusive_and_expires(store: Arc<dyn Provider>) {
    with_work_item(store.as_ref(), "wl").await;
    let first = store
        .fetch_work_item(Duration::from_millis(200), PATIENCE)
        .await
        .expect("fetch")
        .expect("item");
    let again = store
        .fetch_work_item(LONG_LOCK, PATIENCE)
        .await
        .expect("fetch")
        .expect("redelivered after expiry");
    assert_eq!(again.item, first.item);
    assert_eq!(again.attempt, 2, "a redelivery counts as a new attempt");
    assert_eq!(
        store
            .ack_work_item(&first.lock_token, Some(completion("wl")))
            .await,
        Err(ProviderError::LockLost)
    );
    assert_eq!(
        store
            .renew_work_item_lock(&first.lock_token, LONG_LOCK)
            .await,
        Err(ProviderError::LockLost)
    );
    store
        .ack_work_item(&again.lock_token, None)
        .await
        .expect("current holder acks");
}

/// Abandoning a work item makes it visible again (after the delay) as a new attempt.
pub async fn work_item_abandon_counts_attempts(store: Arc<dyn Provider>) {
    with_work_item(store.as_ref(), "wa").await;
    let mut last = 0;
    for expected in 1..=3 {
        let lease = store
            .fetch_work_item(LONG_LOCK, PATIENCE)
            .await
            .expect("fetch")
            .expect("item");
        assert_eq!(lease.attempt, expected);
        last = lease.attempt;
        store
            .abandon_work_item(&lease.lock_token, Some(Duration::from_millis(50)))
            .await
            .expect("abandon");
    }
    assert_eq!(last, 3);
}
