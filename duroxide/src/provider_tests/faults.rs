//! [`FaultyProvider`]: a store wrapper that fails or delays chosen operations at chosen
//! rates, to show the runtime survives an unreliable store.
//!
//! Two kinds of failure matter for a commit: one *before* the store acted (nothing
//! happened) and one *after* it (the commit landed but the caller was told it failed). The
//! runtime must handle both: retry the first, and not duplicate anything on the second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::ProviderError;
use crate::history::Event;
use crate::providers::{
    InstanceInfo, InstanceWatch, LockToken, OrchestrationItem, OrchestratorMessage, Provider,
    TurnCommit, WorkItemLease,
};

/// The operations faults can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultPoint {
    /// `fetch_orchestration_item` fails before fetching.
    FetchOrchestration,
    /// `ack_orchestration_item` fails before committing.
    AckOrchestrationBefore,
    /// `ack_orchestration_item` commits, then reports a failure.
    AckOrchestrationAfter,
    /// `fetch_work_item` fails before fetching.
    FetchWork,
    /// `ack_work_item` fails before committing.
    AckWorkBefore,
    /// `ack_work_item` commits, then reports a failure.
    AckWorkAfter,
    /// `renew_work_item_lock` fails (the lock is not renewed).
    RenewWork,
    /// `read_history` fails.
    ReadHistory,
    /// `get_instance` fails.
    GetInstance,
    /// `enqueue_orchestrator_message` fails before enqueueing.
    Enqueue,
}

const POINTS: usize = 10;

/// Which faults to inject, how often, and how they look.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    rates: Vec<(FaultPoint, f64)>,
    /// The error injected faults return (retryable `Storage` by default).
    pub error: ProviderError,
    /// With this probability, any operation is first delayed by up to `max_delay`.
    pub delay_rate: f64,
    /// Longest injected delay.
    pub max_delay: Duration,
    /// Seed of the fault schedule (same seed, same decisions in the same call order).
    pub seed: u64,
}

impl FaultPlan {
    /// No faults yet; add them with [`fail`](Self::fail).
    pub fn new(seed: u64) -> Self {
        FaultPlan {
            rates: Vec::new(),
            error: ProviderError::Storage("injected fault".into()),
            delay_rate: 0.0,
            max_delay: Duration::ZERO,
            seed,
        }
    }

    /// Fails `point` with probability `rate` (0.0–1.0).
    pub fn fail(mut self, point: FaultPoint, rate: f64) -> Self {
        self.rates.retain(|(p, _)| *p != point);
        self.rates.push((point, rate.clamp(0.0, 1.0)));
        self
    }

    /// Fails every point with probability `rate`.
    pub fn fail_everywhere(mut self, rate: f64) -> Self {
        for point in ALL_POINTS {
            self = self.fail(point, rate);
        }
        self
    }

    /// Delays operations with probability `rate` by up to `max`.
    pub fn delay(mut self, rate: f64, max: Duration) -> Self {
        self.delay_rate = rate.clamp(0.0, 1.0);
        self.max_delay = max;
        self
    }

    /// The error injected faults return.
    pub fn with_error(mut self, error: ProviderError) -> Self {
        self.error = error;
        self
    }

    fn rate(&self, point: FaultPoint) -> f64 {
        self.rates
            .iter()
            .find(|(p, _)| *p == point)
            .map(|(_, r)| *r)
            .unwrap_or(0.0)
    }
}

const ALL_POINTS: [FaultPoint; POINTS] = [
    FaultPoint::FetchOrchestration,
    FaultPoint::AckOrchestrationBefore,
    FaultPoint::AckOrchestrationAfter,
    FaultPoint::FetchWork,
    FaultPoint::AckWorkBefore,
    FaultPoint::AckWorkAfter,
    FaultPoint::RenewWork,
    FaultPoint::ReadHistory,
    FaultPoint::GetInstance,
    FaultPoint::Enqueue,
];

/// A [`Provider`] that passes every call to `inner`, except the faults its plan injects.
pub struct FaultyProvider {
    inner: Arc<dyn Provider>,
    plan: FaultPlan,
    rng: Mutex<fastrand::Rng>,
    injected: [AtomicU64; POINTS],
    enabled: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for FaultyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyProvider")
            .field("plan", &self.plan)
            .finish()
    }
}

