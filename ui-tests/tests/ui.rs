//! Compile-pass and compile-fail tests of `#[activity]`, `#[orchestration]` and
//! `#[duroxide::deterministic]`.
//!
//! Each `fail/<macro>-<problem>.rs` holds one mistake and its blessed `.stderr` shows what
//! the user sees. After an intended change of a message, re-bless with
//! `TRYBUILD=overwrite cargo test -p duroxide-ui-tests` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/pass/*.rs");
    cases.compile_fail("tests/fail/*.rs");
}
