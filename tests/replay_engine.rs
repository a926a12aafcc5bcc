//! The pure replay engine, without a runtime or a store: histories are built by hand, the
//! engine resumes over them and runs turns, and the tests check new events, actions and
//! status, including every kind of nondeterminism the engine must catch.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use duroxide::orchestration::{
    OrchestrationFuture, OrchestrationHandler, ReplayEngine, TurnInput, TurnOutcome, TurnStatus,
};
use duroxide::{
    Action, AppErrorKind, ConfigErrorKind, Either2, ErrorDetails, Event, EventKind,
    OrchestrationContext,
};

const T0: u64 = 1_000_000;

fn handler<F, Fut>(f: F) -> OrchestrationHandler
where
    F: Fn(OrchestrationContext, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<String, String>> + Send + 'static,
{
    Arc::new(move |ctx, input| -> OrchestrationFuture { Box::pin(f(ctx, input)) })
}

/// Builds a history from kinds, numbering events from 1 and stamping them `T0 + id`.
fn history(kinds: Vec<EventKind>) -> Vec<Event> {
    let started = EventKind::OrchestrationStarted {
        name: "O".into(),
        version: "1.0.0".into(),
        input: "in".into(),
        parent: None,
    };
    std::iter::once(started)
        .chain(kinds)
        .enumerate()
        .map(|(i, kind)| Event {
            event_id: i as u64 + 1,
            timestamp_ms: T0 + i as u64 + 1,
            kind,
        })
        .collect()
}

fn scheduled(name: &str, input: &str) -> EventKind {
    EventKind::ActivityScheduled {
        name: name.into(),
        input: input.into(),
    }
}

fn completed(source_event_id: u64, result: &str) -> EventKind {
    EventKind::ActivityCompleted {
        source_event_id,
        result: result.into(),
    }
}

fn timer_created() -> EventKind {
    EventKind::TimerCreated {
        fire_at_ms: T0 + 10,
    }
}

fn timer_fired(source_event_id: u64) -> EventKind {
    EventKind::TimerFired {
        source_event_id,
        fire_at_ms: T0 + 10,
    }
}

fn subscribed(name: &str) -> EventKind {
    EventKind::ExternalSubscribed { name: name.into() }
}

fn external(name: &str, data: &str) -> EventKind {
    EventKind::ExternalEvent {
        name: name.into(),
        data: data.into(),
    }
}

fn resume(history: &[Event], h: &OrchestrationHandler) -> ReplayEngine {
    ReplayEngine::resume("inst", 1, history, h).expect("well-formed history")
}

/// Resumes over `history` and runs one turn with `inputs`.
fn resume_turn(history: &[Event], h: &OrchestrationHandler, inputs: Vec<TurnInput>) -> TurnOutcome {
    resume(history, h).turn(inputs, T0 + 1_000)
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

fn completed_with(outcome: &TurnOutcome) -> &str {
    match &outcome.status {
        TurnStatus::Completed { output } => output,
        other => panic!("expected completion, got {other:?}"),
    }
}

/// The nondeterminism failure of a turn (panics if the turn did not fail that way).
fn nondeterminism(outcome: &TurnOutcome) -> String {
    match &outcome.status {
        TurnStatus::Failed {
            details:
                ErrorDetails::Configuration {
                    kind: ConfigErrorKind::Nondeterminism,
                    message,
                    resource,
                },
        } => {
            assert_eq!(resource, "O");
            assert!(
                outcome.actions.is_empty(),
                "a failed turn carries out nothing"
            );
            assert_eq!(kinds(&outcome.new_events), ["OrchestrationFailed"]);
            message.clone()
        }
        other => panic!("expected a nondeterminism failure, got {other:?}"),
    }
}

/// A then B (B's input is A's output), returns B's output.
fn a_then_b() -> OrchestrationHandler {
    handler(|ctx: OrchestrationContext, input: String| async move {
        let a = ctx.schedule_activity("A", input).await?;
        ctx.schedule_activity("B", a).await
    })
}

// ---- turns -------------------------------------------------------------------------------

#[test]
fn replay_first_turn_schedules_first_activity() {
    let h = a_then_b();
    let mut engine = ReplayEngine::start("inst", 1, "O", "1.0.0", "in", None, &h, T0);
    let outcome = engine.turn(Vec::new(), T0);
    assert_eq!(
        kinds(&outcome.new_events),
        ["OrchestrationStarted", "ActivityScheduled"]
    );
    assert_eq!(outcome.new_events[1].event_id, 2);
    assert_eq!(
        outcome.actions,
        [Action::CallActivity {
            id: 2,
            name: "A".into(),
            input: "in".into()
        }]
    );
    assert_eq!(outcome.status, TurnStatus::Running);
    assert!(outcome.rejected.is_empty());
    assert_eq!(engine.history_len(), 2);
}

#[test]
fn replay_completed_activity_yields_next_action() {
    let h = a_then_b();
    let outcome = resume_turn(
        &history(vec![scheduled("A", "in")]),
        &h,
        vec![TurnInput::ActivityCompleted {
            id: 2,
            result: "ra".into(),
        }],
    );
    assert_eq!(
        outcome.new_events[0].kind,
        completed(2, "ra"),
        "the input is appended first"
    );
    assert_eq!(outcome.new_events[0].event_id, 3);
    assert_eq!(
        outcome.actions,
        [Action::CallActivity {
            id: 4,
            name: "B".into(),
            input: "ra".into()
        }],
        "A is not scheduled again, B is"
    );
    assert_eq!(outcome.status, TurnStatus::Running);

    // Replaying both steps and completing B finishes the orchestration.
    let outcome = resume_turn(
        &history(vec![
            scheduled("A", "in"),
            completed(2, "ra"),
            scheduled("B", "ra"),
        ]),
        &h,
        vec![TurnInput::ActivityCompleted {
            id: 4,
            result: "rb".into(),
        }],
    );
    assert!(outcome.actions.is_empty());
    assert_eq!(completed_with(&outcome), "rb");
    assert_eq!(
        kinds(&outcome.new_events),
        ["ActivityCompleted", "OrchestrationCompleted"]
    );
    assert_eq!(outcome.new_events[1].event_id, 6);
}

#[test]
fn replay_failed_activity_is_delivered_as_err() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        match ctx.schedule_activity("A", "x").await {
            Ok(v) => Ok(format!("ok {v}")),
            Err(e) => Ok(format!("caught {e}")),
        }
    });
    let outcome = resume_turn(
        &history(vec![scheduled("A", "x")]),
        &h,
        vec![TurnInput::ActivityFailed {
            id: 2,
            details: ErrorDetails::Application {
                kind: AppErrorKind::ActivityFailed,
                message: "boom".into(),
                retryable: false,
            },
        }],
    );
    assert_eq!(completed_with(&outcome), "caught boom");
}

