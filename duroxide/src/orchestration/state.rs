//! The state shared by an execution's [`OrchestrationContext`](super::OrchestrationContext),
//! its [`DurableFuture`](super::DurableFuture)s and the replay engine.
//!
//! Everything here is synchronous and free of I/O. The replay engine feeds history and new
//! inputs in through [`EngineState::apply`]; the code's futures read results out through
//! [`EngineState::peek`] and [`EngineState::take`]; the code's decisions go through
//! [`EngineState::decide`], which matches them against recorded history while replaying.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use crate::error::{AppErrorKind, ConfigErrorKind, ErrorDetails};
use crate::history::{Event, EventKind};

use super::action::Action;
use super::decision::{describe_event, Decision};

/// The result a durable future resolves with, before it is mapped to the caller's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Activity(Result<String, String>),
    Timer,
    Event(String),
    SubOrchestration(Result<String, String>),
}

/// Where a durable future's result comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The completion of the decision recorded as this event id.
    Scheduled(u64),
    /// The next unconsumed external event of this name.
    Wait(String),
    /// Already known (e.g. a typed input that failed to serialize).
    Immediate(Outcome),
    /// Never resolves (the decision could not be made, e.g. after nondeterminism).
    Never,
}

#[derive(Debug)]
struct Arrived {
    index: u64,
    timestamp_ms: u64,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheduled {
    Activity,
    Timer,
    SubOrchestration,
    Other,
}

/// Shared, lock-protected engine state. The lock is never held across an `.await` or while
/// user code runs.
pub(crate) struct Shared(Mutex<EngineState>);

impl Shared {
    pub(crate) fn new(state: EngineState) -> Arc<Self> {
        Arc::new(Shared(Mutex::new(state)))
    }

    /// Locks the state unless it is locked already.
    pub(crate) fn try_lock(&self) -> Result<MutexGuard<'_, EngineState>, ()> {
        match self.0.try_lock() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(()),
        }
    }

    /// Locks the state. A poisoned lock (a panic while held, which no user code can cause
    /// because user code never runs under it) still yields the data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, EngineState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) struct EngineState {
    pub(crate) instance: String,
    pub(crate) execution_id: u64,
    pub(crate) name: String,
    pub(crate) version: String,
    /// True while the code is being fed history recorded in earlier turns.
    pub(crate) replaying: bool,
    /// Deterministic "now": the start time, advanced to the timestamp of each result the
    /// code consumes. The same code path over the same history sees the same value.
    pub(crate) now_ms: u64,
    /// Timestamp given to events created in the current turn.
    pub(crate) turn_now_ms: u64,
    guid_counter: u64,
    /// Decision events from earlier turns not yet re-made by the replaying code.
    recorded: VecDeque<Event>,
    pub(crate) next_event_id: u64,
    pub(crate) new_events: Vec<Event>,
    pub(crate) actions: Vec<Action>,
    scheduled: HashMap<u64, Scheduled>,
    resolved: HashSet<u64>,
    completions: HashMap<u64, Arrived>,
    externals: HashMap<String, VecDeque<Arrived>>,
    wakers: HashMap<u64, Waker>,
    event_wakers: HashMap<String, Vec<Waker>>,
    /// Activities, timers and sub-orchestrations scheduled whose result has not arrived.
    unresolved: usize,
    /// Wait futures alive and not yet satisfied.
    pub(crate) open_waits: usize,
    /// Sub-orchestrations scheduled and not yet finished: event id -> child instance.
    pub(crate) open_children: BTreeMap<u64, String>,
    /// A failure that ends the execution at the end of the turn.
    pub(crate) fatal: Option<ErrorDetails>,
    pub(crate) cancel_requested: Option<String>,
    pub(crate) continue_as_new: Option<(String, Option<String>)>,
}

/// Why a new input was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// The correlation id matches nothing scheduled of that kind in this execution.
    UnknownSource,
    /// The result was already delivered (at-least-once delivery of an activity result).
    Duplicate,
}

impl EngineState {
    pub(crate) fn new(
        instance: String,
        execution_id: u64,
        name: String,
        version: String,
        start_ms: u64,
    ) -> Self {
        EngineState {
            instance,
            execution_id,
            name,
            version,
            replaying: false,
            now_ms: start_ms,
            turn_now_ms: start_ms,
            guid_counter: 0,
            recorded: VecDeque::new(),
            next_event_id: 1,
            new_events: Vec::new(),
            actions: Vec::new(),
            scheduled: HashMap::new(),
            resolved: HashSet::new(),
            completions: HashMap::new(),
            externals: HashMap::new(),
            wakers: HashMap::new(),
            event_wakers: HashMap::new(),
            unresolved: 0,
            open_waits: 0,
            open_children: BTreeMap::new(),
            fatal: None,
            cancel_requested: None,
            continue_as_new: None,
        }
    }

