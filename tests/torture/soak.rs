//! Soak mode: the workload runs continuously in this process (no kills) for a fixed time.
//! Instances are started to keep `--in-flight` of them running, each is checked against the
//! model when it finishes and then deleted (with its sub-orchestration) through
//! `Client::delete_instance_bulk`. Every `--sample-secs` the RSS of the process, the disk use
//! of the store and the number of instances in it are printed; at the end the last third of
//! the samples is compared with the first third to tell whether memory and disk stayed
//! bounded.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::{Client, ClientError, InstanceFilter, OrchestrationStatus, Runtime};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::checker::expected_output;
use crate::child::db_dir;
use crate::util::{disk_usage, mib, rss_bytes};
use crate::workload::{self, Effects, Plan, EVENT, EVENT_DATA, ORCH};
use crate::Cli;

/// Longest an instance may take before the soak counts it as wedged.
const INSTANCE_TIMEOUT: Duration = Duration::from_secs(300);
/// Most roots deleted by one bulk call.
const DELETE_BATCH: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Sample {
    secs: f64,
    rss: u64,
    disk_apparent: u64,
    disk_allocated: u64,
    store_instances: u64,
    completed: u64,
    deleted: u64,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    completed: AtomicU64,
    wrong: AtomicU64,
    deleted: AtomicU64,
    delete_mismatches: AtomicU64,
    /// Bulk deletes refused part-way (an instance "in the middle of a turn").
    bulk_refusals: AtomicU64,
    /// Roots whose delete was retried.
    delete_retries: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Counters {
    fn error(&self, message: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < 20 {
            errors.push(message);
        }
    }
}

pub fn main(cli: &Cli, duration: Duration) -> ExitCode {
    let (dir, temporary) = match crate::supervisor::prepare_dir(cli) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("duroxide-torture: {e}");
            return ExitCode::FAILURE;
        }
    };
    crate::util::init_logs();
    let Some(rt) = crate::util::tokio_runtime("duroxide-torture") else {
        return ExitCode::FAILURE;
    };
    let passed = match rt.block_on(soak(cli, &dir, duration)) {
        Ok(passed) => passed,
        Err(e) => {
            eprintln!("soak: {e}");
            false
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn sample(
    begun: Instant,
    db: &std::path::Path,
    client: &Client,
    counters: &Counters,
) -> Sample {
    let (disk_apparent, disk_allocated) = disk_usage(db);
    Sample {
        secs: begun.elapsed().as_secs_f64(),
        rss: rss_bytes().unwrap_or(0),
        disk_apparent,
        disk_allocated,
        store_instances: client
            .list_instances()
            .await
            .map(|l| l.len() as u64)
            .unwrap_or(0),
        completed: counters.completed.load(Ordering::Relaxed),
        deleted: counters.deleted.load(Ordering::Relaxed),
    }
}

fn print_sample(s: &Sample, previous: Option<&Sample>) {
    let rate = match previous {
        Some(p) if s.secs > p.secs => (s.completed - p.completed) as f64 / (s.secs - p.secs),
        _ => 0.0,
    };
    println!(
        "{:>7.0} {:>10} {:>10} {:>9.0} {:>9} {:>12} {:>13} {:>10}",
        s.secs,
        s.completed,
        s.deleted,
        rate,
        mib(s.rss),
        mib(s.disk_apparent),
        mib(s.disk_allocated),
        s.store_instances
    );
}

/// Runs one instance to its end, checks its output and hands it to the deleter.
async fn one_instance(
    client: Client,
    n: u64,
    counters: Arc<Counters>,
    deleter: mpsc::UnboundedSender<(String, u64)>,
) {
    let id = format!("s{n:09}");
    if let Err(e) = client.start_orchestration(&id, ORCH, n.to_string()).await {
        counters.wrong.fetch_add(1, Ordering::Relaxed);
        counters.error(format!("start {id}: {e}"));
        return;
    }
    counters.started.fetch_add(1, Ordering::Relaxed);
    let plan = Plan::of(n);
    if plan.event {
        match client.raise_event(&id, EVENT, EVENT_DATA).await {
            Ok(()) | Err(ClientError::InstanceNotRunning { .. }) => {}
            Err(e) => counters.error(format!("raise for {id}: {e}")),
        }
    }
    match client.wait_for_orchestration(&id, INSTANCE_TIMEOUT).await {
        Ok(OrchestrationStatus::Completed { output }) if output == expected_output(n) => {
            counters.completed.fetch_add(1, Ordering::Relaxed);
        }
        other => {
            counters.wrong.fetch_add(1, Ordering::Relaxed);
            counters.error(format!("{id}: {other:?}, expected {}", expected_output(n)));
        }
    }
    // The root and its sub-orchestration, if any.
    let _ = deleter.send((id, 1 + u64::from(plan.sub)));
}

/// Deletes one batch of finished roots (with their sub-orchestrations) with one bulk call.
/// If the bulk call fails part-way (it stops at the first error, without saying what it
/// deleted), each root is deleted on its own; those still refused are returned, to retry.
async fn delete_batch(
    client: &Client,
    batch: Vec<(String, u64)>,
    counters: &Counters,
) -> Vec<(String, u64)> {
    let expected: u64 = batch.iter().map(|(_, n)| n).sum();
    let filter = InstanceFilter {
        instance_ids: Some(batch.iter().map(|(id, _)| id.clone()).collect()),
        ..InstanceFilter::default()
    };
    let error = match client.delete_instance_bulk(filter).await {
        Ok(deleted) => {
            counters
                .deleted
                .fetch_add(deleted.len() as u64, Ordering::Relaxed);
            if deleted.len() as u64 != expected {
                counters.delete_mismatches.fetch_add(1, Ordering::Relaxed);
                counters.error(format!(
                    "bulk delete removed {} instances, expected {expected}",
                    deleted.len()
                ));
            }
            return Vec::new();
        }
        Err(e) => e,
    };
    if counters.bulk_refusals.fetch_add(1, Ordering::Relaxed) == 0 {
        println!("first refused bulk delete (retried): {error}");
    }
    let mut retry = Vec::new();
    for (id, n) in batch {
        match client.delete_instance(&id, false).await {
            Ok(deleted) => {
                counters
                    .deleted
                    .fetch_add(deleted.len() as u64, Ordering::Relaxed);
            }
            // The bulk call deleted it before it stopped.
            Err(ClientError::InstanceNotFound { .. }) => {
                counters.deleted.fetch_add(n, Ordering::Relaxed);
            }
            Err(_) => retry.push((id, n)),
        }
    }
    retry
}

/// Deletes finished instances in batches until the channel closes; refused ones are
/// retried with the next batch (and, at the end, until they go).
async fn deleter(
    client: Client,
    mut rx: mpsc::UnboundedReceiver<(String, u64)>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(DELETE_BATCH);
    let mut retry: Vec<(String, u64)> = Vec::new();
    while rx.recv_many(&mut batch, DELETE_BATCH).await > 0 {
        counters
            .delete_retries
            .fetch_add(retry.len() as u64, Ordering::Relaxed);
        batch.append(&mut retry);
        retry = delete_batch(&client, std::mem::take(&mut batch), &counters).await;
    }
    // No event says when a refused delete would succeed: retry with a short backoff.
    for _ in 0..100 {
        if retry.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        counters
            .delete_retries
            .fetch_add(retry.len() as u64, Ordering::Relaxed);
        retry = delete_batch(&client, retry, &counters).await;
    }
    counters.delete_mismatches.fetch_add(1, Ordering::Relaxed);
    counters.error(format!("{} instances could not be deleted", retry.len()));
}

async fn soak(cli: &Cli, dir: &std::path::Path, duration: Duration) -> Result<bool, String> {
    let db = db_dir(dir);
    let store = SledProvider::new(&db, Some(cli.tuning.store_options()))
        .await
        .map_err(|e| format!("open store: {e}"))?;
    let store: Arc<dyn Provider> = Arc::new(store);
    let client = Client::new(store.clone());
    let runtime = Runtime::start_with_options(
        store,
        workload::activities(Effects::none(), client.clone()),
        workload::orchestrations(),
        cli.tuning.runtime_options(),
    )
    .await;
    println!(
        "duroxide-torture soak: {} s, {} instances in flight, store {}",
        duration.as_secs(),
        cli.tuning.in_flight,
        db.display()
    );
    println!(
        "{:>7} {:>10} {:>10} {:>9} {:>9} {:>12} {:>13} {:>10}",
        "secs", "completed", "deleted", "inst/s", "RSS MiB", "disk MiB", "disk MiB", "instances"
    );
    println!(
        "{:>7} {:>10} {:>10} {:>9} {:>9} {:>12} {:>13} {:>10}",
        "", "roots", "+subs", "", "", "(apparent)", "(allocated)", "in store"
    );

    let begun = Instant::now();
    let counters = Arc::new(Counters::default());
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let sampler = {
        let (client, counters, samples, db) = (
            client.clone(),
            counters.clone(),
            samples.clone(),
            db.clone(),
        );
        let every = Duration::from_secs(cli.sample_secs.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let s = sample(begun, &db, &client, &counters).await;
                let mut all = samples.lock().unwrap_or_else(|p| p.into_inner());
                print_sample(&s, all.last());
                all.push(s);
            }
        })
    };
    let (delete_tx, delete_rx) = mpsc::unbounded_channel();
    let deleter = tokio::spawn(deleter(client.clone(), delete_rx, counters.clone()));

    let deadline = tokio::time::Instant::now() + duration;
    let slots = Arc::new(Semaphore::new(cli.tuning.in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let mut n = 0u64;
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => p.map_err(|e| e.to_string())?,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let (client, counters, delete_tx) = (client.clone(), counters.clone(), delete_tx.clone());
        tasks.spawn(async move {
            one_instance(client, n, counters, delete_tx).await;
            drop(permit);
        });
        n += 1;
    }
    // Drain: the last instances finish and are deleted.
    while tasks.join_next().await.is_some() {}
    drop(delete_tx);
    let _ = deleter.await;
    let _ = stop_tx.send(true);
    let _ = sampler.await;
    let last = sample(begun, &db, &client, &counters).await;
    let mut samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    print_sample(&last, samples.last());
    println!("(after the last instances were deleted)");
    runtime.shutdown(Some(Duration::from_secs(5))).await;
    samples.push(last);

    let started = counters.started.load(Ordering::Relaxed);
    let completed = counters.completed.load(Ordering::Relaxed);
    let wrong = counters.wrong.load(Ordering::Relaxed);
    let deleted = counters.deleted.load(Ordering::Relaxed);
    let mismatches = counters.delete_mismatches.load(Ordering::Relaxed);
    let secs = begun.elapsed().as_secs_f64();
    println!(
        "\n{started} instances started, {completed} completed as expected, {wrong} wrong, {deleted} instances deleted (roots and sub-orchestrations), {:.0} instances/s, {} left in the store",
        completed as f64 / secs,
        last.store_instances
    );
    println!(
        "bulk deletes refused part-way: {} (roots retried: {})",
        counters.bulk_refusals.load(Ordering::Relaxed),
        counters.delete_retries.load(Ordering::Relaxed)
    );
    let rss = Growth::of(&samples, |s| s.rss);
    let disk = Growth::of(&samples, |s| s.disk_allocated);
    println!("RSS:  {}", rss.describe());
    println!(
        "disk: {} (allocated blocks of the store directory)",
        disk.describe()
    );
    for e in counters
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        println!("error: {e}");
    }
    let ok = wrong == 0 && mismatches == 0 && last.store_instances == 0;
    let bounded = rss.bounded && disk.bounded;
    println!(
        "verdict: {}",
        match (ok, bounded) {
            (true, true) => "PASS (correct, RSS and disk bounded)",
            (true, false) => "FAIL (correct, but RSS or disk kept growing)",
            (false, _) => "FAIL (wrong results, failed deletes or instances left behind)",
        }
    );
    Ok(ok && bounded)
}

