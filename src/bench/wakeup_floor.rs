//! The machine's wake-up floor: a blocking pipe round trip between two processes on the host,
//! timed before anything else is measured. A persistent backend's reply costs at least one such
//! round trip (request out, reply back); on an idle virtual CPU most of it is the hypervisor
//! waking a core, not the executor. Measured twice: with both sides blocking (`idle`), and with
//! the echoing side spinning on a non-blocking read so only the harness's side sleeps (`spin`).
//!
//! On the host, the echo is a forked child that makes only raw system calls (read, write,
//! fcntl, _exit), so no interpreter's or allocator's work is in the figure. Inside the sandbox
//! the same ping-pong runs as Python code through a persistent agent (the sandbox has nothing
//! else to run), so its figure also holds a few of the interpreter's microseconds.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agent::{AgentOptions, WaitMode};
use crate::bench::warnings::Warning;
use crate::transport::Transport;

/// Round trips timed per mode, after [`WARMUP`] untimed ones.
pub const ROUND_TRIPS: usize = 300;
const WARMUP: usize = 50;

/// A backend's p50 of which the floor is more than this share is mostly the machine's wake-up.
pub const SHARE_LIMIT: f64 = 0.5;

/// The p50 of a blocking pipe round trip between two host processes, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WakeupFloor {
    /// Both sides block in read(2): each message wakes a sleeping process.
    pub idle_p50_us: f64,
    /// The echoing side spins: only the timing side sleeps between messages.
    pub spin_p50_us: f64,
    pub round_trips: usize,
}

impl WakeupFloor {
    /// The floor that matches how the harness waited: its own side blocked (`block`: both sides
    /// sleep, as in `idle`) or spun (one side awake, as in `spin`).
    pub fn for_wait(&self, wait: WaitMode) -> f64 {
        match wait {
            WaitMode::Block => self.idle_p50_us,
            WaitMode::Spin => self.spin_p50_us,
        }
    }
}

/// Measures both round trips on the host.
pub fn measure() -> Result<WakeupFloor, String> {
    Ok(WakeupFloor {
        idle_p50_us: median(&mut ping_pong(false)?),
        spin_p50_us: median(&mut ping_pong(true)?),
        round_trips: ROUND_TRIPS,
    })
}

