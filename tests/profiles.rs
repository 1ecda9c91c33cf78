//! Sandbox profiles on the real Docker engine: two user profiles that differ only in image run
//! side by side in one run, each in a container of its own, and the results name each one in
//! full; a profile whose runtime the engine lacks is refused before anything starts.

mod common;

use std::process::Command;

use common::sandbox::engine;
use common::{ROOT, assert_clean, bench, read_results, write_workload};
use predicates::prelude::*;

/// The image the Compose file resolves to (its `SANDBOX_IMAGE`, from `.env` or the default).
fn compose_image() -> String {
    let out = Command::new("docker")
        .args(["compose", "-f", "docker-compose.yml", "config", "--images"])
        .current_dir(ROOT)
        .output()
        .expect("docker compose runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("one image")
        .trim()
        .to_string()
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {out:?}");
}

#[test]
fn two_profiles_that_differ_only_in_image_run_side_by_side() {
    let Some(_sandbox) = engine() else { return };
    let image = compose_image();
    // Tags of this test process's own: another checkout testing at once tags and removes its own.
    let (tag_a, tag_b) = (
        format!("sandbox-bench-test:profile-a-{}", std::process::id()),
        format!("sandbox-bench-test:profile-b-{}", std::process::id()),
    );
    docker(&["tag", &image, &tag_a]);
    docker(&["tag", &image, &tag_b]);
    let dir = tempfile::tempdir().unwrap();
    write_workload(
        dir.path(),
        "sums",
        3,
        &[
            ("result = sum(range(10))", "45"),
            ("import sys\nresult = sys.version_info[0]", "3"),
        ],
    );
    // One profile on the command line, the other from a TOML file (beside the workloads).
    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("profiles.toml");
    std::fs::write(&file, format!("[profiles.pb]\nimage = \"{tag_b}\"\n")).unwrap();
    let output = other.path().join("out.json");
    let backends = [
        "compose@pa:persistent",
        "compose@pb:persistent",
        "socket@pb:fork",
    ];
    bench()
        .args(["run", "--quiet", "--profile"])
        .arg(format!("pa:image={tag_a}"))
        .arg("--profiles")
        .arg(&file)
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sums", 6)]);
    let profiles = results["profiles"].as_array().expect("profiles recorded");
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    let mut containers = Vec::new();
    let mut projects = Vec::new();
    for (name, tag) in [("pa", &tag_a), ("pb", &tag_b)] {
        let p = profiles
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("profile {name} in {profiles:?}"));
        assert_eq!(p["engine"], "docker", "{p}");
        assert!(p["engine_version"].as_str().is_some(), "{p}");
        assert_eq!(p["sandbox"]["image"], tag.as_str(), "{p}");
        assert!(
            p["sandbox"]["image_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("sha256:")),
            "{p}"
        );
        assert!(
            p["python"].as_str().is_some_and(|v| v.starts_with('3')),
            "{p}"
        );
        assert_eq!(p["sandbox"]["network_mode"], "none", "{p}");
        assert!(p["sandbox"]["memory_bytes"].as_i64().is_some(), "{p}");
        containers.push(p["sandbox"]["container"].as_str().unwrap().to_string());
        projects.push(p["project"].as_str().unwrap().to_string());
    }
    assert_ne!(
        containers[0], containers[1],
        "each profile has its own container"
    );
    assert_ne!(projects[0], projects[1]);
    for project in &projects {
        let out = Command::new("docker")
            .args([
                "compose",
                "-f",
                "docker-compose.yml",
                "-p",
                project,
                "down",
                "-t",
                "0",
            ])
            .current_dir(ROOT)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let _ = Command::new("docker")
        .args(["rmi", &tag_a, &tag_b])
        .output();
}

#[test]
fn a_runtime_the_engine_lacks_is_refused_in_one_line() {
    let Some(_sandbox) = engine() else { return };
    let run = bench()
        .args([
            "run",
            "--profile",
            "odd:runtime=no-such-runtime",
            "--backends",
            "compose@odd:persistent",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "runtime 'no-such-runtime' is not installed",
        ))
        .stderr(predicate::str::contains("runc"));
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_profiles_are_refused_before_anything_starts() {
    for (args, says) in [
        (vec!["--profile", "Bad:image=x"], "lower-case"),
        (vec!["--profile", "p:colour=red"], "unknown key 'colour'"),
        (vec!["--profile", "docker:image=x"], "built-in"),
        (
            vec!["--profile", "p:image=x", "--profile", "p:image=y"],
            "declared twice",
        ),
        (
            vec!["--backends", "compose@nobody:persistent"],
            "unknown sandbox profile 'nobody'",
        ),
        (
            vec!["--profiles", "/no/such/profiles.toml"],
            "--profiles: cannot read",
        ),
    ] {
        bench()
            .arg("run")
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}

/// Whether the engine has `image` (built by `scripts/setup-images.sh`); a visible skip, or a
/// failure under CI, when not.
fn has_image(image: &str) -> bool {
    let found = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::skip::skip(
            &format!("no image {image}"),
            "run `bash scripts/setup-images.sh`",
            Some("SANDBOX_BENCH_REQUIRE_DOCKER"),
        );
    }
    found
}

#[test]
fn real_agent_code_runs_on_the_data_science_image_and_python_313_beside_311() {
    let Some(_sandbox) = engine() else { return };
    let (ds, py313) = (
        "sandbox-bench-python:datasci",
        "sandbox-bench-python:trixie",
    );
    if !has_image(ds) || !has_image(py313) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let backends = "compose@ds:persistent,compose@ds:fork";
    bench()
        .args(["run", "--quiet", "--profile", &format!("ds:image={ds}")])
        .args([
            "--backends",
            backends,
            "--workloads-dir",
            "workloads/datasci",
        ])
        .args(["--preload", "numpy,pandas", "--calls-scale", "0.2"])
        .args(["--calibration", "0", "--timeout", "120", "--output"])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(
        &results,
        &["compose@ds:persistent", "compose@ds:fork"],
        &[
            ("dataframe_groupby", 6),
            ("parse_csv_json", 6),
            ("numpy_linalg_fft", 6),
            ("plot_png", 4),
        ],
    );
    let profile = &results["profiles"][0];
    for library in ["numpy", "pandas", "matplotlib"] {
        assert!(profile["libraries"][library].is_string(), "{profile}");
    }
    // Memory once warm, the agents read from the host: a persistent agent that imported pandas
    // holds more than the fork zygote's share, whose children share its pages.
    for e in results["results"].as_array().unwrap() {
        let m = &e["memory"];
        assert_eq!(
            (m["agents"].as_u64(), m["agents_unreadable"].as_u64()),
            (Some(1), Some(0)),
            "{e}"
        );
        assert!(
            m["call_rss_kib"].as_u64().unwrap() > 20 * 1024,
            "pandas is in: {e}"
        );
    }

    let output = dir.path().join("py313.json");
    bench()
        .args([
            "run",
            "--quiet",
            "--profile",
            &format!("py313:image={py313}"),
        ])
        .args(["--backends", "compose@py313:persistent,compose@py313:fork"])
        .args([
            "--workloads",
            "simple_calc,json_parsing",
            "--calls-scale",
            "0.2",
        ])
        .args(["--calibration", "0", "--output"])
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    let python = results["profiles"][0]["python"].as_str().unwrap();
    assert!(python.starts_with("3.13."), "{python}");
    assert!(
        results["fork_floors"]["compose@py313:fork"]["p50_us"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn a_pool_of_preloaded_interpreters_past_the_memory_wall_is_refused_before_it_runs() {
    let Some(_sandbox) = engine() else { return };
    let ds = "sandbox-bench-python:datasci";
    if !has_image(ds) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    // Sixteen interpreters that each imported numpy and pandas (about 40 MiB of their own each,
    // beside the files they map once) cannot share the sandbox's 512 MiB: refused with the
    // sizes, not killed one by one mid-run.
    let assert = bench()
        .args(["run", "--quiet", "--profile", &format!("ds:image={ds}")])
        .args([
            "--backends",
            "compose@ds:pool=16",
            "--workloads",
            "simple_calc",
        ])
        .args(["--preload", "numpy,pandas", "--timeout", "120", "--output"])
        .arg(&output)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for part in [
        "16 interpreters",
        "of its own after preloading numpy,pandas beside",
        "of shared files",
        "512.0 MiB memory wall",
        "compose@ds:pool=16: 16",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(!output.exists(), "nothing measured, nothing written");
    // The same pool of plain interpreters fits and runs.
    write_workload(dir.path(), "sum", 3, &[("result = sum(range(5))", "10")]);
    bench()
        .args(["run", "--quiet", "--profile", &format!("ds:image={ds}")])
        .args(["--backends", "compose@ds:pool=16", "--workloads-dir"])
        .arg(dir.path())
        .args(["--calibration", "0", "--output"])
        .arg(&output)
        .assert()
        .success();
    assert_clean(
        &read_results(&output),
        &["compose@ds:pool=16"],
        &[("sum", 3)],
    );
}

#[test]
fn a_per_call_interpreter_pays_its_preload_on_every_call_and_the_waterfall_shows_it() {
    let Some(_sandbox) = engine() else { return };
    let ds = "sandbox-bench-python:datasci";
    if !has_image(ds) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_workload(dir.path(), "sum", 3, &[("result = sum(range(5))", "10")]);
    let output = dir.path().join("out.json");
    let backends = [
        "compose@ds:per-call",
        "api@ds:per-call",
        "compose@ds:persistent",
    ];
    let assert = bench()
        .args(["run", "--profile", &format!("ds:image={ds}")])
        .args(["--backends", &backends.join(","), "--workloads-dir"])
        .arg(dir.path())
        .args(["--preload", "numpy", "--calibration", "0", "--output"])
        .arg(&output)
        .env("COLUMNS", "160")
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sum", 3)]);
    for b in ["compose@ds:per-call", "api@ds:per-call"] {
        let e = common::entry(&results, b, "sum");
        let import = e["import_us"]["p50"]
            .as_f64()
            .expect("per-call import recorded");
        let total = e["latency_us"]["p50"].as_f64().unwrap();
        // numpy's import takes milliseconds and sits inside the call's latency.
        assert!(import > 1000.0 && import < total, "{e}");
    }
    // Imported once, before any call: no call pays for it.
    let persistent = common::entry(&results, "compose@ds:persistent", "sum");
    assert!(persistent.get("import_us").is_none(), "{persistent}");
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let layers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("sum "))
        .filter(|l| l.contains("per-call") || l.contains("agent-reported"))
        .collect();
    assert!(
        layers.iter().any(|l| l.contains("import (agent-reported)")),
        "{stdout}"
    );
    let at = |needle: &str| {
        layers
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in the waterfall: {stdout}"))
    };
    assert!(
        at("api@ds:per-call") < at("import (agent-reported)")
            && at("import (agent-reported)") < at("exec (agent-reported)"),
        "{stdout}"
    );
}
