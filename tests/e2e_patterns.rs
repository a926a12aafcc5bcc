//! End-to-end orchestration patterns through the public API on the sled store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, ConfigErrorKind, Either2, ErrorDetails, OrchestrationContext,
    OrchestrationRegistry, OrchestrationStatus,
};
use duroxide_tests::{history_has, until_instance, Harness};

fn greet_activities() -> ActivityRegistry {
    ActivityRegistry::builder()
        .register("Greet", |_ctx: ActivityContext, name: String| async move {
            Ok(format!("Hello, {name}!"))
        })
        .register("Upper", |_ctx: ActivityContext, s: String| async move {
            Ok(s.to_uppercase())
        })
        .register("Fail", |_ctx: ActivityContext, msg: String| async move {
            Err(msg)
        })
        .build()
}

#[tokio::test]
async fn patterns_function_chaining() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Chain",
            |ctx: OrchestrationContext, name: String| async move {
                let a = ctx.schedule_activity("Greet", name).await?;
                let b = ctx.schedule_activity("Upper", a).await?;
                Ok(b)
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    assert_eq!(h.output("chain-1", "Chain", "ada").await, "HELLO, ADA!");
    let history = h.client.read_history("chain-1").await.unwrap();
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "OrchestrationStarted",
            "ActivityScheduled",
            "ActivityCompleted",
            "ActivityScheduled",
            "ActivityCompleted",
            "OrchestrationCompleted"
        ]
    );
}

#[tokio::test]
async fn patterns_fan_out_fan_in_keeps_input_order() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "FanOut",
            |ctx: OrchestrationContext, _input: String| async move {
                let futures = (0..20)
                    .map(|i| ctx.schedule_activity("Greet", format!("n{i}")))
                    .collect();
                let results = ctx.join(futures).await;
                let outs: Result<Vec<String>, String> = results.into_iter().collect();
                Ok(outs?.join(","))
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    let expected: Vec<String> = (0..20).map(|i| format!("Hello, n{i}!")).collect();
    assert_eq!(h.output("fan-1", "FanOut", "").await, expected.join(","));
}

#[tokio::test]
async fn patterns_activity_error_and_compensation() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Saga",
            |ctx: OrchestrationContext, _input: String| async move {
                match ctx.schedule_activity("Fail", "card declined").await {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        ctx.trace_warn(format!("step failed: {e}"));
                        let undone = ctx.schedule_activity("Greet", "compensation").await?;
                        Err(format!("{e}; {undone}"))
                    }
                }
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    match h.run("saga-1", "Saga", "").await {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.category(), "application");
            assert_eq!(
                details.display_message(),
                "card declined; Hello, compensation!"
            );
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

#[tokio::test]
async fn patterns_select2_event_before_timer_wins() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Approval",
            |ctx: OrchestrationContext, _input: String| async move {
                let timeout = ctx.schedule_timer(Duration::from_secs(3600));
                let approval = ctx.schedule_wait("Approve");
                match ctx.select2(timeout, approval).await {
                    Either2::First(()) => Ok("timed out".to_string()),
                    Either2::Second(who) => Ok(format!("approved by {who}")),
                }
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    h.client
        .start_orchestration("ap-1", "Approval", "")
        .await
        .unwrap();
    // Raised right away: kept until the wait consumes it.
    h.client
        .raise_event("ap-1", "Approve", "alice")
        .await
        .unwrap();
    assert_eq!(
        h.wait("ap-1").await,
        OrchestrationStatus::Completed {
            output: "approved by alice".into()
        }
    );
}

#[tokio::test]
async fn patterns_select2_timer_wins_then_event_reaches_fallback_wait() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Control",
            |ctx: OrchestrationContext, _input: String| async move {
                let a = ctx.schedule_timer(Duration::from_millis(10));
                let b = ctx.schedule_wait("Evt");
                let data = match ctx.select2(a, b).await {
                    Either2::First(()) => {
                        format!("timer first, then {}", ctx.schedule_wait("Evt").await)
                    }
                    Either2::Second(data) => data,
                };
                Ok(data)
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    h.client
        .start_orchestration("ctl-1", "Control", "")
        .await
        .unwrap();
    until_instance(&h.store, "ctl-1", "timer fired", || {
        history_has(&h.client, "ctl-1", "TimerFired")
    })
    .await;
    h.client.raise_event("ctl-1", "Evt", "late").await.unwrap();
    assert_eq!(
        h.wait("ctl-1").await,
        OrchestrationStatus::Completed {
            output: "timer first, then late".into()
        }
    );
}