/// The ping-pong in Python, for inside the sandbox: the p50s in nanoseconds, idle then spinning.
const SANDBOX_CODE: &str = "\
import os, time
def ping_pong(spin):
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if len(cpus) > 1:
                os.sched_setaffinity(0, cpus[1:2])
            os.close(a_w)
            os.close(b_r)
            os.set_blocking(a_r, not spin)
            while True:
                try:
                    byte = os.read(a_r, 1)
                except BlockingIOError:
                    continue
                if not byte:
                    break
                os.write(b_w, byte)
        finally:
            os._exit(0)
    os.close(a_r)
    os.close(b_w)
    if len(cpus) > 1:
        os.sched_setaffinity(0, cpus[:1])
    ts = []
    for i in range(350):
        t = time.perf_counter_ns()
        os.write(a_w, b'x')
        os.read(b_r, 1)
        if i >= 50:
            ts.append(time.perf_counter_ns() - t)
    os.close(a_w)
    os.waitpid(pid, 0)
    os.close(b_r)
    ts.sort()
    return ts[len(ts) // 2]
# On two CPUs, as the host's round trips are: on one, a write hands the CPU straight to the
# reader and nothing is woken.
mask = os.sched_getaffinity(0)
cpus = sorted(mask)
try:
    result = (ping_pong(False), ping_pong(True))
finally:
    os.sched_setaffinity(0, mask)
";

/// Measures both round trips inside the sandbox `transport` reaches, through a persistent
/// agent (one warm-up run first).
pub fn measure_in_sandbox(
    transport: Arc<dyn Transport>,
    agent: &AgentOptions,
    timeout: Duration,
) -> Result<WakeupFloor, String> {
    let result = super::second_run_result(transport, agent, timeout, SANDBOX_CODE)?;
    parse_pair(result.as_deref().unwrap_or_default())
        .ok_or_else(|| format!("unexpected result {result:?}"))
}

/// Reads the sandbox loop's `(idle, spin)` in nanoseconds.
fn parse_pair(repr: &str) -> Option<WakeupFloor> {
    let inner = repr.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (idle, spin) = inner.split_once(',')?;
    Some(WakeupFloor {
        idle_p50_us: idle.trim().parse::<f64>().ok()? / 1000.0,
        spin_p50_us: spin.trim().parse::<f64>().ok()? / 1000.0,
        round_trips: ROUND_TRIPS,
    })
}

/// The middle value (the upper one of an even count), in place.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One warning per backend × workload whose p50 the floor makes up more than [`SHARE_LIMIT`]
/// of: `rows` are (backend, workload, p50 in µs).
pub fn warnings(
    floor: &WakeupFloor,
    wait: WaitMode,
    rows: &[(String, String, f64)],
) -> Vec<Warning> {
    let us = floor.for_wait(wait);
    let which = match wait {
        WaitMode::Block => "both sides blocking",
        WaitMode::Spin => "the other side spinning",
    };
    rows.iter()
        .filter(|(_, _, p50)| *p50 > 0.0 && us / p50 > SHARE_LIMIT)
        .map(|(backend, workload, p50)| Warning {
            kind: crate::bench::warnings::WarningKind::WakeupFloor,
            backend: Some(backend.clone()),
            workload: Some(workload.clone()),
            message: format!(
                "this machine's wake-up floor (a blocking pipe round trip between two \
                 processes, {which}: {us:.1} µs p50) is {:.0} % of the p50 ({p50:.1} µs): the \
                 figure is mostly the machine waking a core, not the executor; compare \
                 --wait spin, or a machine kept busy",
                100.0 * us / p50
            ),
        })
        .collect()
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let (r, w) = os_pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
    Ok((r.into(), w.into()))
}

/// The first two CPUs this thread may run on, when it may run on two or more.
fn two_cpus() -> Option<(usize, usize)> {
    // SAFETY: sched_getaffinity fills a zeroed cpu_set_t of the size given.
    let mask = unsafe {
        let mut mask: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mask) != 0 {
            return None;
        }
        mask
    };
    // SAFETY: CPU_ISSET reads the mask within its size.
    let mut cpus =
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &mask) });
    Some((cpus.next()?, cpus.next()?))
}

/// Pins the calling thread to `cpu`; the mask it had, to put back, when that worked.
fn pin_to(cpu: usize) -> Option<libc::cpu_set_t> {
    // SAFETY: the masks are zeroed cpu_set_t values of the size given to the kernel.
    unsafe {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut old) != 0 {
            return None;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        (libc::sched_setaffinity(0, size, &set) == 0).then_some(old)
    }
}

/// Round trip times in µs with a forked echo, which spins when `spin` is set. The two sides
/// are pinned to two different CPUs when there are two: on one CPU a write hands the CPU
/// straight to the reader and no sleeping CPU is ever woken, which is not what the agents of
/// a run see.
fn ping_pong(spin: bool) -> Result<Vec<f64>, String> {
    let cpus = two_cpus();
    let (to_child_r, to_child_w) = pipe()?;
    let (to_parent_r, to_parent_w) = pipe()?;
    let (cin, cout) = (to_child_r.as_raw_fd(), to_parent_w.as_raw_fd());
    let (pin, pout) = (to_parent_r.as_raw_fd(), to_child_w.as_raw_fd());
    // SAFETY: the child only makes async-signal-safe system calls on descriptors it owns
    // copies of, and leaves with _exit: nothing of the parent's threads or locks is touched.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        if let Some((_, second)) = cpus {
            let _ = pin_to(second);
        }
        // SAFETY: as above.
        unsafe { echo(cin, cout, spin) }
    }
    let restore = cpus.and_then(|(first, _)| pin_to(first));
    drop(to_child_r);
    drop(to_parent_w);
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    let mut outcome = Ok(());
    for i in 0..WARMUP + ROUND_TRIPS {
        let start = Instant::now();
        if let Err(e) = round_trip(pout, pin) {
            outcome = Err(e);
            break;
        }
        if i >= WARMUP {
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    // The end of its input ends the child.
    drop(to_child_w);
    // SAFETY: waitpid on the child forked above; the mask put back is the one read before.
    unsafe {
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        if let Some(old) = restore {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &old);
        }
    }
    outcome.map(|()| times)
}

