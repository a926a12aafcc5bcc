//! [`ActivityContext`]: what an activity knows about the call it is serving.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Debug)]
struct ActivityInfo {
    instance: String,
    execution_id: u64,
    orchestration_name: String,
    orchestration_version: String,
    activity_name: String,
    activity_id: u64,
    worker_id: String,
    attempt: u32,
}

/// Passed to every activity: who called it, replay-independent logging, and cancellation.
///
/// Activities run at least once: after a crash an activity whose result was not yet recorded
/// runs again, so make activities idempotent (the instance id and activity id together
/// identify the logical call).
#[derive(Debug, Clone)]
pub struct ActivityContext {
    info: Arc<ActivityInfo>,
    cancelled: watch::Receiver<bool>,
}

/// The sending side of an activity's cancellation signal (held by the worker).
#[derive(Debug)]
pub(crate) struct CancelHandle(watch::Sender<bool>);

impl CancelHandle {
    pub(crate) fn cancel(&self) {
        self.0.send_replace(true);
    }
}

impl ActivityContext {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        instance: String,
        execution_id: u64,
        orchestration_name: String,
        orchestration_version: String,
        activity_name: String,
        activity_id: u64,
        worker_id: String,
        attempt: u32,
    ) -> (Self, CancelHandle) {
        let (tx, rx) = watch::channel(false);
        let ctx = ActivityContext {
            info: Arc::new(ActivityInfo {
                instance,
                execution_id,
                orchestration_name,
                orchestration_version,
                activity_name,
                activity_id,
                worker_id,
                attempt,
            }),
            cancelled: rx,
        };
        (ctx, CancelHandle(tx))
    }

    /// A context for calling an activity function directly, e.g. in a unit test.
    pub fn for_test(activity_name: impl Into<String>) -> Self {
        let (ctx, handle) = ActivityContext::new(
            "test-instance".into(),
            1,
            "test-orchestration".into(),
            "1.0.0".into(),
            activity_name.into(),
            1,
            "test-worker".into(),
            1,
        );
        // Without a sender the signal can never fire, which is what a test context wants.
        drop(handle);
        ctx
    }

    /// The calling orchestration's instance id.
    pub fn instance_id(&self) -> &str {
        &self.info.instance
    }

    /// The calling orchestration's execution id.
    pub fn execution_id(&self) -> u64 {
        self.info.execution_id
    }

    /// The calling orchestration's name.
    pub fn orchestration_name(&self) -> &str {
        &self.info.orchestration_name
    }

    /// The calling orchestration's version.
    pub fn orchestration_version(&self) -> &str {
        &self.info.orchestration_version
    }

    /// This activity's registered name.
    pub fn activity_name(&self) -> &str {
        &self.info.activity_name
    }

    /// The id of this call in the orchestration's history (stable across redeliveries: use it
    /// with the instance id as an idempotency key).
    pub fn activity_id(&self) -> u64 {
        self.info.activity_id
    }

    /// The worker running this call (`<process id>-<dispatcher slot>`).
    pub fn worker_id(&self) -> &str {
        &self.info.worker_id
    }

    /// Which delivery of this work item this is (1 for the first). Counted by the store,
    /// across restarts for the sled store.
    pub fn attempt(&self) -> u32 {
        self.info.attempt
    }

    /// Whether the orchestration ended (completed, failed or was cancelled) while this
    /// activity ran; its result will be ignored, so it should stop early.
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Resolves when [`is_cancelled`](Self::is_cancelled) becomes true (use in `tokio::select!`).
    /// Never resolves for a context that cannot be cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.cancelled.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Logs at INFO with the call's correlation fields.
    pub fn trace_info(&self, message: impl Into<String>) {
        self.trace(tracing::Level::INFO, message.into());
    }

    /// Logs at WARN with the call's correlation fields.
    pub fn trace_warn(&self, message: impl Into<String>) {
        self.trace(tracing::Level::WARN, message.into());
    }

    /// Logs at ERROR with the call's correlation fields.
    pub fn trace_error(&self, message: impl Into<String>) {
        self.trace(tracing::Level::ERROR, message.into());
    }

    /// Logs at DEBUG with the call's correlation fields.
    pub fn trace_debug(&self, message: impl Into<String>) {
        self.trace(tracing::Level::DEBUG, message.into());
    }

    fn trace(&self, level: tracing::Level, message: String) {
        let i = &self.info;
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(
                    target: "duroxide::activity",
                    instance_id = %i.instance,
                    execution_id = i.execution_id,
                    orchestration_name = %i.orchestration_name,
                    activity_name = %i.activity_name,
                    activity_id = i.activity_id,
                    worker_id = %i.worker_id,
                    "{message}"
                )
            };
        }
        match level {
            tracing::Level::ERROR => emit!(error),
            tracing::Level::WARN => emit!(warn),
            tracing::Level::INFO => emit!(info),
            tracing::Level::DEBUG => emit!(debug),
            tracing::Level::TRACE => emit!(trace),
        }
    }
}
