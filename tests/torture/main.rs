//! `duroxide-torture`: crash torture and soak harness for the duroxide runtime on the sled
//! store.
//!
//! **Torture** (default): a supervisor runs a mixed workload (chains, fan-out/fan-in, durable
//! timers, external events, sub-orchestrations, continue-as-new, retried activities) in a
//! child process (this binary's hidden `child` subcommand), kills it with SIGKILL at moments
//! chosen from the seed, restarts it, repeats `--kills` times, lets a last child finish every
//! instance, then runs an independent checker over the store and the activities' effect
//! files, and prints a summary table. The exit code is non-zero if anything is wrong.
//!
//! ```text
//! cargo run --release -p duroxide-torture -- --instances 10000 --kills 20 --seed 7
//! ```
//!
//! **Soak** (`--soak <secs>`): runs the same workload continuously in this process for a fixed
//! time, deleting finished instances, sampling RSS and disk use, and reports whether both
//! stayed bounded.

mod checker;
mod child;
mod probe;
mod soak;
mod supervisor;
mod util;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Crash torture and soak harness for duroxide.
#[derive(Debug, Parser)]
#[command(name = "duroxide-torture", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Root instances in the workload.
    #[arg(long, default_value_t = 1000)]
    instances: u64,

    /// How many times the child process is killed with SIGKILL (it is restarted each time).
    #[arg(long, default_value_t = 10)]
    kills: u32,

    /// Seed of the kill schedule (the workload of each instance depends on its index only).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Store and effect-file directory. It must be empty or absent; by default a temporary
    /// directory is used (kept if the run fails).
    #[arg(long)]
    dir: Option<PathBuf>,

    /// Run the soak test for this many seconds instead of the crash torture.
    #[arg(long, value_name = "SECS")]
    soak: Option<u64>,

    /// Soak: print RSS and disk use every this many seconds.
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,

    /// The longest a child may go without printing progress before it counts as wedged.
    #[arg(long, default_value_t = 120)]
    stall_secs: u64,

    #[command(flatten)]
    tuning: Tuning,
}

/// Settings shared by the supervisor, its children and the soak test.
#[derive(Debug, Clone, Args)]
pub struct Tuning {
    /// Instances a process keeps unfinished at once (started or resumed, not yet done).
    #[arg(long, default_value_t = 500)]
    in_flight: usize,

    /// Orchestration turns run at once.
    #[arg(long, default_value_t = 4)]
    orchestration_concurrency: usize,

    /// Activities run at once.
    #[arg(long, default_value_t = 32)]
    worker_concurrency: usize,

    /// Live executions cached in memory (0: every turn replays the whole history).
    #[arg(long, default_value_t = 1024)]
    instance_cache: usize,

    /// fdatasync the sled database after every group commit (power-loss durability).
    #[arg(long)]
    sync_on_commit: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the workload on a store until every instance finished (or until killed).
    #[command(hide = true)]
    Child {
        /// The supervisor's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Root instances in the workload.
        #[arg(long)]
        instances: u64,
        /// Which run this is (names the effect file).
        #[arg(long)]
        run: u32,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Probes whether a client can observe a completion that a crash then undoes (see
    /// `probe.rs`): `runs` child processes, each killed the moment it reads `Completed`.
    Probe {
        /// Where the probe stores go (one per run, removed after it).
        #[arg(long)]
        dir: PathBuf,
        /// How many child processes.
        #[arg(long, default_value_t = 100)]
        runs: u32,
    },
    /// One probe child.
    #[command(hide = true)]
    ProbeChild {
        /// Its store.
        #[arg(long)]
        db: PathBuf,
    },
    /// Runs only the checker on a directory a torture run left (e.g. a failed one).
    Check {
        /// The torture directory (holding `db/` and the effect files).
        #[arg(long)]
        dir: PathBuf,
        /// Root instances the run had.
        #[arg(long)]
        instances: u64,
    },
}

impl Tuning {
    /// Runtime options for the workload.
    pub fn runtime_options(&self) -> duroxide::RuntimeOptions {
        duroxide::RuntimeOptions {
            orchestration_concurrency: self.orchestration_concurrency,
            worker_concurrency: self.worker_concurrency,
            instance_cache_capacity: self.instance_cache,
            retry_delay: Duration::from_millis(50),
            ..duroxide::RuntimeOptions::default()
        }
    }

    /// Store options.
    pub fn store_options(&self) -> duroxide::providers::sled::SledOptions {
        duroxide::providers::sled::SledOptions {
            sync_on_commit: self.sync_on_commit,
            ..Default::default()
        }
    }

    /// The arguments that reproduce these settings on a child's command line.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--in-flight={}", self.in_flight),
            format!(
                "--orchestration-concurrency={}",
                self.orchestration_concurrency
            ),
            format!("--worker-concurrency={}", self.worker_concurrency),
            format!("--instance-cache={}", self.instance_cache),
        ];
        if self.sync_on_commit {
            args.push("--sync-on-commit".into());
        }
        args
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Child {
            dir,
            instances,
            run,
            tuning,
        }) => child::main(&dir, instances, run, &tuning),
        Some(Command::Check { dir, instances }) => supervisor::check_only(&dir, instances),
        Some(Command::Probe { dir, runs }) => probe::main(&dir, runs),
        Some(Command::ProbeChild { db }) => probe::child(&db),
        None => match cli.soak {
            Some(secs) => soak::main(&cli, Duration::from_secs(secs)),
            None => supervisor::main(&cli),
        },
    }
}