/// First third against last third of a series of samples.
struct Growth {
    first_max: u64,
    last_max: u64,
    /// Least-squares slope over the last two thirds, in bytes per minute.
    slope_per_min: f64,
    bounded: bool,
}

impl Growth {
    /// Bounded: the last third's peak is at most 10% (and 8 MiB) above the first third's.
    fn of(samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Growth {
        let end = samples.last().map(|s| s.secs).unwrap_or(0.0);
        let first_max = samples
            .iter()
            .filter(|s| s.secs <= end / 3.0)
            .map(&value)
            .max()
            .unwrap_or(0);
        let last_max = samples
            .iter()
            .filter(|s| s.secs >= end * 2.0 / 3.0)
            .map(&value)
            .max()
            .unwrap_or(0);
        let tail: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.secs >= end / 3.0)
            .map(|s| (s.secs / 60.0, value(s) as f64))
            .collect();
        let slope_per_min = slope(&tail);
        let allowance = (first_max / 10).max(8 * 1024 * 1024);
        Growth {
            first_max,
            last_max,
            slope_per_min,
            bounded: last_max <= first_max + allowance,
        }
    }

    fn describe(&self) -> String {
        format!(
            "first third peak {} MiB, last third peak {} MiB, trend over the last two thirds {:+.2} MiB/min: {}",
            mib(self.first_max),
            mib(self.last_max),
            self.slope_per_min / (1024.0 * 1024.0),
            if self.bounded { "bounded" } else { "GROWING" }
        )
    }
}

fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let num: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let den: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}