#[tokio::test]
async fn patterns_events_buffered_in_arrival_order() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Collect",
            |ctx: OrchestrationContext, _input: String| async move {
                // Wait for something unrelated first, so all events arrive before any wait.
                ctx.schedule_wait("Go").await;
                let a = ctx.schedule_wait("Item").await;
                let b = ctx.schedule_wait("Item").await;
                let c = ctx.schedule_wait("Item").await;
                Ok(format!("{a}{b}{c}"))
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    h.client
        .start_orchestration("col-1", "Collect", "")
        .await
        .unwrap();
    for item in ["1", "2", "3"] {
        h.client.raise_event("col-1", "Item", item).await.unwrap();
    }
    h.client.raise_event("col-1", "Go", "").await.unwrap();
    assert_eq!(
        h.wait("col-1").await,
        OrchestrationStatus::Completed {
            output: "123".into()
        }
    );
}

#[tokio::test]
async fn patterns_sub_orchestration_and_detached() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Child",
            |ctx: OrchestrationContext, input: String| async move {
                ctx.schedule_activity("Upper", input).await
            },
        )
        .register(
            "Parent",
            |ctx: OrchestrationContext, input: String| async move {
                let a = ctx
                    .schedule_sub_orchestration("Child", format!("{input}-a"))
                    .await?;
                let b = ctx
                    .schedule_sub_orchestration_with_id(
                        "Child",
                        "explicit-child",
                        format!("{input}-b"),
                    )
                    .await?;
                ctx.schedule_orchestration("Child", "detached-child", "free");
                Ok(format!("{a}|{b}"))
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    assert_eq!(h.output("parent-1", "Parent", "x").await, "X-A|X-B");
    assert_eq!(
        h.wait("explicit-child").await,
        OrchestrationStatus::Completed {
            output: "X-B".into()
        }
    );
    assert_eq!(
        h.wait("detached-child").await,
        OrchestrationStatus::Completed {
            output: "FREE".into()
        }
    );
    let child_info = h
        .client
        .get_instance_info("explicit-child")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child_info.parent.unwrap().instance, "parent-1");
    assert!(history_has(&h.client, "parent-1", "OrchestrationChained").await);
}

