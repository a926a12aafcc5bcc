//! Human interaction: an orchestration waits for an approval (an external event) but gives
//! up when a durable timer fires first.
//!
//! Two instances of the same orchestration run:
//! - `expense-1` is approved by the client *immediately after it starts*, while the
//!   orchestration is still busy with its first step and has not reached its wait. The event
//!   is kept in the instance's history until the wait consumes it, so nothing is lost.
//! - `expense-2` is never approved, so the timeout timer wins the race.
//!
//! The activity and the orchestration are annotated fns (typed calls, registered
//! automatically); the timer, the wait for the event and the race between them use the
//! context directly, as they have no typed stub.
//!
//! Run with `cargo run --example timers_and_events`.

use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::{
    activity, orchestration, ActivityContext, Client, Either2, OrchestrationContext, Runtime,
};

/// How long an approver has. Short so the example finishes quickly; a real one would be days,
/// which costs nothing: a waiting instance holds no thread and survives restarts.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Tells the approver about the expense (an activity: it may do I/O).
#[activity]
async fn notify_approver(_ctx: ActivityContext, expense: String) -> Result<(), String> {
    // Slow on purpose: the approval below arrives before the orchestration waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("  (an email about {expense} went out)");
    Ok(())
}

/// Notifies the approver, then waits for "Approval" or the timeout, whichever is first.
#[orchestration]
async fn expense_approval(ctx: OrchestrationContext, expense: String) -> Result<String, String> {
    notify_approver::schedule(&ctx, expense.clone()).await?;

    // Both futures are scheduled now; select2 resolves with whichever result is earlier in
    // history, so a replay always picks the same winner.
    let timeout = ctx.schedule_timer(APPROVAL_TIMEOUT);
    let approval = ctx.schedule_wait("Approval");
    match ctx.select2(timeout, approval).await {
        Either2::First(()) => {
            ctx.trace_warn(format!("{expense}: nobody answered, escalating"));
            Ok(format!("{expense}: escalated after {APPROVAL_TIMEOUT:?}"))
        }
        Either2::Second(approver) => Ok(format!("{expense}: approved by {approver}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let store = Arc::new(SledProvider::new_in_memory().await?);

    // Every annotated fn linked into the binary is registered.
    let rt = Runtime::builder(store.clone()).start().await?;
    let client = Client::new(store);

    expense_approval::start(&client, "expense-1", "expense-1".to_string()).await?;
    // Raised before the orchestration reaches `schedule_wait("Approval")`: kept until then.
    client.raise_event("expense-1", "Approval", "alice").await?;

    expense_approval::start(&client, "expense-2", "expense-2".to_string()).await?;

    for instance in ["expense-1", "expense-2"] {
        let outcome = expense_approval::wait(&client, instance, Duration::from_secs(10)).await??;
        println!("{outcome}");
    }

    // Raising an event for an instance that has finished is refused, not silently dropped.
    let late = client.raise_event("expense-2", "Approval", "bob").await;
    println!("late approval for expense-2: {}", late.unwrap_err());

    rt.shutdown(None).await;
    Ok(())
}
