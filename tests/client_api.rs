//! The client API: errors for misuse, status and waiting, limits (payload size, history
//! cap), typed helpers, management (tree, delete, prune) and unusual instance ids.

use std::time::{Duration, Instant};

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, ClientError, ConfigErrorKind, ErrorDetails, EventKind, OrchestrationContext,
    OrchestrationRegistry, OrchestrationStatus, RuntimeOptions,
};
use duroxide_tests::{history_has, test_options, until_instance, Harness};
use serde::{Deserialize, Serialize};

fn activities() -> ActivityRegistry {
    ActivityRegistry::builder()
        .register(
            "Echo",
            |_ctx: ActivityContext, s: String| async move { Ok(s) },
        )
        .register("WhoAmI", |ctx: ActivityContext, s: String| async move {
            Ok(format!("{}:{}:{s}", ctx.instance_id(), ctx.activity_id()))
        })
        .register("Huge", |_ctx: ActivityContext, n: String| async move {
            let n: usize = n.parse().map_err(|e| format!("{e}"))?;
            Ok("x".repeat(n))
        })
        .register_typed(
            "Add",
            |_ctx: ActivityContext, (a, b): (i64, i64)| async move { Ok(a + b) },
        )
        .register_typed("Order", |_ctx: ActivityContext, o: Order| async move {
            Ok(Receipt {
                id: o.id,
                total_cents: o.qty * o.price_cents,
            })
        })
        .build()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    qty: u64,
    price_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Receipt {
    id: String,
    total_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Approval {
    by: String,
    ok: bool,
}

fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Echo",
            |ctx: OrchestrationContext, input: String| async move {
                ctx.schedule_activity("Echo", input).await
            },
        )
        .register(
            "Fail",
            |_ctx: OrchestrationContext, input: String| async move { Err(format!("no: {input}")) },
        )
        .register(
            "Wait",
            |ctx: OrchestrationContext, _input: String| async move {
                Ok(ctx.schedule_wait("Go").await)
            },
        )
        .register(
            "HugeOutput",
            |ctx: OrchestrationContext, n: String| async move {
                ctx.schedule_activity("Huge", n).await
            },
        )
        // Loops over activities forever (until the history cap stops it).
        .register(
            "Loop",
            |ctx: OrchestrationContext, _input: String| async move {
                let mut i = 0u64;
                loop {
                    ctx.schedule_activity("Echo", i.to_string()).await?;
                    i += 1;
                }
            },
        )
        // Five activities per execution, four executions: more events in all than a small
        // cap, but never in one execution.
        .register(
            "LoopCan",
            |ctx: OrchestrationContext, input: String| async move {
                let n: u32 = input.parse().map_err(|e| format!("{e}"))?;
                for k in 0..5 {
                    ctx.schedule_activity("Echo", format!("{n}.{k}")).await?;
                }
                if n < 4 {
                    return ctx.continue_as_new((n + 1).to_string()).await;
                }
                Ok(format!("done in execution {}", ctx.execution_id()))
            },
        )
        .register(
            "HugeResult",
            |_ctx: OrchestrationContext, n: String| async move {
                let n: usize = n.parse().map_err(|e| format!("{e}"))?;
                Ok("y".repeat(n))
            },
        )
        .register(
            "HugeActivityInput",
            |ctx: OrchestrationContext, n: String| async move {
                let n: usize = n.parse().map_err(|e| format!("{e}"))?;
                ctx.schedule_activity("Echo", "z".repeat(n)).await
            },
        )
        .register(
            "WideFanOut",
            |ctx: OrchestrationContext, _input: String| async move {
                let all = (0..30)
                    .map(|i| ctx.schedule_activity("Echo", i.to_string()))
                    .collect();
                let _ = ctx.join(all).await;
                Ok("unreachable".to_string())
            },
        )
        .register_typed(
            "TypedOrder",
            |ctx: OrchestrationContext, order: Order| async move {
                let sum: i64 = ctx
                    .schedule_activity_typed::<_, i64>("Add", &(2i64, 3i64))
                    .await?;
                let receipt: Receipt = ctx.schedule_activity_typed("Order", &order).await?;
                let approval: Approval = ctx.schedule_wait_typed("Approve").await?;
                Ok((receipt, sum, approval))
            },
        )
        // The typed wait's decode error is returned as the output, to read it.
        .register(
            "BadTypedWait",
            |ctx: OrchestrationContext, _input: String| async move {
                match ctx.schedule_wait_typed::<Approval>("Approve").await {
                    Ok(a) => Ok(format!("decoded {a:?}")),
                    Err(e) => Ok(format!("decode error: {e}")),
                }
            },
        )
        .register(
            "BadTypedActivity",
            |ctx: OrchestrationContext, _input: String| async move {
                // "Echo" returns its input as is: "not json" is no Receipt.
                match ctx
                    .schedule_activity_typed::<_, Receipt>("Echo", &"not json")
                    .await
                {
                    Ok(r) => Ok(format!("decoded {r:?}")),
                    Err(e) => Ok(format!("decode error: {e}")),
                }
            },
        )
        .register(
            "Child",
            |ctx: OrchestrationContext, input: String| async move {
                if input == "grandparent" {
                    let g = ctx
                        .schedule_sub_orchestration("Child", "leaf")
                        .await?;
                    return Ok(format!("child({g})"));
                }
                ctx.schedule_activity("Echo", format!("leaf:{input}")).await
            },
        )
        // Two children (one with its own child), then waits for "Go".
        .register(
            "Parent",
            |ctx: OrchestrationContext, _input: String| async move {
                let a = ctx.schedule_sub_orchestration("Child", "grandparent");
                let b = ctx.schedule_sub_orchestration("Child", "b");
                let (a, b) = ctx.join2(a, b).await;
                let go = ctx.schedule_wait("Go").await;
                Ok(format!("{}|{}|{go}", a?, b?))
            },
        )
        .register(
            "Counter",
            |ctx: OrchestrationContext, input: String| async move {
                let n: u32 = input.parse().map_err(|e| format!("{e}"))?;
                ctx.schedule_activity("Echo", input.clone()).await?;
                if n < 5 {
                    return ctx.continue_as_new((n + 1).to_string()).await;
                }
                let go = ctx.schedule_wait("Go").await;
                Ok(format!("{n}{go}"))
            },
        )
        .register(
            "Identity",
            |ctx: OrchestrationContext, _input: String| async move {
                let who = ctx.schedule_activity("WhoAmI", "a").await?;
                let child = ctx.schedule_sub_orchestration("Echo", "sub").await?;
                let go = ctx.schedule_wait("Go").await;
                Ok(format!("{who}|{child}|{go}|{}", ctx.instance_id()))
            },
        )
        .build()
}

