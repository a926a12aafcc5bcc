//! Work that takes the whole process down (`abort`, as a segfault or the OOM killer would)
//! must not crash-loop the service forever. Deliveries are counted durably before the work
//! runs, so after the configured number of crashed deliveries the next process fails the
//! instance as `Poison` instead of running the work again:
//!
//! - an activity: after `max_activity_deliveries` crashed deliveries the call fails as
//!   `Poison`, which fails the calling instance (not a result its code could mistake for
//!   the activity's own failure);
//! - an orchestration turn: after `max_orchestration_deliveries` crashed deliveries the
//!   instance fails as `Poison` without its code running again.
//!
//! The tests re-execute their own binary: the child test (`poison_child_process`) does
//! nothing unless `DUROXIDE_POISON_CHILD_DIR` is set; then it opens the store there, starts
//! the instance named by `DUROXIDE_POISON_CHILD_MODE` (once), runs the runtime and prints
//! the instance's final status. Every run of the crashing code appends a line to a side
//! file and aborts the process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::Provider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, ClientError, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus, Runtime,
};
use duroxide_tests::{open_store, test_options};

const CHILD_DIR_ENV: &str = "DUROXIDE_POISON_CHILD_DIR";
const CHILD_MODE_ENV: &str = "DUROXIDE_POISON_CHILD_MODE";
const CHILD_TEST: &str = "poison_child_process";
const MAX_DELIVERIES: u32 = 3;

/// Which crash loop a child runs: the orchestration it starts.
#[derive(Clone, Copy)]
enum Mode {
    /// `Guarded` calls an activity that aborts the process.
    Activity,
    /// `Crashing` aborts the process in its own first turn.
    Orchestration,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Activity => "activity",
            Mode::Orchestration => "orchestration",
        }
    }

    fn orchestration(self) -> &'static str {
        match self {
            Mode::Activity => "Guarded",
            Mode::Orchestration => "Crashing",
        }
    }
}

fn side_file(base: &Path) -> PathBuf {
    base.join("runs.log")
}

/// Appends `line` to the side file, durably, before the caller takes the process down.
fn record_run(side: &Path, line: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(side)
        .map_err(|e| e.to_string())?;
    writeln!(file, "{line}").map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

#[tokio::test]
async fn poison_child_process() {
    let Some(base) = std::env::var_os(CHILD_DIR_ENV) else {
        return; // only meaningful as the parent's child process
    };
    let mode = match std::env::var(CHILD_MODE_ENV).as_deref() {
        Ok("orchestration") => Mode::Orchestration,
        _ => Mode::Activity,
    };
    let base = PathBuf::from(base);
    let side = side_file(&base);
    let activity_side = side.clone();
    let activities = ActivityRegistry::builder()
        .register(
            "TakesTheProcessDown",
            move |ctx: ActivityContext, _input: String| {
                let side = activity_side.clone();
                async move {
                    record_run(&side, &ctx.attempt().to_string())?;
                    std::process::abort();
                }
            },
        )
        .build();
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "Guarded",
            |ctx: OrchestrationContext, _input: String| async move {
                match ctx.schedule_activity("TakesTheProcessDown", "").await {
                    Ok(out) => Ok(out),
                    Err(e) => Ok(format!("compensated after: {e}")),
                }
            },
        )
        .register(
            "Crashing",
            move |_ctx: OrchestrationContext, _input: String| {
                let side = side.clone();
                async move {
                    record_run(&side, "turn")?;
                    std::process::abort();
                }
            },
        )
        .build();
    let store = open_store(&base.join("db")).await;
    let dyn_store: Arc<dyn Provider> = store.clone();
    let options = duroxide::RuntimeOptions {
        max_activity_deliveries: MAX_DELIVERIES,
        max_orchestration_deliveries: MAX_DELIVERIES,
        ..test_options()
    };
    let rt =
        Runtime::start_with_options(dyn_store.clone(), activities, orchestrations, options).await;
    let client = Client::new(dyn_store);
    let instance = mode.as_str();
    match client
        .start_orchestration(instance, mode.orchestration(), "")
        .await
    {
        Ok(()) | Err(ClientError::InstanceAlreadyExists { .. }) => {}
        Err(e) => panic!("start: {e}"),
    }
    let status = client
        .wait_for_orchestration(instance, Duration::from_secs(60))
        .await
        .expect("wait");
    println!("FINAL {status:?}");
    rt.shutdown(None).await;
}

/// Runs child processes on one store directory until one finishes; returns the number of
/// crashed children, the lines of the side file and the final status the last child printed.
fn run_until_finished(dir: &Path, mode: Mode) -> (u32, Vec<String>, String) {
    let mut crashes = 0;
    for _ in 0..(MAX_DELIVERIES + 4) {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir)
            .env(CHILD_MODE_ENV, mode.as_str())
            .output()
            .expect("run child");
        if output.status.success() {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let finals: Vec<&str> = stdout
                .lines()
                .filter_map(|l| l.split_once("FINAL ").map(|(_, s)| s))
                .collect();
            assert_eq!(finals.len(), 1, "one final status: {stdout}");
            let runs = std::fs::read_to_string(side_file(dir)).unwrap_or_default();
            return (
                crashes,
                runs.lines().map(str::to_string).collect(),
                finals[0].to_string(),
            );
        }
        crashes += 1;
    }
    panic!("no child finished after {crashes} crashes: the crash loop was not broken");
}

/// The store agrees with what the last child saw, read by a fresh process-local client.
async fn assert_poisoned_in_store(dir: &Path, instance: &str) {
    let store = open_store(&dir.join("db")).await;
    let client = Client::new(store);
    match client.get_orchestration_status(instance).await.unwrap() {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.category(), "poison", "{details:?}");
            assert!(!details.is_retryable());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn poison_activity_that_kills_its_process_is_poisoned_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (crashes, runs, last) = run_until_finished(dir.path(), Mode::Activity);
    assert_eq!(
        runs,
        vec!["1", "2", "3"],
        "each crashed delivery counts, across processes"
    );
    assert_eq!(crashes, MAX_DELIVERIES, "one crashed process per delivery");
    assert!(
        last.starts_with("Failed { details: Poison {") && last.contains("attempts: 3"),
        "the instance failed as Poison after 3 deliveries: {last}"
    );
    assert_poisoned_in_store(dir.path(), Mode::Activity.as_str()).await;
}

#[tokio::test]
async fn poison_orchestration_turn_that_kills_its_process_is_poisoned_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (crashes, runs, last) = run_until_finished(dir.path(), Mode::Orchestration);
    // The first delivery of a brand-new instance is counted in memory only (counting every
    // first turn durably would cost a flush per turn); every delivery after a restart is
    // counted on disk before the turn runs. So the loop ends after the limit plus one.
    assert_eq!(
        crashes,
        MAX_DELIVERIES + 1,
        "the crash loop ends after the limit"
    );
    assert_eq!(
        runs.len(),
        crashes as usize,
        "the turn ran once per crashed process and never after: {runs:?}"
    );
    assert!(
        last.starts_with("Failed { details: Poison {")
            && last.contains("attempts: 3")
            && last.contains("orchestration turn of 'Crashing'"),
        "the instance failed as Poison after 3 counted deliveries: {last}"
    );
    assert_poisoned_in_store(dir.path(), Mode::Orchestration.as_str()).await;
}
