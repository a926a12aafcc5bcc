//! Time in orchestrations: durable delays, a timeout around an activity, and retries.
//!
//! - **Delay**: `ctx.schedule_timer(d).await` instead of `tokio::time::sleep` (which
//!   `#[orchestration]` rejects at compile time). The timer is a message in the store, so
//!   the delay survives a restart, and `ctx.utc_now()` (never the host clock) tells the
//!   orchestration what time it is.
//! - **Timeout**: race the activity against a timer with `select2`. The losing activity is
//!   not interrupted; its result is ignored, and once the orchestration ends the activity
//!   is told to stop through its `ActivityContext`.
//! - **Retry**: the activity's `schedule_with_retry` stub with a [`RetryPolicy`]; every
//!   attempt and every backoff delay is in history, so a restart neither repeats nor forgets
//!   attempts.
//!
//! Run with `cargo run --example delays_and_timeouts`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::{
    activity, orchestration, ActivityContext, BackoffStrategy, Client, Either2,
    OrchestrationContext, RetryPolicy, Runtime,
};

/// How many times `flaky_charge` ran (activities may keep process state; orchestrations may not).
static CHARGE_ATTEMPTS: AtomicU32 = AtomicU32::new(0);

/// A lookup far slower than the orchestration is willing to wait.
#[activity]
async fn slow_lookup(ctx: ActivityContext, customer: String) -> Result<String, String> {
    // Long-running work should watch for cancellation: the orchestration will have moved on
    // (and finished) long before this lookup would.
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(30)) => Ok(format!("{customer}: gold")),
        _ = ctx.cancelled() => {
            println!("  slow_lookup: told to stop, the orchestration no longer needs me");
            Err("cancelled".to_string())
        }
    }
}

/// A charge whose first two attempts fail.
#[activity]
async fn flaky_charge(_ctx: ActivityContext, order: String) -> Result<String, String> {
    let attempt = CHARGE_ATTEMPTS.fetch_add(1, Ordering::SeqCst) + 1;
    if attempt < 3 {
        println!("  flaky_charge attempt {attempt}: payment gateway unavailable");
        Err(format!("attempt {attempt}: gateway unavailable"))
    } else {
        Ok(format!("{order} charged on attempt {attempt}"))
    }
}

/// The three patterns in a row; returns one report line per pattern.
#[orchestration]
async fn delays_and_timeouts(ctx: OrchestrationContext) -> Result<Vec<String>, String> {
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
    let lookup = slow_lookup::schedule(&ctx, "customer-7".to_string());
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
    let charged = flaky_charge::schedule_with_retry(&ctx, policy, "order-42".to_string()).await?;
    report.push(charged);

    Ok(report)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let store = Arc::new(SledProvider::new_in_memory().await?);

    // Every annotated fn linked into the binary is registered.
    let rt = Runtime::builder(store.clone()).start().await?;
    let client = Client::new(store);
    delays_and_timeouts::start(&client, "timing-1").await?;
    let report = delays_and_timeouts::wait(&client, "timing-1", Duration::from_secs(10)).await??;
    println!("{}", report.join("\n"));
    println!(
        "flaky_charge ran {} times",
        CHARGE_ATTEMPTS.load(Ordering::SeqCst)
    );

    // Give the abandoned slow_lookup a moment to see its cancellation before shutting down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    rt.shutdown(None).await;
    Ok(())
}
