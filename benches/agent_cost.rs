//! The agent's own cost, kept measured: `cargo bench --bench agent_cost` drives the project's
//! agent and a reference in the same process, calls interleaved one by one, and prints their
//! ratios. Every reply is checked; a wrong one stops the bench.
//!
//! - loop: the agent in `loop` mode against a minimal loop agent (read a line, `json.loads`,
//!   `exec(compile(…))`, `json.dumps`, write), started and driven alike over the same pipes:
//!   round trips through the harness's driver, each agent's CPU time per call (utime + stime
//!   from /proc/PID/stat, immune to the machine's wake-ups), and the same agents through the
//!   lean reference driver (scripts/lean-driver.py: one thread, blocking reads), to show what
//!   the harness adds;
//! - oneshot: starting the agent for one call against a bare `python3 -c` of the same code;
//! - fork (when a Docker engine answers): compose:fork against compose:persistent, and the
//!   sandbox's own `fork()`+`_exit()`+`waitpid()` floor measured by python3 inside it.
//!
//! Environment: AGENT_COST_CALLS (loop calls, default 3000), AGENT_COST_STARTS (oneshot starts,
//! default 40), AGENT_COST_FORK_CALLS (default 1000), AGENT_COST_ONLY (some of
//! `loop,oneshot,fork`; default all), AGENT_COST_AGAINST (another agent.py, e.g. an older one
//! from `git show REV:src/agent/agent.py`, run as a third loop agent beside the two), and
//! SANDBOX_BENCH_PYTHON (default python3).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox_bench::agent::{self, AgentOptions, AgentProcess, Mode, Request};
use sandbox_bench::sandbox::compose_stack::{self, Stack};
use sandbox_bench::sandbox::profile::{Engine, Profile};
use sandbox_bench::strategy::{Call, Executor, Strategy};
use sandbox_bench::transport::{Compose, Local, Transport};

const CODE: &str = "result = 1 + 1";
const EXPECTED: &str = "2";
const WARMUP: usize = 200;

/// The reference: what any loop agent must do, and nothing more.
const MINIMAL_AGENT: &str = r#"import json, os, sys
out = sys.stdout.buffer
out.write(b'{"ready": true, "protocol": 1, "python": "", "pid": %d}\n' % os.getpid())
for line in sys.stdin.buffer:
    q = json.loads(line)
    ns = {"__name__": "__main__"}
    exec(compile(q["code"], "<code>", "exec"), ns)
    r = ns.get("result")
    reply = {"id": q["id"], "ok": True, "result": None if r is None else repr(r), "stdout": "",
             "stderr": "", "error": None, "exec_ns": 0, "truncated": False}
    out.write((json.dumps(reply) + "\n").encode())
"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// p50 and p90 of `samples`, as text.
fn describe(samples: &mut [Duration]) -> String {
    let p50 = us(percentile(samples, 0.5));
    let p90 = us(percentile(samples, 0.9));
    format!(
        "p50 {p50:>9.1} µs   p90 {p90:>9.1} µs   n={}",
        samples.len()
    )
}

fn start_loop_agent(transport: &dyn Transport, args: &[String]) -> AgentProcess {
    let started = transport.start(transport.python(), args);
    let mut process = AgentProcess::start(started, agent::Wait::Block).expect("the agent starts");
    process
        .handshake(Instant::now() + Duration::from_secs(30))
        .expect("the agent announces itself");
    process
}

/// One checked call on a loop agent; its round-trip time.
fn loop_call(process: &mut AgentProcess, id: u64) -> Duration {
    let request = Request {
        id,
        code: CODE,
        stdin: None,
        timeout_ms: Some(30_000),
    };
    let started = Instant::now();
    process.send(&request).expect("the request is sent");
    let reply = process
        .receive(id, Instant::now() + Duration::from_secs(30))
        .expect("the agent replies");
    let took = started.elapsed();
    assert_eq!(reply.result.as_deref(), Some(EXPECTED), "{reply:?}");
    took
}

/// The CPU process `pid` has used, in µs, whatever the machine's wake-ups cost: utime + stime
/// from /proc/PID/stat (fields 14 and 15, in clock ticks of 10 ms, so only long runs resolve
/// it), and its time on a CPU from /proc/PID/schedstat (nanoseconds), when the kernel has it.
fn cpu_us(pid: u32) -> [f64; 2] {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the agent's stat");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let on_cpu_ns = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    [ticks as f64 * 1e6 / per_second, on_cpu_ns / 1e3]
}

