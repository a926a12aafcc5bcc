//! Storage: the [`Provider`] trait and the stores that implement it.
//!
//! A provider keeps three things durable: each execution's history, the orchestrator queue
//! (messages addressed to instances, including timers as messages with a future visibility
//! time) and the worker queue (activity calls). Both queues are peek-lock: a fetched item is
//! locked for a time; acking removes it, abandoning or letting the lock expire makes it visible
//! again. The runtime relies on these guarantees, which every provider must keep:
//!
//! - **Atomic turns.** [`Provider::ack_orchestration_item`] appends history, enqueues the
//!   turn's messages and work items, writes the instance record and removes the consumed
//!   messages in one atomic step.
//! - **Atomic completions.** [`Provider::ack_work_item`] removes the work item and enqueues its
//!   completion in one atomic step.
//! - **One turn per instance.** While an instance's messages are locked, no other fetch
//!   returns that instance.
//! - **Fencing.** An ack, renew or abandon with an expired or unknown token fails with
//!   [`ProviderError::LockLost`] and changes nothing.
//! - **Order.** An instance's messages are delivered in enqueue order.
//!
//! [`sled::SledProvider`] is the embedded default.

pub mod messages;
pub mod sled;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::error::ProviderError;
use crate::history::Event;
pub use messages::{
    new_incarnation, ActivityWorkItem, InstanceInfo, InstanceStatus, OrchestrationItem,
    OrchestratorMessage, QueuedMessage, TurnCommit, WorkItemLease,
};
pub use watch::{InstanceSubscription, InstanceWatch};

/// Proof of a peek-lock, handed out by a fetch and required to ack, renew or abandon.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockToken(pub String);

impl std::fmt::Display for LockToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A durable store for histories and queues. See the [module docs](self) for the guarantees
/// every implementation must keep.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    // ---- orchestrator queue ------------------------------------------------------------

    /// Locks one instance that has visible messages and returns all of them (in enqueue
    /// order) with its record and delivery count ([`OrchestrationItem::attempt`]). Waits up
    /// to `wait` for work to appear; `Ok(None)` if none did. Must be cancel-safe: dropping
    /// the future never leaves a lock behind that was not returned.
    async fn fetch_orchestration_item(
        &self,
        lock_timeout: Duration,
        wait: Duration,
    ) -> Result<Option<OrchestrationItem>, ProviderError>;

    /// Commits a turn atomically (see [`TurnCommit`]) and releases the lock.
    async fn ack_orchestration_item(
        &self,
        lock_token: &LockToken,
        commit: TurnCommit,
    ) -> Result<(), ProviderError>;

    /// Releases the lock without consuming the messages; they become visible again after
    /// `delay` (immediately if `None`). The delivery is handed back: it does not count
    /// towards the instance's [`attempt`](OrchestrationItem::attempt).
    async fn abandon_orchestration_item(
        &self,
        lock_token: &LockToken,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError>;

    /// Extends the lock to `lock_timeout` from now.
    async fn renew_orchestration_item_lock(
        &self,
        lock_token: &LockToken,
        lock_timeout: Duration,
    ) -> Result<(), ProviderError>;

    // ---- worker queue ------------------------------------------------------------------

    /// Locks one visible activity call. Waits up to `wait`; `Ok(None)` if none appeared.
    /// Must be cancel-safe like [`fetch_orchestration_item`](Self::fetch_orchestration_item).
    async fn fetch_work_item(
        &self,
        lock_timeout: Duration,
        wait: Duration,
    ) -> Result<Option<WorkItemLease>, ProviderError>;

    /// Removes the work item and, atomically with it, enqueues `completion` (if any).
    async fn ack_work_item(
        &self,
        lock_token: &LockToken,
        completion: Option<OrchestratorMessage>,
    ) -> Result<(), ProviderError>;

    /// Extends the lock to `lock_timeout` from now.
    async fn renew_work_item_lock(
        &self,
        lock_token: &LockToken,
        lock_timeout: Duration,
    ) -> Result<(), ProviderError>;

    /// Releases the lock; the item becomes visible again after `delay`.
    async fn abandon_work_item(
        &self,
        lock_token: &LockToken,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError>;

    // ---- client side -------------------------------------------------------------------

    /// Creates an instance record and enqueues its start message, atomically. Fails with
    /// [`ProviderError::InstanceAlreadyExists`] if the instance exists.
    async fn create_instance(
        &self,
        info: InstanceInfo,
        start: OrchestratorMessage,
    ) -> Result<(), ProviderError>;

    /// Enqueues a message (events, cancellation), visible after `delay`.
    async fn enqueue_orchestrator_message(
        &self,
        message: OrchestratorMessage,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError>;

    /// The instance's record.
    async fn get_instance(&self, instance: &str) -> Result<Option<InstanceInfo>, ProviderError>;

    /// One execution's history, in order (empty if there is none).
    async fn read_history(
        &self,
        instance: &str,
        execution_id: u64,
    ) -> Result<Vec<Event>, ProviderError>;

    /// The instance's execution ids that have history, ascending.
    async fn list_executions(&self, instance: &str) -> Result<Vec<u64>, ProviderError>;

    /// Every instance id, sorted.
    async fn list_instances(&self) -> Result<Vec<String>, ProviderError>;

    /// Removes an instance entirely: record, every execution's history and its queued
    /// messages. Work items already on the worker queue stay and their results are dropped.
    async fn delete_instance(&self, instance: &str) -> Result<(), ProviderError>;

    /// Removes the history of the given executions (never call it with the current one).
    async fn delete_executions(
        &self,
        instance: &str,
        execution_ids: &[u64],
    ) -> Result<(), ProviderError>;

    /// In-process change notifications, if the store has them. Without them, clients poll.
    fn instance_watch(&self) -> Option<Arc<InstanceWatch>> {
        None
    }
}
