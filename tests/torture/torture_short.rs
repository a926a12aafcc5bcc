//! The CI-sized crash torture: the `duroxide-torture` binary runs 500 instances of the mixed
//! workload in a child process that it kills with SIGKILL 5 times (at moments drawn from a
//! fixed seed), then checks the store independently. See `tests/torture/main.rs` and
//! `docs/reliability.md`; run a large one with
//! `cargo run --release -p duroxide-torture -- --instances 10000 --kills 20 --seed 7`.

use std::process::Command;
use std::time::Instant;

#[test]
fn torture_short_500_instances_5_kills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("run");
    let begun = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_duroxide-torture"))
        .args(["--instances", "500", "--kills", "5", "--seed", "20250"])
        .arg("--dir")
        .arg(&store)
        .output()
        .expect("run duroxide-torture");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "{stdout}{stderr}\ntorture took {:.1} s",
        begun.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "duroxide-torture failed ({}); its directory is kept in {}",
        output.status,
        dir.keep().display()
    );
    assert!(
        stdout.contains("| kills (SIGKILL) | 5 of 5 |"),
        "every kill must have landed"
    );
    assert!(stdout.contains("| lost instances (at the end) | 0 |"));
    assert!(stdout.contains("| duplicated decisions | 0 |"));
}

/// A client must never see a commit that a crash can still undo (the store's read barrier).
/// Each probe run kills its child the moment it reads `Completed` and then reopens the store.
/// With the barrier disabled, 8 and 10 of 150 debug-build runs were undone (measured), so a
/// regression fails this test with near certainty; `duroxide-torture probe --runs 2000` is
/// the thorough version.
#[test]
fn torture_probe_no_completion_is_undone_by_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_duroxide-torture"))
        .args(["probe", "--runs", "150", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run duroxide-torture probe");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(output.status.success(), "probe failed ({})", output.status);
    assert!(
        stdout.contains("150 runs: 150 completions observed, 0 of them undone by the crash"),
        "every run must observe the completion and none may be undone"
    );
}