// ---- combinators -------------------------------------------------------------------------

fn timer_or_event() -> OrchestrationHandler {
    handler(|ctx: OrchestrationContext, _| async move {
        let t = ctx.schedule_timer(Duration::from_millis(10));
        let w = ctx.schedule_wait("E");
        Ok(match ctx.select2(t, w).await {
            Either2::First(()) => "timer".to_string(),
            Either2::Second(data) => format!("event {data}"),
        })
    })
}

#[test]
fn replay_select2_picks_by_history_order() {
    let h = timer_or_event();
    let timer_first = history(vec![
        timer_created(),
        subscribed("E"),
        timer_fired(2),
        external("E", "e"),
    ]);
    // Resuming over a history that already holds the winner completes during replay.
    assert_eq!(
        completed_with(&resume_turn(&timer_first, &h, vec![])),
        "timer"
    );
    let event_first = history(vec![
        timer_created(),
        subscribed("E"),
        external("E", "e"),
        timer_fired(2),
    ]);
    assert_eq!(
        completed_with(&resume_turn(&event_first, &h, vec![])),
        "event e"
    );

    // Both results arriving in one turn: the input order decides, not the poll order.
    let waiting = history(vec![timer_created(), subscribed("E")]);
    let fire = TurnInput::TimerFired {
        id: 2,
        fire_at_ms: T0 + 10,
    };
    let event = TurnInput::ExternalEvent {
        name: "E".into(),
        data: "e".into(),
    };
    let outcome = resume_turn(&waiting, &h, vec![fire.clone(), event.clone()]);
    assert_eq!(completed_with(&outcome), "timer");
    let outcome = resume_turn(&waiting, &h, vec![event, fire]);
    assert_eq!(completed_with(&outcome), "event e");
}

