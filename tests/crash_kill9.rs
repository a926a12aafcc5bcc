//! Crash safety: a process running a mixed workload is killed with SIGKILL (three times, at
//! different points), and a fresh runtime on the same sled directory then completes every
//! instance, with no instance lost, no decision duplicated and every recorded activity
//! result backed by a real execution.
//!
//! The test re-executes its own binary to get a process it can kill: the child test
//! (`crash_child_process`) does nothing unless `DUROXIDE_CRASH_CHILD_DIR` is set; then it
//! opens the store in that directory, starts the workload, prints a line per started and
//! per completed instance, and runs until killed. The parent reads those lines to choose
//! the moment of each kill (after some progress, before the end), then finishes the work
//! itself and checks the store.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, ClientError, EventKind, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus, Runtime,
};
use duroxide_tests::{open_store, test_options};

const CHILD_DIR_ENV: &str = "DUROXIDE_CRASH_CHILD_DIR";
const CHILD_TEST: &str = "crash_child_process";
const INSTANCES: usize = 200;
/// Activities an instance's last execution runs: a chain of 2, a fan-out of 3, one after
/// the timer (every fourth instance first runs one more, then continues as new).
const ACTIVITIES_PER_INSTANCE: usize = 6;

fn instance_id(i: usize) -> String {
    format!("crash-{i:03}")
}

fn db_dir(base: &Path) -> PathBuf {
    base.join("db")
}

/// The side file of this process: one line `instance:execution:activity-id` per activity
/// execution.
fn side_file(base: &Path) -> PathBuf {
    base.join(format!("side-{}.log", std::process::id()))
}

fn activities(base: &Path) -> ActivityRegistry {
    let side = side_file(base);
    ActivityRegistry::builder()
        .register("Work", move |ctx: ActivityContext, input: String| {
            let side = side.clone();
            async move {
                let line = format!(
                    "{}:{}:{}\n",
                    ctx.instance_id(),
                    ctx.execution_id(),
                    ctx.activity_id()
                );
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&side)
                    .map_err(|e| format!("open side file: {e}"))?;
                file.write_all(line.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|e| format!("write side file: {e}"))?;
                Ok(format!("w({input})"))
            }
        })
        .build()
}

fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Mixed",
            |ctx: OrchestrationContext, input: String| async move {
                // Input "i" for a first execution, "i:<carried>" after a continue-as-new.
                let (i, carried) = match input.split_once(':') {
                    Some((i, carried)) => (i.to_string(), Some(carried.to_string())),
                    None => (input, None),
                };
                let i: u64 = i.parse().map_err(|e| format!("{e}"))?;
                if continues_as_new(i as usize) && carried.is_none() {
                    // Every fourth instance first continues as new once.
                    let pre = ctx.schedule_activity("Work", format!("{i}.pre")).await?;
                    return ctx.continue_as_new(format!("{i}:{pre}")).await;
                }
                let a = ctx.schedule_activity("Work", format!("{i}.a")).await?;
                let b = ctx.schedule_activity("Work", format!("{a}.b")).await?;
                let fan = (0..3)
                    .map(|k| ctx.schedule_activity("Work", format!("{i}.f{k}")))
                    .collect();
                let fan: Vec<String> = ctx.join(fan).await.into_iter().collect::<Result<_, _>>()?;
                ctx.schedule_timer(Duration::from_millis(50 + (i % 5) * 50))
                    .await;
                let z = ctx.schedule_activity("Work", format!("{i}.z")).await?;
                let pre = carried.map(|c| format!("{c}/")).unwrap_or_default();
                Ok(format!("{pre}{b}|{}|{z}", fan.join(",")))
            },
        )
        .build()
}

fn continues_as_new(i: usize) -> bool {
    matches!(i % 4, 0)
}

fn expected_output(i: usize) -> String {
    let pre = if continues_as_new(i) {
        format!("w({i}.pre)/")
    } else {
        String::new()
    };
    format!("{pre}w(w({i}.a).b)|w({i}.f0),w({i}.f1),w({i}.f2)|w({i}.z)")
}

// ---- the child process ---------------------------------------------------------------------

