//! Failure details and error types.
//!
//! Two families live here, on purpose kept apart:
//! - [`ErrorDetails`] is *data*: why an orchestration or activity failed. It is stored in
//!   history and in the instance status, so it is serializable and never an `Error` you `?`.
//! - [`ClientError`] and [`ProviderError`] are the errors of the client and store APIs.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why an orchestration or activity failed, classified so that callers can decide what to do.
///
/// | category | meaning | retry? |
/// |---|---|---|
/// | infrastructure | the store or the runtime failed (I/O, corruption) | when `retryable` |
/// | configuration | the deployment is wrong: unregistered name, nondeterminism, history cap | no: fix the code |
/// | application | the orchestration's own logic failed, panicked or was cancelled | when `retryable` |
/// | poison | a message failed too many times to be processed | no |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorDetails {
    /// The store or the runtime failed.
    Infrastructure {
        /// What was being done (e.g. `"read history"`).
        operation: String,
        /// What went wrong.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// The deployment is wrong; the code or its registration must change.
    Configuration {
        /// Which kind of configuration problem.
        kind: ConfigErrorKind,
        /// The name it concerns (orchestration, activity, instance).
        resource: String,
        /// A sentence for a human.
        message: String,
    },
    /// The orchestration's own logic failed.
    Application {
        /// Which kind of application failure.
        kind: AppErrorKind,
        /// The error message (for [`AppErrorKind::OrchestrationFailed`], the orchestration's `Err`).
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// A message could not be processed after repeated attempts.
    Poison {
        /// What kind of message it was.
        message_kind: String,
        /// How many times it was attempted.
        attempts: u32,
        /// A sentence for a human.
        message: String,
    },
}

/// Kinds of [`ErrorDetails::Configuration`] failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConfigErrorKind {
    /// No orchestration of this name (and version) is registered.
    UnregisteredOrchestration,
    /// No activity of this name is registered.
    UnregisteredActivity,
    /// Replaying the code scheduled something other than what history recorded.
    Nondeterminism,
    /// The execution's history would exceed the configured cap; use `continue_as_new`.
    HistoryCapExceeded,
    /// A payload (input, output, event data) is larger than the runtime accepts.
    PayloadTooLarge,
    /// The code waits on something that is not durable (a tokio sleep, a channel...), with
    /// nothing durable pending that could ever wake it.
    NonDurableWait,
}

/// Kinds of [`ErrorDetails::Application`] failures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AppErrorKind {
    /// The orchestration returned `Err`.
    OrchestrationFailed,
    /// An activity returned `Err`.
    ActivityFailed,
    /// A sub-orchestration failed (its details are in the message).
    SubOrchestrationFailed,
    /// Orchestration or activity code panicked.
    Panicked,
    /// The instance was cancelled.
    Cancelled {
        /// The reason given to `cancel_instance`.
        reason: String,
    },
}

impl ErrorDetails {
    /// A plain application failure with the given message (what an orchestration's `Err` becomes).
    pub fn application(message: impl Into<String>) -> Self {
        ErrorDetails::Application {
            kind: AppErrorKind::OrchestrationFailed,
            message: message.into(),
            retryable: false,
        }
    }

    /// A configuration failure.
    pub fn configuration(
        kind: ConfigErrorKind,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ErrorDetails::Configuration {
            kind,
            resource: resource.into(),
            message: message.into(),
        }
    }

    /// An infrastructure failure.
    pub fn infrastructure(
        operation: impl Into<String>,
        message: impl Into<String>,
        retryable: bool,
    ) -> Self {
        ErrorDetails::Infrastructure {
            operation: operation.into(),
            message: message.into(),
            retryable,
        }
    }

    /// The category as a stable lowercase word: `"infrastructure"`, `"configuration"`,
    /// `"application"` or `"poison"` (use it as a metric label).
    pub fn category(&self) -> &'static str {
        match self {
            ErrorDetails::Infrastructure { .. } => "infrastructure",
            ErrorDetails::Configuration { .. } => "configuration",
            ErrorDetails::Application { .. } => "application",
            ErrorDetails::Poison { .. } => "poison",
        }
    }

    /// Whether trying the same thing again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ErrorDetails::Infrastructure { retryable, .. }
            | ErrorDetails::Application { retryable, .. } => *retryable,
            ErrorDetails::Configuration { .. } | ErrorDetails::Poison { .. } => false,
        }
    }

    /// Whether this failure is a cancellation.
    pub fn is_cancellation(&self) -> bool {
        matches!(
            self,
            ErrorDetails::Application {
                kind: AppErrorKind::Cancelled { .. },
                ..
            }
        )
    }

    /// A one-line message for logs and users. For an orchestration that returned `Err(e)`,
    /// this is exactly `e`.
    pub fn display_message(&self) -> String {
        match self {
            ErrorDetails::Infrastructure {
                operation, message, ..
            } => format!("infrastructure error during {operation}: {message}"),
            ErrorDetails::Configuration { kind, message, .. } => {
                format!("configuration error ({}): {message}", kind.as_str())
            }
            ErrorDetails::Application { kind, message, .. } => match kind {
                AppErrorKind::OrchestrationFailed | AppErrorKind::ActivityFailed => message.clone(),
                AppErrorKind::SubOrchestrationFailed => {
                    format!("sub-orchestration failed: {message}")
                }
                AppErrorKind::Panicked => format!("panicked: {message}"),
                AppErrorKind::Cancelled { reason } => format!("cancelled: {reason}"),
            },
            ErrorDetails::Poison {
                message_kind,
                attempts,
                message,
            } => format!("poison {message_kind} after {attempts} attempts: {message}"),
        }
    }
}

