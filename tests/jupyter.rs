//! The `jupyter` strategy on the real engine and on the host: a kernel's answers checked
//! (signed and unsigned), a timeout interrupted and the next call fine, a kernel that ignores
//! the interrupt restarted and counted, errors mapped, the fault probes green, nothing left
//! behind, and transports that cannot host a kernel refused.

mod common;

use std::process::Command;

use common::sandbox::engine;
use common::{ROOT, assert_clean, bench, entry, read_results, write_workload};
use predicates::prelude::*;

/// The sandbox image with ipykernel (scripts/setup-images.sh builds it).
const IMAGE: &str = "sandbox-bench-python:jupyter";

/// The engine's lock when the engine answers and has the kernel image; else a visible skip
/// (a failure under CI or `SANDBOX_BENCH_REQUIRE_DOCKER`).
fn kernel_sandbox() -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = engine()?;
    let found = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::skip::skip(
            &format!("the image {IMAGE} is missing"),
            "run `bash scripts/setup-images.sh` as root",
            Some("SANDBOX_BENCH_REQUIRE_DOCKER"),
        );
        return None;
    }
    Some(guard)
}

/// The host's Python with ipykernel, or a visible skip (a failure under CI).
fn host_kernel() -> Option<&'static str> {
    const PYTHON: &str = "/usr/bin/python3";
    let found = Command::new(PYTHON)
        .args(["-c", "import ipykernel"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::skip::skip(
            "the host's python3 has no ipykernel",
            "run `bash scripts/setup-tests.sh` as root (Debian's python3-ipykernel)",
            Some("SANDBOX_BENCH_REQUIRE_DOCKER"),
        );
    }
    found.then_some(PYTHON)
}

fn profile() -> String {
    format!("j:image={IMAGE}")
}