/// Runs the workload until killed when started by [`crash_kill9_every_instance_completes`];
/// otherwise (a normal test run) does nothing.
#[test]
fn crash_child_process() {
    let Some(base) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let base = PathBuf::from(base);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(child_workload(base));
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

async fn child_workload(base: PathBuf) {
    let store = open_store(&db_dir(&base)).await;
    let _runtime = Runtime::start_with_options(
        store.clone(),
        activities(&base),
        orchestrations(),
        test_options(),
    )
    .await;
    let client = Client::new(store);
    let mut waiters = tokio::task::JoinSet::new();
    for i in 0..INSTANCES {
        let id = instance_id(i);
        match client
            .start_orchestration(&id, "Mixed", i.to_string())
            .await
        {
            Ok(()) => say(format!("CRASH-STARTED {id}")),
            Err(ClientError::InstanceAlreadyExists { .. }) => {}
            Err(e) => panic!("start {id}: {e}"),
        }
        let client = client.clone();
        waiters.spawn(async move {
            match client
                .wait_for_orchestration(&id, Duration::from_secs(3600))
                .await
            {
                Ok(OrchestrationStatus::Completed { output }) => {
                    say(format!("CRASH-DONE {id} {output}"))
                }
                other => say(format!("CRASH-FAILED {id} {other:?}")),
            }
        });
    }
    // Run until killed.
    std::future::pending::<()>().await;
}

// ---- the parent ----------------------------------------------------------------------------

/// What the parent learned from the children's output.
#[derive(Default)]
struct Observed {
    /// Instances whose start a child saw acknowledged.
    started: BTreeSet<String>,
    /// Instances a child saw completed, with their output.
    done: BTreeMap<String, String>,
}

impl Observed {
    /// Takes one line of child output; returns whether it reported a new completion.
    fn take(&mut self, line: &str) -> bool {
        // libtest prints "test <name> ... " without a newline before the test's own output,
        // so a marker may follow other text on its line.
        let Some(at) = line.find("CRASH-") else {
            return false;
        };
        let line = &line[at..];
        if let Some(id) = line.strip_prefix("CRASH-STARTED ") {
            self.started.insert(id.to_string());
        } else if let Some(rest) = line.strip_prefix("CRASH-DONE ") {
            let (id, output) = rest.split_once(' ').expect("done line has an output");
            return self
                .done
                .insert(id.to_string(), output.to_string())
                .is_none();
        } else if line.starts_with("CRASH-FAILED ") {
            panic!("a child saw an instance fail: {line}");
        }
        false
    }
}

/// Starts a child on `base`, lets it complete `progress` instances it had not completed
/// before, kills it with SIGKILL and collects everything it printed.
fn run_child_and_kill(base: &Path, round: usize, progress: usize, seen: &mut Observed) {
    let stderr = std::fs::File::create(base.join(format!("child-{round}.stderr"))).unwrap();
    let mut child: Child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, base)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn child test process");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut new_done = 0;
    while new_done < progress {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if seen.take(&line) {
                    new_done += 1;
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(base.join(format!("child-{round}.stderr")))
                    .unwrap_or_default();
                panic!(
                    "child {round} made {new_done}/{progress} completions before {e:?}; stderr:\n{log}"
                );
            }
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    // Whatever it printed before dying it had seen durably committed: keep it.
    reader.join().unwrap();
    for line in rx.try_iter() {
        seen.take(&line);
    }
    assert!(
        seen.done.len() < INSTANCES,
        "round {round}: the kill must land mid-workload ({} of {INSTANCES} done)",
        seen.done.len()
    );
    eprintln!(
        "round {round}: killed after {} started, {} done",
        seen.started.len(),
        seen.done.len()
    );
}

/// Every `instance:execution:activity-id` line in every side file.
fn side_lines(base: &Path) -> (HashSet<String>, usize) {
    let mut lines = HashSet::new();
    let mut total = 0;
    for entry in std::fs::read_dir(base).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("side-") && name.ends_with(".log") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                total += 1;
                lines.insert(line.to_string());
            }
        }
    }
    (lines, total)
}

#[test]
fn crash_kill9_every_instance_completes() {
    if std::env::var_os(CHILD_DIR_ENV).is_some() {
        return;
    }
    let begun = Instant::now();
    let base = tempfile::tempdir().unwrap();
    let mut seen = Observed::default();
    // Three kills at different points: early, mid-way, and late in the workload.
    run_child_and_kill(base.path(), 1, 20, &mut seen);
    run_child_and_kill(base.path(), 2, 40, &mut seen);
    run_child_and_kill(base.path(), 3, 40, &mut seen);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(finish_and_check(base.path(), &seen));
    eprintln!("crash test took {:?}", begun.elapsed());
}

