//! [`Client`]: start, signal, cancel, observe and manage orchestration instances.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clock::now_ms;
use crate::error::{ClientError, ErrorDetails, ProviderError};
use crate::history::{Event, EventKind};
use crate::providers::{InstanceInfo, InstanceStatus, OrchestratorMessage, Provider};

/// The largest payload the client accepts by default (matches `RuntimeOptions`' default).
const DEFAULT_MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// An instance's status as the client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrchestrationStatus {
    /// No instance has this id.
    NotFound,
    /// Started and not finished (including between executions of a continue-as-new).
    Running,
    /// Finished successfully.
    Completed {
        /// The orchestration's output.
        output: String,
    },
    /// Finished with a failure (including cancellation).
    Failed {
        /// Why.
        details: ErrorDetails,
    },
}

impl OrchestrationStatus {
    /// Whether the instance has finished for good.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            OrchestrationStatus::Completed { .. } | OrchestrationStatus::Failed { .. }
        )
    }
}

impl From<&InstanceStatus> for OrchestrationStatus {
    fn from(status: &InstanceStatus) -> Self {
        match status {
            InstanceStatus::Pending | InstanceStatus::Running => OrchestrationStatus::Running,
            InstanceStatus::Completed { output } => OrchestrationStatus::Completed {
                output: output.clone(),
            },
            InstanceStatus::Failed { details } => OrchestrationStatus::Failed {
                details: details.clone(),
            },
        }
    }
}

/// An instance and the sub-orchestrations it started, recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceTree {
    /// The instance id.
    pub instance: String,
    /// Its status.
    pub status: OrchestrationStatus,
    /// Its sub-orchestrations that still exist.
    pub children: Vec<InstanceTree>,
}

impl InstanceTree {
    /// Every instance id in the tree, parents before children.
    pub fn all_instances(&self) -> Vec<String> {
        let mut out = vec![self.instance.clone()];
        for child in &self.children {
            out.extend(child.all_instances());
        }
        out
    }
}