/// The calling thread's CPU mask, or `None` where it cannot be read.
fn cpu_mask() -> Option<libc::cpu_set_t> {
    // SAFETY: sched_getaffinity fills a zeroed cpu_set_t of the size given.
    unsafe {
        let mut mask: libc::cpu_set_t = std::mem::zeroed();
        (libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mask) == 0)
            .then_some(mask)
    }
}

/// Sets the calling thread's CPU mask; what it starts from then on inherits it.
fn set_mask(mask: &libc::cpu_set_t) {
    // SAFETY: the mask is a cpu_set_t of the size given.
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), mask);
    }
}

/// A mask of one CPU.
fn one_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: CPU_SET writes within a zeroed cpu_set_t.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// The driver's CPU and the agents' CPU: the first two this process may use, unless
/// AGENT_COST_PIN=0 or there is only one. Without pinning the scheduler puts a driver and its
/// agent on one CPU some of the time (a write then hands the CPU straight to the reader) and
/// on two at other times (the reader's CPU is woken): drivers would be compared on where they
/// happened to run.
fn driver_and_agent_cpus() -> Option<(usize, usize)> {
    if std::env::var("AGENT_COST_PIN").is_ok_and(|v| v == "0") {
        return None;
    }
    let mask = cpu_mask()?;
    // SAFETY: CPU_ISSET reads within the mask.
    let mut cpus =
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &mask) });
    Some((cpus.next()?, cpus.next()?))
}

/// What the lean reference driver (scripts/lean-driver.py) measured for one agent.
struct Lean {
    p50_us: f64,
    p90_us: f64,
    cpu_us_per_call: f64,
    sched_us_per_call: f64,
}

/// Runs the lean driver over `agents` (argv each), calls interleaved one by one.
fn lean_driver(
    python: &str,
    agents: &[Vec<String>],
    calls: usize,
    cpus: Option<(usize, usize)>,
) -> Vec<Lean> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lean-driver.py");
    let spec = serde_json::json!({
        "calls": calls, "warmup": WARMUP, "code": CODE, "expected": EXPECTED, "agents": agents,
        "driver_cpu": cpus.map(|c| c.0), "agent_cpu": cpus.map(|c| c.1),
    });
    let out = duct::cmd(python, [script.as_os_str()])
        .stdin_bytes(spec.to_string())
        .stdout_capture()
        .run()
        .expect("the lean driver runs");
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("the lean driver's JSON");
    rows.iter()
        .map(|r| Lean {
            p50_us: r["p50_us"].as_f64().unwrap(),
            p90_us: r["p90_us"].as_f64().unwrap(),
            cpu_us_per_call: r["cpu_us_per_call"].as_f64().unwrap(),
            sched_us_per_call: r["sched_us_per_call"].as_f64().unwrap_or(f64::NAN),
        })
        .collect()
}

