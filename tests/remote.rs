//! Engines across a network, for real: the remote hosts of scripts/setup-remote-host.sh (a
//! dockerd in a network namespace, reached over a veth pair with mutual TLS). Every transport
//! that can run there does, answers checked, and the host keeps no container; bad input is
//! refused in one line; a cut link and a restarted engine fail calls clearly within their
//! timeout and the backend recovers. The tests set the hosts up when they are not (root
//! needed); without root or an engine they skip, visibly, and fail under CI or
//! `SANDBOX_BENCH_REQUIRE_REMOTE`. One test at a time: a fault on a host is every test's.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{ROOT, assert_clean, bench, read_results, write_workload};
use sandbox_bench::agent::AgentOptions;
use sandbox_bench::sandbox::backend::Catalog;
use sandbox_bench::sandbox::profile::Profile;
use sandbox_bench::sandbox::{self, SandboxOptions};
use sandbox_bench::strategy::{Call, Executor};

static HOSTS: Mutex<()> = Mutex::new(());

/// A remote host of the set-up scripts: its profile and how to ask its engine.
struct Host {
    n: u32,
    profile: String,
    tls: String,
}

impl Host {
    fn addr(&self) -> String {
        format!("tcp://10.231.{}.2:2376", self.n)
    }

    /// `docker` against this host's engine.
    fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.args(["-H", &self.addr(), "--tlsverify"])
            .arg(format!("--tlscacert={}/ca.pem", self.tls))
            .arg(format!("--tlscert={}/cert.pem", self.tls))
            .arg(format!("--tlskey={}/key.pem", self.tls));
        c
    }

    /// The containers on the host's engine (none after a run).
    fn containers(&self) -> Vec<String> {
        let out = self.docker().args(["ps", "-aq"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// Sets the host's link down (`false`) or up.
    fn link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        let ok = Command::new("ip")
            .args(["link", "set", &format!("sbr-{}-h", self.n), state])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip link set sbr-{}-h {state}", self.n);
    }
}

/// The lock of the remote hosts and hosts 1 and 2, set up if they are not; `None` (a visible
/// skip) without root or a local engine to load the image from.
fn hosts() -> Option<(MutexGuard<'static, ()>, Host, Host)> {
    let guard = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    let root = uid() == 0;
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !root || !engine {
        common::skip::skip(
            if root {
                "no local Docker engine to load the remote hosts' image from"
            } else {
                "the remote hosts need root (a network namespace, a second dockerd)"
            },
            "run `bash scripts/setup-tests.sh` as root",
            Some("SANDBOX_BENCH_REQUIRE_REMOTE"),
        );
        return None;
    }
    let up = |n: u32| {
        let out = Command::new("bash")
            .arg(format!("{ROOT}/scripts/setup-remote-host.sh"))
            .arg(n.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "setup-remote-host.sh {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let profile = line.strip_prefix("--profile ").unwrap().to_string();
        let tls = profile.split_once(",tls=").unwrap().1.to_string();
        Host { n, profile, tls }
    };
    let (one, two) = (up(1), up(2));
    // A test that failed half-way may have left a link down.
    one.link(true);
    two.link(true);
    Some((guard, one, two))
}

/// This process's uid, read from /proc (no libc call in the tests).
fn uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

#[test]
fn every_transport_but_socket_runs_on_a_remote_engine_and_leaves_nothing_there() {
    let Some((_lock, one, _two)) = hosts() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_workload(dir.path(), "sums", 3, &[("result = sum(range(10))", "45")]);
    let output = dir.path().join("results.json");
    let backends = [
        "compose@r1:per-call",
        "compose@r1:persistent",
        "docker@r1:fork",
        "api@r1:per-call",
        "api@r1:persistent",
        "api@r1:pool=2",
        "cmd@r1:reset=1000",
        "container@r1:per-call",
    ];
    bench()
        .args(["run", "--quiet", "--warmup", "1", "--calibration", "0"])
        .args(["--timeout", "20", "--profile", &one.profile])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sums", 3)]);
    let profiles = results["profiles"].as_array().unwrap();
    let r1 = profiles.iter().find(|p| p["name"] == "r1").unwrap();
    assert_eq!(r1["endpoint"], one.addr(), "{r1}");
    assert!(r1["engine_version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
}

#[test]
fn bad_remote_input_is_refused_in_one_line() {
    let Some((_lock, one, two)) = hosts() else {
        return;
    };
    let wrong_ca = format!("r1:host={},tls={}", one.addr(), two.tls);
    for (profile, backend, says) in [
        (
            one.profile.as_str(),
            "socket@r1:persistent",
            "binds a directory of this host",
        ),
        (
            wrong_ca.as_str(),
            "api@r1:persistent",
            "certificate signed by unknown authority",
        ),
        (
            "r1:host=tcp://10.231.1.2,tls=/tmp",
            "docker@r1:persistent",
            "tcp://HOST:PORT",
        ),
        (
            "r1:host=tcp://10.231.1.2:2376,tls=/nonexistent",
            "docker@r1:persistent",
            "no ca.pem, cert.pem, key.pem",
        ),
        (
            "r1:host=ssh://me@10.231.1.2",
            "api@r1:persistent",
            "not ssh://me@10.231.1.2",
        ),
    ] {
        let out = bench()
            .args([
                "run",
                "--quiet",
                "--profile",
                profile,
                "--backends",
                backend,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{profile} {backend}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{profile} {backend}: {err}");
    }
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
}

/// A backend on the hosts, prepared through the library: calls one by one, each timed, so a
/// test can tell when calls fail and when they recover.
struct Reached {
    reached: Vec<sandbox::Reached>,
    executor: Arc<dyn Executor>,
}

fn reach(profiles: &[&str], backend: &str) -> Reached {
    let file = std::path::Path::new(ROOT).join("docker-compose.yml");
    let extra = profiles
        .iter()
        .map(|p| Profile::parse(p, &file, "sandbox").unwrap())
        .collect();
    let catalog = Catalog::new(&file, "sandbox", extra).unwrap();
    let backends = catalog.parse_list(backend).unwrap();
    let opts = SandboxOptions {
        backends: Some(backends.clone()),
        catalog,
        python: None,
        prefix: None,
        quiet: true,
        counting: None,
    };
    let prepared = sandbox::prepare(&backends, &opts, None).unwrap();
    let executor: Arc<dyn Executor> = prepared.reached[0]
        .executor(&AgentOptions::default())
        .into();
    Reached {
        reached: prepared.reached,
        executor,
    }
}

impl Reached {
    /// One call of `n * 3`: whether it answered right, and how long it took.
    fn call(&self, n: u32, timeout: Duration) -> (Result<(), String>, Duration) {
        let code = format!("result = {n} * 3");
        let started = Instant::now();
        let outcome = self.executor.call(Call {
            code: &code,
            stdin: None,
            timeout,
        });
        let took = started.elapsed();
        let outcome = match outcome {
            Ok(r) if r.result.as_deref() == Some((n * 3).to_string().as_str()) => Ok(()),
            Ok(r) => Err(format!("wrong answer {:?}", r.result)),
            Err(e) => Err(e.to_string()),
        };
        (outcome, took)
    }

    /// Calls until one answers right, up to a bound: how many failed first.
    fn until_recovered(&self, timeout: Duration) -> usize {
        let bound = Instant::now() + Duration::from_secs(90);
        let mut failed = 0;
        while Instant::now() < bound {
            if self.call(7, timeout).0.is_ok() {
                return failed;
            }
            failed += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("no call answered within 90 s of the fault's end ({failed} failed)");
    }
}

impl Drop for Reached {
    fn drop(&mut self) {
        sandbox::sweep_after(&self.reached);
    }
}

#[test]
fn a_cut_link_fails_calls_clearly_within_their_timeout_and_they_recover() {
    let Some((_lock, one, _two)) = hosts() else {
        return;
    };
    let timeout = Duration::from_secs(3);
    // The harness's bound on a call: its timeout, 2 s of grace, and the time a dead agent's
    // kill and a new agent's start may take to fail on an unreachable host.
    let bound = timeout + Duration::from_secs(2) + Duration::from_secs(25);
    for backend in ["api@r1:persistent", "docker@r1:persistent"] {
        let r = reach(&[&one.profile], backend);
        assert_eq!(r.call(1, timeout).0, Ok(()), "{backend} before the cut");
        // Mid-call: the link goes down while a call is running.
        let cut = std::thread::scope(|s| {
            let running = s.spawn(|| {
                let code = "import time; time.sleep(1.5); result = 1";
                let started = Instant::now();
                let outcome = r.executor.call(Call {
                    code,
                    stdin: None,
                    timeout,
                });
                (
                    outcome.map(|_| ()).map_err(|e| e.to_string()),
                    started.elapsed(),
                )
            });
            std::thread::sleep(Duration::from_millis(500));
            one.link(false);
            running.join().unwrap()
        });
        let (outcome, took) = cut;
        assert!(
            outcome.is_err(),
            "{backend}: a call across a cut link answered"
        );
        assert!(took < bound, "{backend}: the cut call took {took:?}");
        let (outcome, took) = r.call(2, timeout);
        let err = outcome.expect_err("no engine to reach");
        assert!(
            took < bound,
            "{backend}: a call on the cut link took {took:?}: {err}"
        );
        one.link(true);
        let failed = r.until_recovered(timeout);
        assert!(
            failed < 30,
            "{backend}: {failed} calls failed after the link came back"
        );
        assert!(r.executor.restarts() >= 1, "{backend}");
        for n in 10..15 {
            assert_eq!(r.call(n, timeout).0, Ok(()), "{backend} after recovery");
        }
    }
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
}

#[test]
fn a_restarted_engine_fails_the_calls_it_cut_and_the_backend_recovers() {
    let Some((_lock, one, _two)) = hosts() else {
        return;
    };
    let timeout = Duration::from_secs(3);
    for backend in ["api@r1:persistent", "docker@r1:persistent"] {
        let r = reach(&[&one.profile], backend);
        assert_eq!(r.call(1, timeout).0, Ok(()), "{backend}");
        let pid = std::fs::read_to_string("/run/sbr-1.pid").unwrap();
        let stopped = Command::new("kill")
            .args(["-TERM", pid.trim()])
            .status()
            .unwrap();
        assert!(stopped.success());
        let gone = Instant::now() + Duration::from_secs(60);
        while std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
            && Instant::now() < gone
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let (outcome, took) = r.call(2, timeout);
        let err = outcome.expect_err("the engine is stopped");
        assert!(
            took < Duration::from_secs(30),
            "{backend}: took {took:?}: {err}"
        );
        // The set-up starts it again (--live-restore kept the sandbox container).
        let again = Command::new("bash")
            .arg(format!("{ROOT}/scripts/setup-remote-host.sh"))
            .arg("1")
            .output()
            .unwrap();
        assert!(again.status.success(), "{again:?}");
        r.until_recovered(timeout);
        for n in 10..15 {
            assert_eq!(r.call(n, timeout).0, Ok(()), "{backend} after the restart");
        }
        drop(r);
        assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
    }
}

#[test]
fn a_pool_spread_over_two_hosts_runs_at_concurrency_and_leaves_nothing() {
    let Some((_lock, one, two)) = hosts() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_workload(dir.path(), "sums", 8, &[("result = sum(range(10))", "45")]);
    let output = dir.path().join("results.json");
    let backends = ["api@r1+r2:pool=4", "docker@r1+r2:pool=2"];
    bench()
        .args(["run", "--quiet", "--warmup", "1", "--calibration", "0"])
        .args(["--concurrency", "4", "--timeout", "20"])
        .args(["--profile", &one.profile, "--profile", &two.profile])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sums", 8)]);
    let names: Vec<&str> = results["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"r1") && names.contains(&"r2"), "{names:?}");
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
    assert_eq!(two.containers(), Vec::<String>::new(), "left on host 2");
}

#[test]
fn a_host_of_a_spread_pool_dies_mid_run_and_the_other_keeps_serving() {
    let Some((_lock, one, two)) = hosts() else {
        return;
    };
    let timeout = Duration::from_secs(3);
    let bound = timeout + Duration::from_secs(2) + Duration::from_secs(25);
    let r = reach(&[&one.profile, &two.profile], "api@r1+r2:pool=4");
    r.executor.start_all(timeout).unwrap();
    // Each answer names the container that gave it: the host it ran on.
    let round = |from: u32| -> Vec<(Result<String, String>, Duration)> {
        std::thread::scope(|s| {
            let calls: Vec<_> = (from..from + 4)
                .map(|n| {
                    let executor = Arc::clone(&r.executor);
                    s.spawn(move || {
                        let code = format!(
                            "import socket, time; time.sleep(0.2); result = '%d %s' % ({n} * 3, socket.gethostname())"
                        );
                        let started = Instant::now();
                        let outcome = executor.call(Call {
                            code: &code,
                            stdin: None,
                            timeout,
                        });
                        let outcome = match outcome {
                            Ok(reply) => {
                                let text = reply.result.unwrap_or_default();
                                // The agent answers with the repr of `result`.
                                let text = text.trim_matches('\'');
                                match text.split_once(' ') {
                                    Some((v, host)) if v == (n * 3).to_string() => {
                                        Ok(host.to_string())
                                    }
                                    _ => Err(format!("wrong answer '{text}'")),
                                }
                            }
                            Err(e) => Err(e.to_string()),
                        };
                        (outcome, started.elapsed())
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        })
    };
    let before = round(0);
    let hosts_seen: std::collections::BTreeSet<String> =
        before.iter().map(|(o, _)| o.clone().unwrap()).collect();
    assert_eq!(hosts_seen.len(), 2, "four slots on two hosts: {before:?}");
    two.link(false);
    let mut served = std::collections::BTreeSet::new();
    let mut failed = 0;
    for k in 1..6 {
        for (outcome, took) in round(k * 4) {
            assert!(
                took < bound,
                "a call took {took:?} with host 2 cut: {outcome:?}"
            );
            match outcome {
                Ok(host) => {
                    served.insert(host);
                }
                Err(e) => {
                    assert!(!e.contains("wrong answer"), "{e}");
                    failed += 1;
                }
            }
        }
    }
    assert!(failed >= 1, "host 2's slots failed while it was cut");
    assert_eq!(served.len(), 1, "only host 1 answered: {served:?}");
    two.link(true);
    r.until_recovered(timeout);
    // Back: within a bound, every round of four is answered, by both hosts again.
    let back = Instant::now() + Duration::from_secs(90);
    loop {
        let outcomes = round(100);
        let hosts: std::collections::BTreeSet<_> = outcomes
            .iter()
            .filter_map(|(o, _)| o.clone().ok())
            .collect();
        if outcomes.iter().all(|(o, _)| o.is_ok()) && hosts.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < back,
            "not back on both hosts: {outcomes:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(r.executor.restarts() >= 2, "{}", r.executor.restarts());
    drop(r);
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
    assert_eq!(two.containers(), Vec::<String>::new(), "left on host 2");
}

#[test]
fn the_fault_probes_are_green_on_a_remote_engine() {
    let Some((_lock, one, _two)) = hosts() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("faults.json");
    bench()
        .args(["faults", "--quiet", "--profile", &one.profile])
        .args(["--backends", "api@r1:persistent"])
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_eq!(results["all_green"], true, "{results}");
    let outcomes = results["outcomes"].as_array().unwrap();
    let probes = sandbox_bench::probes::fault_probes::PROBES.len();
    assert_eq!(outcomes.len(), probes, "every probe ran: {results}");
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
}

#[test]
fn round_trips_to_a_remote_engine_are_counted_through_the_relay_over_tls() {
    let Some((_lock, one, two)) = hosts() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_workload(dir.path(), "sum", 3, &[("result = sum(range(10))", "45")]);
    let output = dir.path().join("results.json");
    let backends = ["compose@r1:per-call", "api@r1:persistent"];
    bench()
        .args(["run", "--quiet", "--warmup", "1", "--calibration", "0"])
        .args(["--count-round-trips", "--timeout", "20"])
        .args(["--profile", &one.profile])
        .args(["--backends", &backends.join(",")])
        .arg("--workloads-dir")
        .arg(dir.path())
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let results = read_results(&output);
    assert_clean(&results, &backends, &[("sum", 3)]);
    let trips = |b: &str| {
        let n = &common::entry(&results, b, "sum")["network"];
        assert_eq!(n["path"], "relay", "{b}: {n}");
        n["round_trips_per_call"].as_f64().unwrap()
    };
    // The relay on 127.0.0.1 passes TLS through: the host's certificate names 127.0.0.1 too.
    assert_eq!(trips("api@r1:persistent"), 1.0);
    assert!(trips("compose@r1:per-call") > 1.0);
    // A spread pool's engines each have traffic of their own: refused in one line.
    let out = bench()
        .args(["run", "--quiet", "--count-round-trips"])
        .args(["--profile", &one.profile, "--profile", &two.profile])
        .args(["--backends", "api@r1+r2:pool=2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("count its profiles one at a time"), "{err}");
    assert_eq!(one.containers(), Vec::<String>::new(), "left on host 1");
    assert_eq!(two.containers(), Vec::<String>::new(), "left on host 2");
}
