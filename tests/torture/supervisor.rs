//! The supervisor: runs the workload in child processes, kills each with SIGKILL after a
//! number of its progress lines drawn from the seed, restarts, lets the last child finish,
//! then runs the checker and prints the summary.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use std::sync::Arc;

use duroxide::providers::sled::SledProvider;
use duroxide::{Client, OrchestrationStatus};

use crate::checker::{self, Report};
use crate::child::db_dir;
use crate::util::Rng;
use crate::workload::instance_id;
use crate::Cli;

/// What the supervisor saw of its children.
#[derive(Debug, Default)]
struct Runs {
    kills: u32,
    restarts: u32,
    /// Children that exited on their own before their kill, or failed at the end.
    unexpected_exits: u32,
    /// Children that went `--stall-secs` without progress (wedged).
    stalls: u32,
    /// `failed` lines: instances a child saw end in another state than completed.
    failed_lines: Vec<String>,
    /// Kills that could not happen because the workload had already finished.
    skipped_kills: u32,
    final_run: Duration,
    /// Starts a killed child saw acknowledged that are gone after the kill.
    lost_starts: u64,
    /// Completions a killed child saw that are not in the store after the kill.
    lost_completions: u64,
    /// Details of the above (the first few).
    lost_details: Vec<String>,
}

/// When to kill one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillAt {
    /// As soon as it reports `ready`: the store is open and the runtime has started on the
    /// work the previous child left (recovery in progress).
    Ready,
    /// After this many thousandths of the progress lines it has left to print.
    PerMille(u64),
}

/// The kill schedule, from the seed alone.
///
/// A child has at most `(instances - existing) + (instances - finished)` progress lines left
/// to print (`started` and `done`), which it reports at start-up (`resume`). Kill `k` of `K`
/// lands after a fraction of them drawn uniformly from `[0.2, 1.6] / (m + 1)`, where `m` is
/// the number of kills left (this one included): on average the kills spread evenly over the
/// work, and a kill never waits for more than 80% of what is left, so every kill lands while
/// work remains. One kill in eight (never the first) lands at start-up instead.
pub fn kill_schedule(seed: u64, kills: u32) -> Vec<KillAt> {
    let mut rng = Rng::new(seed);
    (0..kills)
        .map(|k| {
            let left = u64::from(kills - k);
            let at_ready = rng.range(0, 7) == 0;
            let per_mille = (rng.range(200, 1600) / (left + 1)).max(1);
            if at_ready && k > 0 {
                KillAt::Ready
            } else {
                KillAt::PerMille(per_mille)
            }
        })
        .collect()
}

/// The instance index of a `started <i>` or `done <i>` line.
fn number(line: &str) -> Option<u64> {
    line.split(' ').nth(1)?.parse().ok()
}

/// Progress lines of one child.
#[derive(Default)]
struct Tally {
    progress: u64,
    started: u64,
    done: u64,
    all_done: bool,
    /// `(finished, existing)` instances when the child started.
    resume: Option<(u64, u64)>,
    /// Instances whose start it saw acknowledged.
    started_ids: Vec<u64>,
    /// Instances it saw completed.
    done_ids: Vec<u64>,
}

impl Tally {
    /// Takes one line of child `run`; returns whether it is a progress line.
    fn take(&mut self, line: &str, run: u32, runs: &mut Runs) -> bool {
        match line.split(' ').next().unwrap_or("") {
            "started" => {
                self.started += 1;
                self.started_ids.extend(number(line));
            }
            "done" => {
                self.done += 1;
                self.done_ids.extend(number(line));
            }
            "failed" => runs.failed_lines.push(format!("run {run}: {line}")),
            "all-done" => {
                self.all_done = true;
                return false;
            }
            "resume" => {
                let mut numbers = line.split(' ').skip(1).map(str::parse::<u64>);
                if let (Some(Ok(finished)), Some(Ok(existing))) = (numbers.next(), numbers.next()) {
                    self.resume = Some((finished, existing));
                }
                return false;
            }
            _ => return false,
        }
        self.progress += 1;
        true
    }
}