async fn harness() -> Harness {
    Harness::start(activities(), orchestrations()).await
}

fn completed(output: &str) -> OrchestrationStatus {
    OrchestrationStatus::Completed {
        output: output.to_string(),
    }
}

async fn wait_subscribed(h: &Harness, instance: &str) {
    until_instance(
        &h.store,
        instance,
        "the instance waits for its event",
        || history_has(&h.client, instance, "ExternalSubscribed"),
    )
    .await;
}

// ---- errors of misuse ----------------------------------------------------------------------

#[tokio::test]
async fn client_start_existing_instance_fails() {
    let h = harness().await;
    h.client
        .start_orchestration("dup", "Wait", "")
        .await
        .unwrap();
    match h.client.start_orchestration("dup", "Echo", "other").await {
        Err(ClientError::InstanceAlreadyExists { instance }) => assert_eq!(instance, "dup"),
        other => panic!("expected InstanceAlreadyExists, got {other:?}"),
    }
    // Also once finished: the id stays taken.
    h.client.raise_event("dup", "Go", "x").await.unwrap();
    assert_eq!(h.wait("dup").await, completed("x"));
    assert!(matches!(
        h.client.start_orchestration("dup", "Wait", "").await,
        Err(ClientError::InstanceAlreadyExists { .. })
    ));
    let history = h.client.read_history("dup").await.unwrap();
    match &history[0].kind {
        EventKind::OrchestrationStarted { name, .. } => assert_eq!(name, "Wait"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn client_runtime_raise_event_reaches_a_waiting_instance() {
    // The original README's notes name `Runtime::raise_event`: code that holds only the
    // runtime can signal instances too, with the client's semantics.
    let h = harness().await;
    let rt = h.runtime.clone().expect("running");
    h.client
        .start_orchestration("rt-signal", "Wait", "")
        .await
        .unwrap();
    rt.raise_event("rt-signal", "Go", "via runtime")
        .await
        .unwrap();
    assert_eq!(h.wait("rt-signal").await, completed("via runtime"));
    assert_eq!(
        rt.raise_event("rt-ghost", "Go", "x").await,
        Err(ClientError::InstanceNotFound {
            instance: "rt-ghost".into()
        })
    );
    assert_eq!(
        rt.raise_event("rt-signal", "Go", "late").await,
        Err(ClientError::InstanceNotRunning {
            instance: "rt-signal".into(),
            status: "completed".into()
        })
    );
}

#[tokio::test]
async fn client_signal_unknown_or_finished_instance_is_refused() {
    let h = harness().await;
    assert_eq!(
        h.client.raise_event("ghost", "Go", "x").await,
        Err(ClientError::InstanceNotFound {
            instance: "ghost".into()
        })
    );
    assert_eq!(
        h.client.cancel_instance("ghost", "why").await,
        Err(ClientError::InstanceNotFound {
            instance: "ghost".into()
        })
    );
    assert_eq!(
        h.client.get_orchestration_status("ghost").await.unwrap(),
        OrchestrationStatus::NotFound
    );

    assert_eq!(h.output("fin-ok", "Echo", "e").await, "e");
    assert!(matches!(
        h.run("fin-failed", "Fail", "x").await,
        OrchestrationStatus::Failed { .. }
    ));
    let ok_before = h.client.read_history("fin-ok").await.unwrap();
    let failed_before = h.client.read_history("fin-failed").await.unwrap();
    for (id, status) in [("fin-ok", "completed"), ("fin-failed", "failed")] {
        let refused = ClientError::InstanceNotRunning {
            instance: id.into(),
            status: status.into(),
        };
        assert_eq!(
            h.client.raise_event(id, "Go", "x").await,
            Err(refused.clone())
        );
        assert_eq!(h.client.cancel_instance(id, "late").await, Err(refused));
    }
    // Let the runtime do a full round of work; the finished instances stay untouched.
    assert_eq!(h.output("fin-after", "Echo", "z").await, "z");
    assert_eq!(h.client.read_history("fin-ok").await.unwrap(), ok_before);
    assert_eq!(
        h.client.read_history("fin-failed").await.unwrap(),
        failed_before
    );
    assert_eq!(
        h.client.get_orchestration_status("fin-ok").await.unwrap(),
        completed("e")
    );
}

#[tokio::test]
async fn client_invalid_input_is_refused() {
    let h = harness().await;
    assert!(matches!(
        h.client.start_orchestration("", "Echo", "x").await,
        Err(ClientError::InvalidInput(_))
    ));
    let limit = RuntimeOptions::default().max_payload_bytes;
    let oversized = "x".repeat(limit + 1);
    match h
        .client
        .start_orchestration("big-in", "Echo", oversized.clone())
        .await
    {
        Err(ClientError::InvalidInput(message)) => {
            assert!(message.contains(&limit.to_string()), "{message}")
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert_eq!(
        h.client.get_orchestration_status("big-in").await.unwrap(),
        OrchestrationStatus::NotFound,
        "a refused start creates nothing"
    );
    // Exactly at the limit is accepted.
    h.client
        .start_orchestration("big-ok", "Wait", "x".repeat(limit))
        .await
        .unwrap();
    wait_subscribed(&h, "big-ok").await;
    assert!(matches!(
        h.client.raise_event("big-ok", "Go", oversized).await,
        Err(ClientError::InvalidInput(_))
    ));
    h.client.raise_event("big-ok", "Go", "small").await.unwrap();
    assert_eq!(h.wait("big-ok").await, completed("small"));
}

// ---- status and waiting --------------------------------------------------------------------

#[tokio::test]
async fn client_status_through_the_lifecycle() {
    let h = harness().await;
    assert_eq!(
        h.client.get_orchestration_status("life").await.unwrap(),
        OrchestrationStatus::NotFound
    );
    assert_eq!(
        h.client
            .wait_for_orchestration("life", Duration::from_secs(5))
            .await
            .unwrap(),
        OrchestrationStatus::NotFound,
        "waiting for an unknown instance returns at once"
    );
    h.client
        .start_orchestration("life", "Wait", "")
        .await
        .unwrap();
    assert_eq!(
        h.client.get_orchestration_status("life").await.unwrap(),
        OrchestrationStatus::Running
    );
    wait_subscribed(&h, "life").await;
    assert_eq!(
        h.client.get_orchestration_status("life").await.unwrap(),
        OrchestrationStatus::Running
    );
    h.client.raise_event("life", "Go", "done").await.unwrap();
    assert_eq!(h.wait("life").await, completed("done"));
    assert_eq!(
        h.client.get_orchestration_status("life").await.unwrap(),
        completed("done")
    );

    match h.run("life-failed", "Fail", "bad").await {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details, ErrorDetails::application("no: bad"));
        }
        other => panic!("expected failure, got {other:?}"),
    }
    assert!(matches!(
        h.client
            .get_orchestration_status("life-failed")
            .await
            .unwrap(),
        OrchestrationStatus::Failed { .. }
    ));
}

#[tokio::test]
async fn client_cancel_instance_fails_it_with_the_reason() {
    let h = harness().await;
    // Cancelled right after the start: whether or not its first turn ran, it ends cancelled.
    h.client
        .start_orchestration("cxl", "Wait", "")
        .await
        .unwrap();
    h.client
        .cancel_instance("cxl", "changed my mind")
        .await
        .unwrap();
    match h.wait("cxl").await {
        OrchestrationStatus::Failed { details } => {
            assert!(details.is_cancellation(), "{details:?}");
            assert_eq!(details.display_message(), "cancelled: changed my mind");
        }
        other => panic!("expected cancellation, got {other:?}"),
    }
    let history = h.client.read_history("cxl").await.unwrap();
    assert!(history
        .iter()
        .any(|e| e.kind.name() == "OrchestrationCancelRequested"));
    assert_eq!(history.last().unwrap().kind.name(), "OrchestrationFailed");
    // A late event is refused, and a second cancel too.
    assert!(matches!(
        h.client.raise_event("cxl", "Go", "x").await,
        Err(ClientError::InstanceNotRunning { .. })
    ));
    assert!(matches!(
        h.client.cancel_instance("cxl", "again").await,
        Err(ClientError::InstanceNotRunning { .. })
    ));
}

#[tokio::test]
async fn client_wait_times_out_on_a_waiting_instance() {
    let h = harness().await;
    h.client
        .start_orchestration("slow", "Wait", "")
        .await
        .unwrap();
    wait_subscribed(&h, "slow").await;
    let timeout = Duration::from_millis(200);
    let begun = Instant::now();
    let result = h.client.wait_for_orchestration("slow", timeout).await;
    assert_eq!(
        result,
        Err(ClientError::Timeout {
            instance: "slow".into(),
            timeout
        })
    );
    assert!(
        begun.elapsed() >= timeout,
        "gave up early: {:?}",
        begun.elapsed()
    );
    assert!(result.unwrap_err().is_retryable());
    // The instance is unaffected by the timed-out wait.
    h.client.raise_event("slow", "Go", "later").await.unwrap();
    assert_eq!(h.wait("slow").await, completed("later"));
}

#[tokio::test]
async fn client_wait_returns_promptly_on_completion() {
    let h = harness().await;
    h.client
        .start_orchestration("prompt", "Wait", "")
        .await
        .unwrap();
    wait_subscribed(&h, "prompt").await;
    let client = h.client.clone();
    let waiter = tokio::spawn(async move {
        let status = client
            .wait_for_orchestration("prompt", Duration::from_secs(30))
            .await;
        (status, Instant::now())
    });
    // The waiter is parked on the store's notification; completing the instance wakes it.
    tokio::task::yield_now().await;
    let raised = Instant::now();
    h.client.raise_event("prompt", "Go", "now").await.unwrap();
    let (status, returned) = waiter.await.unwrap();
    assert_eq!(status.unwrap(), completed("now"));
    let took = returned.saturating_duration_since(raised);
    assert!(
        took < Duration::from_secs(5),
        "wait returned {took:?} after the event (its timeout was 30 s)"
    );
}

// ---- limits --------------------------------------------------------------------------------

#[tokio::test]
async fn client_oversized_activity_output_fails_instance() {
    let options = RuntimeOptions {
        max_payload_bytes: 1_000,
        ..test_options()
    };
    let h = Harness::start_with(activities(), orchestrations(), options).await;
    assert_eq!(h.output("huge-ok", "HugeOutput", "1000").await.len(), 1_000);
    match h.run("huge", "HugeOutput", "1001").await {
        OrchestrationStatus::Failed {
            details: ErrorDetails::Configuration { kind, message, .. },
        } => {
            assert_eq!(kind, ConfigErrorKind::PayloadTooLarge);
            assert!(
                message.contains("1001") && message.contains("Huge"),
                "{message}"
            );
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    assert!(
        !history_has(&h.client, "huge", "ActivityCompleted").await,
        "the oversized output is never stored"
    );
}

#[tokio::test]
async fn client_oversized_orchestration_payloads_fail_instance() {
    let options = RuntimeOptions {
        max_payload_bytes: 1_000,
        ..test_options()
    };
    let h = Harness::start_with(activities(), orchestrations(), options).await;
    assert_eq!(h.output("res-ok", "HugeResult", "1000").await.len(), 1_000);
    for (id, name) in [
        ("res-big", "HugeResult"),
        ("act-in-big", "HugeActivityInput"),
    ] {
        match h.run(id, name, "1001").await {
            OrchestrationStatus::Failed {
                details: ErrorDetails::Configuration { kind, .. },
            } => assert_eq!(kind, ConfigErrorKind::PayloadTooLarge, "{id}"),
            other => panic!("{id}: expected PayloadTooLarge, got {other:?}"),
        }
        let kinds: Vec<&str> = h
            .client
            .read_history(id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind.name())
            .collect();
        assert_eq!(
            kinds,
            ["OrchestrationStarted", "OrchestrationFailed"],
            "{id}: nothing of the oversized turn is recorded"
        );
    }
}

#[tokio::test]
async fn client_oversized_activity_output_with_default_limit_fails_instance() {
    let h = harness().await;
    let limit = RuntimeOptions::default().max_payload_bytes;
    match h
        .run("huge-default", "HugeOutput", &(limit + 1).to_string())
        .await
    {
        OrchestrationStatus::Failed {
            details: ErrorDetails::Configuration { kind, .. },
        } => assert_eq!(kind, ConfigErrorKind::PayloadTooLarge),
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn client_history_cap_fails_instance_without_exceeding_it() {
    let options = RuntimeOptions {
        max_history_events: 20,
        ..test_options()
    };
    let h = Harness::start_with(activities(), orchestrations(), options).await;
    h.client
        .start_orchestration("loop", "Loop", "")
        .await
        .unwrap();
    let longest = std::cell::Cell::new(0);
    until_instance(&h.store, "loop", "the looping instance ends", || {
        let client = h.client.clone();
        let longest = &longest;
        async move {
            let len = client.read_history("loop").await.unwrap().len();
            longest.set(longest.get().max(len));
            client
                .get_orchestration_status("loop")
                .await
                .unwrap()
                .is_terminal()
        }
    })
    .await;
    match h.wait("loop").await {
        OrchestrationStatus::Failed {
            details: ErrorDetails::Configuration { kind, .. },
        } => assert_eq!(kind, ConfigErrorKind::HistoryCapExceeded),
        other => panic!("expected HistoryCapExceeded, got {other:?}"),
    }
    let history = h.client.read_history("loop").await.unwrap();
    assert!(history.len() <= 21, "history has {} events", history.len());
    assert!(
        longest.get() <= 21,
        "history reached {} events",
        longest.get()
    );
    assert!(history.len() >= 19, "the loop ran up to the cap");
    assert_eq!(history.last().unwrap().kind.name(), "OrchestrationFailed");
    let ids: Vec<u64> = history.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>());

    // A single turn that would overshoot the cap at once fails without any of its decisions.
    match h.run("wide", "WideFanOut", "").await {
        OrchestrationStatus::Failed {
            details: ErrorDetails::Configuration { kind, .. },
        } => assert_eq!(kind, ConfigErrorKind::HistoryCapExceeded),
        other => panic!("expected HistoryCapExceeded, got {other:?}"),
    }
    let kinds: Vec<&str> = h
        .client
        .read_history("wide")
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(kinds, ["OrchestrationStarted", "OrchestrationFailed"]);

    // The cap is per execution: continue-as-new keeps a long loop under it.
    assert_eq!(
        h.output("loop-can", "LoopCan", "1").await,
        "done in execution 4"
    );
    for execution in h.client.list_executions("loop-can").await.unwrap() {
        let len = h
            .client
            .read_execution_history("loop-can", execution)
            .await
            .unwrap()
            .len();
        assert!(len <= 20, "execution {execution} has {len} events");
    }
}

// ---- typed helpers -------------------------------------------------------------------------

#[tokio::test]
async fn client_typed_helpers_round_trip() {
    let h = harness().await;
    let order = Order {
        id: "o-1".into(),
        qty: 3,
        price_cents: 250,
    };
    h.client
        .start_orchestration_typed("typed", "TypedOrder", &order)
        .await
        .unwrap();
    wait_subscribed(&h, "typed").await;
    let approval = Approval {
        by: "ann".into(),
        ok: true,
    };
    h.client
        .raise_event_typed("typed", "Approve", &approval)
        .await
        .unwrap();
    let out: Result<(Receipt, i64, Approval), String> = h
        .client
        .wait_for_orchestration_typed("typed", duroxide_tests::WAIT)
        .await
        .unwrap();
    assert_eq!(
        out.unwrap(),
        (
            Receipt {
                id: "o-1".into(),
                total_cents: 750
            },
            5,
            approval
        )
    );
    // Payloads are JSON in history.
    let history = h.client.read_history("typed").await.unwrap();
    assert!(history.iter().any(|e| matches!(
        &e.kind,
        EventKind::ActivityScheduled { name, input } if name == "Add" && input == "[2,3]"
    )));

    // Decoding the output as the wrong type is an Err naming the type.
    let wrong: Result<u64, String> = h
        .client
        .wait_for_orchestration_typed("typed", duroxide_tests::WAIT)
        .await
        .unwrap();
    let message = wrong.unwrap_err();
    assert!(message.contains("u64"), "{message}");

    // A typed orchestration given input that is not its type fails naming the type.
    h.client
        .start_orchestration("typed-bad-in", "TypedOrder", "{\"id\": 1}")
        .await
        .unwrap();
    let failed: Result<Receipt, String> = h
        .client
        .wait_for_orchestration_typed("typed-bad-in", duroxide_tests::WAIT)
        .await
        .unwrap();
    let message = failed.unwrap_err();
    assert!(message.contains("Order"), "{message}");

    // A typed wait receiving a payload that is not its type.
    h.client
        .start_orchestration("typed-bad-evt", "BadTypedWait", "")
        .await
        .unwrap();
    h.client
        .raise_event("typed-bad-evt", "Approve", "not json")
        .await
        .unwrap();
    let out = match h.wait("typed-bad-evt").await {
        OrchestrationStatus::Completed { output } => output,
        other => panic!("{other:?}"),
    };
    assert!(
        out.starts_with("decode error") && out.contains("Approval"),
        "{out}"
    );

    // A typed activity whose output is not the expected type.
    let out = h.output("typed-bad-act", "BadTypedActivity", "").await;
    assert!(
        out.starts_with("decode error") && out.contains("Receipt"),
        "{out}"
    );

    // The typed wait for an unknown instance is a client error, not an Err string.
    assert!(matches!(
        h.client
            .wait_for_orchestration_typed::<String>("nobody", Duration::from_millis(10))
            .await,
        Err(ClientError::InstanceNotFound { .. })
    ));
}

// ---- management ----------------------------------------------------------------------------

#[tokio::test]
async fn client_instance_tree_and_delete() {
    let h = harness().await;
    h.client
        .start_orchestration("tree", "Parent", "")
        .await
        .unwrap();
    wait_subscribed(&h, "tree").await;
    let tree = h.client.get_instance_tree("tree").await.unwrap();
    assert_eq!(tree.instance, "tree");
    assert_eq!(tree.status, OrchestrationStatus::Running);
    assert_eq!(tree.children.len(), 2, "{tree:?}");
    let a = &tree.children[0];
    let b = &tree.children[1];
    assert_eq!(a.status, completed("child(leaf:leaf)"));
    assert_eq!(b.status, completed("leaf:b"));
    assert_eq!(a.children.len(), 1, "the grandchild is listed: {tree:?}");
    assert!(b.children.is_empty());
    let all = tree.all_instances();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], "tree");

    // Not while the root runs, unless forced; nothing is deleted by the refusal.
    assert!(matches!(
        h.client.delete_instance("tree", false).await,
        Err(ClientError::InstanceStillRunning { instance }) if instance == "tree"
    ));
    for id in &all {
        assert_ne!(
            h.client.get_orchestration_status(id).await.unwrap(),
            OrchestrationStatus::NotFound
        );
    }
    h.client.raise_event("tree", "Go", "go").await.unwrap();
    assert_eq!(
        h.wait("tree").await,
        completed("child(leaf:leaf)|leaf:b|go")
    );
    let mut deleted = h.client.delete_instance("tree", false).await.unwrap();
    let mut expected = all.clone();
    deleted.sort();
    expected.sort();
    assert_eq!(deleted, expected);
    for id in &all {
        assert_eq!(
            h.client.get_orchestration_status(id).await.unwrap(),
            OrchestrationStatus::NotFound,
            "{id} still exists"
        );
        assert!(h.client.read_history(id).await.unwrap().is_empty());
        assert!(h.client.list_executions(id).await.unwrap().is_empty());
    }
    let remaining = h.client.list_instances().await.unwrap();
    assert!(
        all.iter().all(|id| !remaining.contains(id)),
        "{remaining:?}"
    );
    assert!(matches!(
        h.client.delete_instance("tree", false).await,
        Err(ClientError::InstanceNotFound { .. })
    ));
    // The id is free again.
    assert_eq!(h.output("tree", "Echo", "again").await, "again");
}

#[tokio::test]
async fn client_delete_running_instance_with_force() {
    let h = harness().await;
    h.client
        .start_orchestration("forced", "Wait", "")
        .await
        .unwrap();
    wait_subscribed(&h, "forced").await;
    assert_eq!(
        h.client.delete_instance("forced", true).await.unwrap(),
        ["forced"]
    );
    assert_eq!(
        h.client.get_orchestration_status("forced").await.unwrap(),
        OrchestrationStatus::NotFound
    );
    assert!(matches!(
        h.client.raise_event("forced", "Go", "x").await,
        Err(ClientError::InstanceNotFound { .. })
    ));
}

#[tokio::test]
async fn client_prune_executions_keeps_current() {
    let h = harness().await;
    h.client
        .start_orchestration("pruned", "Counter", "1")
        .await
        .unwrap();
    until_instance(&h.store, "pruned", "the fifth execution waits", || async {
        h.client
            .get_instance_info("pruned")
            .await
            .unwrap()
            .is_some_and(|i| i.execution_id == 5)
            && history_has(&h.client, "pruned", "ExternalSubscribed").await
    })
    .await;
    assert_eq!(
        h.client.list_executions("pruned").await.unwrap(),
        [1, 2, 3, 4, 5]
    );
    let current = h.client.read_history("pruned").await.unwrap();
    // Keep the current and one older execution.
    assert_eq!(h.client.prune_executions("pruned", 2).await.unwrap(), 3);
    assert_eq!(h.client.list_executions("pruned").await.unwrap(), [4, 5]);
    // keep_last 0 still keeps the current one.
    assert_eq!(h.client.prune_executions("pruned", 0).await.unwrap(), 1);
    assert_eq!(h.client.list_executions("pruned").await.unwrap(), [5]);
    assert_eq!(h.client.prune_executions("pruned", 0).await.unwrap(), 0);
    assert_eq!(h.client.read_history("pruned").await.unwrap(), current);
    // The running instance carries on after pruning.
    h.client.raise_event("pruned", "Go", "!").await.unwrap();
    assert_eq!(h.wait("pruned").await, completed("5!"));
    assert!(matches!(
        h.client.prune_executions("nobody", 1).await,
        Err(ClientError::InstanceNotFound { .. })
    ));
}

// ---- instance ids --------------------------------------------------------------------------

#[tokio::test]
async fn client_odd_instance_ids_work_end_to_end() {
    let h = harness().await;
    let ids = [
        "with spaces  and\ttab",
        "ünïcødé ✓ 実例",
        "a::b::sub::1::2",
        "nul\0byte",
        "x",
        "x\0",
        "/slash\\back'quote\"",
    ];
    for id in ids {
        h.client
            .start_orchestration(id, "Identity", "")
            .await
            .unwrap();
    }
    for id in ids {
        wait_subscribed(&h, id).await;
        h.client.raise_event(id, "Go", "go").await.unwrap();
    }
    for id in ids {
        let child = format!("{id}::sub::1::4");
        assert_eq!(
            h.wait(id).await,
            completed(&format!("{id}:2:a|sub|go|{id}")),
            "instance {id:?}"
        );
        assert_eq!(h.wait(&child).await, completed("sub"));
        let history = h.client.read_history(id).await.unwrap();
        assert_eq!(
            history.iter().map(|e| e.event_id).collect::<Vec<_>>(),
            (1..=history.len() as u64).collect::<Vec<_>>(),
            "{id:?} has only its own events"
        );
        let tree = h.client.get_instance_tree(id).await.unwrap();
        assert_eq!(tree.all_instances(), [id.to_string(), child.clone()]);
    }
    let listed = h.client.list_instances().await.unwrap();
    for id in ids {
        assert!(listed.iter().any(|l| l == id), "{id:?} not in {listed:?}");
    }
    // Deleting one id leaves the ids it is a prefix of (and that are a prefix of it) alone.
    h.client.delete_instance("x", false).await.unwrap();
    assert_eq!(
        h.client.get_orchestration_status("x").await.unwrap(),
        OrchestrationStatus::NotFound
    );
    assert_eq!(
        h.client.get_orchestration_status("x\0").await.unwrap(),
        completed("x\0:2:a|sub|go|x\0")
    );
    assert!(!h.client.read_history("x\0").await.unwrap().is_empty());
}

#[tokio::test]
async fn client_delete_then_reuse_id_ignores_stale_activity_result() {
    // One worker slot, held by a blocking activity, so the deleted instance's activity call
    // is still queued when the id is reused.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let hold = {
        let gate = gate.clone();
        move |_ctx: ActivityContext, _input: String| {
            let gate = gate.clone();
            let held = held_tx.clone();
            async move {
                let _ = held.send(());
                let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                Ok("released".to_string())
            }
        }
    };
    let activities = ActivityRegistry::builder()
        .merge(&activities())
        .register("Hold", hold)
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .merge(&orchestrations())
        .register(
            "CallsHold",
            |ctx: OrchestrationContext, _input: String| async move {
                ctx.schedule_activity("Hold", "").await
            },
        )
        .build();
    let options = RuntimeOptions {
        worker_concurrency: 1,
        ..test_options()
    };
    let h = Harness::start_with(activities, orchestrations, options).await;
    h.client
        .start_orchestration("holder", "CallsHold", "")
        .await
        .unwrap();
    held_rx.recv().await.unwrap();

    let scheduled = |h: &Harness| {
        let client = h.client.clone();
        async move { history_has(&client, "reuse", "ActivityScheduled").await }
    };
    h.client
        .start_orchestration("reuse", "Echo", "old")
        .await
        .unwrap();
    until_instance(&h.store, "reuse", "old call queued", || scheduled(&h)).await;
    h.client.delete_instance("reuse", true).await.unwrap();
    h.client
        .start_orchestration("reuse", "Echo", "new")
        .await
        .unwrap();
    until_instance(&h.store, "reuse", "new call queued", || scheduled(&h)).await;

    // Free the worker: it now runs the queued calls, the deleted instance's first.
    gate.add_permits(1);
    assert_eq!(h.wait("holder").await, completed("released"));
    assert_eq!(
        h.wait("reuse").await,
        completed("new"),
        "the new instance got the deleted instance's activity result"
    );
}