    /// Records a decision of the code and returns its correlation id. While replaying, the
    /// decision must match the next recorded one; a mismatch sets a nondeterminism failure
    /// and returns 0 (an id that never completes).
    pub(crate) fn decide(&mut self, decision: Decision) -> u64 {
        if self.fatal.is_some() || self.cancel_requested.is_some() {
            return 0;
        }
        if let Some(recorded) = self.recorded.pop_front() {
            if decision.matches(
                &self.instance,
                self.execution_id,
                recorded.event_id,
                &recorded.kind,
            ) {
                return recorded.event_id;
            }
            self.fail_nondeterminism(format!(
                "history recorded {} at event {}, but the code now schedules {} there",
                describe_event(&recorded.kind),
                recorded.event_id,
                decision.describe()
            ));
            return 0;
        }
        if self.replaying {
            self.fail_nondeterminism(format!(
                "the code schedules {} that history does not contain (replay went further than the original run)",
                decision.describe()
            ));
            return 0;
        }
        let id = self.next_event_id;
        self.next_event_id += 1;
        let kind = decision.to_event(&self.instance, self.execution_id, id);
        let event = Event {
            event_id: id,
            timestamp_ms: self.turn_now_ms,
            kind,
        };
        self.note_decision(&event);
        if let Some(action) = Decision::action_for(id, &event.kind) {
            self.actions.push(action);
        }
        self.new_events.push(event);
        id
    }

    /// After replaying history: every recorded decision must have been re-made.
    pub(crate) fn check_replay_complete(&mut self) {
        if self.fatal.is_some() {
            return;
        }
        if let Some(missing) = self.recorded.front() {
            let message = format!(
                "history recorded {} at event {}, but the code no longer schedules it",
                describe_event(&missing.kind),
                missing.event_id
            );
            self.fail_nondeterminism(message);
        }
    }

    fn fail_nondeterminism(&mut self, message: String) {
        self.fatal = Some(ErrorDetails::configuration(
            ConfigErrorKind::Nondeterminism,
            self.name.clone(),
            format!(
                "orchestration '{}' is nondeterministic: {message}",
                self.name
            ),
        ));
    }

    fn note_decision(&mut self, event: &Event) {
        let class = match &event.kind {
            EventKind::ActivityScheduled { .. } => Scheduled::Activity,
            EventKind::TimerCreated { .. } => Scheduled::Timer,
            EventKind::SubOrchestrationScheduled { instance, .. } => {
                self.open_children.insert(event.event_id, instance.clone());
                Scheduled::SubOrchestration
            }
            _ => Scheduled::Other,
        };
        if class != Scheduled::Other && !self.resolved.contains(&event.event_id) {
            self.unresolved += 1;
        }
        self.scheduled.insert(event.event_id, class);
    }

    /// Marks `source`'s result as arrived; false if it already had.
    fn resolve(&mut self, source: u64) -> bool {
        if !self.resolved.insert(source) {
            return false;
        }
        if matches!(self.scheduled.get(&source), Some(c) if *c != Scheduled::Other) {
            self.unresolved = self.unresolved.saturating_sub(1);
        }
        true
    }

    /// Whether anything durable can still wake the code: a scheduled activity, timer or
    /// sub-orchestration without a result, or a live wait for an event.
    pub(crate) fn awaiting_durable(&self) -> bool {
        self.unresolved > 0 || self.open_waits > 0
    }

    /// Checks that a completion for `source` of the given kind may be applied now.
    fn admit(&self, source: u64, expected: Scheduled) -> Result<(), Rejected> {
        if self.scheduled.get(&source) != Some(&expected) {
            return Err(Rejected::UnknownSource);
        }
        if self.resolved.contains(&source) {
            return Err(Rejected::Duplicate);
        }
        Ok(())
    }

    /// Checks whether an event built from a new input may be appended (see [`Rejected`]).
    pub(crate) fn admit_event(&self, kind: &EventKind) -> Result<(), Rejected> {
        match kind {
            EventKind::ActivityCompleted {
                source_event_id, ..
            }
            | EventKind::ActivityFailed {
                source_event_id, ..
            } => self.admit(*source_event_id, Scheduled::Activity),
            EventKind::TimerFired {
                source_event_id, ..
            } => self.admit(*source_event_id, Scheduled::Timer),
            EventKind::SubOrchestrationCompleted {
                source_event_id, ..
            }
            | EventKind::SubOrchestrationFailed {
                source_event_id, ..
            } => self.admit(*source_event_id, Scheduled::SubOrchestration),
            _ => Ok(()),
        }
    }

