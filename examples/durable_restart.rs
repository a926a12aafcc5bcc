//! An instance survives a process restart.
//!
//! Run it twice:
//!
//! ```text
//! cargo run --example durable_restart   # starts an order, "crashes" halfway
//! cargo run --example durable_restart   # reopens the store and finishes the order
//! ```
//!
//! The first run starts an order whose orchestration reserves stock (an activity), then waits
//! on a durable timer and for an external approval, then ships. The client approves the
//! order early and the process exits as soon as the reservation is recorded, without any
//! shutdown, as a crash would.
//!
//! The second run opens the same store, sees the instance is already there, and only starts
//! a runtime. The runtime replays the orchestration over its history: the reservation is
//! taken from history (the activity does not run again), the timer fires at the time the
//! first run set, the approval raised before the crash is still waiting, and the order ships.
//! Finally the data directory is removed, so a third run starts over.
//!
//! The activities and the orchestration are annotated fns, so both runs get the same
//! definitions from `Runtime::builder(store).start()` with no registration code.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::{
    activity, orchestration, ActivityContext, Client, EventKind, OrchestrationContext,
    OrchestrationStatus, Runtime,
};

/// Relative to the working directory: the workspace root under `cargo run` (and ignored by git).
const DATA_DIR: &str = "durable_restart_data";
const INSTANCE: &str = "order-42";

/// Activities may do I/O; these append a line per execution to a file next to the store, so
/// the second run can show how often each one really ran.
fn record_run(activity: &str) -> Result<(), String> {
    use std::io::Write;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(DATA_DIR).join("activity_runs.log"))
        .map_err(|e| e.to_string())?;
    writeln!(log, "{activity}").map_err(|e| e.to_string())
}

fn runs_of(activity: &str) -> usize {
    std::fs::read_to_string(Path::new(DATA_DIR).join("activity_runs.log"))
        .unwrap_or_default()
        .lines()
        .filter(|line| *line == activity)
        .count()
}

/// Reserves the order's stock (runs once: the second run takes its result from history).
#[activity]
async fn reserve_stock(_ctx: ActivityContext, order: String) -> Result<String, String> {
    record_run(reserve_stock::NAME)?;
    println!("  reserve_stock ran for {order}");
    Ok(format!("{order}: 3 items reserved"))
}

/// Ships the order (runs only in the second run).
#[activity]
async fn ship(_ctx: ActivityContext, order: String) -> Result<String, String> {
    record_run(ship::NAME)?;
    println!("  ship ran for {order}");
    Ok("shipped".to_string())
}

/// Reserve, wait durably, wait for the approval, ship.
#[orchestration]
async fn process_order(ctx: OrchestrationContext, order: String) -> Result<String, String> {
    let reservation = reserve_stock::schedule(&ctx, order.clone()).await?;
    // trace_* is muted during replay, so this line appears only in the first run.
    ctx.trace_info(format!("{reservation}; waiting before shipping"));

    // Set in the first run, kept in the store: the second run fires it at the same instant
    // (or at once, if that instant has passed while the process was down).
    ctx.schedule_timer(Duration::from_secs(3)).await;
    let approver = ctx.schedule_wait("Approval").await;

    let shipment = ship::schedule(&ctx, order).await?;
    Ok(format!("{reservation}, approved by {approver}, {shipment}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let store = Arc::new(SledProvider::new(DATA_DIR, None).await?);
    let client = Client::new(store.clone());

    match client.get_orchestration_status(INSTANCE).await? {
        OrchestrationStatus::NotFound => first_run(store, client).await,
        _ => second_run(store, client).await,
    }
}

async fn first_run(
    store: Arc<SledProvider>,
    client: Client,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("first run: starting {INSTANCE} in ./{DATA_DIR}");
    let _rt = Runtime::builder(store).start().await?;

    process_order::start(&client, INSTANCE, INSTANCE.to_string()).await?;
    // The orchestration waits for "Approval" only after its timer; the event is kept in the
    // store until then, across the crash.
    client.raise_event(INSTANCE, "Approval", "alice").await?;

    // Crash as soon as the reservation is in history. TimerCreated is recorded in the same
    // turn as the reservation's result; polling is fine for a demo.
    loop {
        let history = client.read_history(INSTANCE).await?;
        if history
            .iter()
            .any(|e| matches!(e.kind, EventKind::TimerCreated { .. }))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("first run: stock reserved; simulating a crash before the order ships");
    println!("run me again: cargo run --example durable_restart");
    // No shutdown, no destructors: whatever the store acknowledged is on disk, the rest is lost.
    std::process::exit(0);
}

async fn second_run(
    store: Arc<SledProvider>,
    client: Client,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("second run: {INSTANCE} found in ./{DATA_DIR}; resuming it");
    let rt = Runtime::builder(store.clone()).start().await?;

    let outcome = process_order::wait(&client, INSTANCE, Duration::from_secs(30)).await;
    match &outcome {
        Ok(Ok(output)) => println!("second run: {output}"),
        Ok(Err(message)) => println!("second run: the order failed: {message}"),
        Err(other) => println!("second run: {other}"),
    }
    let reserved = runs_of(reserve_stock::NAME);
    let verdict = if reserved == 1 {
        "its result came from history, it did not run again"
    } else {
        "it ran again after the restart"
    };
    println!("reserve_stock ran {reserved} time(s) across both runs: {verdict}");
    println!("ship ran {} time(s)", runs_of(ship::NAME));

    rt.shutdown(None).await;
    // Close the store (the client holds the last other handle) before removing its files.
    drop(client);
    drop(store);
    std::fs::remove_dir_all(DATA_DIR)?;
    println!("removed ./{DATA_DIR}; the next run starts over");
    if !matches!(outcome, Ok(Ok(_))) {
        return Err("the instance did not complete".into());
    }
    Ok(())
}
