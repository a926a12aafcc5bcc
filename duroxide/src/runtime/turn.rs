//! From a replay engine's [`TurnOutcome`] to the [`TurnCommit`] a store applies atomically:
//! actions become queue messages, the terminal status notifies the parent and cancels open
//! children, and the limits (history cap, payload size) are enforced.
//!
//! Everything here is synchronous and pure; the dispatcher does the I/O around it.

use std::collections::HashSet;

use crate::error::{AppErrorKind, ConfigErrorKind, ErrorDetails};
use crate::history::{Event, EventKind, ParentLink};
use crate::orchestration::{Action, TurnOutcome, TurnStatus};
use crate::providers::{
    ActivityWorkItem, InstanceInfo, InstanceStatus, OrchestratorMessage, QueuedMessage, TurnCommit,
};

use super::RuntimeOptions;

/// The facts about the instance a turn needs besides the engine's outcome.
pub(crate) struct TurnFacts<'a> {
    pub(crate) instance: &'a str,
    pub(crate) incarnation: u64,
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) execution_id: u64,
    pub(crate) parent: Option<ParentLink>,
    pub(crate) created_at_ms: u64,
    pub(crate) now_ms: u64,
}

/// The child instance ids a turn's actions would create, in order.
pub(crate) fn children_started(outcome: &TurnOutcome) -> Vec<String> {
    outcome
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::StartSubOrchestration { instance, .. }
            | Action::StartDetached { instance, .. } => Some(instance.clone()),
            _ => None,
        })
        .collect()
}

/// Checks a turn against the runtime's limits; returns the failure it must end in instead.
pub(crate) fn check_limits(
    outcome: &TurnOutcome,
    history_len_after: u64,
    options: &RuntimeOptions,
    name: &str,
) -> Option<ErrorDetails> {
    if history_len_after > options.max_history_events {
        return Some(ErrorDetails::configuration(
            ConfigErrorKind::HistoryCapExceeded,
            name,
            format!(
                "execution would reach {history_len_after} history events, more than the cap of {}; \
                 use continue_as_new for long-running loops",
                options.max_history_events
            ),
        ));
    }
    let too_big = |what: &str, payload: &str| {
        (payload.len() > options.max_payload_bytes).then(|| {
            ErrorDetails::configuration(
                ConfigErrorKind::PayloadTooLarge,
                name,
                format!(
                    "{what} is {} bytes, more than the limit of {} bytes",
                    payload.len(),
                    options.max_payload_bytes
                ),
            )
        })
    };
    for action in &outcome.actions {
        let found = match action {
            Action::CallActivity { name, input, .. } => {
                too_big(&format!("input of activity '{name}'"), input)
            }
            Action::StartSubOrchestration { name, input, .. }
            | Action::StartDetached { name, input, .. } => {
                too_big(&format!("input of orchestration '{name}'"), input)
            }
            Action::ContinueAsNew { input, .. } => too_big("continue-as-new input", input),
            Action::CreateTimer { .. } | Action::WaitExternal { .. } => None,
        };
        if found.is_some() {
            return found;
        }
    }
    match &outcome.status {
        TurnStatus::Completed { output } => too_big("orchestration output", output),
        TurnStatus::ContinuedAsNew { input, .. } => too_big("continue-as-new input", input),
        _ => None,
    }
}

/// Replaces a turn by a failure: nothing it decided is carried out, and its history is the
/// recorded one plus a single `OrchestrationFailed` (after `OrchestrationStarted` when the
/// turn started the execution).
pub(crate) fn fail_outcome(
    mut outcome: TurnOutcome,
    base_len: u64,
    details: ErrorDetails,
    open_children_before: Vec<String>,
    now_ms: u64,
) -> TurnOutcome {
    let started = outcome.new_events.drain(..).find(|e| {
        matches!(e.kind, EventKind::OrchestrationStarted { .. }) && e.event_id == base_len + 1
    });
    let mut next_id = base_len + 1;
    let mut new_events = Vec::new();
    if let Some(started) = started {
        new_events.push(started);
        next_id += 1;
    }
    new_events.push(Event {
        event_id: next_id,
        timestamp_ms: now_ms,
        kind: EventKind::OrchestrationFailed {
            details: details.clone(),
        },
    });
    TurnOutcome {
        new_events,
        actions: Vec::new(),
        status: TurnStatus::Failed { details },
        rejected: outcome.rejected,
        open_children: open_children_before,
    }
}

