//! Memory at steady state, per backend × workload: once its measured calls are done, one more
//! call (kept out of every latency figure) runs the workload's first case and then reads
//! `/proc/self/smaps_rollup` of the process that ran it. The backend's long-lived agents (a
//! persistent agent, a pool's agents, a fork zygote and the children it keeps forked ahead) are
//! not dumpable, so no process in the sandbox may read theirs: the harness reads them from the
//! host's /proc, finding each agent by its pid namespace (the call reports its own) and its pid
//! in that namespace. Where the host cannot see them (a remote engine, gVisor's own kernel, a
//! harness without root), they are counted as unreadable, never guessed.
//! RSS counts every page a process maps; PSS shares each shared page among the processes that
//! map it, so the agents' PSS adds up to what they cost together: a fork zygote's children
//! share its pages, a pool's interpreters do not.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bench::workload::Case;
use crate::strategy::{Call, Executor};

/// What one backend × workload held in memory once warm, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// The process that ran the memory call, right after running the workload's code: the
    /// agent itself (persistent, pool, reset), the call's child (fork), a fresh interpreter
    /// (per-call).
    pub call_rss_kib: u64,
    pub call_pss_kib: u64,
    /// Its pages no other process maps: what one more such process costs.
    pub call_private_kib: u64,
    /// The long-lived agents found (none for per-call), and their RSS and PSS summed.
    pub agents: u32,
    pub agents_rss_kib: u64,
    pub agents_pss_kib: u64,
    /// Children the agents keep besides the call's own (a zygote's forked-ahead children), and
    /// their private memory summed.
    pub waiting_children: u32,
    pub waiting_children_private_kib: u64,
    /// Agents whose memory the host could not read (not counted above).
    #[serde(default)]
    pub agents_unreadable: u32,
}

impl Memory {
    /// What the backend holds between calls: its agents' PSS and the waiting children's
    /// private pages; for per-call, nothing stays, so the call's own process.
    pub fn footprint_kib(&self) -> u64 {
        if self.agents == 0 {
            self.call_pss_kib
        } else {
            self.agents_pss_kib + self.waiting_children_private_kib
        }
    }
}

/// The probe appended to the workload's code: the caller's RSS, PSS and private memory in KiB,
/// its pid namespace's inode and its pid there.
const PROBE: &str = "
def _sb_probe():
    import os
    out = {}
    with open('/proc/self/smaps_rollup') as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                out[parts[0].rstrip(':')] = int(parts[1])
    ns = os.readlink('/proc/self/ns/pid')
    return (out.get('Rss', 0), out.get('Pss', 0),
            out.get('Private_Clean', 0) + out.get('Private_Dirty', 0),
            int(ns[ns.index('[') + 1:-1]), os.getpid())
result = _sb_probe()
";

/// What the probe reported of the process that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Caller {
    rss: u64,
    pss: u64,
    private: u64,
    pid_ns: u64,
    pid: u32,
}

/// Reads the probe's tuple of five integers.
fn parse(repr: &str) -> Option<Caller> {
    let inner = repr.trim().strip_prefix('(')?.strip_suffix(')')?;
    let v: Vec<u64> = inner
        .split(',')
        .map(|x| x.trim().parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let [rss, pss, private, pid_ns, pid] = v[..] else {
        return None;
    };
    Some(Caller {
        rss,
        pss,
        private,
        pid_ns,
        pid: u32::try_from(pid).ok()?,
    })
}

/// RSS, PSS and private KiB from the text of a `smaps_rollup`.
fn rollup(text: &str) -> (u64, u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0u64)
    };
    (
        field("Rss:"),
        field("Pss:"),
        field("Private_Clean:") + field("Private_Dirty:"),
    )
}

/// The host's pids of the processes in pid namespace `ns` whose pid there is in `wanted`, as
/// (pid in the namespace, host pid).
fn host_pids(ns: u64, wanted: &[u32]) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    for host in crate::procfs::pids() {
        let Ok(link) = std::fs::read_link(format!("/proc/{host}/ns/pid")) else {
            continue;
        };
        let inode = link
            .to_string_lossy()
            .split_once('[')
            .and_then(|(_, rest)| rest.trim_end_matches(']').parse::<u64>().ok());
        if inode != Some(ns) {
            continue;
        }
        if let Some(inner) = crate::procfs::inner_pid(host).filter(|p| wanted.contains(p)) {
            found.push((inner, host));
        }
    }
    found
}

