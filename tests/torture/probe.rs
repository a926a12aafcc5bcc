//! `probe`: shows whether a client can observe a commit that a crash then undoes.
//!
//! Each run starts a child process (`probe-child`) on a fresh store. The child starts one
//! instance that fans out to eight activities (so its final turn commits while others
//! commit around it), reads the instance's status in a tight loop, and the moment it reads
//! `Completed` prints `observed` and dies on the spot (`abort`: no destructor, no flush,
//! as with `kill -9`). The parent then opens the store: if the instance is not `Completed`
//! there, the child was shown a state that was not durable yet.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus,
    Runtime,
};

const INSTANCE: &str = "probe";

/// The parent: `runs` children, each on a fresh store under `dir`.
pub fn main(dir: &Path, runs: u32) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("probe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("probe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut observed, mut undone) = (0u32, 0u32);
    for run in 0..runs {
        let db = dir.join(format!("probe-{run:04}"));
        let output = Command::new(&exe)
            .arg("probe-child")
            .arg("--db")
            .arg(&db)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let saw = output
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("observed"))
            .unwrap_or(false);
        if !saw {
            println!("run {run}: the child did not observe the completion");
            continue;
        }
        observed += 1;
        let status = rt.block_on(async {
            let store = SledProvider::new(&db, None)
                .await
                .map_err(|e| e.to_string())?;
            Client::new(Arc::new(store))
                .get_orchestration_status(INSTANCE)
                .await
                .map_err(|e| e.to_string())
        });
        match status {
            Ok(OrchestrationStatus::Completed { .. }) => {}
            other => {
                undone += 1;
                println!("run {run}: observed Completed, after the crash the store says {other:?}");
            }
        }
        let _ = std::fs::remove_dir_all(&db);
    }
    println!("{runs} runs: {observed} completions observed, {undone} of them undone by the crash");
    if undone == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The child: run the instance, watch it, die the moment it reads as completed.
pub fn child(db: &Path) -> ExitCode {
    let Some(rt) = crate::util::tokio_runtime("probe child") else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let Ok(store) = SledProvider::new(db, None).await else {
            return ExitCode::FAILURE;
        };
        let store: Arc<dyn Provider> = Arc::new(store);
        let activities = ActivityRegistry::builder()
            .register(
                "Echo",
                |_ctx: ActivityContext, s: String| async move { Ok(s) },
            )
            .build();
        let orchestrations = OrchestrationRegistry::builder()
            .register(
                "FanOut",
                |ctx: OrchestrationContext, input: String| async move {
                    let calls = (0..8)
                        .map(|k| ctx.schedule_activity("Echo", format!("{input}{k}")))
                        .collect();
                    let results: Result<Vec<String>, String> =
                        ctx.join(calls).await.into_iter().collect();
                    Ok(results?.join(","))
                },
            )
            .build();
        let _runtime = Runtime::start_with_store(store.clone(), activities, orchestrations).await;
        let client = Client::new(store);
        if client
            .start_orchestration(INSTANCE, "FanOut", "x")
            .await
            .is_err()
        {
            return ExitCode::FAILURE;
        }
        loop {
            if let Ok(OrchestrationStatus::Completed { .. }) =
                client.get_orchestration_status(INSTANCE).await
            {
                crate::util::say("observed");
                std::process::abort();
            }
            // A tight poll on purpose: the probe looks for a narrow window.
            tokio::time::sleep(Duration::from_micros(20)).await;
        }
    })
}