#[test]
fn replay_join_returns_results_in_input_order() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        let futures = ["1", "2", "3"]
            .into_iter()
            .map(|i| ctx.schedule_activity("A", i))
            .collect();
        let results: Result<Vec<String>, String> = ctx.join(futures).await.into_iter().collect();
        Ok(results?.join(","))
    });
    let scheduled_three = vec![
        scheduled("A", "1"),
        scheduled("A", "2"),
        scheduled("A", "3"),
    ];
    // Completion order 3, 1, 2 in history.
    let mut kinds = scheduled_three.clone();
    kinds.extend([completed(4, "r3"), completed(2, "r1"), completed(3, "r2")]);
    assert_eq!(
        completed_with(&resume_turn(&history(kinds), &h, vec![])),
        "r1,r2,r3"
    );
    // The same, arriving as one turn's inputs in yet another order.
    let outcome = resume_turn(
        &history(scheduled_three),
        &h,
        vec![
            TurnInput::ActivityCompleted {
                id: 3,
                result: "r2".into(),
            },
            TurnInput::ActivityCompleted {
                id: 4,
                result: "r3".into(),
            },
            TurnInput::ActivityCompleted {
                id: 2,
                result: "r1".into(),
            },
        ],
    );
    assert_eq!(completed_with(&outcome), "r1,r2,r3");
}

#[test]
fn replay_external_events_buffered_before_wait() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        ctx.schedule_wait("Go").await;
        let a = ctx.schedule_wait("Item").await;
        let b = ctx.schedule_wait("Item").await;
        Ok(format!("{a}{b}"))
    });
    // Two items arrived while the code still waited for "Go".
    let buffered = history(vec![
        subscribed("Go"),
        external("Item", "x"),
        external("Item", "y"),
    ]);
    let mut engine = resume(&buffered, &h);
    let outcome = engine.turn(
        vec![TurnInput::ExternalEvent {
            name: "Go".into(),
            data: String::new(),
        }],
        T0 + 1_000,
    );
    assert_eq!(completed_with(&outcome), "xy");
    assert_eq!(
        kinds(&outcome.new_events),
        [
            "ExternalEvent",
            "ExternalSubscribed",
            "ExternalSubscribed",
            "OrchestrationCompleted"
        ]
    );
    assert_eq!(
        outcome.actions,
        [
            Action::WaitExternal {
                id: 6,
                name: "Item".into()
            },
            Action::WaitExternal {
                id: 7,
                name: "Item".into()
            }
        ]
    );
    assert!(engine.is_finished());
}

// ---- rejected inputs ---------------------------------------------------------------------

fn a_then_wait() -> OrchestrationHandler {
    handler(|ctx: OrchestrationContext, _| async move {
        let a = ctx.schedule_activity("A", "x").await?;
        let e = ctx.schedule_wait("Never").await;
        Ok(format!("{a}{e}"))
    })
}

#[test]
fn replay_duplicate_completion_rejected() {
    let h = a_then_wait();
    let done = history(vec![
        scheduled("A", "x"),
        completed(2, "r"),
        subscribed("Never"),
    ]);
    let again = TurnInput::ActivityCompleted {
        id: 2,
        result: "r-again".into(),
    };
    let outcome = resume_turn(&done, &h, vec![again.clone()]);
    assert_eq!(outcome.rejected, [(again, "duplicate result")]);
    assert!(outcome.new_events.is_empty());
    assert!(outcome.actions.is_empty());
    assert_eq!(outcome.status, TurnStatus::Running);

    // Twice in the same turn: the first is applied, the second rejected.
    let first = TurnInput::ActivityCompleted {
        id: 2,
        result: "r1".into(),
    };
    let second = TurnInput::ActivityFailed {
        id: 2,
        details: ErrorDetails::application("late failure"),
    };
    let outcome = resume_turn(
        &history(vec![scheduled("A", "x")]),
        &h,
        vec![first, second.clone()],
    );
    assert_eq!(outcome.rejected, [(second, "duplicate result")]);
    assert_eq!(
        kinds(&outcome.new_events),
        ["ActivityCompleted", "ExternalSubscribed"]
    );
    assert_eq!(outcome.new_events[0].kind, completed(2, "r1"));
}

#[test]
fn replay_completion_for_unknown_id_rejected() {
    let h = a_then_wait();
    let pending = history(vec![scheduled("A", "x")]);
    let unknown = TurnInput::ActivityCompleted {
        id: 99,
        result: "?".into(),
    };
    // Id 1 exists but is the start, id 2 exists but is an activity, not a timer.
    let not_an_activity = TurnInput::ActivityCompleted {
        id: 1,
        result: "?".into(),
    };
    let wrong_kind = TurnInput::TimerFired {
        id: 2,
        fire_at_ms: T0,
    };
    let outcome = resume_turn(
        &pending,
        &h,
        vec![unknown.clone(), not_an_activity.clone(), wrong_kind.clone()],
    );
    assert_eq!(
        outcome.rejected,
        [
            (unknown, "unknown correlation id"),
            (not_an_activity, "unknown correlation id"),
            (wrong_kind, "unknown correlation id")
        ]
    );
    assert!(outcome.new_events.is_empty());
    assert_eq!(outcome.status, TurnStatus::Running);
}