fn round_trip(out: i32, input: i32) -> Result<(), String> {
    let byte = [1u8];
    let mut back = [0u8];
    // SAFETY: one-byte reads and writes into and from stack buffers.
    let (w, r) = unsafe {
        let w = libc::write(out, byte.as_ptr().cast(), 1);
        let r = if w == 1 {
            libc::read(input, back.as_mut_ptr().cast(), 1)
        } else {
            -1
        };
        (w, r)
    };
    if w == 1 && r == 1 {
        Ok(())
    } else {
        Err(format!(
            "the echo stopped answering: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// The child: echoes each byte until its input ends.
///
/// # Safety
/// Only after fork(2), in the child.
unsafe fn echo(input: i32, out: i32, spin: bool) -> ! {
    unsafe {
        // Every other descriptor goes, the parent's end of these pipes and any agent's pipe
        // included: a copy held here would delay the end of input someone else waits for.
        for fd in 3..4096 {
            if fd != input && fd != out {
                libc::close(fd);
            }
        }
        if spin {
            let flags = libc::fcntl(input, libc::F_GETFL);
            libc::fcntl(input, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let mut byte = [0u8];
        loop {
            let n = libc::read(input, byte.as_mut_ptr().cast(), 1);
            if n == 1 {
                if libc::write(out, byte.as_ptr().cast(), 1) != 1 {
                    break;
                }
            } else if n == 0 {
                break;
            } else {
                let errno = *libc::__errno_location();
                if errno != libc::EAGAIN && errno != libc::EINTR {
                    break;
                }
            }
        }
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(p50s: &[(&str, f64)]) -> Vec<(String, String, f64)> {
        p50s.iter()
            .map(|(b, p)| (b.to_string(), "simple_calc".to_string(), *p))
            .collect()
    }

    #[test]
    fn a_floor_over_half_the_p50_is_warned_about_with_the_waits_own_floor() {
        let floor = WakeupFloor {
            idle_p50_us: 40.0,
            spin_p50_us: 12.0,
            round_trips: ROUND_TRIPS,
        };
        let r = rows(&[("local:persistent", 60.0), ("compose:persistent", 300.0)]);
        let blocked = warnings(&floor, WaitMode::Block, &r);
        assert_eq!(blocked.len(), 1, "{blocked:?}");
        assert_eq!(blocked[0].kind.name(), "wakeup_floor");
        assert_eq!(blocked[0].backend.as_deref(), Some("local:persistent"));
        assert!(
            blocked[0].message.contains("67 %"),
            "{}",
            blocked[0].message
        );
        assert!(
            warnings(&floor, WaitMode::Spin, &r).is_empty(),
            "12 of 60 is 20 %"
        );
        // Exactly half is not more than half; a missing p50 is not warned about.
        assert!(warnings(&floor, WaitMode::Block, &rows(&[("a", 80.0), ("b", 0.0)])).is_empty());
    }

    #[test]
    fn the_sandbox_loops_result_is_read_in_microseconds() {
        let f = parse_pair("(41000, 9500)").unwrap();
        assert_eq!((f.idle_p50_us, f.spin_p50_us), (41.0, 9.5));
        assert_eq!(parse_pair("(1, 2, 3)"), None);
        assert_eq!(parse_pair("None"), None);
    }

    #[test]
    fn the_sandbox_loop_runs_in_a_persistent_agent() {
        let python = crate::transport::host_python();
        let transport: Arc<dyn Transport> = Arc::new(crate::transport::Local { python });
        let f = measure_in_sandbox(transport, &AgentOptions::default(), Duration::from_secs(30))
            .unwrap();
        assert!(f.idle_p50_us > 0.0 && f.spin_p50_us > 0.0, "{f:?}");
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn both_round_trips_are_measured_on_the_host() {
        let floor = measure().unwrap();
        assert_eq!(floor.round_trips, ROUND_TRIPS);
        for us in [floor.idle_p50_us, floor.spin_p50_us] {
            assert!(us > 0.0 && us < 100_000.0, "{floor:?}");
        }
    }
}
