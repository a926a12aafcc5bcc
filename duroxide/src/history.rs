//! The durable log of an execution: [`Event`]s and their kinds.
//!
//! An execution's history is the sequence of events recorded for it, numbered from 1.
//! Scheduling events (`ActivityScheduled`, `TimerCreated`, ...) use their own `event_id` as
//! the correlation id; completion events point back to it with `source_event_id`.
//!
//! Events are stored through [`crate::codec`]; adding or changing a field is a format
//! version bump there, never an in-place edit of this enum's existing variants.

use serde::{Deserialize, Serialize};

use crate::error::ErrorDetails;

/// One entry in an execution's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the execution's history, starting at 1.
    pub event_id: u64,
    /// When the event was recorded (milliseconds since the Unix epoch).
    pub timestamp_ms: u64,
    /// What happened.
    pub kind: EventKind,
}

/// The parent of a sub-orchestration: where to deliver its result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParentLink {
    /// The parent instance id.
    pub instance: String,
    /// The parent's execution that scheduled the child.
    pub execution_id: u64,
    /// The parent's `SubOrchestrationScheduled` event id.
    pub event_id: u64,
    /// The parent's incarnation (see `InstanceInfo::incarnation`).
    pub incarnation: u64,
}

/// What an [`Event`] records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The first event of every execution.
    OrchestrationStarted {
        /// Orchestration name.
        name: String,
        /// The registered version that runs this execution.
        version: String,
        /// The input payload.
        input: String,
        /// Set when this instance is a sub-orchestration.
        parent: Option<ParentLink>,
    },
    /// The code scheduled an activity.
    ActivityScheduled {
        /// Activity name.
        name: String,
        /// Input payload.
        input: String,
    },
    /// An activity returned `Ok`.
    ActivityCompleted {
        /// The `ActivityScheduled` event this completes.
        source_event_id: u64,
        /// Output payload.
        result: String,
    },
    /// An activity returned `Err`, panicked, or could not run.
    ActivityFailed {
        /// The `ActivityScheduled` event this completes.
        source_event_id: u64,
        /// Why it failed.
        details: ErrorDetails,
    },
    /// The code created a durable timer.
    TimerCreated {
        /// When it fires (milliseconds since the Unix epoch).
        fire_at_ms: u64,
    },
    /// A durable timer fired.
    TimerFired {
        /// The `TimerCreated` event this completes.
        source_event_id: u64,
        /// When it was due.
        fire_at_ms: u64,
    },
    /// The code started waiting for an external event of this name.
    ExternalSubscribed {
        /// Event name.
        name: String,
    },
    /// An external event arrived. It is delivered to the first wait for its name that polls
    /// after it arrived, in arrival order; until then it is kept.
    ExternalEvent {
        /// Event name.
        name: String,
        /// Event payload.
        data: String,
    },
    /// The code scheduled a sub-orchestration and will receive its result.
    SubOrchestrationScheduled {
        /// Orchestration name.
        name: String,
        /// Requested version (`None`: the latest registered).
        version: Option<String>,
        /// The child's instance id.
        instance: String,
        /// Input payload.
        input: String,
    },
    /// A sub-orchestration completed.
    SubOrchestrationCompleted {
        /// The `SubOrchestrationScheduled` event this completes.
        source_event_id: u64,
        /// Output payload.
        result: String,
    },
    /// A sub-orchestration failed.
    SubOrchestrationFailed {
        /// The `SubOrchestrationScheduled` event this completes.
        source_event_id: u64,
        /// Why it failed.
        details: ErrorDetails,
    },
    /// The code started a detached (fire-and-forget) orchestration.
    OrchestrationChained {
        /// Orchestration name.
        name: String,
        /// Requested version (`None`: the latest registered).
        version: Option<String>,
        /// The new instance id.
        instance: String,
        /// Input payload.
        input: String,
    },
    /// Cancellation was requested.
    OrchestrationCancelRequested {
        /// The reason given.
        reason: String,
    },
    /// The execution completed successfully (terminal).
    OrchestrationCompleted {
        /// Output payload.
        output: String,
    },
    /// The execution failed (terminal).
    OrchestrationFailed {
        /// Why it failed.
        details: ErrorDetails,
    },
    /// The execution ended by continuing as a new execution with this input (terminal for
    /// this execution; the instance keeps running).
    OrchestrationContinuedAsNew {
        /// Input of the next execution.
        input: String,
    },
}

impl EventKind {
    /// A short stable name for the kind (for logs and nondeterminism messages).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::OrchestrationStarted { .. } => "OrchestrationStarted",
            EventKind::ActivityScheduled { .. } => "ActivityScheduled",
            EventKind::ActivityCompleted { .. } => "ActivityCompleted",
            EventKind::ActivityFailed { .. } => "ActivityFailed",
            EventKind::TimerCreated { .. } => "TimerCreated",
            EventKind::TimerFired { .. } => "TimerFired",
            EventKind::ExternalSubscribed { .. } => "ExternalSubscribed",
            EventKind::ExternalEvent { .. } => "ExternalEvent",
            EventKind::SubOrchestrationScheduled { .. } => "SubOrchestrationScheduled",
            EventKind::SubOrchestrationCompleted { .. } => "SubOrchestrationCompleted",
            EventKind::SubOrchestrationFailed { .. } => "SubOrchestrationFailed",
            EventKind::OrchestrationChained { .. } => "OrchestrationChained",
            EventKind::OrchestrationCancelRequested { .. } => "OrchestrationCancelRequested",
            EventKind::OrchestrationCompleted { .. } => "OrchestrationCompleted",
            EventKind::OrchestrationFailed { .. } => "OrchestrationFailed",
            EventKind::OrchestrationContinuedAsNew { .. } => "OrchestrationContinuedAsNew",
        }
    }

    /// Whether this event ends its execution.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::OrchestrationCompleted { .. }
                | EventKind::OrchestrationFailed { .. }
                | EventKind::OrchestrationContinuedAsNew { .. }
        )
    }

    /// Whether this event records a decision of the orchestration code (something the code
    /// scheduled), as opposed to something that happened to it.
    pub fn is_decision(&self) -> bool {
        matches!(
            self,
            EventKind::ActivityScheduled { .. }
                | EventKind::TimerCreated { .. }
                | EventKind::ExternalSubscribed { .. }
                | EventKind::SubOrchestrationScheduled { .. }
                | EventKind::OrchestrationChained { .. }
        )
    }
}