// ---- nondeterminism ----------------------------------------------------------------------

#[test]
fn replay_nondeterminism_different_activity_name() {
    let h = handler(
        |ctx: OrchestrationContext, _| async move { ctx.schedule_activity("B", "x").await },
    );
    let outcome = resume_turn(&history(vec![scheduled("A", "x")]), &h, vec![]);
    let message = nondeterminism(&outcome);
    assert!(
        message.contains("activity 'A'") && message.contains("activity 'B'"),
        "{message}"
    );
}

#[test]
fn replay_nondeterminism_recorded_activity_no_longer_scheduled() {
    // History: A completed, then B was scheduled. The code now stops after A.
    let recorded = history(vec![
        scheduled("A", "in"),
        completed(2, "ra"),
        scheduled("B", "ra"),
    ]);
    let returns_after_a = handler(|ctx: OrchestrationContext, input: String| async move {
        ctx.schedule_activity("A", input).await
    });
    let message = nondeterminism(&resume_turn(&recorded, &returns_after_a, vec![]));
    assert!(
        message.contains("activity 'B'") && message.contains("no longer schedules"),
        "{message}"
    );
    // The same when the code, instead of returning, waits for something else unscheduled.
    let waits_after_a = handler(|ctx: OrchestrationContext, input: String| async move {
        ctx.schedule_activity("A", input).await?;
        std::future::pending::<()>().await;
        Ok(String::new())
    });
    let message = nondeterminism(&resume_turn(&recorded, &waits_after_a, vec![]));
    assert!(message.contains("activity 'B'"), "{message}");
}

#[test]
fn replay_nondeterminism_code_schedules_more_than_history() {
    // The turn that recorded A's completion would have recorded B's scheduling too: a code
    // that now schedules B while replaying went further than the original run.
    let recorded = history(vec![scheduled("A", "in"), completed(2, "ra")]);
    let message = nondeterminism(&resume_turn(&recorded, &a_then_b(), vec![]));
    assert!(
        message.contains("activity 'B'") && message.contains("does not contain"),
        "{message}"
    );
}

#[test]
fn replay_nondeterminism_changed_activity_input() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        ctx.schedule_activity("A", "new input").await
    });
    let outcome = resume_turn(&history(vec![scheduled("A", "old input")]), &h, vec![]);
    let message = nondeterminism(&outcome);
    assert!(message.contains("activity 'A'"), "{message}");
}

#[test]
fn replay_nondeterminism_timer_activity_swap() {
    let activity_then_timer = handler(|ctx: OrchestrationContext, _| async move {
        let a = ctx.schedule_activity("A", "x");
        ctx.schedule_timer(Duration::from_secs(1)).await;
        a.await
    });
    let recorded = history(vec![timer_created(), scheduled("A", "x")]);
    let message = nondeterminism(&resume_turn(&recorded, &activity_then_timer, vec![]));
    assert!(
        message.contains("a timer") && message.contains("activity 'A'"),
        "{message}"
    );

    // And the other way round.
    let timer_then_activity = handler(|ctx: OrchestrationContext, _| async move {
        let t = ctx.schedule_timer(Duration::from_secs(1));
        let a = ctx.schedule_activity("A", "x").await;
        t.await;
        a
    });
    let recorded = history(vec![scheduled("A", "x"), timer_created()]);
    let message = nondeterminism(&resume_turn(&recorded, &timer_then_activity, vec![]));
    assert!(
        message.contains("a timer") && message.contains("activity 'A'"),
        "{message}"
    );
}

// ---- failures, continue-as-new, cancellation ---------------------------------------------