impl FaultyProvider {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Provider>, plan: FaultPlan) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(plan.seed));
        FaultyProvider {
            inner,
            plan,
            rng,
            injected: Default::default(),
            enabled: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// How many faults were injected at `point` so far.
    pub fn injected(&self, point: FaultPoint) -> u64 {
        self.injected[Self::slot(point)].load(Ordering::Relaxed)
    }

    /// How many faults were injected in all.
    pub fn injected_total(&self) -> u64 {
        self.injected
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Turns injection on or off (e.g. off to let a workload drain and check it).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    fn slot(point: FaultPoint) -> usize {
        ALL_POINTS.iter().position(|p| *p == point).unwrap_or(0)
    }

    /// Delays (maybe), then decides whether `point` fails this time.
    async fn roll(&self, point: FaultPoint) -> Result<(), ProviderError> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        let (delay, fail) = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            let delay =
                (rng.f64() < self.plan.delay_rate).then(|| self.plan.max_delay.mul_f64(rng.f64()));
            (delay, rng.f64() < self.plan.rate(point))
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if fail {
            self.injected[Self::slot(point)].fetch_add(1, Ordering::Relaxed);
            return Err(self.plan.error.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for FaultyProvider {
    async fn fetch_orchestration_item(
        &self,
        lock_timeout: Duration,
        wait: Duration,
    ) -> Result<Option<OrchestrationItem>, ProviderError> {
        self.roll(FaultPoint::FetchOrchestration).await?;
        self.inner
            .fetch_orchestration_item(lock_timeout, wait)
            .await
    }

    async fn ack_orchestration_item(
        &self,
        lock_token: &LockToken,
        commit: TurnCommit,
    ) -> Result<(), ProviderError> {
        self.roll(FaultPoint::AckOrchestrationBefore).await?;
        self.inner
            .ack_orchestration_item(lock_token, commit)
            .await?;
        self.roll(FaultPoint::AckOrchestrationAfter).await
    }

    async fn abandon_orchestration_item(
        &self,
        lock_token: &LockToken,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        self.inner
            .abandon_orchestration_item(lock_token, delay)
            .await
    }

    async fn renew_orchestration_item_lock(
        &self,
        lock_token: &LockToken,
        lock_timeout: Duration,
    ) -> Result<(), ProviderError> {
        self.inner
            .renew_orchestration_item_lock(lock_token, lock_timeout)
            .await
    }

    async fn fetch_work_item(
        &self,
        lock_timeout: Duration,
        wait: Duration,
    ) -> Result<Option<WorkItemLease>, ProviderError> {
        self.roll(FaultPoint::FetchWork).await?;
        self.inner.fetch_work_item(lock_timeout, wait).await
    }

    async fn ack_work_item(
        &self,
        lock_token: &LockToken,
        completion: Option<OrchestratorMessage>,
    ) -> Result<(), ProviderError> {
        self.roll(FaultPoint::AckWorkBefore).await?;
        self.inner.ack_work_item(lock_token, completion).await?;
        self.roll(FaultPoint::AckWorkAfter).await
    }

    async fn renew_work_item_lock(
        &self,
        lock_token: &LockToken,
        lock_timeout: Duration,
    ) -> Result<(), ProviderError> {
        self.roll(FaultPoint::RenewWork).await?;
        self.inner
            .renew_work_item_lock(lock_token, lock_timeout)
            .await
    }

    async fn abandon_work_item(
        &self,
        lock_token: &LockToken,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        self.inner.abandon_work_item(lock_token, delay).await
    }

    async fn create_instance(
        &self,
        info: InstanceInfo,
        start: OrchestratorMessage,
    ) -> Result<(), ProviderError> {
        self.inner.create_instance(info, start).await
    }

    async fn enqueue_orchestrator_message(
        &self,
        message: OrchestratorMessage,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        self.roll(FaultPoint::Enqueue).await?;
        self.inner
            .enqueue_orchestrator_message(message, delay)
            .await
    }

    async fn get_instance(&self, instance: &str) -> Result<Option<InstanceInfo>, ProviderError> {
        self.roll(FaultPoint::GetInstance).await?;
        self.inner.get_instance(instance).await
    }

    async fn read_history(
        &self,
        instance: &str,
        execution_id: u64,
    ) -> Result<Vec<Event>, ProviderError> {
        self.roll(FaultPoint::ReadHistory).await?;
        self.inner.read_history(instance, execution_id).await
    }

    async fn list_executions(&self, instance: &str) -> Result<Vec<u64>, ProviderError> {
        self.inner.list_executions(instance).await
    }

    async fn list_instances(&self) -> Result<Vec<String>, ProviderError> {
        self.inner.list_instances().await
    }

    async fn delete_instance(&self, instance: &str) -> Result<(), ProviderError> {
        self.inner.delete_instance(instance).await
    }

    async fn delete_executions(
        &self,
        instance: &str,
        execution_ids: &[u64],
    ) -> Result<(), ProviderError> {
        self.inner.delete_executions(instance, execution_ids).await
    }

    fn instance_watch(&self) -> Option<Arc<InstanceWatch>> {
        self.inner.instance_watch()
    }
}
