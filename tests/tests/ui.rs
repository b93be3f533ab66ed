//! Compile tests of `#[job]` and `#[derive(JobPayload)]`: each file in `ui/`
//! is one misuse whose `.stderr` contains the expected errors, and each file in
//! `ui-pass/` must compile and run.
//!
//! The expected errors are rustc's output, so they can change with the
//! compiler version. To accept new output after reading it, run
//! `TRYBUILD=overwrite cargo test -p jobs-tests --test ui`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.pass("ui-pass/*.rs");
}
