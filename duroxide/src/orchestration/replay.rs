//! The replay engine: pure, synchronous, no I/O.
//!
//! `(history, new inputs, orchestration fn) -> (new events, actions, status)`.
//!
//! An engine is built either for a brand-new execution ([`ReplayEngine::start`]) or from
//! recorded history ([`ReplayEngine::resume`]), which re-runs the code over that history
//! ("replay") checking that it makes the same decisions. Each [`ReplayEngine::turn`] then
//! appends new inputs (activity results, timer firings, events, cancellation) to history,
//! polls the code until it cannot progress, and reports what is new. A live engine can be
//! kept between turns (the runtime caches them), so a turn costs O(new events); a cold
//! engine reaches exactly the same state because results are consumed in history order.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::error::{AppErrorKind, ConfigErrorKind, ErrorDetails};
use crate::history::{Event, EventKind, ParentLink};

use super::action::Action;
use super::context::OrchestrationContext;
use super::state::{EngineState, Rejected, Shared};

/// The boxed future of a running orchestration.
pub type OrchestrationFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// An orchestration as the engine runs it: a function from context and input to a future.
pub type OrchestrationHandler =
    Arc<dyn Fn(OrchestrationContext, String) -> OrchestrationFuture + Send + Sync>;

/// How many times one turn may re-poll code that keeps waking itself before giving up on the
/// turn (the code is then left waiting; it is not spun forever).
const MAX_POLLS_PER_TURN: usize = 1_000;

/// Something that happened to an execution, to be appended to its history in a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnInput {
    /// An activity returned `Ok`.
    ActivityCompleted {
        /// The `ActivityScheduled` event id.
        id: u64,
        /// Output payload.
        result: String,
    },
    /// An activity failed.
    ActivityFailed {
        /// The `ActivityScheduled` event id.
        id: u64,
        /// Why.
        details: ErrorDetails,
    },
    /// A timer fired.
    TimerFired {
        /// The `TimerCreated` event id.
        id: u64,
        /// When it was due.
        fire_at_ms: u64,
    },
    /// An external event arrived.
    ExternalEvent {
        /// Event name.
        name: String,
        /// Payload.
        data: String,
    },
    /// A sub-orchestration completed.
    SubOrchestrationCompleted {
        /// The `SubOrchestrationScheduled` event id.
        id: u64,
        /// Output payload.
        result: String,
    },
    /// A sub-orchestration failed.
    SubOrchestrationFailed {
        /// The `SubOrchestrationScheduled` event id.
        id: u64,
        /// Why.
        details: ErrorDetails,
    },
    /// Cancellation was requested.
    CancelRequested {
        /// The reason given.
        reason: String,
    },
}

impl TurnInput {
    fn into_event_kind(self) -> EventKind {
        match self {
            TurnInput::ActivityCompleted { id, result } => EventKind::ActivityCompleted {
                source_event_id: id,
                result,
            },
            TurnInput::ActivityFailed { id, details } => EventKind::ActivityFailed {
                source_event_id: id,
                details,
            },
            TurnInput::TimerFired { id, fire_at_ms } => EventKind::TimerFired {
                source_event_id: id,
                fire_at_ms,
            },
            TurnInput::ExternalEvent { name, data } => EventKind::ExternalEvent { name, data },
            TurnInput::SubOrchestrationCompleted { id, result } => {
                EventKind::SubOrchestrationCompleted {
                    source_event_id: id,
                    result,
                }
            }
            TurnInput::SubOrchestrationFailed { id, details } => {
                EventKind::SubOrchestrationFailed {
                    source_event_id: id,
                    details,
                }
            }
            TurnInput::CancelRequested { reason } => {
                EventKind::OrchestrationCancelRequested { reason }
            }
        }
    }
}

/// Where an execution stands after a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnStatus {
    /// Waiting for more results.
    Running,
    /// Returned `Ok(output)`.
    Completed {
        /// Output payload.
        output: String,
    },
    /// Failed (returned `Err`, panicked, was cancelled, or was nondeterministic).
    Failed {
        /// Why.
        details: ErrorDetails,
    },
    /// Asked to continue as a new execution.
    ContinuedAsNew {
        /// Input of the next execution.
        input: String,
        /// Version for the next execution (`None`: latest).
        version: Option<String>,
        /// External events that arrived but were not consumed, in arrival order, to be
        /// delivered to the next execution.
        carried_events: Vec<(String, String)>,
    },
}

impl TurnStatus {
    /// Whether the execution ended in this turn.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, TurnStatus::Running)
    }
}

/// What one turn produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnOutcome {
    /// Events to append to history, in order (inputs first, then decisions, then any
    /// terminal event).
    pub new_events: Vec<Event>,
    /// New decisions for the runtime to carry out.
    pub actions: Vec<Action>,
    /// Where the execution stands.
    pub status: TurnStatus,
    /// Inputs that were not applied, with the reason (unknown correlation id, or a duplicate
    /// delivery of a result already in history).
    pub rejected: Vec<(TurnInput, &'static str)>,
    /// Child instances still running when the execution ended (to be cancelled).
    pub open_children: Vec<String>,
}