enum Ending {
    Killed,
    Finished,
    Exited(String),
    Stalled,
}

/// Runs child `run`; kills it at `kill_at` (never, if `None`).
fn run_child(
    rt: &tokio::runtime::Runtime,
    cli: &Cli,
    dir: &Path,
    run: u32,
    kill_at: Option<KillAt>,
    runs: &mut Runs,
) -> Ending {
    let begun = Instant::now();
    let stderr_path = dir.join(format!("child-{run:03}.stderr"));
    let stderr = match std::fs::File::create(&stderr_path) {
        Ok(f) => f,
        Err(e) => return Ending::Exited(format!("cannot create {}: {e}", stderr_path.display())),
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Ending::Exited(format!("cannot find this executable: {e}")),
    };
    let mut child = match Command::new(exe)
        .arg("child")
        .arg("--dir")
        .arg(dir)
        .arg(format!("--instances={}", cli.instances))
        .arg(format!("--run={run}"))
        .args(cli.tuning.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Ending::Exited(format!("cannot spawn the child: {e}")),
    };
    let Some(stdout) = child.stdout.take() else {
        return Ending::Exited("the child has no stdout".into());
    };
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut tally = Tally::default();
    let mut kill_after = None;
    let stall = Duration::from_secs(cli.stall_secs.max(1));
    let ending = loop {
        match rx.recv_timeout(stall) {
            Ok(line) => {
                let progressed = tally.take(&line, run, runs);
                let due = match (kill_at, tally.resume) {
                    (Some(KillAt::Ready), _) => line == "ready",
                    (Some(KillAt::PerMille(per_mille)), Some((finished, existing))) => {
                        let n = cli.instances;
                        let left = n.saturating_sub(existing) + n.saturating_sub(finished);
                        let threshold = (left * per_mille / 1000).max(1);
                        kill_after = Some(threshold);
                        progressed && tally.progress >= threshold
                    }
                    _ => false,
                };
                if due {
                    // SIGKILL, right after the child reported durable progress.
                    let _ = child.kill();
                    let _ = child.wait();
                    break Ending::Killed;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                break Ending::Stalled;
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait();
                break match status {
                    Ok(s) if s.success() => Ending::Finished,
                    Ok(s) => Ending::Exited(format!("exit status {s}")),
                    Err(e) => Ending::Exited(format!("wait failed: {e}")),
                };
            }
        }
    };
    let _ = reader.join();
    // Whatever the child printed before it died.
    for line in rx.try_iter() {
        tally.take(&line, run, runs);
    }
    if matches!(ending, Ending::Killed) {
        verify_acknowledged(rt, dir, run, &tally, runs);
    }
    let ending = match ending {
        Ending::Finished if !tally.all_done => Ending::Exited("exited without finishing".into()),
        other => other,
    };
    let what = match (&ending, kill_at) {
        (Ending::Killed, Some(KillAt::Ready)) => "killed at start-up".to_string(),
        (Ending::Killed, _) => format!(
            "killed ({} of {} lines left)",
            kill_after.unwrap_or(0),
            tally.resume.map_or(0, |(f, e)| 2 * cli.instances - f - e)
        ),
        (Ending::Finished, _) => "finished every instance".to_string(),
        (Ending::Exited(why), _) => {
            format!("EXITED UNEXPECTEDLY ({why}; see {})", stderr_path.display())
        }
        (Ending::Stalled, _) => format!(
            "STALLED: no progress for {} s, killed (see {})",
            stall.as_secs(),
            stderr_path.display()
        ),
    };
    println!(
        "run {run:>3}: {what} after {} progress lines ({} started, {} done) in {:.1} s",
        tally.progress,
        tally.started,
        tally.done,
        begun.elapsed().as_secs_f64()
    );
    ending
}

/// Right after a kill, before anything else opens the store: every start the child saw
/// acknowledged must exist, and every instance it saw completed must still be completed.
fn verify_acknowledged(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    run: u32,
    tally: &Tally,
    runs: &mut Runs,
) {
    let checked = rt.block_on(async {
        let store = SledProvider::new(db_dir(dir), None)
            .await
            .map_err(|e| format!("open store: {e}"))?;
        let client = Client::new(Arc::new(store));
        let mut lost = Vec::new();
        for &i in &tally.started_ids {
            let status = client
                .get_orchestration_status(instance_id(i))
                .await
                .map_err(|e| e.to_string())?;
            if status == OrchestrationStatus::NotFound {
                lost.push((
                    true,
                    format!(
                        "run {run}: start of {} acknowledged, then lost",
                        instance_id(i)
                    ),
                ));
            }
        }
        for &i in &tally.done_ids {
            let status = client
                .get_orchestration_status(instance_id(i))
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(status, OrchestrationStatus::Completed { .. }) {
                lost.push((
                    false,
                    format!(
                        "run {run}: {} seen completed, after the kill it is {status:?}",
                        instance_id(i)
                    ),
                ));
            }
        }
        Ok::<_, String>(lost)
    });
    match checked {
        Ok(lost) => {
            for (start, detail) in lost {
                if start {
                    runs.lost_starts += 1;
                } else {
                    runs.lost_completions += 1;
                }
                println!("         {detail}");
                if runs.lost_details.len() < 20 {
                    runs.lost_details.push(detail);
                }
            }
        }
        Err(e) => {
            runs.lost_details
                .push(format!("run {run}: cannot verify after the kill: {e}"));
            runs.lost_starts += 1;
        }
    }
}

pub fn prepare_dir(cli: &Cli) -> Result<(PathBuf, bool), String> {
    match &cli.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let used = std::fs::read_dir(dir)
                .map_err(|e| format!("read {}: {e}", dir.display()))?
                .next()
                .is_some();
            if used {
                return Err(format!(
                    "{} is not empty: give a new or empty directory",
                    dir.display()
                ));
            }
            Ok((dir.clone(), false))
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("duroxide-torture-")
                .tempdir()
                .map_err(|e| format!("temp dir: {e}"))?
                .keep();
            Ok((dir, true))
        }
    }
}