/// The children of host process `host`.
fn children(host: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{host}/task/{host}/children"))
        .map(|t| {
            t.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The agents' memory, read from the host, added to what the caller reported.
fn with_agents(caller: Caller, pids: &[u32]) -> Memory {
    let mut m = Memory {
        call_rss_kib: caller.rss,
        call_pss_kib: caller.pss,
        call_private_kib: caller.private,
        agents: 0,
        agents_rss_kib: 0,
        agents_pss_kib: 0,
        waiting_children: 0,
        waiting_children_private_kib: 0,
        agents_unreadable: 0,
    };
    let found = host_pids(caller.pid_ns, pids);
    for &pid in pids {
        let read = found
            .iter()
            .find(|(inner, _)| *inner == pid)
            .and_then(|&(_, host)| {
                let text = std::fs::read_to_string(format!("/proc/{host}/smaps_rollup")).ok()?;
                Some((host, rollup(&text)))
            });
        let Some((host, (rss, pss, _))) = read else {
            m.agents_unreadable += 1;
            continue;
        };
        m.agents += 1;
        m.agents_rss_kib += rss;
        m.agents_pss_kib += pss;
        for child in children(host) {
            // The call's own process, when a zygote's child ran it, is counted as the call.
            if crate::procfs::inner_pid(child) == Some(caller.pid) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(format!("/proc/{child}/smaps_rollup")) {
                m.waiting_children += 1;
                m.waiting_children_private_kib += rollup(&text).2;
            }
        }
    }
    m
}

/// One memory call through `executor`: `case`'s code, then the probe; then the agents' memory
/// from the host.
pub fn measure(executor: &dyn Executor, case: &Case, timeout: Duration) -> Result<Memory, String> {
    let code = format!("{}\n{PROBE}", case.code);
    let reply = executor
        .call(Call {
            code: &code,
            stdin: case.stdin.as_deref(),
            timeout,
        })
        .map_err(|e| e.to_string())?;
    if let Some(e) = reply.error {
        return Err(format!("{}: {}", e.kind, e.message));
    }
    let result = reply.result.unwrap_or_default();
    let caller = parse(&result).ok_or_else(|| format!("unexpected result {result:?}"))?;
    Ok(with_agents(caller, &executor.agent_pids()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agent::AgentOptions;
    use crate::strategy::Strategy;
    use crate::transport::{Local, Transport, host_python};

    fn case(code: &str) -> Case {
        Case {
            code: code.into(),
            expected: String::new(),
            stdin: None,
            fresh: false,
        }
    }

    fn executor(strategy: Strategy) -> Box<dyn Executor> {
        let transport: Arc<dyn Transport> = Arc::new(Local {
            python: host_python(),
        });
        strategy.executor(transport, &AgentOptions::default())
    }

    #[test]
    fn the_probes_tuple_and_a_rollup_are_read_in_kib() {
        let c = parse("(9000, 4000, 3000, 4026531836, 7)").unwrap();
        assert_eq!(
            (c.rss, c.pss, c.private, c.pid_ns, c.pid),
            (9000, 4000, 3000, 4026531836, 7)
        );
        assert_eq!(parse("(1, 2)"), None);
        assert_eq!(parse("None"), None);
        let text = "55d0-7ffd ---p 00000000 00:00 0  [rollup]\nRss:  9000 kB\nPss:  4000 kB\n\
                    Private_Clean:  100 kB\nPrivate_Dirty:  2900 kB\n";
        assert_eq!(rollup(text), (9000, 4000, 3000));
    }

    #[test]
    fn a_pool_reports_each_of_its_agents_and_a_workloads_allocation_shows() {
        let pool = executor(Strategy::Pool(2));
        pool.start_all(Duration::from_secs(30)).unwrap();
        let small = measure(&*pool, &case("result = 1"), Duration::from_secs(30)).unwrap();
        assert_eq!((small.agents, small.agents_unreadable), (2, 0), "{small:?}");
        assert!(small.agents_rss_kib >= small.call_rss_kib, "{small:?}");
        // 64 MiB kept by the agent that ran the call: its RSS grows by at least that much.
        let big = measure(
            &*pool,
            &case("import builtins\nbuiltins._sb_keep = bytearray(64 << 20)\nresult = 1"),
            Duration::from_secs(30),
        )
        .unwrap();
        assert!(
            big.call_rss_kib >= small.call_rss_kib + 60 * 1024,
            "{small:?} {big:?}"
        );
    }

    #[test]
    fn a_fork_backend_reports_its_zygote_and_the_child_that_ran_the_call() {
        let fork = executor(Strategy::Fork);
        let m = measure(&*fork, &case("result = 1"), Duration::from_secs(30)).unwrap();
        assert_eq!((m.agents, m.agents_unreadable), (1, 0), "{m:?}");
        // The zygote keeps children forked ahead; the call's own child is not among them.
        assert!(m.waiting_children >= 1, "{m:?}");
        assert!(
            m.call_private_kib > 0 && m.call_private_kib < m.call_rss_kib,
            "{m:?}"
        );
    }

    #[test]
    fn per_call_has_no_agents_and_its_footprint_is_the_calls_process() {
        let per_call = executor(Strategy::PerCall);
        let m = measure(&*per_call, &case("result = 1"), Duration::from_secs(30)).unwrap();
        assert_eq!((m.agents, m.waiting_children), (0, 0), "{m:?}");
        assert!(m.call_rss_kib > 0);
        assert_eq!(m.footprint_kib(), m.call_pss_kib);
    }
}