fn bench_loop(python: &str) {
    let calls = env_usize("AGENT_COST_CALLS", 3000);
    let local = Local {
        python: python.into(),
    };
    // Both agents started and driven alike: `python3 -u -c SOURCE loop` over the same pipes.
    let ours = agent::python_args(Mode::Loop, &AgentOptions::default(), true);
    let minimal: Vec<String> = vec![
        "-u".into(),
        "-c".into(),
        MINIMAL_AGENT.into(),
        "loop".into(),
    ];
    let mut names = vec!["agent (loop)".to_string(), "minimal loop agent".to_string()];
    let mut argvs = vec![ours, minimal];
    let against = std::env::var("AGENT_COST_AGAINST").ok().map(|path| {
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("AGENT_COST_AGAINST={path}: {e}"));
        argvs.push(vec!["-u".into(), "-c".into(), source, "loop".into()]);
        names.push(path.clone());
        path
    });
    let cpus = driver_and_agent_cpus();
    let all_cpus = cpu_mask();
    if let Some((_, agent_cpu)) = cpus {
        set_mask(&one_cpu(agent_cpu)); // the agents inherit it
    }
    let mut agents: Vec<AgentProcess> = argvs.iter().map(|a| start_loop_agent(&local, a)).collect();
    if let Some((driver_cpu, _)) = cpus {
        set_mask(&one_cpu(driver_cpu));
    }
    let pids: Vec<u32> = agents
        .iter()
        .map(|a| a.ready().expect("handshake received").pid)
        .collect();
    let mut samples = vec![Vec::new(); agents.len()];
    let mut cpu_start = vec![[0.0; 2]; agents.len()];
    for i in 0..WARMUP + calls {
        if i == WARMUP {
            cpu_start = pids.iter().map(|&p| cpu_us(p)).collect();
        }
        for (agent, samples) in agents.iter_mut().zip(samples.iter_mut()) {
            let took = loop_call(agent, i as u64);
            if i >= WARMUP {
                samples.push(took);
            }
        }
    }
    let per_call =
        |end: [f64; 2], start: &[f64; 2]| [0, 1].map(|k| (end[k] - start[k]) / calls as f64);
    let cpu: Vec<[f64; 2]> = pids
        .iter()
        .zip(&cpu_start)
        .map(|(&p, start)| per_call(cpu_us(p), start))
        .collect();
    drop(agents);
    let p50: Vec<f64> = samples.iter_mut().map(|s| us(percentile(s, 0.5))).collect();
    println!(
        "local loop, `{CODE}`, {calls} calls each, interleaved, through the harness's driver{}:",
        cpus.map_or_else(
            || " (unpinned)".to_string(),
            |(d, a)| format!(" (driver on CPU {d}, agents on CPU {a})")
        )
    );
    for (k, name) in names.iter().enumerate() {
        println!(
            "  {name:<20}{}   CPU {:>6.1} µs/call (stat), {:>6.1} (schedstat)",
            describe(&mut samples[k]),
            cpu[k][0],
            cpu[k][1]
        );
    }
    println!(
        "  ratio of p50s       {:.2}×   (target ≤ 1.30×)",
        p50[0] / p50[1]
    );
    println!(
        "  ratio of CPU/call   {:.2}× (stat), {:.2}× (schedstat)   (target ≤ 1.30×)",
        cpu[0][0] / cpu[1][0],
        cpu[0][1] / cpu[1][1]
    );
    if let Some(path) = &against {
        println!(
            "  {path}: p50 {:.2}×, CPU {:.2}× (schedstat) the minimal agent's",
            p50[2] / p50[1],
            cpu[2][1] / cpu[1][1]
        );
    }
    let full: Vec<Vec<String>> = argvs
        .iter()
        .map(|a| {
            std::iter::once(python.to_string())
                .chain(a.iter().cloned())
                .collect()
        })
        .collect();
    let lean = lean_driver(python, &full, calls, cpus);
    if let Some(mask) = &all_cpus {
        set_mask(mask);
    }
    println!("the same agents through the lean reference driver (scripts/lean-driver.py):");
    for (k, name) in names.iter().enumerate() {
        println!(
            "  {name:<20}p50 {:>9.1} µs   p90 {:>9.1} µs   CPU {:>6.1} µs/call (stat), {:>6.1} \
             (schedstat)",
            lean[k].p50_us, lean[k].p90_us, lean[k].cpu_us_per_call, lean[k].sched_us_per_call
        );
    }
    println!(
        "  ratio of p50s       {:.2}×;  CPU/call {:.2}× (stat), {:.2}× (schedstat)",
        lean[0].p50_us / lean[1].p50_us,
        lean[0].cpu_us_per_call / lean[1].cpu_us_per_call,
        lean[0].sched_us_per_call / lean[1].sched_us_per_call
    );
    println!(
        "  harness ÷ lean driver, minimal agent: p50 {:.2}×   (target ≤ 1.10×)",
        p50[1] / lean[1].p50_us
    );
}

/// Wall time of one process start that runs `CODE`: bare, or the one-shot agent with a request.
fn oneshot_start(python: &str, agent_args: Option<&[String]>) -> Duration {
    let started = Instant::now();
    let Some(args) = agent_args else {
        let status = Command::new(python)
            .args(["-c", CODE])
            .status()
            .expect("python3 starts");
        assert!(status.success());
        return started.elapsed();
    };
    let mut child = Command::new(python)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let request = Request {
        id: 1,
        code: CODE,
        stdin: None,
        timeout_ms: Some(30_000),
    };
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(&agent::encode(&request)).expect("sent");
    drop(stdin);
    let out = child.wait_with_output().expect("the agent exits");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let reply = text.lines().nth(1).expect("a handshake and a reply");
    let reply = agent::parse_reply(reply, 1)
        .expect("a well-formed reply")
        .expect("a reply to request 1");
    assert_eq!(reply.result.as_deref(), Some(EXPECTED), "{reply:?}");
    took
}

