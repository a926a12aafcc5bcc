//! The child process: opens the store, starts a runtime, starts every instance not started
//! yet, raises the external event for every unfinished instance that waits for one, and runs
//! until every instance finished (or until the supervisor kills it).
//!
//! It prints one line per fact it observed durably, which the supervisor counts to choose
//! its moment to kill:
//!
//! - `ready` once the store is open and the runtime runs;
//! - `resume <finished> <existing>`: how many instances were finished, and how many existed,
//!   when it started;
//! - `started <i>` when the start of instance `i` is acknowledged;
//! - `done <i>` when instance `i` is seen completed;
//! - `failed <i> <status>` when it is seen in any other final state (a bug);
//! - `all-done <already> <finished>` when every instance is finished.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::{Client, ClientError, OrchestrationStatus, Runtime};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::util::say;
use crate::workload::{self, instance_id, Effects, Plan, EVENT, EVENT_DATA, ORCH};
use crate::Tuning;

/// The store of a torture directory.
pub fn db_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("db")
}

/// The effect file of run `run`.
pub fn effects_file(dir: &Path, run: u32) -> std::path::PathBuf {
    dir.join(format!("effects-{run:03}.log"))
}

pub fn main(dir: &Path, instances: u64, run: u32, tuning: &Tuning) -> ExitCode {
    crate::util::init_logs();
    let Some(rt) = crate::util::tokio_runtime("child") else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(run_workload(dir, instances, run, tuning)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("child: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_workload(dir: &Path, instances: u64, run: u32, tuning: &Tuning) -> Result<(), String> {
    let store = SledProvider::new(db_dir(dir), Some(tuning.store_options()))
        .await
        .map_err(|e| format!("open store: {e}"))?;
    let store: Arc<dyn Provider> = Arc::new(store);
    let client = Client::new(store.clone());
    let effects =
        Effects::to_file(&effects_file(dir, run)).map_err(|e| format!("open effect file: {e}"))?;
    let runtime = Runtime::start_with_options(
        store,
        workload::activities(effects, client.clone()),
        workload::orchestrations(),
        tuning.runtime_options(),
    )
    .await;
    say("ready");

    // What is left: the supervisor sizes its next kill from this.
    let mut todo = Vec::new();
    let (mut finished_before, mut existing) = (0u64, 0u64);
    for i in 0..instances {
        match client
            .get_orchestration_status(instance_id(i))
            .await
            .map_err(|e| format!("status of {}: {e}", instance_id(i)))?
        {
            status if status.is_terminal() => {
                finished_before += 1;
                existing += 1;
            }
            OrchestrationStatus::NotFound => todo.push(i),
            _ => {
                existing += 1;
                todo.push(i);
            }
        }
    }
    say(&format!("resume {finished_before} {existing}"));

    let slots = Arc::new(Semaphore::new(tuning.in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let mut already = 0u64;
    let mut finished = 0u64;
    for i in todo {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        // Collect what finished meanwhile, so errors surface early.
        while let Some(joined) = tasks.try_join_next() {
            match joined.map_err(|e| e.to_string())?? {
                Progress::AlreadyFinished => already += 1,
                Progress::Finished => finished += 1,
            }
        }
        let client = client.clone();
        tasks.spawn(async move {
            let progress = drive(&client, i).await;
            drop(permit);
            progress
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| e.to_string())?? {
            Progress::AlreadyFinished => already += 1,
            Progress::Finished => finished += 1,
        }
    }
    say(&format!(
        "all-done {} {finished}",
        finished_before + already
    ));
    runtime.shutdown(Some(Duration::from_secs(5))).await;
    Ok(())
}

enum Progress {
    AlreadyFinished,
    Finished,
}

/// Brings instance `i` to its end: starts it if it does not exist, raises its event if it
/// waits for one, and waits for it.
async fn drive(client: &Client, i: u64) -> Result<Progress, String> {
    let id = instance_id(i);
    match client
        .get_orchestration_status(&id)
        .await
        .map_err(|e| format!("status of {id}: {e}"))?
    {
        status if status.is_terminal() => return Ok(Progress::AlreadyFinished),
        OrchestrationStatus::NotFound => {
            match client.start_orchestration(&id, ORCH, i.to_string()).await {
                Ok(()) => say(&format!("started {i}")),
                Err(ClientError::InstanceAlreadyExists { .. }) => {}
                Err(e) => return Err(format!("start {id}: {e}")),
            }
        }
        _ => {}
    }
    if Plan::of(i).event {
        // Raised after every (re)start: the wait consumes the first, the rest are harmless.
        match client.raise_event(&id, EVENT, EVENT_DATA).await {
            Ok(()) | Err(ClientError::InstanceNotRunning { .. }) => {}
            Err(e) => return Err(format!("raise {EVENT} for {id}: {e}")),
        }
    }
    match client
        .wait_for_orchestration(&id, Duration::from_secs(24 * 3600))
        .await
        .map_err(|e| format!("wait for {id}: {e}"))?
    {
        OrchestrationStatus::Completed { .. } => say(&format!("done {i}")),
        other => say(&format!("failed {i} {other:?}")),
    }
    Ok(Progress::Finished)
}
