//! Hostile code against the real sandbox: what a call starts does not outlive it, a call that
//! kills its executor's parent costs no later call, and the sandbox measured is the one the
//! compose file and `.env` name. Without an engine these skip (fail under CI=true).

mod common;

use std::path::Path;
use std::process::Command;

use common::sandbox::{engine, processes_left};
use common::{bench, entry, read_results};

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/workloads/hostile");
const NORMAL: [&str; 3] = ["normal_2", "normal_4", "normal_6"];

#[test]
fn hostile_calls_leave_nothing_in_the_sandbox_and_cost_no_normal_call() {
    let Some(_sandbox) = engine() else { return };
    let backends = [
        "compose:per-call",
        "compose:persistent",
        "compose:pool=2",
        "compose:fork",
        "compose:reset",
        "socket:per-call",
        "socket:persistent",
        "socket:fork",
    ];
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    bench()
        .args(["run", "--quiet", "--backends", &backends.join(",")])
        .args(["--workloads-dir", HOSTILE, "--order", "sequential"])
        // No call here should reach its timeout: a generous one keeps a busy machine's slow
        // calls from counting as errors.
        .args(["--warmup", "0", "--calibration", "0", "--timeout", "10"])
        .arg("--output")
        .arg(&output)
        .assert()
        .code(1); // the calls that killed their own agent are errors
    let results = read_results(&output);
    for backend in backends {
        let backend = backend.replace("reset", "reset=1000");
        for workload in NORMAL.iter().chain(&["daemonize"]) {
            let e = entry(&results, &backend, workload);
            assert_eq!(e["errors"], 0, "{backend} · {workload}: {e}");
        }
    }
    // A zygote or socket server killed by a call is restarted for the next one, and counted.
    for backend in ["compose:fork", "socket:fork", "socket:per-call"] {
        let e = entry(&results, backend, "kill_parent");
        assert_eq!(e["errors"], 0, "{backend}: {e}");
        assert!(e["restarts"].as_u64().unwrap() > 0, "{backend}: {e}");
    }
    let sandbox = &results["sandbox"];
    assert_eq!(sandbox["pids_limit"], 128, "{sandbox}");
    assert_eq!(sandbox["read_only_root"], true, "{sandbox}");
    assert_eq!(sandbox["network_mode"], "none", "{sandbox}");
    assert!(sandbox["image_id"].as_str().unwrap().starts_with("sha256:"));
    let left = processes_left();
    assert!(left.is_empty(), "left in the sandbox: {left:?}");
}

#[test]
fn the_new_fault_probes_are_green_over_fork_and_socket() {
    let Some(_sandbox) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        .args([
            "faults",
            "--quiet",
            "--backends",
            "compose:fork,socket:per-call",
        ])
        // Five seconds for a probe that should answer, on a busy machine.
        .args(["--timeout", "5", "--output"])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let outcomes = results["outcomes"].as_array().unwrap();
    for probe in ["daemonize_grandchild", "kill_parent", "kill_own_group"] {
        let found: Vec<_> = outcomes.iter().filter(|o| o["probe"] == probe).collect();
        assert_eq!(found.len(), 2, "{probe}");
        assert!(found.iter().all(|o| o["green"] == true), "{found:?}");
    }
}

/// The image `.env` names for the project's sandbox.
fn configured_image() -> String {
    let env = std::fs::read_to_string(Path::new(common::ROOT).join(".env")).unwrap_or_default();
    env.lines()
        .find_map(|l| l.strip_prefix("SANDBOX_IMAGE="))
        .map_or("python:3.12-slim".into(), |v| v.trim().to_string())
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

#[test]
fn changing_the_image_in_env_measures_the_new_image() {
    let Some(_sandbox) = engine() else { return };
    let image = configured_image();
    // Another image: the configured one with a label, built offline.
    // Its tag is this test process's own: another checkout testing at once builds and removes
    // its own.
    let other = format!(
        "sandbox-bench-python:image-change-test-{}",
        std::process::id()
    );
    let other = other.as_str();
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", other, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    let dockerfile = format!("FROM {image}\nLABEL sandbox-bench-test=image-change\n");
    build
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(build.wait().unwrap().success(), "docker build of {other}");
    // A project of its own (named after its folder), so the shared sandbox is not recreated.
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("docker-compose.yml");
    std::fs::copy(Path::new(common::ROOT).join("docker-compose.yml"), &compose).unwrap();
    let compose_arg = compose.to_string_lossy().to_string();
    let run = |env_image: &str| {
        std::fs::write(
            dir.path().join(".env"),
            format!("SANDBOX_IMAGE={env_image}\n"),
        )
        .unwrap();
        let output = dir.path().join("out.json");
        let workloads = dir.path().join("w");
        std::fs::create_dir_all(&workloads).unwrap();
        common::write_workload(&workloads, "one", 1, &[("result = 1 + 1", "2")]);
        bench()
            .args(["run", "--quiet", "--backends", "compose:persistent"])
            .args([
                "--warmup",
                "0",
                "--calibration",
                "0",
                "--compose-file",
                &compose_arg,
            ])
            .arg("--workloads-dir")
            .arg(&workloads)
            .arg("--output")
            .arg(&output)
            .assert()
            .success();
        read_results(&output)["sandbox"].clone()
    };
    let first = run(&image);
    let second = run(other);
    let _ = docker(&["compose", "-f", &compose_arg, "down", "-t", "1"]);
    let _ = docker(&["image", "rm", other]);
    assert_eq!(first["image"], image.as_str(), "{first}");
    assert_eq!(second["image"], other, "{second}");
    assert_ne!(first["image_id"], second["image_id"], "{first} {second}");
    assert_ne!(
        first["container"], second["container"],
        "recreated: {first} {second}"
    );
}
