//! What travels through a store's queues, and what one orchestration turn commits.

use serde::{Deserialize, Serialize};

use crate::error::ErrorDetails;
use crate::history::{Event, ParentLink};

/// A message on the orchestrator queue, addressed to one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrchestratorMessage {
    /// Start the instance's first execution.
    StartOrchestration {
        /// Target instance.
        instance: String,
        /// Orchestration name.
        name: String,
        /// Requested version (`None`: latest registered at the first turn).
        version: Option<String>,
        /// Input payload.
        input: String,
        /// Set for sub-orchestrations.
        parent: Option<ParentLink>,
    },
    /// Start the next execution after a continue-as-new.
    ContinueAsNew {
        /// Target instance.
        instance: String,
        /// Orchestration name.
        name: String,
        /// Requested version (`None`: latest registered).
        version: Option<String>,
        /// Input of the new execution.
        input: String,
        /// The execution that continued.
        from_execution: u64,
        /// External events the previous execution had not consumed, in arrival order.
        carried_events: Vec<(String, String)>,
    },
    /// An activity returned `Ok`.
    ActivityCompleted {
        /// Target instance.
        instance: String,
        /// The incarnation of the instance the message is for.
        incarnation: u64,
        /// Execution that scheduled it.
        execution_id: u64,
        /// Its `ActivityScheduled` event id.
        id: u64,
        /// Output payload.
        result: String,
    },
    /// An activity failed.
    ActivityFailed {
        /// Target instance.
        instance: String,
        /// The incarnation of the instance the message is for.
        incarnation: u64,
        /// Execution that scheduled it.
        execution_id: u64,
        /// Its `ActivityScheduled` event id.
        id: u64,
        /// Why.
        details: ErrorDetails,
    },
    /// A durable timer is due (enqueued with a future visibility time).
    TimerFired {
        /// Target instance.
        instance: String,
        /// The incarnation of the instance the message is for.
        incarnation: u64,
        /// Execution that created it.
        execution_id: u64,
        /// Its `TimerCreated` event id.
        id: u64,
        /// When it was due.
        fire_at_ms: u64,
    },
    /// An external event was raised.
    ExternalEvent {
        /// Target instance.
        instance: String,
        /// Event name.
        name: String,
        /// Payload.
        data: String,
    },
    /// A sub-orchestration completed (addressed to the parent).
    SubOrchestrationCompleted {
        /// The parent instance.
        instance: String,
        /// The incarnation of the instance the message is for.
        incarnation: u64,
        /// The parent execution that scheduled it.
        execution_id: u64,
        /// The parent's `SubOrchestrationScheduled` event id.
        id: u64,
        /// Output payload.
        result: String,
    },
    /// A sub-orchestration failed (addressed to the parent).
    SubOrchestrationFailed {
        /// The parent instance.
        instance: String,
        /// The incarnation of the instance the message is for.
        incarnation: u64,
        /// The parent execution that scheduled it.
        execution_id: u64,
        /// The parent's `SubOrchestrationScheduled` event id.
        id: u64,
        /// Why.
        details: ErrorDetails,
    },
    /// Cancel the instance.
    CancelInstance {
        /// Target instance.
        instance: String,
        /// Reason, recorded in the failure details.
        reason: String,
    },
}

impl OrchestratorMessage {
    /// The incarnation of the instance this message is for, if it is for one in particular
    /// (results and timers are; events, cancellations and starts are for whichever
    /// incarnation exists).
    pub fn incarnation(&self) -> Option<u64> {
        match self {
            OrchestratorMessage::ActivityCompleted { incarnation, .. }
            | OrchestratorMessage::ActivityFailed { incarnation, .. }
            | OrchestratorMessage::TimerFired { incarnation, .. }
            | OrchestratorMessage::SubOrchestrationCompleted { incarnation, .. }
            | OrchestratorMessage::SubOrchestrationFailed { incarnation, .. } => Some(*incarnation),
            _ => None,
        }
    }

    /// The instance this message is addressed to.
    pub fn instance(&self) -> &str {
        match self {
            OrchestratorMessage::StartOrchestration { instance, .. }
            | OrchestratorMessage::ContinueAsNew { instance, .. }
            | OrchestratorMessage::ActivityCompleted { instance, .. }
            | OrchestratorMessage::ActivityFailed { instance, .. }
            | OrchestratorMessage::TimerFired { instance, .. }
            | OrchestratorMessage::ExternalEvent { instance, .. }
            | OrchestratorMessage::SubOrchestrationCompleted { instance, .. }
            | OrchestratorMessage::SubOrchestrationFailed { instance, .. }
            | OrchestratorMessage::CancelInstance { instance, .. } => instance,
        }
    }

    /// A short stable name of the message kind (for logs).
    pub fn kind(&self) -> &'static str {
        match self {
            OrchestratorMessage::StartOrchestration { .. } => "StartOrchestration",
            OrchestratorMessage::ContinueAsNew { .. } => "ContinueAsNew",
            OrchestratorMessage::ActivityCompleted { .. } => "ActivityCompleted",
            OrchestratorMessage::ActivityFailed { .. } => "ActivityFailed",
            OrchestratorMessage::TimerFired { .. } => "TimerFired",
            OrchestratorMessage::ExternalEvent { .. } => "ExternalEvent",
            OrchestratorMessage::SubOrchestrationCompleted { .. } => "SubOrchestrationCompleted",
            OrchestratorMessage::SubOrchestrationFailed { .. } => "SubOrchestrationFailed",
            OrchestratorMessage::CancelInstance { .. } => "CancelInstance",
        }
    }
}

