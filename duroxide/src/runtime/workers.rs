//! The worker dispatcher: run activities and commit each result with the ack of its work item.
//!
//! Activities run at least once. While one runs, its work-item lock is renewed; if renewal
//! fails (the lock expired and someone else may hold it) the activity is aborted and its
//! result is never committed. When the calling instance ends (completes, fails, is cancelled,
//! continues as new or is deleted) the activity's context is cancelled, and after a grace
//! period the activity is aborted; its work item is then acked without a result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::RuntimeOptions;
use crate::activity::ActivityContext;
use crate::error::{AppErrorKind, ConfigErrorKind, ErrorDetails, ProviderError};
use crate::providers::{ActivityWorkItem, OrchestratorMessage, Provider, WorkItemLease};
use crate::registry::ActivityRegistry;

/// How many times an activity's result commit is tried on retryable store errors.
const ACK_ATTEMPTS: u32 = 3;

pub(crate) struct WorkerDispatcher {
    pub(crate) store: Arc<dyn Provider>,
    pub(crate) registry: ActivityRegistry,
    pub(crate) options: Arc<RuntimeOptions>,
    pub(crate) next_worker: AtomicU64,
}

/// How an activity run ended.
enum Ran {
    Finished(Result<String, String>),
    Panicked(String),
    /// The instance ended; the result (if any) is not wanted.
    Cancelled,
    /// The lock was lost: someone else may be running the item now.
    LockLost,
}

