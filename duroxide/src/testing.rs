//! Replay testing: check that the current orchestration code still replays recorded
//! histories, before deploying it.
//!
//! Changing an orchestration's code while instances are running is safe only if the new
//! code makes the same decisions over the histories already recorded. Save histories (from
//! a test run or a copy of a production store) and run them through
//! [`replay_history`] in CI:
//!
//! ```
//! # use duroxide::{OrchestrationContext, OrchestrationRegistry};
//! # use duroxide::history::{Event, EventKind};
//! # use duroxide::testing::{replay_history, ReplayMismatch};
//! let registry = OrchestrationRegistry::builder()
//!     .register("Greet", |ctx: OrchestrationContext, name: String| async move {
//!         ctx.schedule_activity("Hello", name).await
//!     })
//!     .build();
//! let ev = |id, kind| Event { event_id: id, timestamp_ms: 0, kind };
//! let recorded = vec![
//!     ev(1, EventKind::OrchestrationStarted { name: "Greet".into(), version: "1.0.0".into(), input: "Ann".into(), parent: None }),
//!     ev(2, EventKind::ActivityScheduled { name: "Hello".into(), input: "Ann".into() }),
//!     ev(3, EventKind::ActivityCompleted { source_event_id: 2, result: "Hi Ann".into() }),
//!     ev(4, EventKind::OrchestrationCompleted { output: "Hi Ann".into() }),
//! ];
//! assert_eq!(replay_history(&registry, "greet-1", 1, &recorded), Ok(()));
//!
//! // Code that now calls another activity would break running instances:
//! let changed = OrchestrationRegistry::builder()
//!     .register("Greet", |ctx: OrchestrationContext, name: String| async move {
//!         ctx.schedule_activity("Welcome", name).await
//!     })
//!     .build();
//! assert!(matches!(
//!     replay_history(&changed, "greet-1", 1, &recorded),
//!     Err(ReplayMismatch::Nondeterminism(_))
//! ));
//! ```

use crate::client::Client;
use crate::error::{ClientError, ConfigErrorKind, ErrorDetails};
use crate::history::{Event, EventKind};
use crate::orchestration::{Action, ReplayEngine, TurnStatus};
use crate::registry::OrchestrationRegistry;

/// How the current code disagrees with a recorded history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayMismatch {
    /// The history's orchestration (name and version) is not in the registry.
    #[error("orchestration '{name}' version {version} is not registered")]
    Unregistered {
        /// Recorded name.
        name: String,
        /// Recorded version.
        version: String,
    },
    /// The history is not a well-formed execution.
    #[error("malformed history: {0}")]
    Malformed(String),
    /// The code makes different decisions than the history recorded.
    #[error("{0}")]
    Nondeterminism(String),
    /// The code makes the recorded decisions but ends differently.
    #[error("recorded outcome {recorded}, replay gives {replayed}")]
    DifferentOutcome {
        /// What history recorded, in words.
        recorded: String,
        /// What replay produced, in words.
        replayed: String,
    },
    /// Over the whole history the code schedules more than was recorded.
    #[error("replay schedules decisions the recorded run did not make: {0:?}")]
    ExtraDecisions(Vec<Action>),
    /// Reading the history failed.
    #[error("cannot read history: {0}")]
    Read(String),
}

/// Replays one recorded execution of `instance` against the orchestrations in `registry`.
///
/// `Ok(())` means the code makes exactly the recorded decisions and, if the execution had
/// ended, ends the same way (same output, same failure, same continue-as-new input).
pub fn replay_history(
    registry: &OrchestrationRegistry,
    instance: &str,
    execution_id: u64,
    history: &[Event],
) -> Result<(), ReplayMismatch> {
    let Some(first) = history.first() else {
        return Err(ReplayMismatch::Malformed("the history is empty".into()));
    };
    let EventKind::OrchestrationStarted { name, version, .. } = &first.kind else {
        return Err(ReplayMismatch::Malformed(format!(
            "the history starts with {} instead of OrchestrationStarted",
            first.kind.name()
        )));
    };
    let Some((_, handler)) = registry.resolve(name, Some(version)) else {
        return Err(ReplayMismatch::Unregistered {
            name: name.clone(),
            version: version.clone(),
        });
    };
    let (body, recorded_end) = match history.split_last() {
        Some((last, body)) if last.kind.is_terminal() => (body, Some(&last.kind)),
        _ => (history, None),
    };
    let mut engine = ReplayEngine::resume(instance, execution_id, body, &handler)
        .map_err(|details| ReplayMismatch::Malformed(details.display_message()))?;
    let now = body.last().map(|e| e.timestamp_ms).unwrap_or(0);
    let outcome = engine.turn(Vec::new(), now);
    if let TurnStatus::Failed {
        details:
            ErrorDetails::Configuration {
                kind: ConfigErrorKind::Nondeterminism,
                message,
                ..
            },
    } = &outcome.status
    {
        return Err(ReplayMismatch::Nondeterminism(message.clone()));
    }
    let replayed = match &outcome.status {
        TurnStatus::Running => None,
        TurnStatus::Completed { output } => Some(EventKind::OrchestrationCompleted {
            output: output.clone(),
        }),
        TurnStatus::Failed { details } => Some(EventKind::OrchestrationFailed {
            details: details.clone(),
        }),
        TurnStatus::ContinuedAsNew { input, .. } => Some(EventKind::OrchestrationContinuedAsNew {
            input: input.clone(),
        }),
    };
    // Decisions made after the recorded ones would be new work the original run never did.
    let extra: Vec<Action> = outcome
        .actions
        .into_iter()
        .filter(|a| !matches!(a, Action::WaitExternal { .. }))
        .collect();
    if !extra.is_empty() && recorded_end.is_none() {
        return Err(ReplayMismatch::ExtraDecisions(extra));
    }
    if replayed.as_ref() != recorded_end {
        let words = |k: Option<&EventKind>| match k {
            None => "still running".to_string(),
            Some(k) => format!("{k:?}"),
        };
        return Err(ReplayMismatch::DifferentOutcome {
            recorded: words(recorded_end),
            replayed: words(replayed.as_ref()),
        });
    }
    Ok(())
}

/// Replays every execution of `instance` stored behind `client` (see [`replay_history`]).
pub async fn replay_instance(
    client: &Client,
    registry: &OrchestrationRegistry,
    instance: &str,
) -> Result<(), ReplayMismatch> {
    let read = |e: ClientError| ReplayMismatch::Read(e.to_string());
    for execution in client.list_executions(instance).await.map_err(read)? {
        let history = client
            .read_execution_history(instance, execution)
            .await
            .map_err(read)?;
        replay_history(registry, instance, execution, &history)?;
    }
    Ok(())
}
