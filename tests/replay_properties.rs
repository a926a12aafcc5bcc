//! Property tests of the replay engine (proptest, bounded so they run in CI): for random
//! orchestration programs (activities, timers, waits, joins, races, caught failures, guids,
//! sub-orchestrations) and random delivery orders of their results,
//!
//! - a live engine kept across turns (what the instance cache does) and an engine rebuilt
//!   from the recorded history before every turn (what a restart or a cache miss does)
//!   record the same events, decide the same actions, reject the same inputs and end with
//!   the same output: replay reproduces the execution exactly;
//! - results delivered twice are rejected, never applied twice; a cancellation at any
//!   turn ends both engines the same way;
//! - the output depends only on what was delivered, not on the order of delivery, except
//!   where the program races two futures (`select2`), where history order decides.

use std::sync::Arc;
use std::time::Duration;

use duroxide::orchestration::{
    OrchestrationFuture, OrchestrationHandler, ReplayEngine, TurnInput, TurnOutcome, TurnStatus,
};
use duroxide::{Action, AppErrorKind, Either2, ErrorDetails, Event, OrchestrationContext};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000;

/// One step of a generated program.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `schedule_activity("Act", n)`.
    Activity(u8),
    /// A durable timer.
    Timer,
    /// `schedule_wait("E{n}")`.
    Wait(u8),
    /// A join of `n` activities.
    Join(u8),
    /// `select2(activity, timer)`: history order picks the winner.
    Race(u8),
    /// An activity that fails, caught by the code (compensation).
    Failing,
    /// `new_guid()`: deterministic across replays.
    Guid,
    /// `schedule_sub_orchestration("Child", n)`.
    Child(u8),
}

impl Step {
    fn encode(self) -> String {
        match self {
            Step::Activity(n) => format!("a{n}"),
            Step::Timer => "t".into(),
            Step::Wait(n) => format!("w{n}"),
            Step::Join(n) => format!("j{n}"),
            Step::Race(n) => format!("s{n}"),
            Step::Failing => "f".into(),
            Step::Guid => "g".into(),
            Step::Child(n) => format!("c{n}"),
        }
    }

    fn decode(code: &str) -> Step {
        let n = || code[1..].parse::<u8>().expect("step argument");
        match &code[..1] {
            "a" => Step::Activity(n()),
            "t" => Step::Timer,
            "w" => Step::Wait(n()),
            "j" => Step::Join(n()),
            "s" => Step::Race(n()),
            "f" => Step::Failing,
            "c" => Step::Child(n()),
            _ => Step::Guid,
        }
    }

    /// What the step contributes to the output, if it does not depend on delivery order.
    fn expected(self) -> Option<String> {
        match self {
            Step::Activity(n) => Some(result_of(&n.to_string())),
            Step::Timer => Some("timer".into()),
            Step::Wait(n) => Some(event_data(&format!("E{n}"))),
            Step::Join(n) => Some(
                (0..n)
                    .map(|i| result_of(&format!("j{i}")))
                    .collect::<Vec<_>>()
                    .join("+"),
            ),
            Step::Failing => Some(format!("caught {}", failure_message("boom"))),
            Step::Child(n) => Some(child_result(&n.to_string())),
            Step::Race(_) | Step::Guid => None,
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..5).prop_map(Step::Activity),
        Just(Step::Timer),
        (0u8..3).prop_map(Step::Wait),
        (0u8..4).prop_map(Step::Join),
        (0u8..3).prop_map(Step::Race),
        Just(Step::Failing),
        Just(Step::Guid),
        (0u8..3).prop_map(Step::Child),
    ]
}

/// What the simulated worker returns for `Act(input)`.
fn result_of(input: &str) -> String {
    format!("r({input})")
}

/// What the simulated child orchestration returns for `input`.
fn child_result(input: &str) -> String {
    format!("child({input})")
}

fn failure_message(input: &str) -> String {
    format!("no {input}")
}

/// What the simulated client raises for event `name`.
fn event_data(name: &str) -> String {
    format!("d-{name}")
}

