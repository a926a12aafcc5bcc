//! The orchestration dispatcher: fetch an instance's messages, run one turn, commit it.
//!
//! Each loop takes one locked instance at a time from the store. The turn's engine comes
//! from the instance cache when it is current, otherwise it is rebuilt by replaying the
//! stored history. Whatever the turn decides is committed in one
//! [`ack_orchestration_item`](crate::providers::Provider::ack_orchestration_item) call; if
//! that fails, nothing of the turn happened and its messages are delivered again.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::watch;

use super::cache::InstanceCache;
use super::turn::{self, TurnFacts};
use super::RuntimeOptions;
use crate::clock::now_ms;
use crate::error::{ConfigErrorKind, ErrorDetails, ProviderError};
use crate::history::{Event, EventKind, ParentLink};
use crate::orchestration::{
    OrchestrationHandler, ReplayEngine, TurnInput, TurnOutcome, TurnStatus,
};
use crate::providers::{
    InstanceInfo, InstanceStatus, LockToken, OrchestrationItem, OrchestratorMessage, Provider,
    TurnCommit,
};
use crate::registry::OrchestrationRegistry;

pub(crate) struct OrchestrationDispatcher {
    pub(crate) store: Arc<dyn Provider>,
    pub(crate) registry: OrchestrationRegistry,
    pub(crate) options: Arc<RuntimeOptions>,
    pub(crate) cache: InstanceCache,
}

/// How many times one turn's commit is tried on retryable store errors.
const COMMIT_ATTEMPTS: u32 = 3;

/// What a turn resolved to before it is committed. Built and consumed once per turn, so its
/// size does not matter.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    /// Commit this; keep the engine in the cache afterwards if it is still running.
    Commit(TurnCommit, Option<ReplayEngine>),
    /// Leave the messages for later.
    Abandon(std::time::Duration),
}

/// An execution to start.
struct Start {
    execution_id: u64,
    name: String,
    version: Option<String>,
    input: String,
    parent: Option<ParentLink>,
    carried: Vec<(String, String)>,
}

/// The execution a batch of messages is for, and how to get its engine.
enum Target {
    /// Start an execution (first start, or after a continue-as-new).
    Start(Start),
    /// Continue the current execution.
    Resume,
}

