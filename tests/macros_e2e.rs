//! `#[activity]` and `#[orchestration]` end to end on the sled store: typed stubs,
//! auto-registration, sub-orchestrations, retries, typed errors and the `WaitError`
//! categories, interop with the by-name API in both directions, and a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    activity, orchestration, typed, ActivityContext, BackoffStrategy, Either2,
    OrchestrationContext, OrchestrationRegistry, OrchestrationStatus, RetryPolicy, WaitError,
};
use duroxide_tests::{open_store, Harness, WAIT};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    cents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Receipt {
    order: u64,
    charged: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum PayError {
    Declined,
    OverLimit { by: u64 },
}

// ---- activities ---------------------------------------------------------------------------

#[activity]
async fn charge(_ctx: ActivityContext, order_id: u64, cents: u64) -> Result<Receipt, PayError> {
    match cents {
        0 => Err(PayError::Declined),
        c if c > 10_000 => Err(PayError::OverLimit { by: c - 10_000 }),
        c => Ok(Receipt {
            order: order_id,
            charged: c,
        }),
    }
}

#[activity(name = "Greet")]
async fn greet(_ctx: ActivityContext, name: String) -> Result<String, String> {
    Ok(format!("Hello, {name}!"))
}

#[activity]
async fn add(_ctx: ActivityContext, a: i64, b: i64) -> Result<i64, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_string())
}

#[activity]
async fn no_args(ctx: ActivityContext) -> Result<String, String> {
    Ok(ctx.activity_name().to_string())
}

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);

#[activity]
async fn flaky(_ctx: ActivityContext, succeed_on: usize) -> Result<usize, String> {
    let call = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if call < succeed_on {
        Err(format!("attempt {call} failed"))
    } else {
        Ok(call)
    }
}

#[activity]
async fn explode(_ctx: ActivityContext) -> Result<(), PayError> {
    panic!("boom")
}

// ---- orchestrations ------------------------------------------------------------------------

#[orchestration(version = "1.2.0")]
async fn checkout(ctx: OrchestrationContext, order: Order) -> Result<Receipt, PayError> {
    let receipt = charge::schedule(&ctx, order.id, order.cents).await?;
    ctx.trace_info(format!("charged {}", receipt.charged));
    Ok(receipt)
}

