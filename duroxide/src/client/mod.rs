//! [`Client`]: start, signal, cancel, observe and manage orchestration instances.

mod management;

pub use management::{InstanceFilter, InstanceTree};

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clock::now_ms;
use crate::error::{ClientError, ErrorDetails, ProviderError};
use crate::history::Event;
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
}