impl WorkerDispatcher {
    /// Every free slot runs its own fetch, so fetches overlap: a store that writes on fetch
    /// (the sled store counts each delivery durably before handing it out) then serves many
    /// of them per group commit instead of one per flush.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.options.worker_concurrency.max(1)));
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            if *shutdown.borrow() {
                break;
            }
            let permit = tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            let this = Arc::clone(&self);
            let shutdown = shutdown.clone();
            running.spawn(async move { this.fetch_and_execute(permit, shutdown).await });
        }
        // Graceful: let running activities finish (the runtime's shutdown timeout bounds this);
        // slots still fetching stop at once.
        while running.join_next().await.is_some() {}
    }

    /// One slot: waits (up to the idle wait) for a work item and runs it.
    async fn fetch_and_execute(
        &self,
        permit: OwnedSemaphorePermit,
        mut shutdown: watch::Receiver<bool>,
    ) {
        if *shutdown.borrow() {
            return;
        }
        let fetched = tokio::select! {
            r = self.store.fetch_work_item(self.options.worker_lock_timeout, self.options.dispatcher_idle_wait) => r,
            _ = shutdown.changed() => return,
        };
        match fetched {
            Ok(Some(lease)) => self.execute(lease, permit).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "duroxide::runtime", error = %e, "fetching activity work failed");
                tokio::select! {
                    _ = tokio::time::sleep(self.options.retry_delay) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    async fn execute(&self, lease: WorkItemLease, _permit: OwnedSemaphorePermit) {
        let WorkItemLease {
            item,
            lock_token,
            attempt,
        } = lease;
        let completion = match self.registry.get(&item.name) {
            _ if attempt > self.options.max_activity_deliveries => Some(failed(
                &item,
                ErrorDetails::Poison {
                    message_kind: format!("activity '{}'", item.name),
                    attempts: attempt - 1,
                    message: "delivered again and again without its result ever being committed \
                              (its worker crashed or lost the lock each time); not run again"
                        .into(),
                },
            )),
            None => Some(failed(
                &item,
                ErrorDetails::configuration(
                    ConfigErrorKind::UnregisteredActivity,
                    item.name.clone(),
                    format!("activity '{}' is not registered", item.name),
                ),
            )),
            Some(handler) => {
                let worker_id = format!(
                    "{}-{}",
                    std::process::id(),
                    self.next_worker.fetch_add(1, Ordering::Relaxed)
                );
                let (ctx, cancel) = ActivityContext::new(
                    item.instance.clone(),
                    item.execution_id,
                    item.orchestration_name.clone(),
                    item.orchestration_version.clone(),
                    item.name.clone(),
                    item.id,
                    worker_id,
                    attempt,
                );
                let task = tokio::spawn(handler(ctx, item.input.clone()));
                // If this future is dropped (the runtime shut down past its timeout and
                // aborted the dispatcher), the activity must stop too rather than run on
                // detached: dropping a JoinHandle does not abort its task.
                let _abort_on_drop = AbortOnDrop(task.abort_handle());
                match self.supervise(&item, &lock_token, task, cancel).await {
                    Ran::Finished(Ok(output)) if output.len() > self.options.max_payload_bytes => Some(failed(
                        &item,
                        ErrorDetails::configuration(
                            ConfigErrorKind::PayloadTooLarge,
                            item.name.clone(),
                            format!(
                                "output of activity '{}' is {} bytes, more than the limit of {} bytes",
                                item.name,
                                output.len(),
                                self.options.max_payload_bytes
                            ),
                        ),
                    )),
                    Ran::Finished(Ok(result)) => Some(OrchestratorMessage::ActivityCompleted {
                        instance: item.instance.clone(),
                        incarnation: item.incarnation,
                        execution_id: item.execution_id,
                        id: item.id,
                        result,
                    }),
                    Ran::Finished(Err(error)) => Some(failed(
                        &item,
                        ErrorDetails::Application {
                            kind: AppErrorKind::ActivityFailed,
                            message: truncate(error, self.options.max_payload_bytes),
                            retryable: false,
                        },
                    )),
                    Ran::Panicked(message) => Some(failed(
                        &item,
                        ErrorDetails::Application {
                            kind: AppErrorKind::Panicked,
                            message: format!("activity '{}' panicked: {message}", item.name),
                            retryable: false,
                        },
                    )),
                    Ran::Cancelled => None,
                    Ran::LockLost => {
                        tracing::warn!(target: "duroxide::runtime", instance_id = %item.instance, activity = %item.name, "activity lock lost; its result is discarded");
                        return;
                    }
                }
            }
        };
        // The result is known now: on a retryable store error, retry committing it rather
        // than running the activity again. If the store did commit despite the error, the
        // retry finds the lock gone and stops; the orchestration ignores a duplicate result.
        let mut attempt = 1;
        loop {
            match self
                .store
                .ack_work_item(&lock_token, completion.clone())
                .await
            {
                Ok(()) => return,
                Err(ProviderError::LockLost) => {
                    if attempt == 1 {
                        tracing::warn!(target: "duroxide::runtime", instance_id = %item.instance, activity = %item.name, "activity lock expired before its result was committed; it will run again");
                    }
                    return;
                }
                Err(e) if e.is_retryable() && attempt < ACK_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(self.options.retry_delay).await;
                }
                Err(e) => {
                    tracing::warn!(target: "duroxide::runtime", instance_id = %item.instance, activity = %item.name, error = %e, "committing activity result failed; it will run again");
                    let _ = self
                        .store
                        .abandon_work_item(&lock_token, Some(self.options.retry_delay))
                        .await;
                    return;
                }
            }
        }
    }

    /// Waits for the activity while renewing its lock and watching its instance.
    async fn supervise(
        &self,
        item: &ActivityWorkItem,
        lock_token: &crate::providers::LockToken,
        mut task: tokio::task::JoinHandle<Result<String, String>>,
        cancel: crate::activity::CancelHandle,
    ) -> Ran {
        let renew_every = self.options.worker_renewal_interval();
        let subscription = self
            .store
            .instance_watch()
            .map(|w| w.subscribe(&item.instance));
        let mut renew =
            tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
        let mut abort_at: Option<tokio::time::Instant> = None;
        loop {
            let changed = async {
                match &subscription {
                    Some(s) => s.notified().await,
                    None => std::future::pending().await,
                }
            };
            let grace_over = async {
                match abort_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                joined = &mut task => {
                    if abort_at.is_some() {
                        return Ran::Cancelled;
                    }
                    return match joined {
                        Ok(result) => Ran::Finished(result),
                        Err(e) if e.is_panic() => Ran::Panicked(crate::orchestration::replay::panic_message(e.into_panic().as_ref())),
                        Err(_) => Ran::Cancelled,
                    };
                }
                _ = renew.tick() => {
                    if let Err(e) = self.store.renew_work_item_lock(lock_token, self.options.worker_lock_timeout).await {
                        if e == ProviderError::LockLost {
                            task.abort();
                            return Ran::LockLost;
                        }
                        tracing::warn!(target: "duroxide::runtime", instance_id = %item.instance, error = %e, "renewing activity lock failed");
                    }
                    if abort_at.is_none() && self.caller_ended(item).await {
                        cancel.cancel();
                        abort_at = Some(tokio::time::Instant::now() + self.options.activity_cancellation_grace);
                    }
                }
                _ = changed => {
                    if abort_at.is_none() && self.caller_ended(item).await {
                        cancel.cancel();
                        abort_at = Some(tokio::time::Instant::now() + self.options.activity_cancellation_grace);
                    }
                }
                _ = grace_over => {
                    task.abort();
                    return Ran::Cancelled;
                }
            }
        }
    }

    /// Whether the execution that scheduled the activity is over.
    async fn caller_ended(&self, item: &ActivityWorkItem) -> bool {
        match self.store.get_instance(&item.instance).await {
            Ok(Some(info)) => {
                info.status.is_terminal()
                    || info.execution_id != item.execution_id
                    || info.incarnation != item.incarnation
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

/// Aborts a task when dropped (aborting a finished task does nothing).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn failed(item: &ActivityWorkItem, details: ErrorDetails) -> OrchestratorMessage {
    OrchestratorMessage::ActivityFailed {
        instance: item.instance.clone(),
        incarnation: item.incarnation,
        execution_id: item.execution_id,
        id: item.id,
        details,
    }
}

fn truncate(mut message: String, max: usize) -> String {
    if message.len() > max {
        let mut cut = max;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("… (truncated)");
    }
    message
}
