//! Restart durability: shut a runtime down, drop the store so sled releases its directory,
//! open the SAME directory with a fresh store and runtime, and check that nothing was
//! forgotten (waits, timers, completed activities, continue-as-new chains, history).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, Event, EventKind, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus,
};
use duroxide_tests::{history_has, open_store, until_instance, Harness};

/// How many times each activity ran, by name.
#[derive(Clone, Default)]
struct Counts {
    a: Arc<AtomicUsize>,
    b: Arc<AtomicUsize>,
    step: Arc<AtomicUsize>,
}

fn activities(counts: &Counts) -> ActivityRegistry {
    let (a, b, step) = (counts.a.clone(), counts.b.clone(), counts.step.clone());
    ActivityRegistry::builder()
        .register("A", move |_ctx: ActivityContext, input: String| {
            let a = a.clone();
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                Ok(format!("A({input})"))
            }
        })
        .register("B", move |_ctx: ActivityContext, input: String| {
            let b = b.clone();
            async move {
                b.fetch_add(1, Ordering::SeqCst);
                Ok(format!("B({input})"))
            }
        })
        .register("Step", move |_ctx: ActivityContext, input: String| {
            let step = step.clone();
            async move {
                step.fetch_add(1, Ordering::SeqCst);
                Ok(format!("s{input}"))
            }
        })
        .build()
}

fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Waiter",
            |ctx: OrchestrationContext, _input: String| async move {
                let v = ctx.schedule_wait("Go").await;
                Ok(format!("got {v}"))
            },
        )
        .register(
            "Sleeper",
            |ctx: OrchestrationContext, input: String| async move {
                let ms: u64 = input.parse().map_err(|e| format!("{e}"))?;
                ctx.schedule_timer(Duration::from_millis(ms)).await;
                Ok("fired".to_string())
            },
        )
        .register(
            "AThenWaitThenB",
            |ctx: OrchestrationContext, input: String| async move {
                let a = ctx.schedule_activity("A", input).await?;
                let go = ctx.schedule_wait("Go").await;
                let b = ctx.schedule_activity("B", format!("{a}+{go}")).await?;
                Ok(b)
            },
        )
        // Input "n|acc": execution n runs two steps, waits for "Next", then continues as new
        // with n + 1 (or completes after execution 3) carrying what it accumulated.
        .register(
            "Stepper",
            |ctx: OrchestrationContext, input: String| async move {
                let (n, acc) = input.split_once('|').ok_or("bad input")?;
                let n: u32 = n.parse().map_err(|e| format!("{e}"))?;
                let s1 = ctx.schedule_activity("Step", format!("{n}.1")).await?;
                let s2 = ctx.schedule_activity("Step", format!("{n}.2")).await?;
                let next = ctx.schedule_wait("Next").await;
                let acc = format!("{acc}[{s1},{s2},{next}@{}]", ctx.execution_id());
                if n < 3 {
                    return ctx.continue_as_new(format!("{}|{acc}", n + 1)).await;
                }
                Ok(acc)
            },
        )
        .register(
            "Chain",
            |ctx: OrchestrationContext, input: String| async move {
                let a = ctx.schedule_activity("A", input).await?;
                ctx.schedule_activity("B", a).await
            },
        )
        .register(
            "ParentOfWaiter",
            |ctx: OrchestrationContext, _input: String| async move {
                let r = ctx
                    .schedule_sub_orchestration_with_id("Waiter", "child-r", "")
                    .await?;
                Ok(format!("parent: {r}"))
            },
        )
        .register(
            "Fails",
            |ctx: OrchestrationContext, _input: String| async move {
                let a = ctx.schedule_activity("A", "f").await?;
                Err(format!("failed after {a}"))
            },
        )
        .build()
}

async fn open(dir: &tempfile::TempDir, counts: &Counts) -> Harness {
    Harness::open(dir.path(), activities(counts), orchestrations()).await
}

async fn wait_subscribed(h: &Harness, instance: &str) {
    until_instance(
        &h.store,
        instance,
        "the instance waits for its event",
        || history_has(&h.client, instance, "ExternalSubscribed"),
    )
    .await;
}