/// Runs the program in the input, one step after the other; the output is the steps'
/// results joined by `|`.
fn interpreter() -> OrchestrationHandler {
    Arc::new(
        |ctx: OrchestrationContext, program: String| -> OrchestrationFuture {
            Box::pin(async move {
                let mut out = Vec::new();
                for code in program.split(',').filter(|c| !c.is_empty()) {
                    let piece = match Step::decode(code) {
                        Step::Activity(n) => ctx.schedule_activity("Act", n.to_string()).await?,
                        Step::Timer => {
                            ctx.schedule_timer(Duration::from_millis(5)).await;
                            "timer".into()
                        }
                        Step::Wait(n) => ctx.schedule_wait(format!("E{n}")).await,
                        Step::Join(n) => {
                            let calls = (0..n)
                                .map(|i| ctx.schedule_activity("Act", format!("j{i}")))
                                .collect();
                            let results: Result<Vec<String>, String> =
                                ctx.join(calls).await.into_iter().collect();
                            results?.join("+")
                        }
                        Step::Race(n) => {
                            let work = ctx.schedule_activity("Act", format!("s{n}"));
                            let limit = ctx.schedule_timer(Duration::from_millis(5));
                            match ctx.select2(work, limit).await {
                                Either2::First(r) => format!("won {}", r?),
                                Either2::Second(()) => "timed out".into(),
                            }
                        }
                        Step::Failing => match ctx.schedule_activity("Fail", "boom").await {
                            Ok(r) => format!("unexpected {r}"),
                            Err(e) => format!("caught {e}"),
                        },
                        Step::Guid => ctx.new_guid(),
                        Step::Child(n) => {
                            ctx.schedule_sub_orchestration("Child", n.to_string())
                                .await?
                        }
                    };
                    out.push(piece);
                }
                Ok(out.join("|"))
            })
        },
    )
}

/// The result the environment delivers for an action (none for detached work).
fn completion(action: &Action) -> Option<TurnInput> {
    match action {
        Action::CallActivity { id, name, input } if name == "Fail" => {
            Some(TurnInput::ActivityFailed {
                id: *id,
                details: ErrorDetails::Application {
                    kind: AppErrorKind::ActivityFailed,
                    message: failure_message(input),
                    retryable: false,
                },
            })
        }
        Action::CallActivity { id, input, .. } => Some(TurnInput::ActivityCompleted {
            id: *id,
            result: result_of(input),
        }),
        Action::CreateTimer { id, fire_at_ms } => Some(TurnInput::TimerFired {
            id: *id,
            fire_at_ms: *fire_at_ms,
        }),
        Action::StartSubOrchestration { id, input, .. } => {
            Some(TurnInput::SubOrchestrationCompleted {
                id: *id,
                result: child_result(input),
            })
        }
        Action::WaitExternal { name, .. } => Some(TurnInput::ExternalEvent {
            name: name.clone(),
            data: event_data(name),
        }),
        _ => None,
    }
}

/// How the environment behaves in one turn, drawn by proptest.
#[derive(Debug, Clone)]
struct TurnPlan {
    /// How many of the outstanding results to deliver (modulo, at least one).
    deliver: usize,
    /// Which outstanding result goes first, then next, ... (indices modulo what is left).
    picks: Vec<usize>,
    /// Also deliver again a result that was already delivered.
    redeliver: Option<usize>,
    /// Also raise an event before anything waits for it.
    early_event: Option<u8>,
    /// Also request cancellation (only where the test allows it).
    cancel: bool,
}

fn turn_plan() -> impl Strategy<Value = TurnPlan> {
    (
        any::<usize>(),
        proptest::collection::vec(any::<usize>(), 0..8),
        proptest::option::weighted(0.2, any::<usize>()),
        proptest::option::weighted(0.15, 0u8..3),
        proptest::bool::weighted(0.03),
    )
        .prop_map(
            |(deliver, picks, redeliver, early_event, cancel)| TurnPlan {
                deliver,
                picks,
                redeliver,
                early_event,
                cancel,
            },
        )
}

/// The same turn run two ways: by the live engine and by an engine rebuilt from history.
struct Twin {
    handler: OrchestrationHandler,
    live: ReplayEngine,
    history: Vec<Event>,
}

impl Twin {
    fn start(program: &str) -> (Twin, TurnOutcome) {
        let handler = interpreter();
        let mut live =
            ReplayEngine::start("inst", 1, "Program", "1.0.0", program, None, &handler, T0);
        let first = live.turn(Vec::new(), T0);
        let twin = Twin {
            handler,
            live,
            history: first.new_events.clone(),
        };
        (twin, first)
    }

    /// Runs one turn on both engines; fails the property if they disagree in anything.
    fn turn(&mut self, inputs: Vec<TurnInput>, now: u64) -> Result<TurnOutcome, TestCaseError> {
        let mut rebuilt = ReplayEngine::resume("inst", 1, &self.history, &self.handler)
            .map_err(|e| TestCaseError::fail(format!("resume over recorded history: {e}")))?;
        let from_history = rebuilt.turn(inputs.clone(), now);
        let live = self.live.turn(inputs, now);
        prop_assert_eq!(
            &live.new_events,
            &from_history.new_events,
            "recorded events"
        );
        prop_assert_eq!(&live.actions, &from_history.actions, "decided actions");
        prop_assert_eq!(&live.status, &from_history.status, "status");
        prop_assert_eq!(&live.rejected, &from_history.rejected, "rejected inputs");
        self.history.extend(live.new_events.iter().cloned());
        Ok(live)
    }
}