#[test]
fn replay_panicking_orchestration_fails_as_panicked() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        let a = ctx.schedule_activity("A", "x").await?;
        if a == "explode" {
            panic!("orchestration exploded on {a}");
        }
        Ok(a)
    });
    let outcome = resume_turn(
        &history(vec![scheduled("A", "x")]),
        &h,
        vec![TurnInput::ActivityCompleted {
            id: 2,
            result: "explode".into(),
        }],
    );
    match &outcome.status {
        TurnStatus::Failed {
            details:
                ErrorDetails::Application {
                    kind: AppErrorKind::Panicked,
                    message,
                    ..
                },
        } => assert!(
            message.contains("orchestration exploded on explode"),
            "{message}"
        ),
        other => panic!("expected a panic failure, got {other:?}"),
    }
    assert_eq!(
        kinds(&outcome.new_events),
        ["ActivityCompleted", "OrchestrationFailed"]
    );
}

#[test]
fn replay_continue_as_new_carries_unconsumed_events() {
    let h = handler(|ctx: OrchestrationContext, input: String| async move {
        let go = ctx.schedule_wait("Go").await;
        ctx.continue_as_new(format!("{input}+{go}")).await
    });
    let outcome = resume_turn(
        &history(vec![subscribed("Go")]),
        &h,
        vec![
            TurnInput::ExternalEvent {
                name: "Other".into(),
                data: "a".into(),
            },
            TurnInput::ExternalEvent {
                name: "Go".into(),
                data: "g1".into(),
            },
            TurnInput::ExternalEvent {
                name: "Go".into(),
                data: "g2".into(),
            },
            TurnInput::ExternalEvent {
                name: "Other".into(),
                data: "b".into(),
            },
        ],
    );
    assert_eq!(
        outcome.status,
        TurnStatus::ContinuedAsNew {
            input: "in+g1".into(),
            version: None,
            carried_events: vec![
                ("Other".into(), "a".into()),
                ("Go".into(), "g2".into()),
                ("Other".into(), "b".into())
            ],
        }
    );
    assert_eq!(
        outcome.new_events.last().unwrap().kind,
        EventKind::OrchestrationContinuedAsNew {
            input: "in+g1".into()
        }
    );
}

#[test]
fn replay_cancellation_fails_and_lists_open_children() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        let child = ctx.schedule_sub_orchestration_with_id("Child", "kid-1", "x");
        let a = ctx.schedule_activity("A", "x");
        let (c, a) = ctx.join2(child, a).await;
        Ok(format!("{}{}", c?, a?))
    });
    let recorded = history(vec![
        EventKind::SubOrchestrationScheduled {
            name: "Child".into(),
            version: None,
            instance: "kid-1".into(),
            input: "x".into(),
        },
        scheduled("A", "x"),
    ]);
    let mut engine = resume(&recorded, &h);
    assert_eq!(engine.open_children(), ["kid-1"]);
    let outcome = engine.turn(
        vec![TurnInput::CancelRequested {
            reason: "user asked".into(),
        }],
        T0 + 1_000,
    );
    match &outcome.status {
        TurnStatus::Failed { details } => {
            assert!(details.is_cancellation(), "{details:?}");
            assert!(matches!(
                details,
                ErrorDetails::Application { kind: AppErrorKind::Cancelled { reason }, .. } if reason == "user asked"
            ));
        }
        other => panic!("expected cancellation, got {other:?}"),
    }
    assert_eq!(outcome.open_children, ["kid-1"]);
    assert!(outcome.actions.is_empty());
    assert_eq!(
        kinds(&outcome.new_events),
        ["OrchestrationCancelRequested", "OrchestrationFailed"]
    );
    assert!(engine.is_finished());

    // A finished engine runs no more turns.
    let after = engine.turn(
        vec![TurnInput::ActivityCompleted {
            id: 3,
            result: "late".into(),
        }],
        T0 + 2_000,
    );
    assert!(after.new_events.is_empty());
    assert_eq!(after.rejected.len(), 1);
}

#[test]
fn replay_cancellation_of_finished_children_lists_none() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        let c = ctx
            .schedule_sub_orchestration_with_id("Child", "kid-2", "x")
            .await?;
        Ok(ctx.schedule_wait(c).await)
    });
    let recorded = history(vec![
        EventKind::SubOrchestrationScheduled {
            name: "Child".into(),
            version: None,
            instance: "kid-2".into(),
            input: "x".into(),
        },
        EventKind::SubOrchestrationCompleted {
            source_event_id: 2,
            result: "Evt".into(),
        },
        subscribed("Evt"),
    ]);
    let outcome = resume_turn(
        &recorded,
        &h,
        vec![TurnInput::CancelRequested {
            reason: "stop".into(),
        }],
    );
    assert!(matches!(&outcome.status, TurnStatus::Failed { details } if details.is_cancellation()));
    assert!(outcome.open_children.is_empty());
}