fn completed(output: &str) -> OrchestrationStatus {
    OrchestrationStatus::Completed {
        output: output.to_string(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Everything the client can observe about some instances.
async fn snapshot(client: &Client, ids: &[&str]) -> Vec<(OrchestrationStatus, Vec<Vec<Event>>)> {
    let mut out = Vec::new();
    for id in ids {
        let status = client.get_orchestration_status(id).await.unwrap();
        let mut histories = Vec::new();
        for execution in client.list_executions(id).await.unwrap() {
            histories.push(client.read_execution_history(id, execution).await.unwrap());
        }
        assert_eq!(
            client.read_history(id).await.unwrap(),
            histories.last().cloned().unwrap_or_default(),
            "read_history is the latest execution's"
        );
        out.push((status, histories));
    }
    out
}

#[tokio::test]
async fn restart_wait_resumes_when_event_raised_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("w-1", "Waiter", "")
        .await
        .unwrap();
    wait_subscribed(&h, "w-1").await;
    let before = h.client.read_history("w-1").await.unwrap();
    h.close().await;

    let h = open(&dir, &counts).await;
    assert_eq!(h.client.read_history("w-1").await.unwrap(), before);
    h.client.raise_event("w-1", "Go", "after").await.unwrap();
    assert_eq!(h.wait("w-1").await, completed("got after"));
    h.close().await;
}

#[tokio::test]
async fn restart_event_raised_while_no_runtime_runs_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let mut h = open(&dir, &counts).await;
    h.client
        .start_orchestration("w-2", "Waiter", "")
        .await
        .unwrap();
    wait_subscribed(&h, "w-2").await;
    h.stop().await;
    // No runtime runs now: the event can only wait in the store.
    h.client
        .raise_event("w-2", "Go", "while down")
        .await
        .unwrap();
    assert_eq!(
        h.client.get_orchestration_status("w-2").await.unwrap(),
        OrchestrationStatus::Running
    );
    h.close().await;

    let h = open(&dir, &counts).await;
    assert_eq!(h.wait("w-2").await, completed("got while down"));
    h.close().await;
}

/// When the first timer in `history` is due.
fn timer_due(history: &[Event]) -> u64 {
    history
        .iter()
        .find_map(|e| match e.kind {
            EventKind::TimerCreated { fire_at_ms } => Some(fire_at_ms),
            _ => None,
        })
        .expect("a TimerCreated event")
}

#[tokio::test]
async fn restart_pending_timer_fires_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("t-1", "Sleeper", "300")
        .await
        .unwrap();
    until_instance(&h.store, "t-1", "the timer is created", || {
        history_has(&h.client, "t-1", "TimerCreated")
    })
    .await;
    let fire_at_ms = timer_due(&h.client.read_history("t-1").await.unwrap());
    h.close().await;

    // Stay down until the timer is overdue: nothing but the passing of time is awaited here.
    let overdue = fire_at_ms + 100;
    tokio::time::sleep(Duration::from_millis(overdue.saturating_sub(now_ms()))).await;
    assert!(now_ms() >= overdue);

    let store = open_store(dir.path()).await;
    let client = Client::new(store.clone());
    assert_eq!(
        client.get_orchestration_status("t-1").await.unwrap(),
        OrchestrationStatus::Running,
        "nothing fires while no runtime runs"
    );
    assert!(!history_has(&client, "t-1", "TimerFired").await);
    drop(client);
    let h = Harness::start_on(
        store,
        activities(&counts),
        orchestrations(),
        duroxide_tests::test_options(),
    )
    .await;
    assert_eq!(h.wait("t-1").await, completed("fired"));
    let fired = h
        .client
        .read_history("t-1")
        .await
        .unwrap()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::TimerFired { .. }))
        .unwrap();
    assert!(
        fired.timestamp_ms >= fire_at_ms,
        "{fired:?} before its due time"
    );
    h.close().await;
}

