//! Peek-locks on the orchestrator queue: exclusivity, expiry, fencing, abandon, renew.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fixtures::*;
use crate::error::ProviderError;
use crate::providers::Provider;

/// While an instance is locked, no other fetch returns it.
pub async fn instance_lock_is_exclusive(store: Arc<dyn Provider>) {
    let first = create_and_fetch(store.as_ref(), "x").await;
    store
        .enqueue_orchestrator_message(event_msg("x", "1"), None)
        .await
        .expect("enqueue");
    assert_no_item(
        store.as_ref(),
        "a locked instance must not be fetched twice",
    )
    .await;
    store
        .ack_orchestration_item(&first.lock_token, commit("x", vec![started_event()]))
        .await
        .expect("ack");
    let second = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(second.messages, vec![event_msg("x", "1")]);
}

/// A lock that expires makes its messages visible again, and the old holder can no longer
/// ack, renew or abandon (fencing): its late commit must not land.
pub async fn expired_lock_is_redelivered_and_fenced(store: Arc<dyn Provider>) {
    store
        .create_instance(record("e"), start("e"))
        .await
        .expect("create");
    let lock = Duration::from_millis(200);
    let first = fetch(store.as_ref(), lock).await;
    // This fetch can only succeed once the first lock has expired.
    let second = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(second.instance, "e");
    assert_eq!(second.messages, first.messages);
    assert_ne!(second.lock_token, first.lock_token);

    let stale = store
        .ack_orchestration_item(&first.lock_token, commit("e", vec![started_event()]))
        .await;
    assert_eq!(
        stale,
        Err(ProviderError::LockLost),
        "a stale holder must not commit"
    );
    assert!(store
        .read_history("e", 1)
        .await
        .expect("history")
        .is_empty());
    assert_eq!(
        store
            .renew_orchestration_item_lock(&first.lock_token, LONG_LOCK)
            .await,
        Err(ProviderError::LockLost)
    );
    assert_eq!(
        store
            .abandon_orchestration_item(&first.lock_token, None)
            .await,
        Err(ProviderError::LockLost)
    );
    store
        .ack_orchestration_item(&second.lock_token, commit("e", vec![started_event()]))
        .await
        .expect("the current holder commits");
}

/// Abandoning with a delay keeps the messages hidden until the delay has passed.
pub async fn abandon_with_delay_hides_messages(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "a").await;
    let delay = Duration::from_millis(300);
    let began = Instant::now();
    store
        .abandon_orchestration_item(&item.lock_token, Some(delay))
        .await
        .expect("abandon");
    assert_no_item(store.as_ref(), "abandoned with a delay").await;
    let again = fetch(store.as_ref(), LONG_LOCK).await;
    assert!(
        began.elapsed() + RESOLUTION >= delay,
        "redelivered before the abandon delay"
    );
    assert_eq!(again.messages, item.messages);
}

/// Renewing a lock keeps it past its original expiry.
pub async fn renew_extends_the_lock(store: Arc<dyn Provider>) {
    store
        .create_instance(record("r"), start("r"))
        .await
        .expect("create");
    let item = fetch(store.as_ref(), Duration::from_millis(300)).await;
    store
        .renew_orchestration_item_lock(&item.lock_token, LONG_LOCK)
        .await
        .expect("renew");
    // Wait past the original expiry via a fetch that must come back empty-handed.
    let during = store
        .fetch_orchestration_item(LONG_LOCK, Duration::from_millis(600))
        .await
        .expect("fetch");
    assert!(
        during.is_none(),
        "a renewed lock must not expire at its original time"
    );
    store
        .ack_orchestration_item(&item.lock_token, commit("r", vec![started_event()]))
        .await
        .expect("the renewed holder commits");
}

/// `attempt` counts the deliveries of an instance's messages since its last committed turn
/// that were not handed back: an expired lock counts, an abandon does not, a commit starts
/// the count again. (The runtime's poison limit for turns rests on this.)
pub async fn orchestration_deliveries_count_until_a_turn_commits(store: Arc<dyn Provider>) {
    store
        .create_instance(record("d"), start("d"))
        .await
        .expect("create");
    let first = fetch(store.as_ref(), Duration::from_millis(200)).await;
    assert_eq!(first.attempt, 1, "the first delivery");
    // Only possible once the first lock has expired: that delivery counts.
    let second = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(second.attempt, 2, "a delivery whose lock expired counts");
    store
        .abandon_orchestration_item(&second.lock_token, None)
        .await
        .expect("abandon");
    let third = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(
        third.attempt, 2,
        "a delivery handed back by abandon does not count"
    );
    store
        .ack_orchestration_item(&third.lock_token, commit("d", vec![started_event()]))
        .await
        .expect("ack");
    store
        .enqueue_orchestrator_message(event_msg("d", "1"), None)
        .await
        .expect("enqueue");
    let after = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(after.attempt, 1, "a committed turn starts the count again");
}