// ---- deterministic facts -----------------------------------------------------------------

#[test]
fn replay_is_replaying_true_during_replay_false_after() {
    let seen: Arc<Mutex<Vec<(&'static str, bool)>>> = Arc::default();
    let log = seen.clone();
    let h = handler(move |ctx: OrchestrationContext, _| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(("start", ctx.is_replaying()));
            ctx.schedule_activity("A", "x").await?;
            log.lock().unwrap().push(("after A", ctx.is_replaying()));
            ctx.schedule_activity("B", "y").await?;
            log.lock().unwrap().push(("after B", ctx.is_replaying()));
            Ok(String::new())
        }
    });
    let recorded = history(vec![
        scheduled("A", "x"),
        completed(2, "a"),
        scheduled("B", "y"),
    ]);
    let mut engine = resume(&recorded, &h);
    assert_eq!(*seen.lock().unwrap(), [("start", true), ("after A", true)]);
    let outcome = engine.turn(
        vec![TurnInput::ActivityCompleted {
            id: 4,
            result: "b".into(),
        }],
        T0 + 1_000,
    );
    assert_eq!(completed_with(&outcome), "");
    assert_eq!(
        *seen.lock().unwrap(),
        [("start", true), ("after A", true), ("after B", false)]
    );

    // A brand-new execution is never replaying.
    seen.lock().unwrap().clear();
    let mut engine = ReplayEngine::start("inst", 1, "O", "1.0.0", "in", None, &h, T0);
    engine.turn(vec![], T0);
    assert_eq!(*seen.lock().unwrap(), [("start", false)]);
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn replay_utc_now_is_deterministic() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        let t0 = ms(ctx.utc_now());
        ctx.schedule_activity("A", "x").await?;
        let t1 = ms(ctx.utc_now());
        Ok(format!("{t0},{t1}"))
    });
    let recorded = history(vec![scheduled("A", "x"), completed(2, "a")]);
    let first = ReplayEngine::resume("inst", 1, &recorded, &h)
        .unwrap()
        .turn(vec![], T0 + 5_000);
    let second = ReplayEngine::resume("inst", 1, &recorded, &h)
        .unwrap()
        .turn(vec![], T0 + 9_999_999);
    assert_eq!(completed_with(&first), completed_with(&second));
    // The start time, then the arrival time of the consumed result: never the wall clock.
    assert_eq!(completed_with(&first), format!("{},{}", T0 + 1, T0 + 3));
}

#[test]
fn replay_new_guid_deterministic_per_instance() {
    let h = handler(|ctx: OrchestrationContext, _| async move {
        let g1 = ctx.new_guid();
        let g2 = ctx.new_guid();
        Ok(format!("{g1} {g2}"))
    });
    let recorded = history(vec![]);
    let run = |instance: &str| {
        let outcome = ReplayEngine::resume(instance, 1, &recorded, &h)
            .unwrap()
            .turn(vec![], T0);
        completed_with(&outcome).to_string()
    };
    let a1 = run("inst-a");
    let a2 = run("inst-a");
    let b = run("inst-b");
    assert_eq!(a1, a2, "same instance, same history: same guids");
    assert_ne!(a1, b, "another instance gets other guids");
    let (g1, g2) = a1.split_once(' ').unwrap();
    assert_ne!(g1, g2, "successive guids differ");
    assert_eq!(g1.len(), 36, "{g1} is a UUID");
    let other_exec = ReplayEngine::resume("inst-a", 2, &recorded, &h)
        .unwrap()
        .turn(vec![], T0);
    assert_ne!(
        completed_with(&other_exec),
        a1,
        "another execution gets other guids"
    );
}

// ---- malformed histories -----------------------------------------------------------------

#[test]
fn replay_resume_rejects_malformed_histories() {
    let h = a_then_b();
    assert!(ReplayEngine::resume("inst", 1, &[], &h).is_err());
    let mut gap = history(vec![scheduled("A", "in")]);
    gap[1].event_id = 5;
    assert!(ReplayEngine::resume("inst", 1, &gap, &h).is_err());
    let mut no_start = history(vec![scheduled("A", "in")]);
    no_start.remove(0);
    assert!(ReplayEngine::resume("inst", 1, &no_start, &h).is_err());
    let ended = history(vec![EventKind::OrchestrationCompleted {
        output: "x".into(),
    }]);
    assert!(ReplayEngine::resume("inst", 1, &ended, &h).is_err());
}
