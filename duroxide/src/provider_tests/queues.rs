//! Orchestrator queue: creation, order, visibility, wake-ups.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fixtures::*;
use crate::error::ProviderError;
use crate::providers::{InstanceStatus, Provider};

/// A created instance is fetchable with its start message and its pending record.
pub async fn create_then_fetch_delivers_start(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "i1").await;
    assert_eq!(item.instance, "i1");
    assert_eq!(item.messages, vec![start("i1")]);
    let info = item.info.expect("the record comes with the item");
    assert_eq!(info.status, InstanceStatus::Pending);
    assert_eq!(
        store.get_instance("i1").await.expect("get_instance"),
        Some(info)
    );
}

/// Creating an instance that exists fails with `InstanceAlreadyExists` and changes nothing.
pub async fn create_existing_instance_is_refused(store: Arc<dyn Provider>) {
    store
        .create_instance(record("dup"), start("dup"))
        .await
        .expect("first create");
    let second = store
        .create_instance(record("dup"), event_msg("dup", "x"))
        .await;
    assert_eq!(
        second,
        Err(ProviderError::InstanceAlreadyExists("dup".into()))
    );
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(
        item.messages,
        vec![start("dup")],
        "the refused create must not enqueue"
    );
}

/// An instance's messages are delivered together, in the order they were enqueued.
pub async fn messages_of_an_instance_arrive_in_enqueue_order(store: Arc<dyn Provider>) {
    store
        .create_instance(record("ord"), start("ord"))
        .await
        .expect("create");
    let mut expected = vec![start("ord")];
    for i in 0..50 {
        let m = event_msg("ord", &i.to_string());
        store
            .enqueue_orchestrator_message(m.clone(), None)
            .await
            .expect("enqueue");
        expected.push(m);
    }
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(item.messages, expected);
}

/// A message enqueued with a delay (how timers work) is invisible until it is due, then
/// delivered without further prompting.
pub async fn delayed_message_is_invisible_until_due(store: Arc<dyn Provider>) {
    let delay = Duration::from_millis(300);
    let began = Instant::now();
    store
        .enqueue_orchestrator_message(event_msg("later", "t"), Some(delay))
        .await
        .expect("enqueue");
    assert_no_item(
        store.as_ref(),
        "a delayed message must not be visible early",
    )
    .await;
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    assert!(
        began.elapsed() + RESOLUTION >= delay,
        "delivered before it was due"
    );
    assert_eq!(item.messages, vec![event_msg("later", "t")]);
}

/// A fetch waiting for work returns as soon as work is enqueued (not at the end of its wait).
pub async fn fetch_wakes_when_work_is_enqueued(store: Arc<dyn Provider>) {
    let waiting = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let began = Instant::now();
            let item = store
                .fetch_orchestration_item(LONG_LOCK, Duration::from_secs(60))
                .await
                .expect("fetch");
            (item, began.elapsed())
        })
    };
    tokio::task::yield_now().await;
    store
        .enqueue_orchestrator_message(event_msg("wake", "now"), None)
        .await
        .expect("enqueue");
    let (item, waited) = waiting.await.expect("fetch task");
    let item = item.expect("the enqueued message is delivered to the waiting fetch");
    assert_eq!(item.messages, vec![event_msg("wake", "now")]);
    assert!(
        waited < PATIENCE,
        "fetch was not woken by the enqueue (waited {waited:?})"
    );
}
