//! [`RuntimeOptions`]: concurrency, locks, limits.

use std::time::Duration;

/// How a [`Runtime`](super::Runtime) runs. Start from `RuntimeOptions::default()` and change
/// what you need:
///
/// ```
/// # use std::time::Duration;
/// # use duroxide::runtime::RuntimeOptions;
/// let options = RuntimeOptions {
///     worker_lock_timeout: Duration::from_secs(300),
///     worker_lock_renewal_buffer: Duration::from_secs(30),
///     ..Default::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Orchestration turns processed at once (each on its own instance). Default 4.
    pub orchestration_concurrency: usize,
    /// Activities run at once. Default 16.
    pub worker_concurrency: usize,
    /// How long an orchestration turn holds its instance's lock; a turn still running after
    /// this loses the lock and cannot commit (it is retried). Default 5 s.
    pub orchestrator_lock_timeout: Duration,
    /// How long an activity holds its work item before the lock must be renewed; the worker
    /// renews it automatically while the activity runs. If the process dies, the item is
    /// delivered again after at most this long. Default 30 s.
    pub worker_lock_timeout: Duration,
    /// Renew the worker lock this long before it expires (for timeouts of 15 s or more;
    /// shorter timeouts renew at half the timeout). Default 5 s.
    pub worker_lock_renewal_buffer: Duration,
    /// Most history events one execution may have; a turn that would exceed it fails the
    /// instance with a configuration error (use `continue_as_new`). Default 1024.
    pub max_history_events: u64,
    /// Largest payload (input, output, event data) accepted, in bytes; a larger one fails
    /// the call or the instance with a `PayloadTooLarge` configuration error. Default 4 MiB.
    pub max_payload_bytes: usize,
    /// Live executions kept in memory so a turn does not replay the whole history. 0 turns
    /// the cache off (every turn replays: slower, but exercises replay). Default 1024.
    pub instance_cache_capacity: usize,
    /// Longest a dispatcher waits for work before re-checking (a safety net: the embedded
    /// store wakes dispatchers as soon as work is committed). Default 1 s.
    pub dispatcher_idle_wait: Duration,
    /// After an orchestration ends, its running activities are told to stop
    /// (`ActivityContext::is_cancelled`); one still running after this grace period is
    /// aborted. Default 10 s.
    pub activity_cancellation_grace: Duration,
    /// Delay before retrying a turn or work item after a retryable store error. Default 1 s.
    pub retry_delay: Duration,
    /// An activity call delivered more times than this without its result being committed
    /// (its worker kept crashing or losing the lock) is poison: it is not run again and the
    /// calling instance fails with a `Poison` error. Deliveries are counted by the store;
    /// the sled store counts them durably, so the limit holds across restarts and catches
    /// an activity that takes its whole process down. Default 10.
    pub max_activity_deliveries: u32,
    /// An instance whose messages were delivered more times than this without a turn being
    /// committed (the process running its turn kept crashing, or the turn kept outliving
    /// its lock) is poison: its code is not run again and it fails with a `Poison` error,
    /// instead of taking every restart of the service down with it. Deliveries the runtime
    /// hands back itself (store errors) do not count. The sled store counts durably across
    /// restarts. Default 10.
    pub max_orchestration_deliveries: u32,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            orchestration_concurrency: 4,
            worker_concurrency: 16,
            orchestrator_lock_timeout: Duration::from_secs(5),
            worker_lock_timeout: Duration::from_secs(30),
            worker_lock_renewal_buffer: Duration::from_secs(5),
            max_history_events: 1024,
            max_payload_bytes: 4 * 1024 * 1024,
            instance_cache_capacity: 1024,
            dispatcher_idle_wait: Duration::from_secs(1),
            activity_cancellation_grace: Duration::from_secs(10),
            retry_delay: Duration::from_secs(1),
            max_activity_deliveries: 10,
            max_orchestration_deliveries: 10,
        }
    }
}

impl RuntimeOptions {
    /// When to renew a worker lock of `timeout`: `timeout - buffer` for timeouts of 15 s or
    /// more, half the timeout below that.
    pub fn worker_renewal_interval(&self) -> Duration {
        let timeout = self.worker_lock_timeout;
        if timeout >= Duration::from_secs(15) && self.worker_lock_renewal_buffer < timeout {
            timeout - self.worker_lock_renewal_buffer
        } else {
            timeout / 2
        }
        .max(Duration::from_millis(10))
    }
}
