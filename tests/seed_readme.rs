//! Every Rust code block of the original product's README (`shared/seed/duroxide-README.md`),
//! compiled and run against our crate. The blocks are copied verbatim; the only change is
//! the store: `SqliteProvider` (import and construction) becomes `SledProvider` on a
//! temporary directory. Each block lives in its own module so its `use` lines stay as written.
//!
//! The verbatim code triggers a few lints (an unused `ctx`, an import the block never uses,
//! a path qualified although imported); they are allowed here rather than edited away.
#![allow(unused_imports, unused_variables, unused_qualifications)]

use std::sync::Arc;

use duroxide::providers::sled::SledProvider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, EventKind, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus, Runtime,
};
use duroxide_tests::{history_has, init_tracing, test_options, until_instance, WAIT};

// ---- "Hello world (activities + runtime)" ------------------------------------------------

#[rustfmt::skip]
mod hello_world {
    use std::sync::Arc;
    use duroxide::{ActivityContext, Client, ClientError, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus};
    use duroxide::runtime::{self};
    use duroxide::runtime::registry::ActivityRegistry;
    use duroxide::providers::sled::SledProvider;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readme_hello_world() -> Result<(), Box<dyn std::error::Error>> {
        duroxide_tests::init_tracing();
        let dir = tempfile::tempdir()?;
        let store = std::sync::Arc::new(SledProvider::new(dir.path(), None).await?);
        let activities = ActivityRegistry::builder()
            .register("Hello", |ctx: ActivityContext, name: String| async move { Ok(format!("Hello, {name}!")) })
            .build();
        let orch = |ctx: OrchestrationContext, name: String| async move {
            ctx.trace_info("hello started");
            let res = ctx.schedule_activity("Hello", name).await.unwrap();
            Ok::<_, String>(res)
        };
        let orchestrations = OrchestrationRegistry::builder().register("HelloWorld", orch).build();
        let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;
        let client = Client::new(store);
        client.start_orchestration("inst-hello-1", "HelloWorld", "Rust").await?; // Returns Result<(), ClientError>
        match client.wait_for_orchestration("inst-hello-1", std::time::Duration::from_secs(5)).await? {
            OrchestrationStatus::Completed { output } => assert_eq!(output, "Hello, Rust!"),
            OrchestrationStatus::Failed { details } => panic!("Failed: {}", details.display_message()),
            _ => panic!("Unexpected status"),
        }
        rt.shutdown(None).await;  // Graceful shutdown with 1s timeout
        Ok(())
    }
}

// ---- "Parallel fan-out" ------------------------------------------------------------------

#[rustfmt::skip]
mod parallel_fanout {
    use duroxide::OrchestrationContext;

    pub async fn fanout(ctx: OrchestrationContext) -> Vec<String> {
        let f1 = ctx.schedule_activity("Greetings", "Gabbar");
        let f2 = ctx.schedule_activity("Greetings", "Samba");
        let outs = ctx.join(vec![f1, f2]).await; // history-ordered join
        outs
            .into_iter()
            .map(|o| match o {
                Ok(s) => s,
                Err(e) => panic!("activity failed: {}", e),
            })
            .collect()
    }
}

// ---- "Control flow + timers + externals" -------------------------------------------------

#[rustfmt::skip]
mod control_flow {
    use duroxide::OrchestrationContext;

    use duroxide::Either2;
    pub async fn control(ctx: OrchestrationContext) -> String {
        let a = ctx.schedule_timer(std::time::Duration::from_millis(10));
        let b = ctx.schedule_wait("Evt");
        match ctx.select2(a, b).await {
            Either2::First(()) => {
                // timer won; fall back to waiting for the event deterministically
                ctx.schedule_wait("Evt").await
            }
            Either2::Second(data) => data,
        }
    }
}

// ---- "Error handling (Result<String, String>)" -------------------------------------------

#[rustfmt::skip]
mod error_handling {
    use duroxide::OrchestrationContext;