#[derive(Default)]
struct TurnWaker {
    woken: AtomicBool,
}

impl Wake for TurnWaker {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
    }
}

/// One execution's code, its state, and the machinery to advance it turn by turn.
pub struct ReplayEngine {
    shared: Arc<Shared>,
    future: Option<OrchestrationFuture>,
    waker: Arc<TurnWaker>,
    /// A result the code returned while replaying (delivered by the next turn).
    replayed_result: Option<Result<String, String>>,
    finished: bool,
}

impl std::fmt::Debug for ReplayEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("ReplayEngine")
            .field("instance", &st.instance)
            .field("execution_id", &st.execution_id)
            .field("history_len", &(st.next_event_id - 1))
            .field("finished", &self.finished)
            .finish()
    }
}

impl ReplayEngine {
    /// Begins a new execution. Its `OrchestrationStarted` event is the first new event of the
    /// first turn; the code first runs in that turn.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        instance: &str,
        execution_id: u64,
        name: &str,
        version: &str,
        input: &str,
        parent: Option<ParentLink>,
        handler: &OrchestrationHandler,
        now_ms: u64,
    ) -> Self {
        let mut state = EngineState::new(
            instance.to_string(),
            execution_id,
            name.to_string(),
            version.to_string(),
            now_ms,
        );
        let started = Event {
            event_id: 1,
            timestamp_ms: now_ms,
            kind: EventKind::OrchestrationStarted {
                name: name.to_string(),
                version: version.to_string(),
                input: input.to_string(),
                parent,
            },
        };
        state.apply(&started);
        state.new_events.push(started);
        let shared = Shared::new(state);
        let future = handler(
            OrchestrationContext::new(Arc::clone(&shared)),
            input.to_string(),
        );
        ReplayEngine {
            shared,
            future: Some(future),
            waker: Arc::default(),
            replayed_result: None,
            finished: false,
        }
    }

    /// Rebuilds an execution from its recorded history by replaying the code over it.
    ///
    /// Fails if the history is not a well-formed, unfinished execution. A nondeterministic
    /// replay is not an error here: it makes the next turn fail the execution with a
    /// configuration error naming what was expected and what was found.
    pub fn resume(
        instance: &str,
        execution_id: u64,
        history: &[Event],
        handler: &OrchestrationHandler,
    ) -> Result<Self, ErrorDetails> {
        let malformed =
            |message: String| ErrorDetails::infrastructure("replay history", message, false);
        let Some(first) = history.first() else {
            return Err(malformed(format!(
                "execution {execution_id} of '{instance}' has no history"
            )));
        };
        let EventKind::OrchestrationStarted {
            name,
            version,
            input,
            ..
        } = &first.kind
        else {
            return Err(malformed(format!(
                "history of '{instance}' starts with {} instead of OrchestrationStarted",
                first.kind.name()
            )));
        };
        let mut state = EngineState::new(
            instance.to_string(),
            execution_id,
            name.clone(),
            version.clone(),
            first.timestamp_ms,
        );
        state.replaying = true;
        for (position, event) in history.iter().enumerate() {
            let expected = position as u64 + 1;
            if event.event_id != expected {
                return Err(malformed(format!(
                    "history of '{instance}' has event id {} at position {expected}",
                    event.event_id
                )));
            }
            if event.kind.is_terminal() {
                return Err(malformed(format!(
                    "execution {execution_id} of '{instance}' already ended ({})",
                    event.kind.name()
                )));
            }
            state.apply(event);
        }
        let shared = Shared::new(state);
        let future = handler(
            OrchestrationContext::new(Arc::clone(&shared)),
            input.clone(),
        );
        let mut engine = ReplayEngine {
            shared,
            future: Some(future),
            waker: Arc::default(),
            replayed_result: None,
            finished: false,
        };
        let polled = engine.poll_code();
        {
            let mut st = engine.shared.lock();
            st.check_replay_complete();
            st.replaying = false;
        }
        match polled {
            Poll::Ready(result) => engine.replayed_result = Some(result),
            Poll::Pending => {}
        }
        Ok(engine)
    }

    /// Number of events in this execution's history, including those of the last turn.
    pub fn history_len(&self) -> u64 {
        self.shared.lock().next_event_id - 1
    }

    /// The execution id.
    pub fn execution_id(&self) -> u64 {
        self.shared.lock().execution_id
    }

    /// Child instances scheduled and not yet finished.
    pub fn open_children(&self) -> Vec<String> {
        self.shared.lock().open_children.values().cloned().collect()
    }

    /// Whether the execution has ended (no more turns possible).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Runs one turn: appends `inputs` to history (rejecting unknown or duplicate results),
    /// lets the code progress as far as it can, and returns what is new.
    pub fn turn(&mut self, inputs: Vec<TurnInput>, now_ms: u64) -> TurnOutcome {
        let mut rejected = Vec::new();
        {
            let mut st = self.shared.lock();
            st.turn_now_ms = now_ms;
            if self.finished {
                return TurnOutcome {
                    new_events: Vec::new(),
                    actions: Vec::new(),
                    status: TurnStatus::Failed {
                        details: ErrorDetails::infrastructure(
                            "run turn",
                            "the execution has already ended",
                            false,
                        ),
                    },
                    rejected: inputs.into_iter().map(|i| (i, "execution ended")).collect(),
                    open_children: Vec::new(),
                };
            }
            for input in inputs {
                let kind = input.clone().into_event_kind();
                match st.admit_event(&kind) {
                    Ok(()) => {
                        let event = Event {
                            event_id: st.next_event_id,
                            timestamp_ms: now_ms,
                            kind,
                        };
                        st.apply(&event);
                        st.new_events.push(event);
                    }
                    Err(Rejected::UnknownSource) => {
                        rejected.push((input, "unknown correlation id"))
                    }
                    Err(Rejected::Duplicate) => rejected.push((input, "duplicate result")),
                }
            }
        }

        let status = self.advance();
        let mut st = self.shared.lock();
        let terminal_kind = match &status {
            TurnStatus::Running => None,
            TurnStatus::Completed { output } => Some(EventKind::OrchestrationCompleted {
                output: output.clone(),
            }),
            TurnStatus::Failed { details } => Some(EventKind::OrchestrationFailed {
                details: details.clone(),
            }),
            TurnStatus::ContinuedAsNew { input, .. } => {
                Some(EventKind::OrchestrationContinuedAsNew {
                    input: input.clone(),
                })
            }
        };
        let mut open_children = Vec::new();
        if let Some(kind) = terminal_kind {
            let event = Event {
                event_id: st.next_event_id,
                timestamp_ms: now_ms,
                kind,
            };
            st.next_event_id += 1;
            st.new_events.push(event);
            open_children = st.open_children.values().cloned().collect();
            self.finished = true;
        }
        let outcome = TurnOutcome {
            new_events: std::mem::take(&mut st.new_events),
            actions: std::mem::take(&mut st.actions),
            status,
            rejected,
            open_children,
        };
        drop(st);
        if self.finished {
            // Drop the code's future now: it may hold resources, and it will never run again.
            self.future = None;
        }
        outcome
    }

    /// Decides the turn's status: cancellation and fatal failures win over running code.
    fn advance(&mut self) -> TurnStatus {
        {
            let st = self.shared.lock();
            if let Some(reason) = &st.cancel_requested {
                return TurnStatus::Failed {
                    details: ErrorDetails::Application {
                        kind: AppErrorKind::Cancelled {
                            reason: reason.clone(),
                        },
                        message: format!("instance cancelled: {reason}"),
                        retryable: false,
                    },
                };
            }
            if let Some(details) = &st.fatal {
                return TurnStatus::Failed {
                    details: details.clone(),
                };
            }
        }
        let polled = match self.replayed_result.take() {
            Some(result) => Poll::Ready(result),
            None => self.poll_code(),
        };
        let mut st = self.shared.lock();
        if let Some(details) = &st.fatal {
            return TurnStatus::Failed {
                details: details.clone(),
            };
        }
        if let Some((input, version)) = st.continue_as_new.take() {
            return TurnStatus::ContinuedAsNew {
                input,
                version,
                carried_events: st.unconsumed_events(),
            };
        }
        match polled {
            Poll::Pending if !st.awaiting_durable() => TurnStatus::Failed {
                details: ErrorDetails::configuration(
                    ConfigErrorKind::NonDurableWait,
                    st.name.clone(),
                    format!(
                        "orchestration '{}' is waiting, but no activity, timer, sub-orchestration or \
                         event wait is pending, so nothing durable can ever wake it: it awaited a \
                         non-duroxide future (a tokio sleep, a channel, I/O...). Use \
                         ctx.schedule_timer, ctx.schedule_wait or an activity instead",
                        st.name
                    ),
                ),
            },
            Poll::Pending => TurnStatus::Running,
            Poll::Ready(Ok(output)) => TurnStatus::Completed { output },
            Poll::Ready(Err(error)) => TurnStatus::Failed {
                details: ErrorDetails::application(error),
            },
        }
    }

    /// Polls the code until it stops waking itself. A panic becomes a fatal failure.
    fn poll_code(&mut self) -> Poll<Result<String, String>> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Pending;
        };
        let waker = Waker::from(Arc::clone(&self.waker));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..MAX_POLLS_PER_TURN {
            self.waker.woken.store(false, Ordering::SeqCst);
            match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
                Ok(Poll::Ready(result)) => return Poll::Ready(result),
                Ok(Poll::Pending) => {
                    if !self.waker.woken.load(Ordering::SeqCst) {
                        return Poll::Pending;
                    }
                }
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    let mut st = self.shared.lock();
                    st.fatal
                        .get_or_insert_with(|| EngineState::panicked(message));
                    return Poll::Pending;
                }
            }
        }
        Poll::Pending
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