#[tokio::test]
async fn restart_timer_not_yet_due_does_not_fire_early_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("t-2", "Sleeper", "1500")
        .await
        .unwrap();
    until_instance(&h.store, "t-2", "the timer is created", || {
        history_has(&h.client, "t-2", "TimerCreated")
    })
    .await;
    h.close().await;

    let h = open(&dir, &counts).await;
    assert_eq!(h.wait("t-2").await, completed("fired"));
    let history = h.client.read_history("t-2").await.unwrap();
    let fire_at_ms = timer_due(&history);
    let fired = history
        .iter()
        .find(|e| matches!(e.kind, EventKind::TimerFired { .. }))
        .unwrap();
    assert!(
        fired.timestamp_ms >= fire_at_ms,
        "timer fired at {} before its due time {fire_at_ms}",
        fired.timestamp_ms
    );
    h.close().await;
}

#[tokio::test]
async fn restart_completed_activities_do_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("c-1", "AThenWaitThenB", "x")
        .await
        .unwrap();
    wait_subscribed(&h, "c-1").await;
    assert_eq!(counts.a.load(Ordering::SeqCst), 1);
    assert_eq!(counts.b.load(Ordering::SeqCst), 0);
    h.close().await;

    let h = open(&dir, &counts).await;
    h.client.raise_event("c-1", "Go", "go").await.unwrap();
    assert_eq!(h.wait("c-1").await, completed("B(A(x)+go)"));
    assert_eq!(counts.a.load(Ordering::SeqCst), 1, "A ran again");
    assert_eq!(counts.b.load(Ordering::SeqCst), 1);
    h.close().await;

    // And a third process start does not run anything either.
    let h = open(&dir, &counts).await;
    assert_eq!(h.wait("c-1").await, completed("B(A(x)+go)"));
    h.close().await;
    assert_eq!(counts.a.load(Ordering::SeqCst), 1);
    assert_eq!(counts.b.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn restart_mid_flight_continue_as_new_chain_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("s-1", "Stepper", "1|")
        .await
        .unwrap();
    let mut h = Some(h);
    for execution in 1..=3u64 {
        let cur = h.take().unwrap();
        until_instance(
            &cur.store,
            "s-1",
            &format!("execution {execution} waits for Next"),
            || async {
                let info = cur.client.get_instance_info("s-1").await.unwrap().unwrap();
                info.execution_id == execution
                    && history_has(&cur.client, "s-1", "ExternalSubscribed").await
            },
        )
        .await;
        assert_eq!(
            counts.step.load(Ordering::SeqCst),
            2 * execution as usize,
            "each step ran once so far"
        );
        // Restart in the middle of this execution, after its steps completed.
        let before = cur.client.read_history("s-1").await.unwrap();
        cur.close().await;
        let next = open(&dir, &counts).await;
        assert_eq!(next.client.read_history("s-1").await.unwrap(), before);
        next.client
            .raise_event("s-1", "Next", format!("n{execution}"))
            .await
            .unwrap();
        h = Some(next);
    }
    let h = h.unwrap();
    assert_eq!(
        h.wait("s-1").await,
        completed("[s1.1,s1.2,n1@1][s2.1,s2.2,n2@2][s3.1,s3.2,n3@3]")
    );
    assert_eq!(counts.step.load(Ordering::SeqCst), 6);
    assert_eq!(
        h.client.list_executions("s-1").await.unwrap(),
        vec![1, 2, 3]
    );
    for execution in 1..=2 {
        let history = h
            .client
            .read_execution_history("s-1", execution)
            .await
            .unwrap();
        assert_eq!(
            history.last().unwrap().kind.name(),
            "OrchestrationContinuedAsNew"
        );
    }
    h.close().await;
}

#[tokio::test]
async fn restart_sub_orchestration_result_reaches_parent_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("parent-r", "ParentOfWaiter", "")
        .await
        .unwrap();
    wait_subscribed(&h, "child-r").await;
    h.close().await;

    let h = open(&dir, &counts).await;
    assert_eq!(
        h.client.get_orchestration_status("parent-r").await.unwrap(),
        OrchestrationStatus::Running
    );
    h.client.raise_event("child-r", "Go", "c").await.unwrap();
    assert_eq!(h.wait("child-r").await, completed("got c"));
    assert_eq!(h.wait("parent-r").await, completed("parent: got c"));
    h.close().await;
}

