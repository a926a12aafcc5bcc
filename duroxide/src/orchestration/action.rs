//! [`Action`]: what an orchestration asked the host to do in one turn.

use serde::{Deserialize, Serialize};

/// A decision made by orchestration code during a turn, for the runtime to carry out.
///
/// Every action is also recorded as a history event (the `id` is that event's id), so on
/// replay the same code produces the same decisions and none is carried out twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Run an activity on the worker queue.
    CallActivity {
        /// Correlation id (the `ActivityScheduled` event id).
        id: u64,
        /// Activity name.
        name: String,
        /// Input payload.
        input: String,
    },
    /// Deliver a `TimerFired` to this instance at `fire_at_ms`.
    CreateTimer {
        /// Correlation id (the `TimerCreated` event id).
        id: u64,
        /// When to fire (milliseconds since the Unix epoch).
        fire_at_ms: u64,
    },
    /// Wait for an external event (nothing to dispatch; recorded for replay checks).
    WaitExternal {
        /// Correlation id (the `ExternalSubscribed` event id).
        id: u64,
        /// Event name.
        name: String,
    },
    /// Start a child orchestration whose result comes back to this instance.
    StartSubOrchestration {
        /// Correlation id (the `SubOrchestrationScheduled` event id).
        id: u64,
        /// Orchestration name.
        name: String,
        /// Requested version (`None`: the latest registered).
        version: Option<String>,
        /// Child instance id.
        instance: String,
        /// Input payload.
        input: String,
    },
    /// Start an independent orchestration (fire-and-forget).
    StartDetached {
        /// Correlation id (the `OrchestrationChained` event id).
        id: u64,
        /// Orchestration name.
        name: String,
        /// Requested version (`None`: the latest registered).
        version: Option<String>,
        /// New instance id.
        instance: String,
        /// Input payload.
        input: String,
    },
    /// End this execution and start a new one of the same instance with `input`.
    ContinueAsNew {
        /// Input of the next execution.
        input: String,
        /// Version for the next execution (`None`: the latest registered).
        version: Option<String>,
    },
}