impl fmt::Display for ErrorDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_message())
    }
}

impl ConfigErrorKind {
    /// A stable snake_case name for the kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConfigErrorKind::UnregisteredOrchestration => "unregistered_orchestration",
            ConfigErrorKind::UnregisteredActivity => "unregistered_activity",
            ConfigErrorKind::Nondeterminism => "nondeterminism",
            ConfigErrorKind::HistoryCapExceeded => "history_cap_exceeded",
            ConfigErrorKind::PayloadTooLarge => "payload_too_large",
            ConfigErrorKind::NonDurableWait => "non_durable_wait",
        }
    }
}

/// An error from a [`Provider`](crate::providers::Provider) (a store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// An instance with this id already exists.
    #[error("instance '{0}' already exists")]
    InstanceAlreadyExists(String),
    /// The lock token is unknown or expired: another holder may own the work now, so this
    /// holder must not commit (fencing).
    #[error("lock lost or expired")]
    LockLost,
    /// A stored record could not be decoded.
    #[error("corrupt record ({what}): {message}")]
    Corrupt {
        /// Which record (tree and key, in words).
        what: String,
        /// The decoder's complaint.
        message: String,
    },
    /// The storage engine failed (I/O and the like); the operation may succeed if retried.
    #[error("storage error: {0}")]
    Storage(String),
    /// The request itself is invalid (empty id, oversized record, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

impl ProviderError {
    /// Whether trying the same call again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Storage(_) | ProviderError::LockLost)
    }
}

/// An error from the [`Client`](crate::Client) API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// `start_orchestration` was given an instance id that already exists.
    #[error("instance '{instance}' already exists")]
    InstanceAlreadyExists {
        /// The instance id.
        instance: String,
    },
    /// No instance has this id (raising an event or cancelling is then a no-op).
    #[error("instance '{instance}' not found")]
    InstanceNotFound {
        /// The instance id.
        instance: String,
    },
    /// The instance has already finished (raising an event or cancelling is then a no-op).
    #[error("instance '{instance}' is not running (status: {status})")]
    InstanceNotRunning {
        /// The instance id.
        instance: String,
        /// Its status, in words (`"completed"` or `"failed"`).
        status: String,
    },
    /// `delete_instance` without `force` found the instance (or one of its
    /// sub-orchestrations) still running.
    #[error("instance '{instance}' is still running; delete it with force = true")]
    InstanceStillRunning {
        /// The running instance id.
        instance: String,
    },
    /// `wait_for_orchestration` gave up before the instance finished.
    #[error("timed out after {timeout:?} waiting for instance '{instance}'")]
    Timeout {
        /// The instance id.
        instance: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The request is invalid (empty instance id, oversized payload, ...).
    #[error("invalid request: {0}")]
    InvalidInput(String),
    /// A typed payload could not be (de)serialized as JSON.
    #[error("serialization error: {0}")]
    Serialization(String),
    /// The store failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl ClientError {
    /// Whether trying the same call again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Timeout { .. } => true,
            ClientError::Provider(e) => e.is_retryable(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_categories_and_retry() {
        let app = ErrorDetails::application("boom");
        assert_eq!(app.category(), "application");
        assert!(!app.is_retryable());
        assert_eq!(app.display_message(), "boom");

        let cfg = ErrorDetails::configuration(ConfigErrorKind::Nondeterminism, "o", "changed");
        assert_eq!(cfg.category(), "configuration");
        assert!(!cfg.is_retryable());
        assert!(cfg.display_message().contains("nondeterminism"));

        let infra = ErrorDetails::infrastructure("read history", "disk", true);
        assert_eq!(infra.category(), "infrastructure");
        assert!(infra.is_retryable());

        let cancelled = ErrorDetails::Application {
            kind: AppErrorKind::Cancelled {
                reason: "user".into(),
            },
            message: "cancelled".into(),
            retryable: false,
        };
        assert!(cancelled.is_cancellation());
        assert_eq!(cancelled.display_message(), "cancelled: user");
    }
}