#[tokio::test]
async fn restart_status_and_history_survive() {
    let dir = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let ids = ["done-1", "failed-1", "waiting-1", "can-1"];
    let h = open(&dir, &counts).await;
    h.client
        .start_orchestration("done-1", "Chain", "d")
        .await
        .unwrap();
    h.client
        .start_orchestration("failed-1", "Fails", "")
        .await
        .unwrap();
    h.client
        .start_orchestration("waiting-1", "Waiter", "")
        .await
        .unwrap();
    h.client
        .start_orchestration("can-1", "Stepper", "2|")
        .await
        .unwrap();
    assert_eq!(h.wait("done-1").await, completed("B(A(d))"));
    assert!(matches!(
        h.wait("failed-1").await,
        OrchestrationStatus::Failed { details } if details.display_message() == "failed after A(f)"
    ));
    wait_subscribed(&h, "waiting-1").await;
    // Two events at once: the first ends execution 1, the second is carried into execution 2.
    h.client.raise_event("can-1", "Next", "y").await.unwrap();
    h.client.raise_event("can-1", "Next", "z").await.unwrap();
    assert_eq!(
        h.wait("can-1").await,
        completed("[s2.1,s2.2,y@1][s3.1,s3.2,z@2]")
    );
    let before = snapshot(&h.client, &ids).await;
    let instances_before = h.client.list_instances().await.unwrap();
    h.close().await;

    // Reopened without a runtime, then with one: the same statuses and histories.
    let store = open_store(dir.path()).await;
    let client = Client::new(store.clone());
    assert_eq!(snapshot(&client, &ids).await, before);
    assert_eq!(client.list_instances().await.unwrap(), instances_before);
    drop(client);
    let h = Harness::start_on(
        store,
        activities(&counts),
        orchestrations(),
        duroxide_tests::test_options(),
    )
    .await;
    // Let the new runtime do a full round of work, then compare again.
    assert_eq!(h.output("after-1", "Chain", "e").await, "B(A(e))");
    assert_eq!(snapshot(&h.client, &ids).await, before);
    // The waiting instance is still live after all that.
    h.client
        .raise_event("waiting-1", "Go", "late")
        .await
        .unwrap();
    assert_eq!(h.wait("waiting-1").await, completed("got late"));
    h.close().await;
}

/// Sets its flag and wakes the test when dropped (i.e. when the activity's task ends).
struct DropSignal(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test]
async fn restart_shutdown_aborts_running_activity_and_it_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let blocking = {
        let runs = runs.clone();
        ActivityRegistry::builder()
            .register("Block", move |_ctx: ActivityContext, input: String| {
                let runs = runs.clone();
                let started = started_tx.clone();
                let dropped = dropped_tx.clone();
                async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    let _signal = DropSignal(dropped.lock().unwrap().take());
                    let _ = started.send(());
                    if run == 1 {
                        // The first run never finishes on its own.
                        std::future::pending::<()>().await;
                    }
                    Ok(format!("{input} on run {run}"))
                }
            })
            .build()
    };
    let orchestrations = OrchestrationRegistry::builder()
        .register(
            "CallsBlock",
            |ctx: OrchestrationContext, input: String| async move {
                ctx.schedule_activity("Block", input).await
            },
        )
        .build();

    let mut h = Harness::open(dir.path(), blocking.clone(), orchestrations.clone()).await;
    h.client
        .start_orchestration("blk-1", "CallsBlock", "job")
        .await
        .unwrap();
    started_rx.recv().await.unwrap();
    h.runtime
        .take()
        .unwrap()
        .shutdown(Some(Duration::from_millis(200)))
        .await;
    // Shutdown aborts the activity that did not finish in time: its task ends.
    tokio::time::timeout(Duration::from_secs(5), dropped_rx)
        .await
        .expect("the unfinished activity is aborted by shutdown, not left running")
        .unwrap();
    assert_eq!(
        h.client.get_orchestration_status("blk-1").await.unwrap(),
        OrchestrationStatus::Running
    );
    h.close().await;

    // The work item was not lost: the activity runs again after the restart.
    let h = Harness::open(dir.path(), blocking, orchestrations).await;
    assert_eq!(h.wait("blk-1").await, completed("job on run 2"));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    h.close().await;
}