#[tokio::test]
async fn patterns_sub_orchestration_with_existing_id_fails_back_to_parent() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Child",
            |_ctx: OrchestrationContext, input: String| async move { Ok(input) },
        )
        .register(
            "Parent",
            |ctx: OrchestrationContext, _input: String| async move {
                match ctx
                    .schedule_sub_orchestration_with_id("Child", "taken", "x")
                    .await
                {
                    Ok(v) => Ok(format!("ok {v}")),
                    Err(e) => Ok(format!("err {e}")),
                }
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    h.output("taken", "Child", "first").await;
    let out = h.output("p-taken", "Parent", "").await;
    assert!(
        out.starts_with("err ") && out.contains("already exists"),
        "{out}"
    );
}

#[tokio::test]
async fn patterns_continue_as_new_counts_up() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Counter",
            |ctx: OrchestrationContext, input: String| async move {
                let n: u32 = input.parse().map_err(|e| format!("{e}"))?;
                if n < 5 {
                    return ctx.continue_as_new((n + 1).to_string()).await;
                }
                Ok(format!("done at {n} in execution {}", ctx.execution_id()))
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    assert_eq!(
        h.output("can-1", "Counter", "0").await,
        "done at 5 in execution 6"
    );
    assert_eq!(
        h.client.list_executions("can-1").await.unwrap(),
        vec![1, 2, 3, 4, 5, 6]
    );
    let first = h.client.read_execution_history("can-1", 1).await.unwrap();
    assert_eq!(
        first.last().unwrap().kind.name(),
        "OrchestrationContinuedAsNew"
    );
}

#[tokio::test]
async fn patterns_unregistered_names_fail_with_configuration_errors() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "CallsMissing",
            |ctx: OrchestrationContext, _input: String| async move {
                ctx.schedule_activity("NoSuchActivity", "").await
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    match h.run("miss-1", "CallsMissing", "").await {
        OrchestrationStatus::Failed {
            details: ErrorDetails::Configuration { kind, resource, .. },
        } => {
            assert_eq!(kind, ConfigErrorKind::UnregisteredActivity);
            assert_eq!(resource, "NoSuchActivity");
        }
        other => panic!("expected configuration failure, got {other:?}"),
    }
    match h.run("miss-2", "NoSuchOrchestration", "").await {
        OrchestrationStatus::Failed {
            details: ErrorDetails::Configuration { kind, .. },
        } => assert_eq!(kind, ConfigErrorKind::UnregisteredOrchestration),
        other => panic!("expected configuration failure, got {other:?}"),
    }
}

#[tokio::test]
async fn patterns_cancel_running_instance_fails_with_reason_and_cancels_children() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Waits",
            |ctx: OrchestrationContext, _input: String| async move {
                Ok(ctx.schedule_wait("Never").await)
            },
        )
        .register(
            "ParentWaits",
            |ctx: OrchestrationContext, _input: String| async move {
                ctx.schedule_sub_orchestration_with_id("Waits", "cancel-child", "")
                    .await
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    h.client
        .start_orchestration("cancel-1", "ParentWaits", "")
        .await
        .unwrap();
    until_instance(&h.store, "cancel-child", "child started", || async {
        matches!(
            h.client.get_orchestration_status("cancel-child").await,
            Ok(OrchestrationStatus::Running)
        )
    })
    .await;
    h.client
        .cancel_instance("cancel-1", "user asked")
        .await
        .unwrap();
    match h.wait("cancel-1").await {
        OrchestrationStatus::Failed { details } => {
            assert!(details.is_cancellation());
            assert!(details.display_message().contains("user asked"));
        }
        other => panic!("expected cancellation, got {other:?}"),
    }
    match h.wait("cancel-child").await {
        OrchestrationStatus::Failed { details } => assert!(details.is_cancellation()),
        other => panic!("expected child cancellation, got {other:?}"),
    }
}

#[tokio::test]
async fn patterns_retry_policy_retries_until_success() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let activities = ActivityRegistry::builder()
        .register("Flaky", move |_ctx: ActivityContext, _i: String| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                if n < 3 {
                    Err(format!("attempt {n} failed"))
                } else {
                    Ok(format!("ok after {n}"))
                }
            }
        })
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Retry",
            |ctx: OrchestrationContext, _input: String| async move {
                let policy =
                    duroxide::RetryPolicy::new(5).with_backoff(duroxide::BackoffStrategy::Fixed {
                        delay: Duration::from_millis(5),
                    });
                ctx.schedule_activity_with_retry("Flaky", "", policy).await
            },
        )
        .build();
    let h = Harness::start(activities, orchestrations).await;
    assert_eq!(h.output("retry-1", "Retry", "").await, "ok after 3");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn patterns_awaiting_a_non_durable_future_fails_instead_of_hanging() {
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Sleeps",
            |ctx: OrchestrationContext, _input: String| async move {
                let greeting = ctx.schedule_activity("Greet", "x").await?;
                // Wrong on purpose: a host timer is not durable and nothing would ever resume us.
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok(greeting)
            },
        )
        .register(
            "SelectsLoserThenPends",
            |ctx: OrchestrationContext, _input: String| async move {
                // The abandoned wait must not count as something that can still wake the code.
                let _ = ctx
                    .select2(
                        ctx.schedule_timer(Duration::from_millis(1)),
                        ctx.schedule_wait("Never"),
                    )
                    .await;
                std::future::pending::<()>().await;
                Ok(String::new())
            },
        )
        .build();
    let h = Harness::start(greet_activities(), orchestrations).await;
    for (id, name) in [("nd-1", "Sleeps"), ("nd-2", "SelectsLoserThenPends")] {
        match h.run(id, name, "").await {
            OrchestrationStatus::Failed {
                details: ErrorDetails::Configuration { kind, message, .. },
            } => {
                assert_eq!(kind, ConfigErrorKind::NonDurableWait, "{id}");
                assert!(message.contains(name), "{message}");
            }
            other => panic!("{id}: expected a non-durable-wait failure, got {other:?}"),
        }
    }
}
