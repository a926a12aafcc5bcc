//! An activity that takes the whole process down (`abort`, as a segfault or the OOM killer
//! would) must not crash-loop the service forever: its deliveries are counted durably before
//! it runs, so after `max_activity_deliveries` crashed deliveries the next process fails the
//! call as `Poison` instead of running it again, which fails the calling instance with a
//! `Poison` error (not a result its code could mistake for the activity's own failure).
//!
//! The test re-executes its own binary: the child test (`poison_child_process`) does nothing
//! unless `DUROXIDE_POISON_CHILD_DIR` is set; then it opens the store there, starts the
//! instance (once), runs the runtime and prints the instance's final status. Every delivery
//! of the activity appends its attempt number to a side file and aborts the process.

use std::io::Write;
use std::path::Path;
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
const CHILD_TEST: &str = "poison_child_process";
const INSTANCE: &str = "crash-looper";
const MAX_DELIVERIES: u32 = 3;

fn side_file(base: &Path) -> std::path::PathBuf {
    base.join("attempts.log")
}

#[tokio::test]
async fn poison_child_process() {
    let Some(base) = std::env::var_os(CHILD_DIR_ENV) else {
        return; // only meaningful as the parent's child process
    };
    let base = std::path::PathBuf::from(base);
    let side = side_file(&base);
    let activities = ActivityRegistry::builder()
        .register(
            "TakesTheProcessDown",
            move |ctx: ActivityContext, _input: String| {
                let side = side.clone();
                async move {
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&side)
                        .map_err(|e| e.to_string())?;
                    writeln!(file, "{}", ctx.attempt()).map_err(|e| e.to_string())?;
                    file.sync_all().map_err(|e| e.to_string())?;
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
        .build();
    let store = open_store(&base.join("db")).await;
    let dyn_store: Arc<dyn Provider> = store.clone();
    let options = duroxide::RuntimeOptions {
        max_activity_deliveries: MAX_DELIVERIES,
        ..test_options()
    };
    let rt =
        Runtime::start_with_options(dyn_store.clone(), activities, orchestrations, options).await;
    let client = Client::new(dyn_store);
    match client.start_orchestration(INSTANCE, "Guarded", "").await {
        Ok(()) | Err(ClientError::InstanceAlreadyExists { .. }) => {}
        Err(e) => panic!("start: {e}"),
    }
    let status = client
        .wait_for_orchestration(INSTANCE, Duration::from_secs(60))
        .await
        .expect("wait");
    println!("FINAL {status:?}");
    rt.shutdown(None).await;
}

#[tokio::test]
async fn poison_activity_that_kills_its_process_is_poisoned_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut finals = Vec::new();
    let mut crashes = 0;
    for _ in 0..(MAX_DELIVERIES + 3) {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .output()
            .expect("run child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        if output.status.success() {
            finals.extend(
                stdout
                    .lines()
                    .filter_map(|l| l.split_once("FINAL "))
                    .map(|(_, status)| status.to_string()),
            );
            break;
        }
        crashes += 1;
    }
    let attempts = std::fs::read_to_string(side_file(dir.path())).unwrap_or_default();
    assert_eq!(
        attempts.lines().collect::<Vec<_>>(),
        vec!["1", "2", "3"],
        "each crashed delivery counts, across processes"
    );
    assert_eq!(crashes, MAX_DELIVERIES, "one crashed process per delivery");
    assert_eq!(finals.len(), 1, "the next process finished the instance");
    assert!(
        finals[0].starts_with("Failed { details: Poison {") && finals[0].contains("attempts: 3"),
        "the instance failed as Poison after 3 deliveries: {}",
        finals[0]
    );

    // The store agrees, read by a fresh process-local client.
    let store = open_store(&dir.path().join("db")).await;
    let client = Client::new(store);
    match client.get_orchestration_status(INSTANCE).await.unwrap() {
        OrchestrationStatus::Failed { details } => {
            assert_eq!(details.category(), "poison", "{details:?}");
            assert!(!details.is_retryable());
        }
        other => panic!("{other:?}"),
    }
}