pub fn main(cli: &Cli) -> ExitCode {
    let begun = Instant::now();
    let (dir, temporary) = match prepare_dir(cli) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("duroxide-torture: {e}");
            return ExitCode::FAILURE;
        }
    };
    let schedule = kill_schedule(cli.seed, cli.kills);
    println!(
        "duroxide-torture: {} instances, {} kills, seed {}, dir {}",
        cli.instances,
        cli.kills,
        cli.seed,
        dir.display()
    );
    println!("kill schedule: {schedule:?}");
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("duroxide-torture: cannot build a Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut runs = Runs::default();
    let mut finished_early = false;
    for (run, kill_at) in (0u32..).zip(&schedule) {
        if finished_early {
            runs.skipped_kills += 1;
            continue;
        }
        if run > 0 {
            runs.restarts += 1;
        }
        match run_child(&rt, cli, &dir, run, Some(*kill_at), &mut runs) {
            Ending::Killed => runs.kills += 1,
            Ending::Finished => {
                finished_early = true;
                runs.skipped_kills += 1;
            }
            Ending::Exited(_) => runs.unexpected_exits += 1,
            Ending::Stalled => runs.stalls += 1,
        }
    }
    let final_begun = Instant::now();
    if cli.kills > 0 {
        runs.restarts += 1;
    }
    match run_child(&rt, cli, &dir, cli.kills, None, &mut runs) {
        Ending::Finished => {}
        Ending::Killed => unreachable!("the last child is never killed"),
        Ending::Exited(_) => runs.unexpected_exits += 1,
        Ending::Stalled => runs.stalls += 1,
    }
    runs.final_run = final_begun.elapsed();

    let checked = rt.block_on(checker::check(&dir, &db_dir(&dir), cli.instances));
    let wall = begun.elapsed();
    let (report, check_error) = match checked {
        Ok(report) => (report, None),
        Err(e) => (Report::default(), Some(e)),
    };
    let ok = check_error.is_none()
        && report.ok()
        && runs.unexpected_exits == 0
        && runs.stalls == 0
        && runs.failed_lines.is_empty()
        && runs.lost_starts == 0
        && runs.lost_completions == 0;
    let summary = summary(cli, &runs, &report, check_error.as_deref(), wall, ok);
    println!("{summary}");
    if let Err(e) = std::fs::write(dir.join("torture-summary.md"), &summary) {
        eprintln!("cannot write the summary: {e}");
    }
    if ok {
        if temporary {
            let _ = std::fs::remove_dir_all(&dir);
        }
        ExitCode::SUCCESS
    } else {
        println!(
            "FAILED; the store, effect files and child logs are kept in {}",
            dir.display()
        );
        ExitCode::FAILURE
    }
}

