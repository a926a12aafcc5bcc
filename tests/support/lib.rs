//! Shared helpers for the integration tests: stores, runtimes with test-friendly options,
//! and a harness that bundles them.

use std::sync::{Arc, Once};
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{Client, OrchestrationRegistry, OrchestrationStatus, Runtime, RuntimeOptions};

/// How long tests wait for an instance before failing (generous: CI machines are slow; a
/// passing test returns as soon as the instance finishes).
pub const WAIT: Duration = Duration::from_secs(20);

/// Installs a tracing subscriber once (set `RUST_LOG` to see runtime logs in a test).
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            )
            .with_test_writer()
            .try_init();
    });
}

/// Options with short lock timeouts so lost locks are retried quickly in tests.
///
/// `DUROXIDE_TEST_INSTANCE_CACHE=0` turns the instance cache off, so every turn replays the
/// whole history (run the suite that way to exercise replay everywhere).
pub fn test_options() -> RuntimeOptions {
    let cache = std::env::var("DUROXIDE_TEST_INSTANCE_CACHE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RuntimeOptions::default().instance_cache_capacity);
    RuntimeOptions {
        orchestrator_lock_timeout: Duration::from_secs(2),
        worker_lock_timeout: Duration::from_secs(5),
        worker_lock_renewal_buffer: Duration::from_secs(1),
        activity_cancellation_grace: Duration::from_millis(500),
        retry_delay: Duration::from_millis(50),
        instance_cache_capacity: cache,
        ..RuntimeOptions::default()
    }
}

/// A store, a runtime on it and a client.
pub struct Harness {
    /// The store.
    pub store: Arc<SledProvider>,
    /// A client of the store.
    pub client: Client,
    /// The running runtime (`None` after [`Harness::stop`]).
    pub runtime: Option<Arc<Runtime>>,
}

impl Harness {
    /// A runtime with [`test_options`] on a fresh in-memory store.
    pub async fn start(
        activities: ActivityRegistry,
        orchestrations: OrchestrationRegistry,
    ) -> Self {
        Self::start_with(activities, orchestrations, test_options()).await
    }

    /// A runtime with the given options on a fresh in-memory store.
    pub async fn start_with(
        activities: ActivityRegistry,
        orchestrations: OrchestrationRegistry,
        options: RuntimeOptions,
    ) -> Self {
        init_tracing();
        let store = Arc::new(
            SledProvider::new_in_memory()
                .await
                .expect("open in-memory store"),
        );
        Self::start_on(store, activities, orchestrations, options).await
    }

    /// A runtime on an existing store.
    pub async fn start_on(
        store: Arc<SledProvider>,
        activities: ActivityRegistry,
        orchestrations: OrchestrationRegistry,
        options: RuntimeOptions,
    ) -> Self {
        let dyn_store: Arc<dyn Provider> = store.clone();
        let runtime =
            Runtime::start_with_options(dyn_store.clone(), activities, orchestrations, options)
                .await;
        Harness {
            store,
            client: Client::new(dyn_store),
            runtime: Some(runtime),
        }
    }

    /// Starts an instance and waits for it to finish.
    pub async fn run(&self, instance: &str, name: &str, input: &str) -> OrchestrationStatus {
        self.client
            .start_orchestration(instance, name, input)
            .await
            .expect("start orchestration");
        self.wait(instance).await
    }

    /// Waits for an instance to finish.
    pub async fn wait(&self, instance: &str) -> OrchestrationStatus {
        self.client
            .wait_for_orchestration(instance, WAIT)
            .await
            .expect("instance finishes in time")
    }

    /// Starts an instance and returns its output, panicking if it did not complete.
    pub async fn output(&self, instance: &str, name: &str, input: &str) -> String {
        match self.run(instance, name, input).await {
            OrchestrationStatus::Completed { output } => output,
            other => panic!("instance {instance} did not complete: {other:?}"),
        }
    }

    /// Shuts the runtime down.
    pub async fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown(Some(Duration::from_secs(5))).await;
        }
    }
}

/// Polls `check` until it returns true, yielding to the runtime between attempts. For
/// conditions that have no event to await (e.g. "the instance reached its wait"); fails the
/// test after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `check` holds for an instance, re-checking each time the store reports a
/// change of that instance (no polling interval). Fails the test after [`WAIT`].
pub async fn until_instance<F, Fut>(store: &SledProvider, instance: &str, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let watch = store.instance_watch().expect("the sled store notifies");
    let subscription = watch.subscribe(instance);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let notified = subscription.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if check().await {
            return;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            panic!("timed out waiting for: {what}");
        }
    }
}

/// Whether the instance's current history contains an event of the given kind name.
pub async fn history_has(client: &Client, instance: &str, kind: &str) -> bool {
    client
        .read_history(instance)
        .await
        .map(|h| h.iter().any(|e| e.kind.name() == kind))
        .unwrap_or(false)
}

/// Opens (or creates) a file-backed sled store in `dir` (for tests that reopen the same
/// directory, as after a restart or a crash).
pub async fn open_store(dir: &std::path::Path) -> Arc<SledProvider> {
    init_tracing();
    Arc::new(
        SledProvider::new(dir, None)
            .await
            .unwrap_or_else(|e| panic!("open sled store at {}: {e}", dir.display())),
    )
}

impl Harness {
    /// A runtime with [`test_options`] on the file-backed store in `dir`.
    pub async fn open(
        dir: &std::path::Path,
        activities: ActivityRegistry,
        orchestrations: OrchestrationRegistry,
    ) -> Self {
        Self::start_on(
            open_store(dir).await,
            activities,
            orchestrations,
            test_options(),
        )
        .await
    }

    /// Shuts the runtime down and drops the store and the client, so that (once the caller
    /// holds no other clone of the store) sled's file lock is released and the directory
    /// can be opened again.
    pub async fn close(mut self) {
        self.stop().await;
    }
}

// ---- annotated workflows (`#[activity]` / `#[orchestration]`) --------------------------

impl Harness {
    /// A runtime started with `Runtime::builder` and [`test_options`] on a fresh in-memory
    /// store: every annotated fn linked into the test binary is registered, plus the
    /// explicit registries given.
    pub async fn start_auto(
        activities: Option<ActivityRegistry>,
        orchestrations: Option<OrchestrationRegistry>,
    ) -> Self {
        init_tracing();
        let store = Arc::new(
            SledProvider::new_in_memory()
                .await
                .expect("open in-memory store"),
        );
        Self::start_auto_on(store, activities, orchestrations).await
    }

    /// [`Harness::start_auto`] on an existing store (e.g. one reopened after a restart).
    pub async fn start_auto_on(
        store: Arc<SledProvider>,
        activities: Option<ActivityRegistry>,
        orchestrations: Option<OrchestrationRegistry>,
    ) -> Self {
        let dyn_store: Arc<dyn Provider> = store.clone();
        let mut builder = Runtime::builder(dyn_store.clone()).options(test_options());
        if let Some(activities) = activities {
            builder = builder.activities(activities);
        }
        if let Some(orchestrations) = orchestrations {
            builder = builder.orchestrations(orchestrations);
        }
        let runtime = builder
            .start()
            .await
            .unwrap_or_else(|e| panic!("runtime refused to start: {e}"));
        Harness {
            store,
            client: Client::new(dyn_store),
            runtime: Some(runtime),
        }
    }
}
