//! Skipped tests, made visible. The harness captures a test's output and reports a test that
//! returned early as `ok`, so a skip is written straight to the terminal (uncaptured), appended
//! to a list shared by the test binaries of one `cargo test`, and counted when this binary exits.
//! Under CI (any non-empty `CI`), or where the caller's `strict` variable is set, a skip is a
//! failure instead.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Skips recorded by this test binary, and whether the exit hook is in place.
static SKIPPED: AtomicUsize = AtomicUsize::new(0);
static HOOK: Mutex<bool> = Mutex::new(false);

/// Whether an environment variable is set to something.
fn set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

/// The list of skips of this `cargo test` (its test binaries share cargo as their parent), or
/// the file `SANDBOX_BENCH_SKIP_LOG` names.
pub fn log_path() -> PathBuf {
    match std::env::var_os("SANDBOX_BENCH_SKIP_LOG").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "skipped-tests-{}.log",
            std::os::unix::process::parent_id()
        )),
    }
}

/// This test binary's name, without cargo's hash.
fn binary() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe.file_stem().map(|s| s.to_string_lossy().to_string());
    let stem = stem.unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((name, _hash)) => name.to_string(),
        None => stem,
    }
}

/// Writes to the terminal, past the harness's capture of `print!` and `eprint!`.
fn tell(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

extern "C" fn at_exit() {
    let n = SKIPPED.load(Ordering::SeqCst);
    let path = log_path();
    let total = std::fs::read_to_string(&path).map_or(n, |t| t.lines().count());
    tell(&format!(
        "SKIPPED {n} test(s) of {}; {total} so far in this run, listed in {}\n",
        binary(),
        path.display()
    ));
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Skips the calling test: fails it under CI or when `strict` (an environment variable) is
/// set, otherwise says so on the terminal and in the list. `fix` tells how to run it.
pub fn skip(why: &str, fix: &str, strict: Option<&str>) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if set("CI") || strict.is_some_and(set) {
        let by = if set("CI") {
            "CI"
        } else {
            strict.unwrap_or("")
        };
        panic!("{test}: {why}, and {by} is set: a skip is a failure here ({fix})");
    }
    tell(&format!("SKIPPED {}::{test}: {why} ({fix})\n", binary()));
    SKIPPED.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path())
    {
        let _ = writeln!(log, "{}::{test}: {why}", binary());
    }
    let mut hooked = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    if !*hooked {
        // SAFETY: `at_exit` is a plain function that only reads statics and writes to
        // stderr; atexit(3) keeps the pointer for the life of the process.
        unsafe { atexit(at_exit) };
        *hooked = true;
    }
}