fn bench_oneshot(python: &str) {
    let starts = env_usize("AGENT_COST_STARTS", 40);
    let args = agent::python_args(Mode::OneShot, &AgentOptions::default(), false);
    // Another agent.py sends what precedes its one-shot end line, if it has one.
    let against = std::env::var("AGENT_COST_AGAINST").ok().map(|path| {
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("AGENT_COST_AGAINST={path}: {e}"));
        let end = "\n# ---- the one-shot agent ends here";
        let source = source.split(end).next().unwrap_or_default().to_string();
        (
            path,
            vec!["-u".into(), "-c".into(), source, "oneshot".into()],
        )
    });
    let (mut bare, mut ours, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..starts + 3 {
        let b = oneshot_start(python, None);
        let o = oneshot_start(python, Some(&args));
        let a = against
            .as_ref()
            .map(|(_, args)| oneshot_start(python, Some(args)));
        if i >= 3 {
            bare.push(b);
            ours.push(o);
            other.extend(a);
        }
    }
    let ratio = us(percentile(&mut ours, 0.5)) / us(percentile(&mut bare, 0.5));
    println!("local per-call, `{CODE}`, {starts} starts each, interleaved:");
    println!("  agent (oneshot)     {}", describe(&mut ours));
    println!("  bare python3 -c     {}", describe(&mut bare));
    println!("  ratio of p50s       {ratio:.3}×  (target ≤ 1.05×)");
    if let Some((path, _)) = against {
        let r = us(percentile(&mut other, 0.5)) / us(percentile(&mut bare, 0.5));
        println!("  {path}: {}", describe(&mut other));
        println!("  its ratio to bare python3 -c: {r:.3}×");
    }
}

/// The sandbox's python3 `fork()`+`_exit()`+`waitpid()`, µs per round, measured inside it.
fn fork_floor(transport: &dyn Transport) -> f64 {
    let code = "import os, time\nt = time.perf_counter()\nfor _ in range(200):\n    \
                pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n    os.waitpid(pid, 0)\n\
                print((time.perf_counter() - t) / 200 * 1e6)";
    let out = transport
        .command(transport.python(), &["-c".to_string(), code.to_string()])
        .stdout_capture()
        .run()
        .expect("the fork floor runs in the sandbox");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().expect("a number of µs")
}

fn checked(executor: &dyn Executor) -> Duration {
    let call = Call {
        code: CODE,
        stdin: None,
        timeout: Duration::from_secs(30),
    };
    let started = Instant::now();
    let reply = executor.call(call).expect("the call succeeds");
    let took = started.elapsed();
    assert_eq!(reply.result.as_deref(), Some(EXPECTED), "{reply:?}");
    took
}

fn bench_fork() {
    if compose_stack::engine_version().is_none() || compose_stack::compose_version().is_none() {
        println!("compose fork: SKIPPED (no Docker engine with Compose answers)");
        return;
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml");
    let profile = Profile::builtin(Engine::Docker, &file, "sandbox");
    let stack = match Stack::of(&profile).and_then(|s| s.ensure_up().map(|()| s)) {
        Ok(stack) => stack,
        Err(e) => {
            println!("compose fork: SKIPPED (the sandbox does not start: {e:#})");
            return;
        }
    };
    let transport: Arc<dyn Transport> = Arc::new(Compose {
        file: stack.file.clone(),
        service: stack.service.clone(),
        python: "python3".into(),
    });
    let calls = env_usize("AGENT_COST_FORK_CALLS", 1000);
    let options = AgentOptions::default();
    let executors = [
        Strategy::Persistent.executor(Arc::clone(&transport), &options),
        Strategy::Fork.executor(Arc::clone(&transport), &options),
    ];
    let mut samples = [Vec::new(), Vec::new()];
    let mut floors = Vec::new();
    for i in 0..WARMUP + calls {
        if i % (calls / 4).max(1) == 0 {
            floors.push(fork_floor(transport.as_ref()));
        }
        for (executor, samples) in executors.iter().zip(samples.iter_mut()) {
            let took = checked(executor.as_ref());
            if i >= WARMUP {
                samples.push(took);
            }
        }
    }
    floors.sort_by(f64::total_cmp);
    let floor = floors[floors.len() / 2];
    let [persistent, fork] = &mut samples;
    let (p, f) = (us(percentile(persistent, 0.5)), us(percentile(fork, 0.5)));
    println!("compose, `{CODE}`, {calls} calls each, interleaved:");
    println!("  compose:persistent  {}", describe(persistent));
    println!("  compose:fork        {}", describe(fork));
    println!(
        "  in-sandbox python3 fork+_exit+waitpid: {floor:.1} µs (median of {})",
        floors.len()
    );
    println!(
        "  fork − persistent   {:.1} µs = {:.2}× the fork floor   (target ≤ 1.30×)",
        f - p,
        (f - p) / floor
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs nothing here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let python = std::env::var("SANDBOX_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let only = std::env::var("AGENT_COST_ONLY").unwrap_or_else(|_| "loop,oneshot,fork".into());
    let wanted = |part: &str| only.split(',').any(|p| p.trim() == part);
    println!("(the machine may be shared: compare the ratios, not the absolute times)");
    if wanted("loop") {
        bench_loop(&python);
    }
    if wanted("oneshot") {
        bench_oneshot(&python);
    }
    if wanted("fork") {
        bench_fork();
    }
}
