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

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::runtime::{self, registry::ActivityRegistry};
use duroxide::{
    ActivityContext, Client, EventKind, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus,
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

async fn process_order(ctx: OrchestrationContext, order: String) -> Result<String, String> {
    let reservation = ctx.schedule_activity("ReserveStock", order.clone()).await?;
    // trace_* is muted during replay, so this line appears only in the first run.
    ctx.trace_info(format!("{reservation}; waiting before shipping"));

    // Set in the first run, kept in the store: the second run fires it at the same instant
    // (or at once, if that instant has passed while the process was down).
    ctx.schedule_timer(Duration::from_secs(3)).await;
    let approver = ctx.schedule_wait("Approval").await;

    let shipment = ctx.schedule_activity("Ship", order).await?;
    Ok(format!("{reservation}, approved by {approver}, {shipment}"))
}

fn registries() -> (ActivityRegistry, OrchestrationRegistry) {
    let activities = ActivityRegistry::builder()
        .register(
            "ReserveStock",
            |_ctx: ActivityContext, order: String| async move {
                record_run("ReserveStock")?;
                println!("  ReserveStock ran for {order}");
                Ok(format!("{order}: 3 items reserved"))
            },
        )
        .register("Ship", |_ctx: ActivityContext, order: String| async move {
            record_run("Ship")?;
            println!("  Ship ran for {order}");
            Ok("shipped".to_string())
        })
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register("ProcessOrder", process_order)
        .build();
    (activities, orchestrations)
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
    let (activities, orchestrations) = registries();
    let _rt = runtime::Runtime::start_with_store(store, activities, orchestrations).await;

    client
        .start_orchestration(INSTANCE, "ProcessOrder", INSTANCE)
        .await?;
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
    let (activities, orchestrations) = registries();
    let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;

    let status = client
        .wait_for_orchestration(INSTANCE, Duration::from_secs(30))
        .await?;
    match &status {
        OrchestrationStatus::Completed { output } => println!("second run: {output}"),
        other => println!("second run: unexpected status {other:?}"),
    }
    let reserved = runs_of("ReserveStock");
    let verdict = if reserved == 1 {
        "its result came from history, it did not run again"
    } else {
        "it ran again after the restart"
    };
    println!("ReserveStock ran {reserved} time(s) across both runs: {verdict}");
    println!("Ship ran {} time(s)", runs_of("Ship"));

    rt.shutdown(None).await;
    // Close the store (the client holds the last other handle) before removing its files.
    drop(client);
    drop(store);
    std::fs::remove_dir_all(DATA_DIR)?;
    println!("removed ./{DATA_DIR}; the next run starts over");
    if !matches!(status, OrchestrationStatus::Completed { .. }) {
        return Err("the instance did not complete".into());
    }
    Ok(())
}