impl OrchestrationDispatcher {
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let fetched = tokio::select! {
                r = self.store.fetch_orchestration_item(
                    self.options.orchestrator_lock_timeout,
                    self.options.dispatcher_idle_wait,
                ) => r,
                _ = shutdown.changed() => break,
            };
            match fetched {
                Ok(Some(item)) => {
                    // A bug in turn processing must not silently kill this dispatcher loop:
                    // log it and carry on; the item's lock expires and the turn runs again.
                    let instance = item.instance.clone();
                    if let Err(panic) = AssertUnwindSafe(self.process(item)).catch_unwind().await {
                        tracing::error!(
                            target: "duroxide::runtime",
                            instance_id = %instance,
                            panic = %crate::orchestration::replay::panic_message(panic.as_ref()),
                            "processing a turn panicked; it will be retried when its lock expires"
                        );
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: "duroxide::runtime", error = %e, "fetching orchestration work failed");
                    tokio::select! {
                        _ = tokio::time::sleep(self.options.retry_delay) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        }
    }

    async fn process(&self, item: OrchestrationItem) {
        let instance = item.instance.clone();
        let token = item.lock_token.clone();
        match self.prepare(item).await {
            Prepared::Commit(commit, engine) => {
                self.commit(&instance, &token, commit, engine).await
            }
            Prepared::Abandon(delay) => {
                if let Err(e) = self
                    .store
                    .abandon_orchestration_item(&token, Some(delay))
                    .await
                {
                    tracing::debug!(target: "duroxide::runtime", instance_id = %instance, error = %e, "abandon failed");
                }
            }
        }
    }

    /// Commits a turn. A retryable store error is retried a few times with the same commit
    /// (the turn is deterministic and the lock still ours); if the store did commit after
    /// all, the retry finds the lock gone and stops. Anything else abandons the item so the
    /// turn runs again promptly instead of after the lock expires.
    async fn commit(
        &self,
        instance: &str,
        token: &LockToken,
        commit: TurnCommit,
        engine: Option<ReplayEngine>,
    ) {
        let mut attempt = 1;
        loop {
            match self
                .store
                .ack_orchestration_item(token, commit.clone())
                .await
            {
                Ok(()) => {
                    if let Some(engine) = engine {
                        self.cache.put(instance.to_string(), engine);
                    }
                    return;
                }
                Err(ProviderError::InstanceAlreadyExists(child)) => {
                    // Another start claimed a child id between our check and the commit. The
                    // turn did not happen; when it runs again the check sees the child.
                    tracing::info!(target: "duroxide::runtime", instance_id = %instance, child = %child, "turn retried: child instance appeared");
                    return;
                }
                Err(ProviderError::LockLost) => {
                    tracing::warn!(target: "duroxide::runtime", instance_id = %instance, "turn lost its lock before committing; it will run again");
                    return;
                }
                Err(e) if e.is_retryable() && attempt < COMMIT_ATTEMPTS => {
                    tracing::debug!(target: "duroxide::runtime", instance_id = %instance, error = %e, attempt, "committing turn failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(self.options.retry_delay).await;
                }
                Err(e) => {
                    tracing::warn!(target: "duroxide::runtime", instance_id = %instance, error = %e, "committing turn failed; it will run again");
                    let _ = self
                        .store
                        .abandon_orchestration_item(token, Some(self.options.retry_delay))
                        .await;
                    return;
                }
            }
        }
    }

    async fn prepare(&self, item: OrchestrationItem) -> Prepared {
        let OrchestrationItem {
            instance,
            messages,
            info,
            attempt,
            ..
        } = item;
        let now = now_ms();
        let Some(info) = info else {
            for m in &messages {
                tracing::warn!(target: "duroxide::runtime", instance_id = %instance, kind = m.kind(), "message for an instance that does not exist dropped");
            }
            return Prepared::Commit(drop_only(), None);
        };
        if info.status.is_terminal() {
            for m in &messages {
                tracing::debug!(target: "duroxide::runtime", instance_id = %instance, kind = m.kind(), status = info.status.as_str(), "message for a finished instance dropped");
            }
            return Prepared::Commit(drop_only(), None);
        }

        let (target, inputs) = match sort_messages(&instance, &info, messages) {
            Some(sorted) => sorted,
            None => {
                tracing::warn!(target: "duroxide::runtime", instance_id = %instance, "instance has messages but no start yet; retrying later");
                return Prepared::Abandon(self.options.retry_delay);
            }
        };

        if attempt > self.options.max_orchestration_deliveries {
            let details = ErrorDetails::Poison {
                message_kind: format!("orchestration turn of '{}'", info.name),
                attempts: attempt - 1,
                message: "delivered again and again without its turn ever being committed \
                          (the process running it crashed or lost the lock each time); \
                          not run again"
                    .into(),
            };
            tracing::error!(target: "duroxide::runtime", instance_id = %instance, details = %details, "poison turn; failing the instance");
            // Drop any cached engine: the instance is about to end.
            let _ = self
                .cache
                .take(&instance, info.execution_id, info.history_len);
            let commit = match target {
                Target::Start(start) => {
                    let version = self
                        .registry
                        .resolve(&start.name, start.version.as_deref())
                        .map(|(v, _)| v.to_string());
                    fail_start(&instance, &info, start, version, details, now)
                }
                Target::Resume => self.fail_without_engine(&info, details, now),
            };
            return Prepared::Commit(commit, None);
        }

        match target {
            Target::Start(start) => {
                let Some((version, handler)) =
                    self.registry.resolve(&start.name, start.version.as_deref())
                else {
                    let details = unregistered(&start.name, start.version.as_deref());
                    return Prepared::Commit(
                        fail_start(&instance, &info, start, None, details, now),
                        None,
                    );
                };
                let Start {
                    execution_id,
                    name,
                    input,
                    parent,
                    carried,
                    ..
                } = start;
                let engine = ReplayEngine::start(
                    &instance,
                    execution_id,
                    &name,
                    &version,
                    &input,
                    parent.clone(),
                    &handler,
                    now,
                );
                let mut all_inputs: Vec<TurnInput> = carried
                    .into_iter()
                    .map(|(name, data)| TurnInput::ExternalEvent { name, data })
                    .collect();
                all_inputs.extend(
                    inputs
                        .into_iter()
                        .filter_map(|(exec, input)| (exec.is_none()).then_some(input)),
                );
                let facts = TurnFacts {
                    instance: &instance,
                    incarnation: info.incarnation,
                    name: &name,
                    version: &version,
                    execution_id,
                    parent,
                    created_at_ms: info.created_at_ms,
                    now_ms: now,
                };
                self.run_turn(&facts, engine, 0, all_inputs).await
            }
            Target::Resume => {
                let execution_id = info.execution_id;
                let engine = match self.cache.take(&instance, execution_id, info.history_len) {
                    Some(engine) => engine,
                    None => match self.rebuild(&instance, &info).await {
                        Ok(engine) => engine,
                        Err(Rebuild::Retry(e)) => {
                            tracing::warn!(target: "duroxide::runtime", instance_id = %instance, error = %e, "reading history failed; retrying later");
                            return Prepared::Abandon(self.options.retry_delay);
                        }
                        Err(Rebuild::Fail(details)) => {
                            tracing::error!(target: "duroxide::runtime", instance_id = %instance, details = %details, "instance cannot be resumed; failing it");
                            return Prepared::Commit(
                                self.fail_without_engine(&info, details, now),
                                None,
                            );
                        }
                    },
                };
                let inputs = inputs
                    .into_iter()
                    .filter_map(|(exec, input)| match exec {
                        Some(e) if e != execution_id => {
                            tracing::debug!(target: "duroxide::runtime", instance_id = %instance, stale_execution = e, "result for an earlier execution dropped");
                            None
                        }
                        _ => Some(input),
                    })
                    .collect();
                let name = info.name.clone();
                let version = info.version.clone().unwrap_or_default();
                let facts = TurnFacts {
                    instance: &instance,
                    incarnation: info.incarnation,
                    name: &name,
                    version: &version,
                    execution_id,
                    parent: info.parent.clone(),
                    created_at_ms: info.created_at_ms,
                    now_ms: now,
                };
                self.run_turn(&facts, engine, info.history_len, inputs)
                    .await
            }
        }
    }

    /// Runs the engine for one turn, applies the limits and plans the commit.
    async fn run_turn(
        &self,
        facts: &TurnFacts<'_>,
        mut engine: ReplayEngine,
        base_len: u64,
        inputs: Vec<TurnInput>,
    ) -> Prepared {
        let open_before = engine.open_children();
        let mut outcome = engine.turn(inputs, facts.now_ms);
        for (input, reason) in &outcome.rejected {
            tracing::debug!(target: "duroxide::runtime", instance_id = %facts.instance, ?input, reason, "input not applied");
        }
        let len_after = base_len + outcome.new_events.len() as u64;
        if let Some(details) = turn::check_limits(&outcome, len_after, &self.options, facts.name) {
            tracing::warn!(target: "duroxide::runtime", instance_id = %facts.instance, details = %details, "turn exceeds a limit; failing the instance");
            outcome = turn::fail_outcome(outcome, base_len, details, open_before, facts.now_ms);
        }
        let len_after = base_len + outcome.new_events.len() as u64;
        if let TurnStatus::Failed { details } = &outcome.status {
            tracing::info!(target: "duroxide::runtime", instance_id = %facts.instance, details = %details, "orchestration failed");
        }

        // Which children the turn would create already exist?
        let mut existing = HashSet::new();
        for child in turn::children_started(&outcome) {
            match self.store.get_instance(&child).await {
                Ok(Some(_)) => {
                    existing.insert(child);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: "duroxide::runtime", instance_id = %facts.instance, error = %e, "checking a child instance failed; retrying later");
                    return Prepared::Abandon(self.options.retry_delay);
                }
            }
        }
        let keep = !outcome.status.is_terminal();
        let commit = turn::plan_commit(facts, outcome, len_after, &existing);
        Prepared::Commit(commit, keep.then_some(engine))
    }

    async fn rebuild(&self, instance: &str, info: &InstanceInfo) -> Result<ReplayEngine, Rebuild> {
        let history = match self.store.read_history(instance, info.execution_id).await {
            Ok(h) => h,
            Err(e @ ProviderError::Corrupt { .. }) => {
                return Err(Rebuild::Fail(ErrorDetails::infrastructure(
                    "read history",
                    e.to_string(),
                    false,
                )))
            }
            Err(e) => return Err(Rebuild::Retry(e)),
        };
        let Some(Event {
            kind: EventKind::OrchestrationStarted { name, version, .. },
            ..
        }) = history.first()
        else {
            return Err(Rebuild::Fail(ErrorDetails::infrastructure(
                "read history",
                format!(
                    "execution {} has no OrchestrationStarted event",
                    info.execution_id
                ),
                false,
            )));
        };
        let handler: OrchestrationHandler = match self.registry.resolve(name, Some(version)) {
            Some((_, h)) => h,
            None => return Err(Rebuild::Fail(unregistered(name, Some(version)))),
        };
        ReplayEngine::resume(instance, info.execution_id, &history, &handler).map_err(Rebuild::Fail)
    }

    /// Fails an instance whose execution cannot be run (its history is unreadable, or its
    /// version is no longer registered). The history is left as it is; only the record and
    /// the parent learn of the failure.
    fn fail_without_engine(
        &self,
        info: &InstanceInfo,
        details: ErrorDetails,
        now: u64,
    ) -> TurnCommit {
        let outcome = TurnOutcome {
            new_events: Vec::new(),
            actions: Vec::new(),
            status: TurnStatus::Failed { details },
            rejected: Vec::new(),
            open_children: Vec::new(),
        };
        let version = info.version.clone().unwrap_or_default();
        let facts = TurnFacts {
            instance: &info.instance,
            incarnation: info.incarnation,
            name: &info.name,
            version: &version,
            execution_id: info.execution_id,
            parent: info.parent.clone(),
            created_at_ms: info.created_at_ms,
            now_ms: now,
        };
        turn::plan_commit(&facts, outcome, info.history_len, &HashSet::new())
    }
}

/// Fails an execution before any of its code runs: its history becomes the start and the
/// failure, and the parent (if any) is told. `version` is the resolved version, if any.
fn fail_start(
    instance: &str,
    info: &InstanceInfo,
    start: Start,
    version: Option<String>,
    details: ErrorDetails,
    now: u64,
) -> TurnCommit {
    let version = version
        .or(start.version)
        .unwrap_or_else(|| "unresolved".into());
    let events = vec![
        Event {
            event_id: 1,
            timestamp_ms: now,
            kind: EventKind::OrchestrationStarted {
                name: start.name.clone(),
                version: version.clone(),
                input: start.input,
                parent: start.parent.clone(),
            },
        },
        Event {
            event_id: 2,
            timestamp_ms: now,
            kind: EventKind::OrchestrationFailed {
                details: details.clone(),
            },
        },
    ];
    let outcome = TurnOutcome {
        new_events: events,
        actions: Vec::new(),
        status: TurnStatus::Failed { details },
        rejected: Vec::new(),
        open_children: Vec::new(),
    };
    let facts = TurnFacts {
        instance,
        incarnation: info.incarnation,
        name: &start.name,
        version: &version,
        execution_id: start.execution_id,
        parent: start.parent,
        created_at_ms: info.created_at_ms,
        now_ms: now,
    };
    turn::plan_commit(&facts, outcome, 2, &HashSet::new())
}

enum Rebuild {
    Retry(ProviderError),
    Fail(ErrorDetails),
}

fn unregistered(name: &str, version: Option<&str>) -> ErrorDetails {
    ErrorDetails::configuration(
        ConfigErrorKind::UnregisteredOrchestration,
        name,
        match version {
            Some(v) => format!("orchestration '{name}' version {v} is not registered"),
            None => format!("orchestration '{name}' is not registered"),
        },
    )
}

/// A commit that only consumes the messages (for deleted or finished instances).
fn drop_only() -> TurnCommit {
    TurnCommit {
        execution_id: 0,
        history: Vec::new(),
        instance: None,
        new_instances: Vec::new(),
        orchestrator_messages: Vec::new(),
        work_items: Vec::new(),
    }
}

/// A turn input with the execution it was addressed to (`None`: whichever is current).
type AddressedInput = (Option<u64>, TurnInput);

/// Splits a batch into what it starts (if anything) and the inputs, each tagged with the
/// execution it was addressed to (`None`: the current one, whichever that is). Returns
/// `None` if the instance has not started and the batch holds no start.
fn sort_messages(
    instance: &str,
    info: &InstanceInfo,
    messages: Vec<OrchestratorMessage>,
) -> Option<(Target, Vec<AddressedInput>)> {
    let mut target = None;
    let mut inputs = Vec::new();
    for message in messages {
        if message.incarnation().is_some_and(|i| i != info.incarnation) {
            // A result or timer of an earlier instance with this id (deleted, then reused).
            tracing::debug!(target: "duroxide::runtime", instance_id = %instance, kind = message.kind(), "message for an earlier incarnation dropped");
            continue;
        }
        match message {
            OrchestratorMessage::StartOrchestration {
                name,
                version,
                input,
                parent,
                ..
            } => {
                if info.execution_id == 0
                    && info.status == InstanceStatus::Pending
                    && target.is_none()
                {
                    target = Some(Target::Start(Start {
                        execution_id: 1,
                        name,
                        version,
                        input,
                        parent,
                        carried: Vec::new(),
                    }));
                } else {
                    tracing::warn!(target: "duroxide::runtime", instance_id = %instance, "duplicate start ignored");
                }
            }
            OrchestratorMessage::ContinueAsNew {
                name,
                version,
                input,
                from_execution,
                carried_events,
                ..
            } => {
                if from_execution == info.execution_id && target.is_none() {
                    target = Some(Target::Start(Start {
                        execution_id: from_execution + 1,
                        name,
                        version,
                        input,
                        parent: info.parent.clone(),
                        carried: carried_events,
                    }));
                    // Results addressed to the old execution are stale from here on.
                    inputs.retain(|(exec, _): &AddressedInput| exec.is_none());
                }
            }
            OrchestratorMessage::ActivityCompleted {
                execution_id,
                id,
                result,
                ..
            } => inputs.push((
                Some(execution_id),
                TurnInput::ActivityCompleted { id, result },
            )),
            OrchestratorMessage::ActivityFailed {
                execution_id,
                id,
                details,
                ..
            } => inputs.push((
                Some(execution_id),
                TurnInput::ActivityFailed { id, details },
            )),
            OrchestratorMessage::TimerFired {
                execution_id,
                id,
                fire_at_ms,
                ..
            } => inputs.push((Some(execution_id), TurnInput::TimerFired { id, fire_at_ms })),
            OrchestratorMessage::ExternalEvent { name, data, .. } => {
                inputs.push((None, TurnInput::ExternalEvent { name, data }))
            }
            OrchestratorMessage::SubOrchestrationCompleted {
                execution_id,
                id,
                result,
                ..
            } => inputs.push((
                Some(execution_id),
                TurnInput::SubOrchestrationCompleted { id, result },
            )),
            OrchestratorMessage::SubOrchestrationFailed {
                execution_id,
                id,
                details,
                ..
            } => inputs.push((
                Some(execution_id),
                TurnInput::SubOrchestrationFailed { id, details },
            )),
            OrchestratorMessage::CancelInstance { reason, .. } => {
                inputs.push((None, TurnInput::CancelRequested { reason }))
            }
        }
    }
    match target {
        Some(t) => Some((t, inputs)),
        None if info.execution_id == 0 => None,
        None => Some((Target::Resume, inputs)),
    }
}