/// Processes in container `id` other than its init and `sleep infinity`.
fn processes_in(id: &str) -> Vec<String> {
    let probe = "import os\n\
        for p in os.listdir('/proc'):\n\
        \x20   if not p.isdigit() or int(p) in (1, os.getpid()):\n\
        \x20       continue\n\
        \x20   try:\n\
        \x20       c = open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ').strip()\n\
        \x20   except OSError:\n\
        \x20       continue\n\
        \x20   if c != b'sleep infinity':\n\
        \x20       print(p + ':', c[:80].decode('utf-8', 'replace'))";
    let mut left = Vec::new();
    for _ in 0..40 {
        let out = Command::new("docker")
            .args(["exec", id, "python3", "-c", probe])
            .output()
            .expect("docker exec runs");
        assert!(out.status.success(), "{out:?}");
        left = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    left
}

/// The kernel files left in the profile's shared directory.
fn kernel_files() -> Vec<String> {
    let dir = std::path::Path::new(ROOT).join(".sandbox-run-j");
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("kernel-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kernels_answer_right_signed_and_unsigned_in_the_sandbox() {
    let Some(_sandbox) = kernel_sandbox() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let backends = [
        "compose@j:jupyter",
        "compose@j:jupyter=unsigned",
        "docker@j:jupyter",
        "api@j:jupyter",
    ];
    // One kernel at a time: interleaved, every backend × workload keeps its kernel alive, and
    // eight kernels pass the sandbox's 512 MiB (the memory-wall check counts each as an agent).
    bench()
        .args([
            "run",
            "--quiet",
            "--order",
            "sequential",
            "--profile",
            &profile(),
        ])
        .args(["--backends", &backends.join(",")])
        .args([
            "--workloads",
            "simple_calc,json_parsing",
            "--calls-scale",
            "0.1",
        ])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(
        &results,
        &backends,
        &[("simple_calc", 5), ("json_parsing", 3)],
    );
    for b in backends {
        let e = entry(&results, b, "simple_calc");
        assert_eq!(e["restarts"], 0, "{b}: {e}");
        // The kernel's own memory, read from the host by its pid.
        assert_eq!(e["memory"]["agents"], 1, "{b}: {e}");
    }
    let container = results["profiles"][0]["sandbox"]["container"]
        .as_str()
        .expect("the profile's container")
        .to_string();
    assert_eq!(processes_in(&container), Vec::<String>::new());
    assert_eq!(kernel_files(), Vec::<String>::new());
}

#[test]
fn a_timeout_is_interrupted_a_deaf_kernel_restarted_and_errors_mapped() {
    let Some(_sandbox) = kernel_sandbox() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Each case once, in order (the first also serves the cold start and the memory call): a
    // right answer, a sleep the interrupt stops, code that ignores SIGINT (the kernel is
    // restarted), a right answer, an exception, a crash.
    write_workload(
        dir.path(),
        "faulty",
        1,
        &[
            ("result = 6 * 7", "42"),
            ("import time; time.sleep(60)", "None"),
            (
                "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
                "None",
            ),
            ("result = 'back'", "'back'"),
            ("1 / 0", "None"),
            ("import os; os._exit(3)", "None"),
        ],
    );
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--quiet", "--profile", &profile()])
        .args(["--backends", "compose@j:jupyter", "--warmup", "0"])
        .args(["--timeout", "5"])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1);
    let results = read_results(&output);
    let e = entry(&results, "compose@j:jupyter", "faulty");
    let kinds = &e["errors_by_kind"];
    assert_eq!(kinds["timeout"], 2, "{e}");
    assert_eq!(kinds["code_error"], 1, "{e}");
    assert_eq!(kinds["agent_died"], 1, "{e}");
    assert_eq!(e["errors"], 4, "{e}");
    // The deaf kernel and the crashed one; the interrupted sleep kept its kernel.
    assert_eq!(e["restarts"], 2, "{e}");
    let container = results["profiles"][0]["sandbox"]["container"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(processes_in(&container), Vec::<String>::new());
    assert_eq!(kernel_files(), Vec::<String>::new());
}

#[test]
fn the_fault_probes_are_green_on_a_kernel() {
    let Some(_sandbox) = kernel_sandbox() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        .args(["faults", "--quiet", "--profile", &profile()])
        .args(["--backends", "compose@j:jupyter", "--timeout", "5"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_eq!(results["all_green"], true, "{results}");
    assert_eq!(kernel_files(), Vec::<String>::new());
}

#[test]
fn a_kernel_on_the_host_answers_and_leaves_nothing() {
    let Some(python) = host_kernel() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The second case reads its stdin a line per input(), through the kernel's stdin channel.
    std::fs::write(
        dir.path().join("host.toml"),
        "name = \"host\"\ncalls = 3\n\
         [[case]]\ncode = 'result = sum(range(10))'\nexpected = '45'\n\
         [[case]]\ncode = 'result = input() + input()'\nstdin = \"a\\nb\\n\"\n\
         expected = \"'ab'\"\n",
    )
    .unwrap();
    let output = dir.path().join("out.json");
    let backends = ["local:jupyter", "local:jupyter=unsigned"];
    // The kernels' directories go under this test's own TMPDIR, where the test looks for them.
    let tmp = tempfile::tempdir().unwrap();
    bench()
        .env("TMPDIR", tmp.path())
        .args(["run", "--quiet", "--python", python])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    assert_clean(&read_results(&output), &backends, &[("host", 6)]);
    let left = Command::new("pgrep")
        .arg("-f")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "{left:?}");
    let dirs: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(dirs.is_empty(), "{dirs:?}");
}

#[test]
fn a_transport_that_cannot_host_a_kernel_is_refused_in_one_line() {
    for backend in [
        "socket:jupyter",
        "container:jupyter",
        "bwrap:jupyter=unsigned",
    ] {
        bench()
            .args(["run", "--backends", backend])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("cannot host a Jupyter kernel")
                    .and(predicate::str::contains("compose@PROFILE:jupyter"))
                    .and(predicate::function(|s: &str| s.trim().lines().count() == 1)),
            );
    }
}

#[test]
fn the_isolation_matrix_runs_on_a_kernel_whose_globals_stay() {
    let Some(_sandbox) = kernel_sandbox() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("isolation.json");
    bench()
        .args(["isolation", "--quiet", "--profile", &profile()])
        .args(["--backends", "compose@j:jupyter", "--timeout", "5"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcome = |probe: &str| {
        results["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["probe"] == probe)
            .map(|o| o["outcome"].as_str().unwrap().to_string())
    };
    // A kernel is a notebook: what one call defines, the next one sees.
    assert_eq!(outcome("variable").as_deref(), Some("leaks"), "{results}");
    assert_eq!(outcome("function").as_deref(), Some("leaks"), "{results}");
    assert_eq!(kernel_files(), Vec::<String>::new());
}