async fn finish_and_check(base: &Path, seen: &Observed) {
    let store = open_store(&db_dir(base)).await;
    let client = Client::new(store.clone());

    // Before any runtime runs: nothing acknowledged was lost.
    for id in &seen.started {
        assert_ne!(
            client.get_orchestration_status(id).await.unwrap(),
            OrchestrationStatus::NotFound,
            "{id} was started (acknowledged) but is gone after the crash"
        );
    }
    for (id, output) in &seen.done {
        assert_eq!(
            client.get_orchestration_status(id).await.unwrap(),
            OrchestrationStatus::Completed {
                output: output.clone()
            },
            "{id} was seen completed before the crash"
        );
    }

    let runtime = Runtime::start_with_options(
        store.clone(),
        activities(base),
        orchestrations(),
        test_options(),
    )
    .await;
    // Instances no child got to start are started now (a child may have created some
    // without living to print it: those already exist).
    for i in 0..INSTANCES {
        let id = instance_id(i);
        if !seen.started.contains(&id) {
            match client
                .start_orchestration(&id, "Mixed", i.to_string())
                .await
            {
                Ok(()) | Err(ClientError::InstanceAlreadyExists { .. }) => {}
                Err(e) => panic!("start {id}: {e}"),
            }
        }
    }
    for i in 0..INSTANCES {
        let id = instance_id(i);
        let status = client
            .wait_for_orchestration(&id, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            status,
            OrchestrationStatus::Completed {
                output: expected_output(i)
            },
            "{id}"
        );
    }
    runtime.shutdown(Some(Duration::from_secs(5))).await;

    // Histories: contiguous ids, every decision exactly once, each result applied once.
    let (side, side_total) = side_lines(base);
    let mut completions = 0;
    for i in 0..INSTANCES {
        let id = instance_id(i);
        let executions = client.list_executions(&id).await.unwrap();
        if continues_as_new(i) {
            assert_eq!(executions, [1, 2], "{id}");
            let first = client.read_execution_history(&id, 1).await.unwrap();
            completions +=
                check_execution(&id, 1, &first, &side, 1, 0, "OrchestrationContinuedAsNew");
        } else {
            assert_eq!(executions, [1], "{id}");
        }
        let current = *executions.last().unwrap();
        let history = client.read_history(&id).await.unwrap();
        completions += check_execution(
            &id,
            current,
            &history,
            &side,
            ACTIVITIES_PER_INSTANCE,
            1,
            "OrchestrationCompleted",
        );
    }
    let continued = (0..INSTANCES).filter(|&i| continues_as_new(i)).count();
    assert_eq!(completions, INSTANCES * ACTIVITIES_PER_INSTANCE + continued);
    assert!(side_total >= completions);
    eprintln!(
        "{completions} activity results recorded, {side_total} executions ({} re-executions after crashes)",
        side_total - completions
    );
}

/// Checks one execution's history: event ids 1..n, each activity scheduled once (and each
/// call distinct), each result applied once and backed by a line in a side file, the
/// expected number of timers, one terminal event of the expected kind at the end. Returns
/// the number of activity results.
fn check_execution(
    id: &str,
    execution: u64,
    history: &[duroxide::Event],
    side: &HashSet<String>,
    activities: usize,
    timers_expected: usize,
    last: &str,
) -> usize {
    let ids: Vec<u64> = history.iter().map(|e| e.event_id).collect();
    assert_eq!(
        ids,
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "{id}/{execution}: event ids are 1..n"
    );
    let mut scheduled = BTreeMap::new();
    let mut resolved = BTreeSet::new();
    let (mut timers, mut fired, mut terminal) = (0, 0, 0);
    for event in history {
        match &event.kind {
            EventKind::ActivityScheduled { name, input } => {
                assert!(
                    scheduled
                        .insert(event.event_id, format!("{name}({input})"))
                        .is_none(),
                    "{id}/{execution}: ActivityScheduled id {} twice",
                    event.event_id
                );
            }
            EventKind::ActivityCompleted {
                source_event_id, ..
            } => {
                assert!(
                    scheduled.contains_key(source_event_id),
                    "{id}/{execution}: completion of unknown activity {source_event_id}"
                );
                assert!(
                    resolved.insert(*source_event_id),
                    "{id}/{execution}: activity {source_event_id} completed twice"
                );
                assert!(
                    side.contains(&format!("{id}:{execution}:{source_event_id}")),
                    "{id}/{execution}: activity {source_event_id} completed in history but never ran"
                );
            }
            EventKind::ActivityFailed { .. } => {
                panic!("{id}/{execution}: an activity failed: {event:?}")
            }
            EventKind::TimerCreated { .. } => timers += 1,
            EventKind::TimerFired { .. } => fired += 1,
            kind if kind.is_terminal() => terminal += 1,
            _ => {}
        }
    }
    let calls: BTreeSet<&String> = scheduled.values().collect();
    assert_eq!(
        calls.len(),
        activities,
        "{id}/{execution}: each activity call is scheduled once: {scheduled:?}"
    );
    assert_eq!(
        scheduled.len(),
        activities,
        "{id}/{execution}: {scheduled:?}"
    );
    assert_eq!(resolved.len(), activities, "{id}/{execution}");
    assert_eq!(
        (timers, fired, terminal),
        (timers_expected, timers_expected, 1),
        "{id}/{execution}"
    );
    assert_eq!(
        history.last().unwrap().kind.name(),
        last,
        "{id}/{execution}"
    );
    resolved.len()
}