/// Builds the commit of a turn. `existing` holds the child instance ids that already exist
/// (checked by the caller): a sub-orchestration to one of them fails back to this instance,
/// a detached start to one of them is skipped.
pub(crate) fn plan_commit(
    facts: &TurnFacts<'_>,
    outcome: TurnOutcome,
    history_len: u64,
    existing: &HashSet<String>,
) -> TurnCommit {
    let mut messages = Vec::new();
    let mut work_items = Vec::new();
    let mut new_instances = Vec::new();
    let mut created: HashSet<String> = HashSet::new();
    let now = facts.now_ms;
    let instance = facts.instance.to_string();
    let exec = facts.execution_id;

    for action in outcome.actions {
        match action {
            Action::CallActivity { id, name, input } => work_items.push(ActivityWorkItem {
                instance: instance.clone(),
                incarnation: facts.incarnation,
                execution_id: exec,
                id,
                name,
                input,
                orchestration_name: facts.name.to_string(),
                orchestration_version: facts.version.to_string(),
            }),
            Action::CreateTimer { id, fire_at_ms } => messages.push(QueuedMessage {
                message: OrchestratorMessage::TimerFired {
                    instance: instance.clone(),
                    incarnation: facts.incarnation,
                    execution_id: exec,
                    id,
                    fire_at_ms,
                },
                visible_at_ms: fire_at_ms,
            }),
            Action::WaitExternal { .. } | Action::ContinueAsNew { .. } => {}
            Action::StartSubOrchestration {
                id,
                name,
                version,
                instance: child,
                input,
            } => {
                if existing.contains(&child) || created.contains(&child) {
                    messages.push(now_msg(OrchestratorMessage::SubOrchestrationFailed {
                        instance: instance.clone(),
                        incarnation: facts.incarnation,
                        execution_id: exec,
                        id,
                        details: ErrorDetails::Application {
                            kind: AppErrorKind::SubOrchestrationFailed,
                            message: format!("instance '{child}' already exists"),
                            retryable: false,
                        },
                    }));
                    continue;
                }
                let parent = ParentLink {
                    instance: instance.clone(),
                    execution_id: exec,
                    event_id: id,
                    incarnation: facts.incarnation,
                };
                created.insert(child.clone());
                new_instances.push(pending_record(&child, &name, Some(parent.clone()), now));
                messages.push(now_msg(OrchestratorMessage::StartOrchestration {
                    instance: child,
                    name,
                    version,
                    input,
                    parent: Some(parent),
                }));
            }
            Action::StartDetached {
                name,
                version,
                instance: child,
                input,
                ..
            } => {
                if existing.contains(&child) || created.contains(&child) {
                    tracing::warn!(
                        target: "duroxide::runtime",
                        instance_id = %instance,
                        child = %child,
                        "detached orchestration not started: the instance already exists"
                    );
                    continue;
                }
                created.insert(child.clone());
                new_instances.push(pending_record(&child, &name, None, now));
                messages.push(now_msg(OrchestratorMessage::StartOrchestration {
                    instance: child,
                    name,
                    version,
                    input,
                    parent: None,
                }));
            }
        }
    }

    let status = match &outcome.status {
        TurnStatus::Running | TurnStatus::ContinuedAsNew { .. } => InstanceStatus::Running,
        TurnStatus::Completed { output } => InstanceStatus::Completed {
            output: output.clone(),
        },
        TurnStatus::Failed { details } => InstanceStatus::Failed {
            details: details.clone(),
        },
    };

    // Tell the parent, and stop the children that can no longer report to anyone.
    if let Some(parent) = &facts.parent {
        let to_parent = match &outcome.status {
            TurnStatus::Completed { output } => {
                Some(OrchestratorMessage::SubOrchestrationCompleted {
                    instance: parent.instance.clone(),
                    incarnation: parent.incarnation,
                    execution_id: parent.execution_id,
                    id: parent.event_id,
                    result: output.clone(),
                })
            }
            TurnStatus::Failed { details } => Some(OrchestratorMessage::SubOrchestrationFailed {
                instance: parent.instance.clone(),
                incarnation: parent.incarnation,
                execution_id: parent.execution_id,
                id: parent.event_id,
                details: details.clone(),
            }),
            TurnStatus::Running | TurnStatus::ContinuedAsNew { .. } => None,
        };
        messages.extend(to_parent.map(now_msg));
    }
    if outcome.status.is_terminal() {
        for child in outcome.open_children {
            messages.push(now_msg(OrchestratorMessage::CancelInstance {
                instance: child,
                reason: format!("parent '{instance}' ended"),
            }));
        }
    }
    if let TurnStatus::ContinuedAsNew {
        input,
        version,
        carried_events,
    } = outcome.status
    {
        messages.push(now_msg(OrchestratorMessage::ContinueAsNew {
            instance: instance.clone(),
            name: facts.name.to_string(),
            version,
            input,
            from_execution: exec,
            carried_events,
        }));
    }

    TurnCommit {
        execution_id: exec,
        history: outcome.new_events,
        instance: Some(InstanceInfo {
            instance,
            incarnation: facts.incarnation,
            name: facts.name.to_string(),
            version: Some(facts.version.to_string()),
            status,
            execution_id: exec,
            history_len,
            parent: facts.parent.clone(),
            created_at_ms: facts.created_at_ms,
            updated_at_ms: now,
        }),
        new_instances,
        orchestrator_messages: messages,
        work_items,
    }
}

fn now_msg(message: OrchestratorMessage) -> QueuedMessage {
    QueuedMessage {
        message,
        visible_at_ms: 0,
    }
}

/// The record of an instance that exists but has not run its first turn.
pub(crate) fn pending_record(
    instance: &str,
    name: &str,
    parent: Option<ParentLink>,
    now_ms: u64,
) -> InstanceInfo {
    InstanceInfo {
        instance: instance.to_string(),
        incarnation: crate::providers::new_incarnation(),
        name: name.to_string(),
        version: None,
        status: InstanceStatus::Pending,
        execution_id: 0,
        history_len: 0,
        parent,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    }
}
