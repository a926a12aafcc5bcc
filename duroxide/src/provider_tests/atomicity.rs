//! A turn commits history, messages, work items, records and the ack of its consumed
//! messages together, or not at all.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::*;
use crate::error::ProviderError;
use crate::history::EventKind;
use crate::providers::{InstanceStatus, OrchestratorMessage, Provider};

/// After a successful ack, everything the turn wrote is visible and its messages are gone.
pub async fn ack_commits_history_messages_and_work_atomically(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "p").await;
    let mut c = commit(
        "p",
        vec![
            started_event(),
            event(
                2,
                EventKind::ActivityScheduled {
                    name: "Act".into(),
                    input: "x".into(),
                },
            ),
        ],
    );
    c.work_items.push(work_item("p", 2));
    c.orchestrator_messages.push(now(event_msg("p", "to-self")));
    c.orchestrator_messages.push(now(start("child")));
    c.new_instances.push(record("child"));
    store
        .ack_orchestration_item(&item.lock_token, c.clone())
        .await
        .expect("ack");

    assert_eq!(
        store.read_history("p", 1).await.expect("history"),
        c.history
    );
    let info = store.get_instance("p").await.expect("get").expect("record");
    assert_eq!(info.status, InstanceStatus::Running);
    assert_eq!(info.history_len, 2);
    assert!(
        store.get_instance("child").await.expect("get").is_some(),
        "new instance record"
    );

    // The consumed start is gone; only the turn's own messages remain, one item per instance.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let next = fetch(store.as_ref(), LONG_LOCK).await;
        seen.push((next.instance.clone(), next.messages.clone()));
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            ("child".to_string(), vec![start("child")]),
            ("p".to_string(), vec![event_msg("p", "to-self")]),
        ]
    );
    let lease = store
        .fetch_work_item(LONG_LOCK, PATIENCE)
        .await
        .expect("fetch work")
        .expect("the turn's work item");
    assert_eq!(lease.item, work_item("p", 2));
}

/// An ack that cannot commit (here: it would create an instance that exists) writes
/// nothing: no history, no record change, no messages, no work; the consumed messages are
/// delivered again.
pub async fn failed_ack_changes_nothing(store: Arc<dyn Provider>) {
    store
        .create_instance(record("taken"), start("taken"))
        .await
        .expect("create taken");
    store
        .create_instance(record("q"), start("q"))
        .await
        .expect("create q");
    let item = loop {
        let item = fetch(store.as_ref(), LONG_LOCK).await;
        if item.instance == "q" {
            break item;
        }
        store
            .abandon_orchestration_item(&item.lock_token, Some(Duration::from_secs(60)))
            .await
            .expect("abandon other");
    };
    let before = store.get_instance("q").await.expect("get");
    let mut c = commit("q", vec![started_event()]);
    c.new_instances.push(record("taken"));
    c.orchestrator_messages.push(now(start("taken")));
    c.work_items.push(work_item("q", 2));
    let result = store.ack_orchestration_item(&item.lock_token, c).await;
    assert_eq!(
        result,
        Err(ProviderError::InstanceAlreadyExists("taken".into()))
    );

    assert!(
        store
            .read_history("q", 1)
            .await
            .expect("history")
            .is_empty(),
        "no history written"
    );
    assert_eq!(
        store.get_instance("q").await.expect("get"),
        before,
        "record unchanged"
    );
    let work = store
        .fetch_work_item(LONG_LOCK, Duration::ZERO)
        .await
        .expect("fetch work");
    assert!(work.is_none(), "no work item written: {work:?}");
    let again = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(again.instance, "q", "the consumed start is delivered again");
    assert_eq!(again.messages, vec![start("q")]);
}

/// A message that arrives for an instance while its turn runs is not consumed by that turn.
pub async fn messages_arriving_during_a_turn_wait_for_the_next(store: Arc<dyn Provider>) {
    let item = create_and_fetch(store.as_ref(), "m").await;
    let late = OrchestratorMessage::CancelInstance {
        instance: "m".into(),
        reason: "late".into(),
    };
    store
        .enqueue_orchestrator_message(late.clone(), None)
        .await
        .expect("enqueue");
    assert_no_item(store.as_ref(), "the instance is locked by the running turn").await;
    store
        .ack_orchestration_item(&item.lock_token, commit("m", vec![started_event()]))
        .await
        .expect("ack");
    let next = fetch(store.as_ref(), LONG_LOCK).await;
    assert_eq!(next.messages, vec![late]);
}
