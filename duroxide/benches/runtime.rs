//! End-to-end benchmarks of the runtime on the sled store.
//!
//! Run: `cargo bench -p duroxide --bench runtime` (add `-- quick` for a smaller run).
//! Prints a Markdown table and writes it to `target/duroxide-bench.md`; the figures quoted
//! in docs/benchmarks.md come from this command.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use duroxide::providers::sled::SledProvider;
use duroxide::providers::Provider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::{
    ActivityContext, Client, InstanceFilter, OrchestrationContext, OrchestrationRegistry,
    OrchestrationStatus, Runtime, RuntimeOptions,
};

fn activities() -> ActivityRegistry {
    ActivityRegistry::builder()
        .register("Echo", |_ctx: ActivityContext, input: String| async move {
            Ok(input)
        })
        .build()
}

fn orchestrations() -> OrchestrationRegistry {
    OrchestrationRegistry::builder()
        .register(
            "Hello",
            |ctx: OrchestrationContext, input: String| async move {
                ctx.schedule_activity("Echo", input).await
            },
        )
        .register(
            "Chain10",
            |ctx: OrchestrationContext, input: String| async move {
                let mut v = input;
                for _ in 0..10 {
                    v = ctx.schedule_activity("Echo", v).await?;
                }
                Ok(v)
            },
        )
        .register(
            "FanOut100",
            |ctx: OrchestrationContext, input: String| async move {
                let calls = (0..100)
                    .map(|i| ctx.schedule_activity("Echo", format!("{input}-{i}")))
                    .collect();
                let results = ctx.join(calls).await;
                Ok(results
                    .into_iter()
                    .filter(Result::is_ok)
                    .count()
                    .to_string())
            },
        )
        .register(
            "Timer100ms",
            |ctx: OrchestrationContext, _input: String| async move {
                let due = ctx.utc_now() + Duration::from_millis(100);
                ctx.schedule_timer(Duration::from_millis(100)).await;
                let due_ms = due
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                Ok(due_ms.to_string())
            },
        )
        .build()
}

struct Row {
    scenario: String,
    instances: usize,
    turns_per_instance: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    note: String,
}

impl Row {
    fn line(&self) -> String {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let secs = self.elapsed.as_secs_f64();
        format!(
            "| {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {} |",
            self.scenario,
            self.instances,
            self.instances as f64 / secs,
            (self.instances * self.turns_per_instance) as f64 / secs,
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.note
        )
    }
}

async fn run(
    dir: &Path,
    scenario: &str,
    orchestration: &str,
    instances: usize,
    turns_per_instance: usize,
    options: RuntimeOptions,
) -> Row {
    let store = Arc::new(SledProvider::new(dir.join(scenario), None).await.unwrap());
    let rt = Runtime::start_with_options(
        store.clone() as Arc<dyn Provider>,
        activities(),
        orchestrations(),
        options,
    )
    .await;
    let client = Client::new(store.clone());
    let began = Instant::now();
    let mut waits = Vec::with_capacity(instances);
    for i in 0..instances {
        let id = format!("{scenario}-{i}");
        let client = client.clone();
        let started = Instant::now();
        client
            .start_orchestration(&id, orchestration, i.to_string())
            .await
            .unwrap();
        waits.push(tokio::spawn(async move {
            let status = client
                .wait_for_orchestration(&id, Duration::from_secs(600))
                .await
                .unwrap();
            let seen_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            assert!(
                matches!(status, OrchestrationStatus::Completed { .. }),
                "{id}: {status:?}"
            );
            (started.elapsed(), status, seen_ms)
        }));
    }
    let mut latencies = Vec::with_capacity(instances);
    let mut timer_lateness = Vec::new();
    for w in waits {
        let (latency, status, seen_ms) = w.await.unwrap();
        latencies.push(latency);
        if orchestration == "Timer100ms" {
            if let OrchestrationStatus::Completed { output } = status {
                let due: u128 = output.parse().unwrap();
                timer_lateness.push(seen_ms.saturating_sub(due));
            }
        }
    }
    let elapsed = began.elapsed();
    rt.shutdown(None).await;
    drop(client);
    drop(store);
    let mut note = String::new();
    if !timer_lateness.is_empty() {
        timer_lateness.sort();
        let _ = write!(
            note,
            "timer fired ≤{} ms late (p50 {} ms, observed at completion)",
            timer_lateness[timer_lateness.len() - 1],
            timer_lateness[timer_lateness.len() / 2]
        );
    }
    Row {
        scenario: scenario.to_string(),
        instances,
        turns_per_instance,
        elapsed,
        latencies,
        note,
    }
}