    pub async fn comp_sample(ctx: OrchestrationContext) -> String {
        match ctx.schedule_activity("Fragile", "bad").await {
            Ok(v) => v,
            Err(e) => {
                ctx.trace_warn(format!("fragile failed error={e}"));
                ctx.schedule_activity("Recover", "").await.unwrap()
            }
        }
    }
}

// ---- running the sample functions end to end ----------------------------------------------

fn sample_activities() -> ActivityRegistry {
    ActivityRegistry::builder()
        .register(
            "Greetings",
            |_ctx: ActivityContext, name: String| async move { Ok(format!("Hello, {name}!")) },
        )
        .register(
            "Fragile",
            |_ctx: ActivityContext, input: String| async move {
                Err(format!("fragile cannot handle '{input}'"))
            },
        )
        .register(
            "Recover",
            |_ctx: ActivityContext, _input: String| async move { Ok("recovered".to_string()) },
        )
        .build()
}

fn sample_orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register("Fanout", |ctx, _| async move {
            Ok(parallel_fanout::fanout(ctx).await.join(","))
        })
        .register("Control", |ctx, _| async move {
            Ok(control_flow::control(ctx).await)
        })
        .register("CompSample", |ctx, _| async move {
            Ok(error_handling::comp_sample(ctx).await)
        })
        .build()
}

/// A file-backed store in a temporary directory, a client, and (optionally later) a runtime.
struct Sample {
    _dir: tempfile::TempDir,
    store: Arc<SledProvider>,
    client: Client,
}

impl Sample {
    async fn new() -> Self {
        init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledProvider::new(dir.path(), None).await.unwrap());
        let client = Client::new(store.clone());
        Sample {
            _dir: dir,
            store,
            client,
        }
    }

    async fn start_runtime(&self) -> Arc<Runtime> {
        Runtime::start_with_options(
            self.store.clone(),
            sample_activities(),
            sample_orchestrations(),
            test_options(),
        )
        .await
    }

    async fn wait(&self, instance: &str) -> OrchestrationStatus {
        self.client
            .wait_for_orchestration(instance, WAIT)
            .await
            .unwrap()
    }

    async fn kinds(&self, instance: &str) -> Vec<&'static str> {
        self.client
            .read_history(instance)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind.name())
            .collect()
    }
}

fn completed(output: &str) -> OrchestrationStatus {
    OrchestrationStatus::Completed {
        output: output.to_string(),
    }
}