/// Talks to a store on behalf of an application: no runtime needed in the same process
/// (for a store that several processes can share).
#[derive(Clone)]
pub struct Client {
    store: Arc<dyn Provider>,
    max_payload_bytes: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `store`.
    pub fn new(store: Arc<dyn Provider>) -> Self {
        Client {
            store,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    /// Changes the largest payload this client accepts (keep it equal to the runtime's
    /// `max_payload_bytes`).
    pub fn with_max_payload_bytes(mut self, max: usize) -> Self {
        self.max_payload_bytes = max;
        self
    }

    fn check_payload(&self, what: &str, payload: &str) -> Result<(), ClientError> {
        if payload.len() > self.max_payload_bytes {
            return Err(ClientError::InvalidInput(format!(
                "{what} is {} bytes, more than the limit of {} bytes",
                payload.len(),
                self.max_payload_bytes
            )));
        }
        Ok(())
    }

    fn check_id(instance: &str) -> Result<(), ClientError> {
        if instance.is_empty() {
            return Err(ClientError::InvalidInput("instance id is empty".into()));
        }
        Ok(())
    }

    // ---- starting ----------------------------------------------------------------------

    /// Starts a new instance of the latest registered version of orchestration `name`.
    /// Fails with [`ClientError::InstanceAlreadyExists`] if the id is taken.
    pub async fn start_orchestration(
        &self,
        instance: impl AsRef<str>,
        name: impl AsRef<str>,
        input: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.start(instance.as_ref(), name.as_ref(), None, input.into())
            .await
    }

    /// Starts a new instance running a specific registered version.
    pub async fn start_orchestration_versioned(
        &self,
        instance: impl AsRef<str>,
        name: impl AsRef<str>,
        version: impl Into<String>,
        input: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.start(
            instance.as_ref(),
            name.as_ref(),
            Some(version.into()),
            input.into(),
        )
        .await
    }

    /// Starts a new instance with a JSON-encoded input.
    pub async fn start_orchestration_typed<In: Serialize>(
        &self,
        instance: impl AsRef<str>,
        name: impl AsRef<str>,
        input: &In,
    ) -> Result<(), ClientError> {
        let input = crate::json::encode(input).map_err(ClientError::Serialization)?;
        self.start(instance.as_ref(), name.as_ref(), None, input)
            .await
    }

    async fn start(
        &self,
        instance: &str,
        name: &str,
        version: Option<String>,
        input: String,
    ) -> Result<(), ClientError> {
        Self::check_id(instance)?;
        self.check_payload("orchestration input", &input)?;
        if let Some(v) = &version {
            semver::Version::parse(v).map_err(|e| {
                ClientError::InvalidInput(format!("version '{v}' is not MAJOR.MINOR.PATCH: {e}"))
            })?;
        }
        let now = now_ms();
        let info = InstanceInfo {
            instance: instance.to_string(),
            incarnation: crate::providers::new_incarnation(),
            name: name.to_string(),
            version: None,
            status: InstanceStatus::Pending,
            execution_id: 0,
            history_len: 0,
            parent: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        let start = OrchestratorMessage::StartOrchestration {
            instance: instance.to_string(),
            name: name.to_string(),
            version,
            input,
            parent: None,
        };
        match self.store.create_instance(info, start).await {
            Ok(()) => Ok(()),
            Err(ProviderError::InstanceAlreadyExists(instance)) => {
                Err(ClientError::InstanceAlreadyExists { instance })
            }
            Err(e) => Err(e.into()),
        }
    }

    // ---- signalling --------------------------------------------------------------------

    /// Raises an external event for a running instance's `schedule_wait(name)`.
    ///
    /// The event is kept until a wait for `name` consumes it, so it may be raised before the
    /// orchestration reaches its wait. For an unknown or finished instance nothing happens
    /// and the call says so: [`ClientError::InstanceNotFound`] or
    /// [`ClientError::InstanceNotRunning`].
    pub async fn raise_event(
        &self,
        instance: impl AsRef<str>,
        event_name: impl Into<String>,
        data: impl Into<String>,
    ) -> Result<(), ClientError> {
        let instance = instance.as_ref();
        let data = data.into();
        self.check_payload("event data", &data)?;
        self.require_running(instance).await?;
        self.store
            .enqueue_orchestrator_message(
                OrchestratorMessage::ExternalEvent {
                    instance: instance.to_string(),
                    name: event_name.into(),
                    data,
                },
                None,
            )
            .await?;
        Ok(())
    }

    /// Raises an event with a JSON-encoded payload.
    pub async fn raise_event_typed<T: Serialize>(
        &self,
        instance: impl AsRef<str>,
        event_name: impl Into<String>,
        data: &T,
    ) -> Result<(), ClientError> {
        let data = crate::json::encode(data).map_err(ClientError::Serialization)?;
        self.raise_event(instance, event_name, data).await
    }

    /// Cancels a running instance: it ends as `Failed` with the reason in its details, and its
    /// running sub-orchestrations are cancelled too. For an unknown or finished instance,
    /// nothing happens and the call says so (as for [`raise_event`](Self::raise_event)).
    pub async fn cancel_instance(
        &self,
        instance: impl AsRef<str>,
        reason: impl Into<String>,
    ) -> Result<(), ClientError> {
        let instance = instance.as_ref();
        self.require_running(instance).await?;
        self.store
            .enqueue_orchestrator_message(
                OrchestratorMessage::CancelInstance {
                    instance: instance.to_string(),
                    reason: reason.into(),
                },
                None,
            )
            .await?;
        Ok(())
    }

    async fn require_running(&self, instance: &str) -> Result<(), ClientError> {
        match self.store.get_instance(instance).await? {
            None => Err(ClientError::InstanceNotFound {
                instance: instance.to_string(),
            }),
            Some(info) if info.status.is_terminal() => Err(ClientError::InstanceNotRunning {
                instance: instance.to_string(),
                status: info.status.as_str().to_string(),
            }),
            Some(_) => Ok(()),
        }
    }

    // ---- observing ---------------------------------------------------------------------

    /// The instance's current status.
    pub async fn get_orchestration_status(
        &self,
        instance: impl AsRef<str>,
    ) -> Result<OrchestrationStatus, ClientError> {
        Ok(match self.store.get_instance(instance.as_ref()).await? {
            None => OrchestrationStatus::NotFound,
            Some(info) => (&info.status).into(),
        })
    }

    /// Waits until the instance finishes (or `timeout` passes: [`ClientError::Timeout`]).
    /// Returns `NotFound` at once for an unknown instance.
    ///
    /// With a store that notifies (the embedded sled store does), this returns as soon as the
    /// final turn commits; otherwise it polls with backoff.
    pub async fn wait_for_orchestration(
        &self,
        instance: impl AsRef<str>,
        timeout: Duration,
    ) -> Result<OrchestrationStatus, ClientError> {
        let instance = instance.as_ref();
        let deadline = tokio::time::Instant::now() + timeout;
        let subscription = self.store.instance_watch().map(|w| w.subscribe(instance));
        let mut backoff = Duration::from_millis(5);
        loop {
            // Register for the next change before reading, so a commit in between is seen.
            let mut notified = subscription.as_ref().map(|s| Box::pin(s.notified()));
            if let Some(n) = notified.as_mut() {
                n.as_mut().enable();
            }
            let status = self.get_orchestration_status(instance).await?;
            if status != OrchestrationStatus::Running {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    instance: instance.to_string(),
                    timeout,
                });
            }
            match notified {
                Some(n) => {
                    let _ = tokio::time::timeout_at(deadline, n).await;
                }
                None => {
                    tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + backoff))
                        .await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Waits for the instance and decodes its JSON output. The outer `Result` is about
    /// waiting (timeout, store errors, unknown instance); the inner one is the
    /// orchestration's own success or failure message.
    pub async fn wait_for_orchestration_typed<Out: DeserializeOwned>(
        &self,
        instance: impl AsRef<str>,
        timeout: Duration,
    ) -> Result<Result<Out, String>, ClientError> {
        let instance = instance.as_ref();
        match self.wait_for_orchestration(instance, timeout).await? {
            OrchestrationStatus::Completed { output } => Ok(crate::json::decode::<Out>(&output)),
            OrchestrationStatus::Failed { details } => Ok(Err(details.display_message())),
            OrchestrationStatus::NotFound => Err(ClientError::InstanceNotFound {
                instance: instance.to_string(),
            }),
            OrchestrationStatus::Running => Err(ClientError::Timeout {
                instance: instance.to_string(),
                timeout,
            }),
        }
    }

    /// The instance's stored record (name, version, execution, timestamps, parent).
    pub async fn get_instance_info(
        &self,
        instance: impl AsRef<str>,
    ) -> Result<Option<InstanceInfo>, ClientError> {
        Ok(self.store.get_instance(instance.as_ref()).await?)
    }

    /// Every instance id in the store, sorted.
    pub async fn list_instances(&self) -> Result<Vec<String>, ClientError> {
        Ok(self.store.list_instances().await?)
    }

    /// The instance's execution ids that still have history, ascending.
    pub async fn list_executions(
        &self,
        instance: impl AsRef<str>,
    ) -> Result<Vec<u64>, ClientError> {
        Ok(self.store.list_executions(instance.as_ref()).await?)
    }

    /// The history of the instance's current (latest) execution.
    pub async fn read_history(&self, instance: impl AsRef<str>) -> Result<Vec<Event>, ClientError> {
        let instance = instance.as_ref();
        match self.store.get_instance(instance).await? {
            Some(info) if info.execution_id > 0 => {
                Ok(self.store.read_history(instance, info.execution_id).await?)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The history of one execution.
    pub async fn read_execution_history(
        &self,
        instance: impl AsRef<str>,
        execution_id: u64,
    ) -> Result<Vec<Event>, ClientError> {
        Ok(self
            .store
            .read_history(instance.as_ref(), execution_id)
            .await?)
    }

    // ---- management --------------------------------------------------------------------

    /// The instance and its sub-orchestrations (recursively): what
    /// [`delete_instance`](Self::delete_instance) would remove.
    pub async fn get_instance_tree(
        &self,
        instance: impl AsRef<str>,
    ) -> Result<InstanceTree, ClientError> {
        let mut seen = HashSet::new();
        self.tree(instance.as_ref().to_string(), &mut seen).await
    }

    fn tree<'a>(
        &'a self,
        instance: String,
        seen: &'a mut HashSet<String>,
    ) -> futures::future::BoxFuture<'a, Result<InstanceTree, ClientError>> {
        Box::pin(async move {
            seen.insert(instance.clone());
            let status = self.get_orchestration_status(&instance).await?;
            let mut children = Vec::new();
            for execution in self.store.list_executions(&instance).await? {
                for event in self.store.read_history(&instance, execution).await? {
                    if let EventKind::SubOrchestrationScheduled {
                        instance: child, ..
                    } = event.kind
                    {
                        let is_child = matches!(
                            self.store.get_instance(&child).await?,
                            Some(InstanceInfo { parent: Some(ref p), .. }) if p.instance == instance
                        );
                        if is_child && !seen.contains(&child) {
                            children.push(self.tree(child, seen).await?);
                        }
                    }
                }
            }
            Ok(InstanceTree {
                instance,
                status,
                children,
            })
        })
    }

    /// Deletes an instance with all its executions and its sub-orchestrations (cascade).
    /// A running instance (or a running sub-orchestration of it) is deleted only with
    /// `force` (its running activities are told to stop); without it the call fails with
    /// [`ClientError::InstanceStillRunning`] and deletes nothing. Returns the ids deleted.
    pub async fn delete_instance(
        &self,
        instance: impl AsRef<str>,
        force: bool,
    ) -> Result<Vec<String>, ClientError> {
        let instance = instance.as_ref();
        if self.store.get_instance(instance).await?.is_none() {
            return Err(ClientError::InstanceNotFound {
                instance: instance.to_string(),
            });
        }
        let tree = self.get_instance_tree(instance).await?;
        let ids = tree.all_instances();
        if !force {
            for id in &ids {
                if let Some(info) = self.store.get_instance(id).await? {
                    if !info.status.is_terminal() {
                        return Err(ClientError::InstanceStillRunning {
                            instance: id.clone(),
                        });
                    }
                }
            }
        }
        // Children first, so a parent never points at a child that is already half gone.
        for id in ids.iter().rev() {
            self.store.delete_instance(id).await?;
        }
        Ok(ids)
    }

    /// Deletes the history of old executions (from `continue_as_new`), keeping the newest
    /// `keep_last` (at least one: the current execution is never pruned). Returns how many
    /// executions were removed.
    pub async fn prune_executions(
        &self,
        instance: impl AsRef<str>,
        keep_last: usize,
    ) -> Result<usize, ClientError> {
        let instance = instance.as_ref();
        let Some(info) = self.store.get_instance(instance).await? else {
            return Err(ClientError::InstanceNotFound {
                instance: instance.to_string(),
            });
        };
        let executions = self.store.list_executions(instance).await?;
        let keep = keep_last.max(1);
        let old: Vec<u64> = executions
            .iter()
            .copied()
            .filter(|&e| e != info.execution_id)
            .collect();
        let removable = old.len().saturating_sub(keep - 1);
        let prune: Vec<u64> = old.into_iter().take(removable).collect();
        self.store.delete_executions(instance, &prune).await?;
        Ok(prune.len())
    }

    /// The root instances (not sub-orchestrations) matching `filter`, sorted by id.
    async fn select_roots(
        &self,
        filter: &InstanceFilter,
        finished_only: bool,
    ) -> Result<Vec<InstanceInfo>, ClientError> {
        let ids = match &filter.instance_ids {
            Some(ids) => ids.clone(),
            None => self.store.list_instances().await?,
        };
        let cutoff = filter.finished_before.map(crate::clock::system_time_ms);
        let mut selected = Vec::new();
        for id in ids {
            let Some(info) = self.store.get_instance(&id).await? else {
                continue;
            };
            if info.parent.is_some() && filter.instance_ids.is_none() {
                continue; // reached through its root
            }
            let finished = info.status.is_terminal();
            if finished_only && !finished {
                continue;
            }
            if let Some(cutoff) = cutoff {
                if !finished || info.updated_at_ms >= cutoff {
                    continue;
                }
            }
            selected.push(info);
            if filter.limit.is_some_and(|limit| selected.len() >= limit) {
                break;
            }
        }
        Ok(selected)
    }

    /// Deletes every *finished* instance matching `filter` (running ones are skipped), each
    /// with its sub-orchestrations. Returns the ids deleted.
    pub async fn delete_instance_bulk(
        &self,
        filter: InstanceFilter,
    ) -> Result<Vec<String>, ClientError> {
        let mut deleted = Vec::new();
        for info in self.select_roots(&filter, true).await? {
            match self.delete_instance(&info.instance, false).await {
                Ok(ids) => deleted.extend(ids),
                // A child still running keeps its tree; a concurrent delete already did it.
                Err(
                    ClientError::InstanceStillRunning { .. } | ClientError::InstanceNotFound { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// [`prune_executions`](Self::prune_executions) for every instance matching `filter`
    /// (running ones included: their current execution is never pruned). Returns how many
    /// executions were removed in all.
    pub async fn prune_executions_bulk(
        &self,
        filter: InstanceFilter,
        keep_last: usize,
    ) -> Result<usize, ClientError> {
        let mut pruned = 0;
        for info in self.select_roots(&filter, false).await? {
            pruned += self.prune_executions(&info.instance, keep_last).await?;
        }
        Ok(pruned)
    }
}

/// Which instances a bulk operation applies to. All conditions must hold; the default
/// selects every root instance (sub-orchestrations go with their root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    /// Only these instance ids (sub-orchestrations may be named here directly).
    pub instance_ids: Option<Vec<String>>,
    /// Only instances that finished before this time.
    pub finished_before: Option<std::time::SystemTime>,
    /// At most this many instances.
    pub limit: Option<usize>,
}