/// An activity call on the worker queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityWorkItem {
    /// Calling instance.
    pub instance: String,
    /// The calling instance's incarnation.
    pub incarnation: u64,
    /// Calling execution.
    pub execution_id: u64,
    /// The `ActivityScheduled` event id.
    pub id: u64,
    /// Activity name.
    pub name: String,
    /// Input payload.
    pub input: String,
    /// Calling orchestration's name.
    pub orchestration_name: String,
    /// Calling orchestration's version.
    pub orchestration_version: String,
}

/// A fresh random incarnation number (see [`InstanceInfo::incarnation`]).
pub fn new_incarnation() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// A message to enqueue, visible from `visible_at_ms` (0 or a past time: immediately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The message.
    pub message: OrchestratorMessage,
    /// When it becomes visible (milliseconds since the Unix epoch).
    pub visible_at_ms: u64,
}

/// An instance's lifecycle state as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// Created; its first turn has not run yet.
    Pending,
    /// Running (possibly waiting for results, timers or events).
    Running,
    /// Completed successfully.
    Completed {
        /// Output payload.
        output: String,
    },
    /// Failed.
    Failed {
        /// Why.
        details: ErrorDetails,
    },
}

impl InstanceStatus {
    /// Whether the instance has finished for good.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            InstanceStatus::Completed { .. } | InstanceStatus::Failed { .. }
        )
    }

    /// A lowercase word for the state (`pending`, `running`, `completed`, `failed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            InstanceStatus::Pending => "pending",
            InstanceStatus::Running => "running",
            InstanceStatus::Completed { .. } => "completed",
            InstanceStatus::Failed { .. } => "failed",
        }
    }
}

/// The stored record of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Instance id.
    pub instance: String,
    /// A random number drawn when the instance is created. An instance id can be reused
    /// after a delete; results and timers carry the incarnation they were made for, so
    /// those of an earlier instance with the same id are recognised and dropped.
    pub incarnation: u64,
    /// Orchestration name.
    pub name: String,
    /// Version running the current execution (`None` until the first turn resolves it).
    pub version: Option<String>,
    /// Lifecycle state.
    pub status: InstanceStatus,
    /// Current execution (0 before the first turn).
    pub execution_id: u64,
    /// Number of events in the current execution's history.
    pub history_len: u64,
    /// Set for sub-orchestrations.
    pub parent: Option<ParentLink>,
    /// Creation time (milliseconds since the Unix epoch).
    pub created_at_ms: u64,
    /// Last update time (milliseconds since the Unix epoch).
    pub updated_at_ms: u64,
}

/// Everything one orchestration turn writes. A store commits it atomically together with the
/// removal of the messages the turn consumed, or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCommit {
    /// The execution the new events belong to.
    pub execution_id: u64,
    /// Events to append to that execution's history (ids continue the stored ones).
    pub history: Vec<Event>,
    /// The instance record after the turn (`None`: leave the record as it is, e.g. when the
    /// turn only drops messages addressed to a deleted instance).
    pub instance: Option<InstanceInfo>,
    /// Instances this turn creates (sub-orchestrations, detached starts). The commit must
    /// fail with [`ProviderError::InstanceAlreadyExists`](crate::ProviderError) if any exists.
    pub new_instances: Vec<InstanceInfo>,
    /// Messages to enqueue on the orchestrator queue (to any instance; timers have a future
    /// visibility time).
    pub orchestrator_messages: Vec<QueuedMessage>,
    /// Activity calls to enqueue on the worker queue.
    pub work_items: Vec<ActivityWorkItem>,
}

/// An instance's visible messages, locked for one turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchestrationItem {
    /// The instance.
    pub instance: String,
    /// Proof of the lock; required to ack or abandon.
    pub lock_token: super::LockToken,
    /// The messages, in enqueue order.
    pub messages: Vec<OrchestratorMessage>,
    /// The instance record (`None` if the instance has none).
    pub info: Option<InstanceInfo>,
    /// Which delivery of the instance's messages this is since its last committed turn
    /// (1 for the first). Deliveries handed back with `abandon_orchestration_item`, or
    /// whose commit failed, do not count; those that ended with an expired lock or a dead
    /// process do. A store should make the count durable before handing out a delivery that
    /// may follow a crash, so that the poison limit
    /// (`RuntimeOptions::max_orchestration_deliveries`) also stops a turn that takes its
    /// whole process down.
    pub attempt: u32,
}

/// An activity call locked for one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItemLease {
    /// The call.
    pub item: ActivityWorkItem,
    /// Proof of the lock; required to ack, renew or abandon.
    pub lock_token: super::LockToken,
    /// Which delivery of this item this is (1 for the first). A store should count
    /// deliveries durably before returning the lease, so that the poison limit
    /// (`RuntimeOptions::max_activity_deliveries`) also holds across crashes.
    pub attempt: u32,
}
