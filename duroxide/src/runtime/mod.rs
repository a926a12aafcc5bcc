//! The runtime: two dispatchers over a [`Provider`].
//!
//! - The **orchestration dispatcher** takes one instance's pending messages under a lock, runs
//!   one turn of its code through the replay engine and commits the turn atomically.
//! - The **worker dispatcher** runs activities and commits each result atomically with the
//!   ack of its work item, renewing the item's lock while the activity runs.
//!
//! Any number of runtimes may share a store that supports several processes; the embedded
//! sled store allows one process, which may still run one runtime per store.

mod builder;
mod cache;
mod options;
mod orchestrations;
mod turn;
mod workers;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::ClientError;
use crate::providers::Provider;
pub use crate::registry;
use crate::registry::{ActivityRegistry, OrchestrationRegistry};
pub use builder::{RuntimeBuilder, StartError};
pub use options::RuntimeOptions;

use self::cache::InstanceCache;
use self::orchestrations::OrchestrationDispatcher;
use self::workers::WorkerDispatcher;

/// The shutdown timeout used when `shutdown(None)` is called.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// A running runtime. Start one with [`Runtime::start_with_store`]; stop it with
/// [`Runtime::shutdown`].
pub struct Runtime {
    store: Arc<dyn Provider>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    options: Arc<RuntimeOptions>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("options", &self.options)
            .finish()
    }
}

impl From<Arc<ActivityRegistry>> for ActivityRegistry {
    fn from(registry: Arc<ActivityRegistry>) -> Self {
        (*registry).clone()
    }
}

impl From<Arc<OrchestrationRegistry>> for OrchestrationRegistry {
    fn from(registry: Arc<OrchestrationRegistry>) -> Self {
        (*registry).clone()
    }
}

impl Runtime {
    /// Starts a runtime with default options. Must be called within a Tokio runtime.
    pub async fn start_with_store(
        store: Arc<dyn Provider>,
        activities: impl Into<ActivityRegistry>,
        orchestrations: impl Into<OrchestrationRegistry>,
    ) -> Arc<Runtime> {
        Self::start_with_options(store, activities, orchestrations, RuntimeOptions::default()).await
    }

    /// Starts a runtime with the given options.
    pub async fn start_with_options(
        store: Arc<dyn Provider>,
        activities: impl Into<ActivityRegistry>,
        orchestrations: impl Into<OrchestrationRegistry>,
        options: RuntimeOptions,
    ) -> Arc<Runtime> {
        let options = Arc::new(options);
        let (shutdown, signal) = watch::channel(false);
        let mut tasks = Vec::new();

        let orchestrator = Arc::new(OrchestrationDispatcher {
            store: Arc::clone(&store),
            registry: orchestrations.into(),
            options: Arc::clone(&options),
            cache: InstanceCache::new(options.instance_cache_capacity),
        });
        for _ in 0..options.orchestration_concurrency.max(1) {
            tasks.push(tokio::spawn(Arc::clone(&orchestrator).run(signal.clone())));
        }
        let worker = Arc::new(WorkerDispatcher {
            store: Arc::clone(&store),
            registry: activities.into(),
            options: Arc::clone(&options),
            next_worker: AtomicU64::new(1),
        });
        tasks.push(tokio::spawn(worker.run(signal)));

        Arc::new(Runtime {
            store,
            shutdown,
            tasks: Mutex::new(tasks),
            options,
        })
    }

    /// The options this runtime runs with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// A [`Client`] on this runtime's store, with the runtime's payload limit.
    pub fn client(&self) -> Client {
        Client::new(Arc::clone(&self.store)).with_max_payload_bytes(self.options.max_payload_bytes)
    }

    /// Raises an external event for a running instance's `schedule_wait(name)`: the same as
    /// [`Client::raise_event`] on [`client`](Self::client), for code that holds the runtime.
    /// An event raised before the orchestration reaches its wait is kept for it; for an
    /// unknown or finished instance nothing happens and the error says so.
    pub async fn raise_event(
        &self,
        instance: impl AsRef<str>,
        event_name: impl Into<String>,
        data: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.client().raise_event(instance, event_name, data).await
    }

    /// Stops the runtime gracefully: no new work is fetched, turns in progress finish, and
    /// running activities get until `timeout` (default 1 s) to finish before they are
    /// aborted. Work that did not finish is not lost: it runs again at the next start.
    pub async fn shutdown(self: Arc<Self>, timeout: Option<Duration>) {
        let timeout = timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        self.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let deadline = tokio::time::Instant::now() + timeout;
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // A runtime dropped without shutdown stops its dispatchers rather than leak them.
        self.shutdown.send_replace(true);
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}
