//! Decisions: what orchestration code asks for, before it becomes a history event.
//!
//! On replay each decision must match the recorded scheduling event at the same position;
//! [`Decision::matches`] is that check and [`Decision::describe`] words a mismatch.

use crate::history::EventKind;

use super::action::Action;

/// Something the code scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Activity {
        name: String,
        input: String,
    },
    Timer {
        fire_at_ms: u64,
    },
    Wait {
        name: String,
    },
    SubOrchestration {
        name: String,
        version: Option<String>,
        /// `None`: derived from the parent and the event id (see [`child_instance_id`]).
        instance: Option<String>,
        input: String,
    },
    Detached {
        name: String,
        version: Option<String>,
        instance: String,
        input: String,
    },
}

/// The instance id given to a sub-orchestration scheduled without an explicit id. It is a
/// pure function of the parent and the scheduling event, so replay derives the same id.
pub(crate) fn child_instance_id(parent: &str, execution_id: u64, event_id: u64) -> String {
    format!("{parent}::sub::{execution_id}::{event_id}")
}

impl Decision {
    /// The history event recording this decision as event `id`.
    pub(crate) fn to_event(&self, parent: &str, execution_id: u64, id: u64) -> EventKind {
        match self.clone() {
            Decision::Activity { name, input } => EventKind::ActivityScheduled { name, input },
            Decision::Timer { fire_at_ms } => EventKind::TimerCreated { fire_at_ms },
            Decision::Wait { name } => EventKind::ExternalSubscribed { name },
            Decision::SubOrchestration {
                name,
                version,
                instance,
                input,
            } => EventKind::SubOrchestrationScheduled {
                name,
                version,
                instance: instance.unwrap_or_else(|| child_instance_id(parent, execution_id, id)),
                input,
            },
            Decision::Detached {
                name,
                version,
                instance,
                input,
            } => EventKind::OrchestrationChained {
                name,
                version,
                instance,
                input,
            },
        }
    }

    /// The action the runtime carries out for a recorded decision event.
    pub(crate) fn action_for(id: u64, event: &EventKind) -> Option<Action> {
        Some(match event.clone() {
            EventKind::ActivityScheduled { name, input } => {
                Action::CallActivity { id, name, input }
            }
            EventKind::TimerCreated { fire_at_ms } => Action::CreateTimer { id, fire_at_ms },
            EventKind::ExternalSubscribed { name } => Action::WaitExternal { id, name },
            EventKind::SubOrchestrationScheduled {
                name,
                version,
                instance,
                input,
            } => Action::StartSubOrchestration {
                id,
                name,
                version,
                instance,
                input,
            },
            EventKind::OrchestrationChained {
                name,
                version,
                instance,
                input,
            } => Action::StartDetached {
                id,
                name,
                version,
                instance,
                input,
            },
            _ => return None,
        })
    }

    /// Whether the recorded event `recorded` (event `id`) is this decision. Timers match any
    /// timer (their due time is taken from history); everything else must agree on name and
    /// payload, so a changed input is caught as nondeterminism.
    pub(crate) fn matches(
        &self,
        parent: &str,
        execution_id: u64,
        id: u64,
        recorded: &EventKind,
    ) -> bool {
        match (self, recorded) {
            (Decision::Timer { .. }, EventKind::TimerCreated { .. }) => true,
            (Decision::SubOrchestration { .. }, EventKind::SubOrchestrationScheduled { .. })
            | (Decision::Activity { .. }, EventKind::ActivityScheduled { .. })
            | (Decision::Wait { .. }, EventKind::ExternalSubscribed { .. })
            | (Decision::Detached { .. }, EventKind::OrchestrationChained { .. }) => {
                &self.to_event(parent, execution_id, id) == recorded
            }
            _ => false,
        }
    }

    /// A short description for nondeterminism messages, e.g. `activity 'Charge'`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Decision::Activity { name, .. } => format!("activity '{name}'"),
            Decision::Timer { .. } => "a timer".to_string(),
            Decision::Wait { name } => format!("a wait for event '{name}'"),
            Decision::SubOrchestration { name, .. } => format!("sub-orchestration '{name}'"),
            Decision::Detached { name, .. } => format!("detached orchestration '{name}'"),
        }
    }
}

/// Words a recorded decision event the same way as [`Decision::describe`].
pub(crate) fn describe_event(kind: &EventKind) -> String {
    match kind {
        EventKind::ActivityScheduled { name, .. } => format!("activity '{name}'"),
        EventKind::TimerCreated { .. } => "a timer".to_string(),
        EventKind::ExternalSubscribed { name } => format!("a wait for event '{name}'"),
        EventKind::SubOrchestrationScheduled { name, .. } => format!("sub-orchestration '{name}'"),
        EventKind::OrchestrationChained { name, .. } => format!("detached orchestration '{name}'"),
        other => other.name().to_string(),
    }
}