#[tokio::test]
async fn readme_fanout_joins_in_input_order() {
    let s = Sample::new().await;
    let rt = s.start_runtime().await;
    s.client
        .start_orchestration("fanout-1", "Fanout", "")
        .await
        .unwrap();
    assert_eq!(
        s.wait("fanout-1").await,
        completed("Hello, Gabbar!,Hello, Samba!")
    );
    let history = s.client.read_history("fanout-1").await.unwrap();
    let scheduled: Vec<&str> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ActivityScheduled { name, input } => {
                assert_eq!(name, "Greetings");
                Some(input.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(scheduled, ["Gabbar", "Samba"]);
    rt.shutdown(None).await;
}

#[tokio::test]
async fn readme_control_event_before_timer_takes_second_branch() {
    let s = Sample::new().await;
    // The event is raised right after the start, before any runtime runs: it is in history
    // before the code's first poll, so select2 must pick the wait, never the 10 ms timer.
    s.client
        .start_orchestration("control-1", "Control", "")
        .await
        .unwrap();
    s.client
        .raise_event("control-1", "Evt", "early")
        .await
        .unwrap();
    let rt = s.start_runtime().await;
    assert_eq!(s.wait("control-1").await, completed("early"));
    let kinds = s.kinds("control-1").await;
    assert_eq!(
        kinds,
        [
            "OrchestrationStarted",
            "ExternalEvent",
            "TimerCreated",
            "ExternalSubscribed",
            "OrchestrationCompleted"
        ],
        "the Second branch subscribes once and never sees the timer fire"
    );
    rt.shutdown(None).await;
}

#[tokio::test]
async fn readme_control_timer_first_then_fallback_wait_gets_event() {
    let s = Sample::new().await;
    let rt = s.start_runtime().await;
    s.client
        .start_orchestration("control-2", "Control", "")
        .await
        .unwrap();
    until_instance(&s.store, "control-2", "the 10 ms timer fired", || {
        history_has(&s.client, "control-2", "TimerFired")
    })
    .await;
    // The timer won; the fallback wait is now the one pending.
    assert_eq!(
        s.client
            .get_orchestration_status("control-2")
            .await
            .unwrap(),
        OrchestrationStatus::Running
    );
    s.client
        .raise_event("control-2", "Evt", "late")
        .await
        .unwrap();
    assert_eq!(s.wait("control-2").await, completed("late"));
    let kinds = s.kinds("control-2").await;
    assert_eq!(
        kinds,
        [
            "OrchestrationStarted",
            "TimerCreated",
            "ExternalSubscribed",
            "TimerFired",
            "ExternalSubscribed",
            "ExternalEvent",
            "OrchestrationCompleted"
        ],
        "the First branch subscribes a second time and that wait receives the event"
    );
    rt.shutdown(None).await;
}

#[tokio::test]
async fn readme_error_handling_recovers_from_failed_activity() {
    let s = Sample::new().await;
    let rt = s.start_runtime().await;
    s.client
        .start_orchestration("comp-1", "CompSample", "")
        .await
        .unwrap();
    assert_eq!(s.wait("comp-1").await, completed("recovered"));
    let history = s.client.read_history("comp-1").await.unwrap();
    let steps: Vec<String> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ActivityScheduled { name, input } => Some(format!("{name}({input})")),
            EventKind::ActivityFailed { details, .. } => {
                Some(format!("failed: {}", details.display_message()))
            }
            EventKind::ActivityCompleted { result, .. } => Some(format!("ok: {result}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            "Fragile(bad)",
            "failed: fragile cannot handle 'bad'",
            "Recover()",
            "ok: recovered"
        ]
    );
    rt.shutdown(None).await;
}

/// The blocks above must stay verbatim copies of the README's: every line of every Rust
/// block (hidden `# ` lines excepted, the store substituted) appears here, in order.
/// Runs only where the seed README is present (it lives outside the repository).
#[test]
fn readme_blocks_are_copied_verbatim() {
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/seed/duroxide-README.md");
    let Ok(readme) = std::fs::read_to_string(&readme) else {
        eprintln!("seed README not found at {}; skipped", readme.display());
        return;
    };
    let this_file: Vec<&str> = include_str!("seed_readme.rs")
        .lines()
        .map(str::trim)
        .collect();
    let substitute = |line: &str| -> String {
        line.replace(
            "use duroxide::providers::sqlite::SqliteProvider;",
            "use duroxide::providers::sled::SledProvider;",
        )
        .replace(
            "SqliteProvider::new(\"sqlite:./data.db\", None)",
            "SledProvider::new(dir.path(), None)",
        )
    };
    let mut blocks = 0;
    let mut in_block = false;
    let mut in_rust = false;
    let mut cursor = 0;
    for line in readme.lines() {
        let fence = line.trim_start();
        if fence.starts_with("```") {
            in_rust = !in_block && fence == "```rust";
            in_block = !in_block;
            if in_rust {
                blocks += 1;
                cursor = 0;
            }
            continue;
        }
        if !in_rust || line.trim().is_empty() || line.trim_start().starts_with("# ") {
            continue;
        }
        let mut wanted = substitute(line.trim());
        // The plain async fns are `pub` here so the registrations can call them.
        if wanted.starts_with("async fn ") {
            wanted = format!("pub {wanted}");
        }
        match this_file[cursor..].iter().position(|l| *l == wanted) {
            Some(found) => cursor += found + 1,
            None => panic!("README line not found (in order) in seed_readme.rs: {wanted:?}"),
        }
    }
    assert_eq!(blocks, 4, "the README has four Rust blocks");
}