/// Runs `instances` hello instances to completion, then deletes them all with one
/// `delete_instance_bulk` call; returns the line for the report.
async fn bulk_delete(dir: &Path, instances: usize) -> String {
    let store = Arc::new(
        SledProvider::new(dir.join("bulk-delete"), None)
            .await
            .unwrap(),
    );
    let rt = Runtime::start_with_options(
        store.clone() as Arc<dyn Provider>,
        activities(),
        orchestrations(),
        RuntimeOptions::default(),
    )
    .await;
    let client = Client::new(store.clone());
    for i in 0..instances {
        client
            .start_orchestration(format!("d-{i}"), "Hello", i.to_string())
            .await
            .unwrap();
    }
    for i in 0..instances {
        let status = client
            .wait_for_orchestration(format!("d-{i}"), Duration::from_secs(600))
            .await
            .unwrap();
        assert!(matches!(status, OrchestrationStatus::Completed { .. }));
    }
    let began = Instant::now();
    let deleted = client
        .delete_instance_bulk(InstanceFilter::default())
        .await
        .unwrap();
    let elapsed = began.elapsed();
    assert_eq!(deleted.len(), instances);
    rt.shutdown(None).await;
    format!(
        "bulk delete: {instances} finished instances in {:.0} ms with one `delete_instance_bulk` call ({:.0} instances/s)",
        elapsed.as_secs_f64() * 1e3,
        instances as f64 / elapsed.as_secs_f64()
    )
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_size(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let scale = if quick { 1 } else { 4 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (rows, deletion) = rt.block_on(async {
        let default = RuntimeOptions::default();
        let no_cache = RuntimeOptions {
            instance_cache_capacity: 0,
            ..RuntimeOptions::default()
        };
        let rows = vec![
            run(
                dir.path(),
                "hello",
                "Hello",
                500 * scale,
                2,
                default.clone(),
            )
            .await,
            run(
                dir.path(),
                "chain10",
                "Chain10",
                50 * scale,
                11,
                default.clone(),
            )
            .await,
            run(
                dir.path(),
                "chain10-no-cache",
                "Chain10",
                50 * scale,
                11,
                no_cache,
            )
            .await,
            run(
                dir.path(),
                "fanout100",
                "FanOut100",
                5 * scale,
                101,
                default.clone(),
            )
            .await,
            run(
                dir.path(),
                "timer100ms",
                "Timer100ms",
                250 * scale,
                2,
                default,
            )
            .await,
        ];
        (rows, bulk_delete(dir.path(), 500 * scale).await)
    });
    let hello_disk = dir_size(&dir.path().join("hello"));
    let hello_instances = rows[0].instances as u64;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | instances | instances/s | turns/s | p50 ms | p99 ms | note |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        let _ = writeln!(out, "{}", row.line());
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "disk: {:.1} MiB per 1k completed hello instances (sled, before any pruning)",
        hello_disk as f64 / hello_instances as f64 * 1000.0 / 1_048_576.0
    );
    let _ = writeln!(out, "{deletion}");
    let _ = writeln!(
        out,
        "peak RSS of the bench process: {:.0} MiB",
        peak_rss_mib()
    );
    let _ = writeln!(
        out,
        "machine: {} cores; {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        if quick { "quick run" } else { "full run" }
    );
    print!("{out}");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/duroxide-bench.md");
    let _ = std::fs::write(target, &out);
}