#[orchestration]
async fn many_args(
    ctx: OrchestrationContext,
    a: i64,
    b: i64,
    names: Vec<String>,
    shout: bool,
) -> Result<String, String> {
    let sum = add::schedule(&ctx, a, b).await?;
    let greetings = ctx
        .join(
            names
                .into_iter()
                .map(|n| greet::schedule(&ctx, n))
                .collect(),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let me = no_args::schedule(&ctx).await?;
    let text = format!("{sum} {} {me}", greetings.join(" "));
    Ok(if shout { text.to_uppercase() } else { text })
}

#[orchestration]
async fn parent(ctx: OrchestrationContext, orders: Vec<Order>) -> Result<u64, String> {
    let mut total = 0;
    for order in orders {
        // Typed sub-orchestration: the child's own error type arrives intact.
        match checkout::schedule(&ctx, order.clone()).await {
            Ok(receipt) => total += receipt.charged,
            Err(PayError::Declined) => ctx.trace_info(format!("order {} declined", order.id)),
            Err(PayError::OverLimit { by }) => return Err(format!("over the limit by {by}")),
        }
    }
    let id = format!("{}-fixed", ctx.instance_id());
    let again = checkout::schedule_with_id(&ctx, id, Order { id: 99, cents: 1 })
        .await
        .map_err(|e| format!("{e:?}"))?;
    checkout::start_detached(
        &ctx,
        format!("{}-detached", ctx.instance_id()),
        Order { id: 7, cents: 7 },
    );
    Ok(total + again.charged)
}

#[orchestration]
async fn with_retry(ctx: OrchestrationContext, succeed_on: usize) -> Result<usize, String> {
    let policy = RetryPolicy::new(5).with_backoff(BackoffStrategy::None);
    flaky::schedule_with_retry(&ctx, policy, succeed_on).await
}

#[orchestration]
async fn race(ctx: OrchestrationContext, name: String) -> Result<String, String> {
    match ctx
        .select2(
            greet::schedule(&ctx, name),
            ctx.schedule_timer(Duration::from_secs(30)),
        )
        .await
    {
        Either2::First(greeting) => greeting,
        Either2::Second(()) => Err("timed out".into()),
    }
}

#[orchestration]
async fn waits_for_approval(ctx: OrchestrationContext, order: Order) -> Result<Receipt, String> {
    let approved = ctx.schedule_wait("approval").await;
    if approved != "yes" {
        return Err(format!("not approved: {approved}"));
    }
    charge::schedule(&ctx, order.id, order.cents)
        .await
        .map_err(|e| format!("{e:?}"))
}

#[orchestration]
async fn calls_missing(ctx: OrchestrationContext) -> Result<String, String> {
    ctx.schedule_activity("NotRegistered", "").await
}

#[orchestration]
async fn calls_exploding(ctx: OrchestrationContext) -> Result<(), PayError> {
    explode::schedule(&ctx).await
}

#[orchestration]
async fn by_name_caller_target(ctx: OrchestrationContext, name: String) -> Result<String, String> {
    // Calls a by-name activity (registered explicitly) from typed code.
    let hello = ctx.schedule_activity("Legacy", name).await?;
    let n: i64 = ctx.schedule_activity_typed("add", &(40, 2)).await?;
    Ok(format!("{hello} {n}"))
}

/// A by-name orchestration calling the typed activities by name.
async fn legacy_orchestration(ctx: OrchestrationContext, input: String) -> Result<String, String> {
    let sum = ctx.schedule_activity("add", "[2,3]").await?;
    let card = ctx
        .schedule_activity("Greet", typed::encode_input(&(input,))?)
        .await?;
    let card: String = typed::decode_output(&card)?;
    Ok(format!("{sum} {card}"))
}

fn legacy() -> (ActivityRegistry, OrchestrationRegistry) {
    let activities = ActivityRegistry::builder()
        .register("Legacy", |_ctx: ActivityContext, name: String| async move {
            Ok(format!("legacy {name}"))
        })
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register("Legacy", legacy_orchestration)
        .build();
    (activities, orchestrations)
}

async fn harness() -> Harness {
    let (activities, orchestrations) = legacy();
    Harness::start_auto(Some(activities), Some(orchestrations)).await
}

// ---- tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn macros_typed_start_and_wait() {
    let h = harness().await;
    checkout::start(
        &h.client,
        "order-42",
        Order {
            id: 42,
            cents: 1999,
        },
    )
    .await
    .unwrap();
    let receipt: Receipt = checkout::wait(&h.client, "order-42", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        receipt,
        Receipt {
            order: 42,
            charged: 1999
        }
    );
    // The stub pinned the version it was compiled with.
    let info = h
        .client
        .get_instance_info("order-42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version.as_deref(), Some("1.2.0"));
    // The payloads follow the documented encoding.
    let history = h.client.read_history("order-42").await.unwrap();
    let started = format!("{:?}", history[0].kind);
    assert!(
        started.contains(r#"[{\"id\":42,\"cents\":1999}]"#),
        "{started}"
    );
}

#[tokio::test]
async fn macros_typed_errors_stay_typed() {
    let h = harness().await;
    checkout::start(&h.client, "declined", Order { id: 1, cents: 0 })
        .await
        .unwrap();
    let result = checkout::wait(&h.client, "declined", WAIT).await.unwrap();
    assert_eq!(result, Err(PayError::Declined));
    checkout::start(
        &h.client,
        "over",
        Order {
            id: 2,
            cents: 10_500,
        },
    )
    .await
    .unwrap();
    let result = checkout::wait(&h.client, "over", WAIT).await.unwrap();
    assert_eq!(result, Err(PayError::OverLimit { by: 500 }));
    // A by-name reader sees the error's JSON (a unit variant travels unquoted).
    match h
        .client
        .wait_for_orchestration("declined", WAIT)
        .await
        .unwrap()
    {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.display_message(), "Declined");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn macros_many_arguments_and_fan_out() {
    let h = harness().await;
    let names = vec!["ada".to_string(), "bob".to_string()];
    many_args::start(&h.client, "many", 2, 3, names, true)
        .await
        .unwrap();
    let out = many_args::wait(&h.client, "many", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, "5 HELLO, ADA! HELLO, BOB! NO_ARGS");
}

#[tokio::test]
async fn macros_sub_orchestration_via_stub() {
    let h = harness().await;
    let orders = vec![
        Order { id: 1, cents: 100 },
        Order { id: 2, cents: 0 },
        Order { id: 3, cents: 250 },
    ];
    parent::start(&h.client, "parent-1", orders).await.unwrap();
    let total = parent::wait(&h.client, "parent-1", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(total, 100 + 250 + 1);
    // The fixed-id child and the detached instance exist and are typed like any other.
    let fixed = checkout::wait(&h.client, "parent-1-fixed", WAIT)
        .await
        .unwrap();
    assert_eq!(fixed.unwrap().order, 99);
    let detached = checkout::wait(&h.client, "parent-1-detached", WAIT)
        .await
        .unwrap();
    assert_eq!(detached.unwrap().charged, 7);
    let tree = h.client.get_instance_tree("parent-1").await.unwrap();
    assert_eq!(tree.children.len(), 4, "{tree:?}");
}

#[tokio::test]
async fn macros_retry_and_select() {
    let h = harness().await;
    FLAKY_CALLS.store(0, Ordering::SeqCst);
    with_retry::start(&h.client, "retry", 3).await.unwrap();
    let attempts = with_retry::wait(&h.client, "retry", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempts, 3);
    race::start(&h.client, "race", "cy".to_string())
        .await
        .unwrap();
    assert_eq!(
        race::wait(&h.client, "race", WAIT).await.unwrap(),
        Ok("Hello, cy!".to_string())
    );
}

#[tokio::test]
async fn macros_wait_errors_are_kept_apart() {
    let h = harness().await;
    // Not found.
    let missing = checkout::wait(&h.client, "nobody", WAIT).await.unwrap_err();
    assert!(matches!(missing, WaitError::NotFound { .. }), "{missing:?}");
    // Timeout: the instance waits for an event that never comes.
    waits_for_approval::start(&h.client, "pending", Order { id: 5, cents: 5 })
        .await
        .unwrap();
    let timeout = waits_for_approval::wait(&h.client, "pending", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        timeout.is_timeout() && timeout.is_retryable(),
        "{timeout:?}"
    );
    // Cancellation.
    h.client
        .cancel_instance("pending", "changed my mind")
        .await
        .unwrap();
    let cancelled = waits_for_approval::wait(&h.client, "pending", WAIT)
        .await
        .unwrap_err();
    assert!(cancelled.is_cancellation(), "{cancelled:?}");
    assert_eq!(cancelled.category(), "cancelled");
    // Configuration: an unregistered activity.
    calls_missing::start(&h.client, "config").await.unwrap();
    let config = calls_missing::wait(&h.client, "config", WAIT)
        .await
        .unwrap_err();
    assert_eq!(config.category(), "configuration", "{config:?}");
    // A failure that is not a `PayError` (an activity panic) cannot be delivered as one:
    // the orchestration fails, and `wait` says so instead of inventing an `Err(PayError)`.
    calls_exploding::start(&h.client, "panic").await.unwrap();
    let failed = calls_exploding::wait(&h.client, "panic", WAIT)
        .await
        .unwrap_err();
    let details = failed.details().expect("a failure with details");
    assert_eq!(details.category(), "application");
    assert!(details.display_message().contains("not a `"), "{details:?}");
    // The orchestration's own error is never a WaitError.
    checkout::start(&h.client, "own-error", Order { id: 1, cents: 0 })
        .await
        .unwrap();
    assert_eq!(
        checkout::wait(&h.client, "own-error", WAIT).await,
        Ok(Err(PayError::Declined))
    );
}

#[tokio::test]
async fn macros_interop_with_the_by_name_api() {
    let h = harness().await;
    // A by-name orchestration calls typed activities by name.
    assert_eq!(
        h.output("legacy-1", "Legacy", "ada").await,
        r#"5 Hello, ada!"#
    );
    // A typed orchestration calls a by-name activity.
    by_name_caller_target::start(&h.client, "typed-1", "bob".to_string())
        .await
        .unwrap();
    assert_eq!(
        by_name_caller_target::wait(&h.client, "typed-1", WAIT).await,
        Ok(Ok("legacy bob 42".to_string()))
    );
    // A by-name client starts a typed orchestration with a JSON array of arguments and
    // reads the JSON of its output.
    h.client
        .start_orchestration("typed-2", "by_name_caller_target", r#"["cy"]"#)
        .await
        .unwrap();
    match h.wait("typed-2").await {
        OrchestrationStatus::Completed { output } => {
            assert_eq!(output, r#""legacy cy 42""#);
        }
        other => panic!("{other:?}"),
    }
    // A by-name client reading a typed error.
    h.client
        .start_orchestration("typed-3", "checkout", r#"[{"id":3,"cents":20000}]"#)
        .await
        .unwrap();
    assert_eq!(
        checkout::wait(&h.client, "typed-3", WAIT).await,
        Ok(Err(PayError::OverLimit { by: 10_000 }))
    );
    // Input that does not match the declared types fails with a message naming them.
    h.client
        .start_orchestration("typed-4", "checkout", r#"{"id":3}"#)
        .await
        .unwrap();
    match h.wait("typed-4").await {
        OrchestrationStatus::Failed { details } => {
            assert!(
                details.display_message().contains("bad input"),
                "{details:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn macros_activity_bodies_run_directly_in_unit_tests() {
    let ctx = ActivityContext::for_test("charge");
    assert_eq!(
        charge::run(ctx.clone(), 1, 5).await,
        Ok(Receipt {
            order: 1,
            charged: 5
        })
    );
    assert_eq!(charge::run(ctx, 1, 0).await, Err(PayError::Declined));
    assert_eq!(greet::NAME, "Greet");
    assert_eq!(checkout::VERSION, "1.2.0");
}

#[tokio::test]
async fn macros_restart_resumes_typed_instances() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_store(dir.path()).await;
        let h = Harness::start_auto_on(store, None, None).await;
        waits_for_approval::start(&h.client, "restart-1", Order { id: 8, cents: 80 })
            .await
            .unwrap();
        duroxide_tests::until_instance(&h.store, "restart-1", "the wait is recorded", || {
            duroxide_tests::history_has(&h.client, "restart-1", "OrchestrationStarted")
        })
        .await;
        h.close().await;
    }
    // A new process: nothing registered by hand, the annotated fns are found again.
    let store = open_store(dir.path()).await;
    let h = Harness::start_auto_on(store, None, None).await;
    h.client
        .raise_event("restart-1", "approval", "yes")
        .await
        .unwrap();
    let receipt = waits_for_approval::wait(&h.client, "restart-1", WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.charged, 80);
    h.close().await;
}

#[tokio::test]
async fn macros_registration_lists_every_annotated_fn() {
    let activities: Vec<&str> = duroxide::autoreg::activities()
        .iter()
        .map(|r| r.name())
        .collect();
    // Sorted by name, from this test binary and the linked fixture crate.
    let mut sorted = activities.clone();
    sorted.sort_unstable();
    assert_eq!(activities, sorted);
    for name in [
        "Greet",
        "add",
        "charge",
        "explode",
        "flaky",
        "no_args",
        "remote_greet",
    ] {
        assert!(activities.contains(&name), "{name} in {activities:?}");
    }
    let checkout = duroxide::autoreg::orchestrations()
        .into_iter()
        .find(|r| r.name() == "checkout")
        .unwrap();
    assert_eq!(checkout.version(), "1.2.0");
    assert!(
        checkout.origin().to_string().contains("macros_e2e.rs"),
        "{}",
        checkout.origin()
    );
}

// Referencing the fixture crate links it (see `macros_remote.rs` for its tests).
use remote_workflows as _;
