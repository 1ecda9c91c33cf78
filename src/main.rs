//! The `sandbox-bench` binary: `cli` parses the command line into typed options, the matching
//! function in `commands` runs it, and its outcome becomes the exit code (0 ok, 1 a failed check,
//! 2 bad input, 130 interrupted). The library's `lib.rs` is the map of everything else.

fn main() -> std::process::ExitCode {
    sandbox_bench::cli::main()
}
