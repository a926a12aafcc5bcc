//! Time in orchestrations: durable delays, a timeout around an activity, and retries.
//!
//! - **Delay**: `ctx.schedule_timer(d).await` instead of `tokio::time::sleep`. The timer is a
//!   message in the store, so the delay survives a restart, and `ctx.utc_now()` (never the
//!   host clock) tells the orchestration what time it is.
//! - **Timeout**: race the activity against a timer with `select2`. The losing activity is
//!   not interrupted; its result is ignored, and once the orchestration ends the activity
//!   is told to stop through its `ActivityContext`.
//! - **Retry**: `schedule_activity_with_retry` with a [`RetryPolicy`]; every attempt and every
//!   backoff delay is in history, so a restart neither repeats nor forgets attempts.
//!
//! Run with `cargo run --example delays_and_timeouts`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::runtime::{self, registry::ActivityRegistry};
use duroxide::{
    ActivityContext, BackoffStrategy, Client, Either2, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus, RetryPolicy,
};

async fn delays_and_timeouts(ctx: OrchestrationContext, _input: String) -> Result<String, String> {
    let mut report = Vec::new();

    // 1. A durable delay. utc_now() advances with the results the code consumes, and replays
    //    to the same values.
    let before = ctx.utc_now();
    ctx.schedule_timer(Duration::from_millis(500)).await;
    let waited = ctx
        .utc_now()
        .duration_since(before)
        .map_err(|e| e.to_string())?;
    report.push(format!("slept durably for about {} ms", waited.as_millis()));

    // 2. An activity with a deadline.
    let lookup = ctx.schedule_activity("SlowLookup", "customer-7");
    let deadline = ctx.schedule_timer(Duration::from_millis(300));
    match ctx.select2(lookup, deadline).await {
        Either2::First(result) => report.push(format!("lookup answered: {}", result?)),
        Either2::Second(()) => report.push("lookup timed out after 300 ms, used a default".into()),
    }

    // 3. Retries with exponential backoff (100 ms, 200 ms, ...), each attempt limited to 1 s.
    let policy = RetryPolicy::new(5)
        .with_backoff(BackoffStrategy::Exponential {
            base: Duration::from_millis(100),
            factor: 2,
            max: Duration::from_secs(1),
        })
        .with_attempt_timeout(Duration::from_secs(1));
    let charged = ctx
        .schedule_activity_with_retry("FlakyCharge", "order-42", policy)
        .await?;
    report.push(charged);

    Ok(report.join("\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let store = Arc::new(SledProvider::new_in_memory().await?);

    let charge_attempts = Arc::new(AtomicU32::new(0));
    let attempts = Arc::clone(&charge_attempts);
    let activities = ActivityRegistry::builder()
        .register(
            "SlowLookup",
            |ctx: ActivityContext, customer: String| async move {
                // Long-running work should watch for cancellation: the orchestration will have
                // moved on (and finished) long before this lookup would.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(30)) => Ok(format!("{customer}: gold")),
                    _ = ctx.cancelled() => {
                        println!("  SlowLookup: told to stop, the orchestration no longer needs me");
                        Err("cancelled".to_string())
                    }
                }
            },
        )
        .register("FlakyCharge", move |_ctx: ActivityContext, order: String| {
            let attempts = Arc::clone(&attempts);
            async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                if attempt < 3 {
                    println!("  FlakyCharge attempt {attempt}: payment gateway unavailable");
                    Err(format!("attempt {attempt}: gateway unavailable"))
                } else {
                    Ok(format!("{order} charged on attempt {attempt}"))
                }
            }
        })
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register("DelaysAndTimeouts", delays_and_timeouts)
        .build();

    let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;
    let client = Client::new(store);
    client
        .start_orchestration("timing-1", "DelaysAndTimeouts", "")
        .await?;
    match client
        .wait_for_orchestration("timing-1", Duration::from_secs(10))
        .await?
    {
        OrchestrationStatus::Completed { output } => println!("{output}"),
        other => return Err(format!("unexpected status: {other:?}").into()),
    }
    println!(
        "FlakyCharge ran {} times",
        charge_attempts.load(Ordering::SeqCst)
    );

    // Give the abandoned SlowLookup a moment to see its cancellation before shutting down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    rt.shutdown(None).await;
    Ok(())
}