/// The `check` subcommand: the checker alone, on a directory a run left.
pub fn check_only(dir: &Path, instances: u64) -> ExitCode {
    let checked = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(checker::check(dir, &db_dir(dir), instances)));
    match checked {
        Ok(report) => {
            println!("{report:#?}");
            if report.ok() {
                println!("verdict: PASS");
                ExitCode::SUCCESS
            } else {
                println!("verdict: FAIL");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("checker error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn summary(
    cli: &Cli,
    runs: &Runs,
    r: &Report,
    check_error: Option<&str>,
    wall: Duration,
    ok: bool,
) -> String {
    let rows: Vec<(&str, String)> = vec![
        ("seed", cli.seed.to_string()),
        ("instances (roots)", r.roots.to_string()),
        ("sub-orchestrations", r.sub_instances.to_string()),
        ("executions", r.executions.to_string()),
        (
            "kills (SIGKILL)",
            format!("{} of {}", runs.kills, cli.kills),
        ),
        ("restarts", runs.restarts.to_string()),
        ("unexpected child exits", runs.unexpected_exits.to_string()),
        ("stalls (wedged children)", runs.stalls.to_string()),
        ("instances seen failed", runs.failed_lines.len().to_string()),
        (
            "acknowledged starts lost by a kill",
            runs.lost_starts.to_string(),
        ),
        (
            "observed completions lost by a kill",
            runs.lost_completions.to_string(),
        ),
        ("lost instances (at the end)", r.lost.to_string()),
        ("wrong outputs", r.wrong_outputs.to_string()),
        ("duplicated decisions", r.duplicated_decisions.to_string()),
        ("other history errors", r.history_errors.to_string()),
        ("unexpected instances", r.unexpected_instances.to_string()),
        ("activity calls", r.activities.to_string()),
        ("activity executions", r.activity_executions.to_string()),
        ("activity re-executions", r.re_executions.to_string()),
        ("completions without effect", r.missing_effects.to_string()),
        ("effects of no call", r.orphan_effects.to_string()),
        ("timers fired", r.timers.to_string()),
        ("external events recorded", r.events.to_string()),
        (
            "final run (to completion)",
            format!("{:.1} s", runs.final_run.as_secs_f64()),
        ),
        ("wall time", format!("{:.1} s", wall.as_secs_f64())),
        ("verdict", if ok { "PASS" } else { "FAIL" }.to_string()),
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## duroxide-torture: {} instances, {} kills, seed {}\n",
        cli.instances, cli.kills, cli.seed
    );
    let _ = writeln!(out, "| | |\n|---|---:|");
    for (name, value) in rows {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    if runs.skipped_kills > 0 {
        let _ = writeln!(
            out,
            "\nnote: {} kills skipped: the workload finished first (raise --instances)",
            runs.skipped_kills
        );
    }
    if let Some(e) = check_error {
        let _ = writeln!(out, "\nchecker error: {e}");
    }
    for line in &runs.lost_details {
        let _ = writeln!(out, "\nlost by a kill: {line}");
    }
    for line in &runs.failed_lines {
        let _ = writeln!(out, "\nchild saw: {line}");
    }
    if !r.messages.is_empty() {
        let _ = writeln!(out, "\nfirst problems found:");
        for m in &r.messages {
            let _ = writeln!(out, "- {m}");
        }
    }
    out
}
