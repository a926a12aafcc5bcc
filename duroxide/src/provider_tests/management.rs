//! Reads across executions, deletion and listing.

use std::sync::Arc;

use super::fixtures::*;
use crate::history::EventKind;
use crate::providers::{InstanceStatus, Provider};

/// Each execution's history is stored and read separately.
pub async fn executions_are_kept_apart(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "ex").await;
    let mut first = commit(
        "ex",
        vec![
            started_event(),
            event(
                2,
                EventKind::OrchestrationContinuedAsNew { input: "2".into() },
            ),
        ],
    );
    first
        .orchestrator_messages
        .push(now(event_msg("ex", "next")));
    store
        .ack_orchestration_item(&item.lock_token, first.clone())
        .await
        .expect("ack 1");
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    let mut second = commit("ex", vec![started_event()]);
    second.execution_id = 2;
    if let Some(info) = second.instance.as_mut() {
        info.execution_id = 2;
    }
    store
        .ack_orchestration_item(&item.lock_token, second.clone())
        .await
        .expect("ack 2");

    assert_eq!(store.list_executions("ex").await.expect("list"), vec![1, 2]);
    assert_eq!(
        store.read_history("ex", 1).await.expect("read 1"),
        first.history
    );
    assert_eq!(
        store.read_history("ex", 2).await.expect("read 2"),
        second.history
    );
    assert!(store
        .read_history("ex", 3)
        .await
        .expect("read 3")
        .is_empty());
    assert_eq!(
        store
            .get_instance("ex")
            .await
            .expect("get")
            .expect("record")
            .execution_id,
        2
    );
}

/// Deleting an instance removes its record, every execution's history and its messages.
pub async fn delete_instance_removes_record_history_and_messages(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "del").await;
    store
        .ack_orchestration_item(&item.lock_token, commit("del", vec![started_event()]))
        .await
        .expect("ack");
    store
        .enqueue_orchestrator_message(event_msg("del", "pending"), None)
        .await
        .expect("enqueue");
    store
        .create_instance(record("keep"), start("keep"))
        .await
        .expect("create keep");
    // Make sure "del" is not locked by anyone.
    store.delete_instance("del").await.expect("delete");

    assert_eq!(store.get_instance("del").await.expect("get"), None);
    assert!(store.list_executions("del").await.expect("list").is_empty());
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(
        item.instance, "keep",
        "the deleted instance's messages are gone"
    );
    assert_no_item(store.as_ref(), "nothing of the deleted instance remains").await;
}

/// Deleting some executions leaves the others and the record alone.
pub async fn delete_executions_keeps_others(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "pr").await;
    let mut c = commit("pr", vec![started_event()]);
    c.orchestrator_messages.push(now(event_msg("pr", "again")));
    store
        .ack_orchestration_item(&item.lock_token, c)
        .await
        .expect("ack 1");
    let item = fetch(store.as_ref(), LONG_LOCK).await;
    let mut second = commit("pr", vec![started_event()]);
    second.execution_id = 2;
    if let Some(info) = second.instance.as_mut() {
        info.execution_id = 2;
        info.status = InstanceStatus::Running;
    }
    store
        .ack_orchestration_item(&item.lock_token, second)
        .await
        .expect("ack 2");
    store.delete_executions("pr", &[1]).await.expect("delete 1");
    assert_eq!(store.list_executions("pr").await.expect("list"), vec![2]);
    assert!(store.get_instance("pr").await.expect("get").is_some());
}

/// `list_instances` returns every instance id, sorted.
pub async fn list_instances_is_sorted(store: Arc<dyn Provider>) {
    for id in ["b", "a", "c d", "ü"] {
        store
            .create_instance(record(id), start(id))
            .await
            .expect("create");
    }
    let mut expected = vec!["a", "b", "c d", "ü"];
    expected.sort();
    assert_eq!(store.list_instances().await.expect("list"), expected);
}