    /// Feeds one history event (recorded earlier, or just created from a new input) into
    /// the state, waking any future waiting for it.
    pub(crate) fn apply(&mut self, event: &Event) {
        let index = event.event_id;
        let ts = event.timestamp_ms;
        match &event.kind {
            EventKind::OrchestrationStarted { .. } => {}
            kind if kind.is_decision() => {
                if self.replaying {
                    self.recorded.push_back(event.clone());
                }
                self.note_decision(event);
            }
            EventKind::ActivityCompleted {
                source_event_id,
                result,
            } => self.complete(
                *source_event_id,
                index,
                ts,
                Outcome::Activity(Ok(result.clone())),
            ),
            EventKind::ActivityFailed {
                source_event_id,
                details,
            } => {
                if let Some(message) = Self::deliverable(details) {
                    self.complete(*source_event_id, index, ts, Outcome::Activity(Err(message)));
                } else {
                    self.resolve(*source_event_id);
                    self.fatal.get_or_insert_with(|| details.clone());
                }
            }
            EventKind::TimerFired {
                source_event_id, ..
            } => self.complete(*source_event_id, index, ts, Outcome::Timer),
            EventKind::SubOrchestrationCompleted {
                source_event_id,
                result,
            } => {
                self.open_children.remove(source_event_id);
                self.complete(
                    *source_event_id,
                    index,
                    ts,
                    Outcome::SubOrchestration(Ok(result.clone())),
                );
            }
            EventKind::SubOrchestrationFailed {
                source_event_id,
                details,
            } => {
                self.open_children.remove(source_event_id);
                if let Some(message) = Self::deliverable(details) {
                    self.complete(
                        *source_event_id,
                        index,
                        ts,
                        Outcome::SubOrchestration(Err(message)),
                    );
                } else {
                    self.resolve(*source_event_id);
                    self.fatal.get_or_insert_with(|| details.clone());
                }
            }
            EventKind::ExternalEvent { name, data } => {
                self.externals
                    .entry(name.clone())
                    .or_default()
                    .push_back(Arrived {
                        index,
                        timestamp_ms: ts,
                        outcome: Outcome::Event(data.clone()),
                    });
                for waker in self.event_wakers.remove(name).unwrap_or_default() {
                    waker.wake();
                }
            }
            EventKind::OrchestrationCancelRequested { reason } => {
                self.cancel_requested.get_or_insert_with(|| reason.clone());
            }
            // Terminal events end the execution; the engine never applies past them.
            _ => {}
        }
        self.next_event_id = self.next_event_id.max(index + 1);
    }

    /// Application failures are handed to the code as `Err(message)`; anything else
    /// (configuration, infrastructure, poison) is not the code's to handle and fails the
    /// execution with the same details.
    fn deliverable(details: &ErrorDetails) -> Option<String> {
        match details {
            ErrorDetails::Application { .. } => Some(details.display_message()),
            _ => None,
        }
    }

    fn complete(&mut self, source: u64, index: u64, timestamp_ms: u64, outcome: Outcome) {
        if !self.resolve(source) {
            return;
        }
        self.completions.insert(
            source,
            Arrived {
                index,
                timestamp_ms,
                outcome,
            },
        );
        if let Some(waker) = self.wakers.remove(&source) {
            waker.wake();
        }
    }

    /// The history index at which `source`'s result arrived, if it has and is unconsumed.
    pub(crate) fn peek(&self, source: &Source) -> Option<u64> {
        match source {
            Source::Scheduled(id) => self.completions.get(id).map(|a| a.index),
            Source::Wait(name) => self
                .externals
                .get(name)
                .and_then(|q| q.front())
                .map(|a| a.index),
            Source::Immediate(_) => Some(0),
            Source::Never => None,
        }
    }

    /// Consumes `source`'s result, advancing deterministic time to when it arrived.
    pub(crate) fn take(&mut self, source: &Source) -> Option<Outcome> {
        let arrived = match source {
            Source::Scheduled(id) => self.completions.remove(id)?,
            Source::Wait(name) => self.externals.get_mut(name)?.pop_front()?,
            Source::Immediate(outcome) => return Some(outcome.clone()),
            Source::Never => return None,
        };
        self.now_ms = self.now_ms.max(arrived.timestamp_ms);
        Some(arrived.outcome)
    }

    /// Remembers who to wake when `source`'s result arrives.
    pub(crate) fn register(&mut self, source: &Source, waker: &Waker) {
        match source {
            Source::Scheduled(id) => {
                self.wakers.insert(*id, waker.clone());
            }
            Source::Wait(name) => {
                let list = self.event_wakers.entry(name.clone()).or_default();
                if !list.iter().any(|w| w.will_wake(waker)) {
                    list.push(waker.clone());
                }
            }
            Source::Immediate(_) | Source::Never => {}
        }
    }

    /// External events that arrived but no wait has consumed, in arrival order.
    pub(crate) fn unconsumed_events(&self) -> Vec<(String, String)> {
        let mut all: Vec<(u64, String, String)> = self
            .externals
            .iter()
            .flat_map(|(name, queue)| {
                queue.iter().filter_map(move |a| match &a.outcome {
                    Outcome::Event(data) => Some((a.index, name.clone(), data.clone())),
                    _ => None,
                })
            })
            .collect();
        all.sort_by_key(|(index, _, _)| *index);
        all.into_iter()
            .map(|(_, name, data)| (name, data))
            .collect()
    }

    /// The next deterministic GUID counter value.
    pub(crate) fn next_guid_counter(&mut self) -> u64 {
        self.guid_counter += 1;
        self.guid_counter
    }

    /// A failure for a panic in orchestration code.
    pub(crate) fn panicked(message: String) -> ErrorDetails {
        ErrorDetails::Application {
            kind: AppErrorKind::Panicked,
            message,
            retryable: false,
        }
    }
}
