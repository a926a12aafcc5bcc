//! Small builders shared by the conformance checks.

use std::time::Duration;

use crate::history::{Event, EventKind};
use crate::providers::{
    ActivityWorkItem, InstanceInfo, InstanceStatus, OrchestrationItem, OrchestratorMessage,
    Provider, QueuedMessage, TurnCommit,
};

/// Lock timeout used where a check does not care about expiry.
pub(crate) const LONG_LOCK: Duration = Duration::from_secs(30);
/// Visibility times have millisecond resolution: "not before t" may mean up to this much
/// before `t` as measured by a finer clock.
pub(crate) const RESOLUTION: Duration = Duration::from_millis(1);
/// How long a check is willing to wait for something that must happen.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

pub(crate) fn record(instance: &str) -> InstanceInfo {
    InstanceInfo {
        instance: instance.to_string(),
        incarnation: 1,
        name: "Orch".into(),
        version: None,
        status: InstanceStatus::Pending,
        execution_id: 0,
        history_len: 0,
        parent: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

pub(crate) fn start(instance: &str) -> OrchestratorMessage {
    OrchestratorMessage::StartOrchestration {
        instance: instance.to_string(),
        name: "Orch".into(),
        version: None,
        input: "in".into(),
        parent: None,
    }
}

pub(crate) fn event_msg(instance: &str, data: &str) -> OrchestratorMessage {
    OrchestratorMessage::ExternalEvent {
        instance: instance.to_string(),
        name: "E".into(),
        data: data.to_string(),
    }
}

pub(crate) fn event(id: u64, kind: EventKind) -> Event {
    Event {
        event_id: id,
        timestamp_ms: 1,
        kind,
    }
}

pub(crate) fn started_event() -> Event {
    event(
        1,
        EventKind::OrchestrationStarted {
            name: "Orch".into(),
            version: "1.0.0".into(),
            input: "in".into(),
            parent: None,
        },
    )
}

pub(crate) fn work_item(instance: &str, id: u64) -> ActivityWorkItem {
    ActivityWorkItem {
        instance: instance.to_string(),
        incarnation: 1,
        execution_id: 1,
        id,
        name: "Act".into(),
        input: format!("input-{id}"),
        orchestration_name: "Orch".into(),
        orchestration_version: "1.0.0".into(),
    }
}

/// A commit that writes `history` to execution 1 and marks the instance running.
pub(crate) fn commit(instance: &str, history: Vec<Event>) -> TurnCommit {
    let mut info = record(instance);
    info.status = InstanceStatus::Running;
    info.execution_id = 1;
    info.history_len = history.len() as u64;
    info.version = Some("1.0.0".into());
    TurnCommit {
        execution_id: 1,
        history,
        instance: Some(info),
        new_instances: Vec::new(),
        orchestrator_messages: Vec::new(),
        work_items: Vec::new(),
    }
}

pub(crate) fn now(message: OrchestratorMessage) -> QueuedMessage {
    QueuedMessage {
        message,
        visible_at_ms: 0,
    }
}

/// Creates `instance` and fetches its first item (the start), panicking otherwise.
pub(crate) async fn create_and_fetch(store: &dyn Provider, instance: &str) -> OrchestrationItem {
    store
        .create_instance(record(instance), start(instance))
        .await
        .expect("create_instance");
    fetch(store, LONG_LOCK).await
}

/// Fetches an orchestration item, panicking if none arrives within [`PATIENCE`].
pub(crate) async fn fetch(store: &dyn Provider, lock: Duration) -> OrchestrationItem {
    store
        .fetch_orchestration_item(lock, PATIENCE)
        .await
        .expect("fetch_orchestration_item")
        .expect("an orchestration item should be visible")
}

/// Asserts that no orchestration item is visible right now.
pub(crate) async fn assert_no_item(store: &dyn Provider, why: &str) {
    let item = store
        .fetch_orchestration_item(LONG_LOCK, Duration::ZERO)
        .await
        .expect("fetch_orchestration_item");
    assert!(item.is_none(), "{why}: got {item:?}");
}