/// How a program ended.
#[derive(Debug, PartialEq)]
enum End {
    Completed(String),
    Cancelled,
}

/// Runs `program` to its end under `plans` (honouring their cancellations only if
/// `cancellable`).
fn run(program: &[Step], plans: &[TurnPlan], cancellable: bool) -> Result<End, TestCaseError> {
    let code = program
        .iter()
        .map(|s| s.encode())
        .collect::<Vec<_>>()
        .join(",");
    let (mut twin, first) = Twin::start(&code);
    let mut outstanding: Vec<TurnInput> = first.actions.iter().filter_map(completion).collect();
    let mut delivered: Vec<TurnInput> = Vec::new();
    let mut status = first.status;
    let mut now = T0;
    let mut turn = 0;
    while status == TurnStatus::Running {
        prop_assert!(
            !outstanding.is_empty(),
            "a running program waits on nothing"
        );
        prop_assert!(turn < 500, "the program did not finish");
        let plan = &plans[turn % plans.len()];
        turn += 1;
        now += 10;
        let mut inputs = Vec::new();
        if let Some(n) = plan.early_event {
            let name = format!("E{n}");
            inputs.push(TurnInput::ExternalEvent {
                data: event_data(&name),
                name,
            });
        }
        let count = 1 + plan.deliver % outstanding.len();
        for i in 0..count {
            let pick = plan.picks.get(i).copied().unwrap_or(0) % outstanding.len();
            inputs.push(outstanding.remove(pick));
        }
        let redelivered = plan
            .redeliver
            .filter(|_| !delivered.is_empty())
            .map(|i| delivered[i % delivered.len()].clone())
            .filter(|input| !matches!(input, TurnInput::ExternalEvent { .. }));
        if let Some(again) = &redelivered {
            inputs.push(again.clone());
        }
        if cancellable && plan.cancel {
            inputs.push(TurnInput::CancelRequested {
                reason: "test".into(),
            });
        }
        delivered.extend(
            inputs
                .iter()
                .filter(|input| Some(*input) != redelivered.as_ref())
                .cloned(),
        );
        let outcome = twin.turn(inputs, now)?;
        if let Some(again) = redelivered {
            prop_assert!(
                outcome.rejected.iter().any(|(input, _)| *input == again),
                "a result delivered twice must be rejected: {:?}",
                again
            );
        }
        outstanding.extend(outcome.actions.iter().filter_map(completion));
        status = outcome.status;
    }
    match status {
        TurnStatus::Completed { output } => Ok(End::Completed(output)),
        TurnStatus::Failed {
            details:
                ErrorDetails::Application {
                    kind: AppErrorKind::Cancelled { .. },
                    ..
                },
        } if cancellable => Ok(End::Cancelled),
        other => Err(TestCaseError::fail(format!("program ended {other:?}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn replay_rebuilt_engine_matches_live_engine_turn_by_turn(
        program in proptest::collection::vec(step(), 0..10),
        plans in proptest::collection::vec(turn_plan(), 1..12),
    ) {
        let output = match run(&program, &plans, true)? {
            End::Completed(output) => output,
            End::Cancelled => return Ok(()),
        };
        let pieces: Vec<&str> = if program.is_empty() {
            Vec::new()
        } else {
            output.split('|').collect()
        };
        prop_assert_eq!(pieces.len(), program.len(), "one piece per step: {}", output);
        for (step, piece) in program.iter().zip(&pieces) {
            if let Some(expected) = step.expected() {
                prop_assert_eq!(*piece, expected.as_str(), "step {:?}", step);
            }
        }
    }

    #[test]
    fn replay_output_does_not_depend_on_delivery_order(
        program in proptest::collection::vec(step(), 1..8),
        first in proptest::collection::vec(turn_plan(), 1..6),
        second in proptest::collection::vec(turn_plan(), 1..6),
    ) {
        // Races are decided by history order, by design; everything else must not care.
        let program: Vec<Step> = program
            .into_iter()
            .filter(|s| !matches!(s, Step::Race(_)))
            .collect();
        prop_assert_eq!(run(&program, &first, false)?, run(&program, &second, false)?);
    }
}
