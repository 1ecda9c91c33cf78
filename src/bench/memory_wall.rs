//! Before anything is measured: whether the interpreters a run keeps alive at once fit the
//! memory wall of the sandbox they share. Every agent of a profile's container (compose,
//! docker, api, socket, cmd) counts against that one container's limit, so a pool of
//! preloaded interpreters, or several backends × workloads of them kept alive by an interleaved
//! order, can pass it: the kernel then kills one mid-run and the figures lose calls for a
//! reason that is not the backend's. The check starts one interpreter with the run's preload,
//! reads its resident size and the wall from inside (the cgroup's memory limit; a `bwrap`
//! transport's own when the sandbox hides its cgroup), counts how many the schedule holds at
//! once, and refuses the run with the sizes when they cannot fit. Each interpreter is counted
//! for its anonymous memory (its heap, the imported modules' objects: its own), and the pages
//! it maps from files (libpython, numpy's shared objects) once, since the kernel keeps one copy
//! of a file's pages and charges it to the cgroup once. The figure is a floor: the calls' own
//! data comes on top.

use anyhow::Result;

use crate::bench::plan::{Load, Plan};
use crate::error::usage;
use crate::sandbox::Reached;
use crate::sandbox::backend::{Backend, TransportKind};
use crate::strategy::{Call, Strategy};
use crate::units::format_kib;

/// The code one interpreter runs: its resident size and the anonymous part of it in KiB, and
/// the smallest memory limit of the cgroups it is in (v2 `memory.max` or v1
/// `memory.limit_in_bytes`, from its own cgroup up to the root it can see), `None` without one.
const PROBE: &str = r#"
def _sb_wall():
    rss = anon = 0
    try:
        f = open('/proc/self/smaps_rollup')
    except OSError:  # gVisor's /proc has no smaps_rollup
        f = open('/proc/self/status')
    with f:
        for line in f:
            if line.startswith(('Rss:', 'VmRSS:')):
                rss = int(line.split()[1])
            elif line.startswith(('Anonymous:', 'RssAnon:')):
                anon = int(line.split()[1])
    limit = None
    try:
        with open('/proc/self/cgroup') as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        hier, controllers, path = line.split(':', 2)
        if hier == '0':
            base, name = '/sys/fs/cgroup', 'memory.max'
        elif 'memory' in controllers.split(','):
            base, name = '/sys/fs/cgroup/memory', 'memory.limit_in_bytes'
        else:
            continue
        while True:
            try:
                with open(base + path.rstrip('/') + '/' + name) as f:
                    text = f.read().strip()
                if text != 'max' and int(text) < (1 << 60):
                    limit = int(text) if limit is None else min(limit, int(text))
            except (OSError, ValueError):
                pass
            if path in ('', '/'):
                break
            path = path.rsplit('/', 1)[0] or '/'
    return (rss, anon or rss, limit)
result = _sb_wall()
"#;

/// The backends whose agents share one memory wall, and how many agents they hold at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Crowd {
    /// What shares the wall, for messages: `profile docker`, or a `bwrap` backend.
    pub wall: String,
    /// Index in the plan's backends of one backend there, the one the probe runs on.
    pub probe_on: usize,
    /// The most agents alive there at one time.
    pub agents: usize,
    /// Who holds them at that time: a backend and its live agents, per backend.
    pub holders: Vec<(String, usize)>,
}

/// What shares a memory wall with `backend`'s agents: its profile's container, or for a
/// `bwrap` backend its own cgroup. `None` where no shared wall applies: the host (`local`), a
/// container of its own per program (`container`), an MCP server.
fn wall_of(backend: &Backend) -> Option<String> {
    let Backend::Sandbox(s) = backend else {
        return None;
    };
    match s.transport {
        TransportKind::Local | TransportKind::Container => None,
        TransportKind::Bwrap => Some(backend.to_string()),
        TransportKind::Cmd if !s.sandboxed() => Some("the --prefix sandbox".into()),
        _ => Some(format!("profile {}", s.profile.name)),
    }
}

/// Interpreters a strategy holds at once with `clients` concurrent callers: a per-call backend
/// one per call in flight, a pool its size, the others one (a fork zygote's children share its
/// pages; a kernel is counted as one agent, though ipykernel's imports make it larger).
fn agents_of(strategy: Strategy, clients: usize) -> usize {
    match strategy {
        Strategy::PerCall => clients.max(1),
        Strategy::Pool(n) => n,
        Strategy::Persistent | Strategy::Fork | Strategy::Reset(_) | Strategy::Jupyter(_) => 1,
    }
}

/// Interpreters `backend` holds at once behind the wall of [`wall_of`] (its first profile's):
/// a pool spread over k engines holds its first engine's share there, the most of any (slot i
/// goes to engine i mod k), which is what the probe, run on that engine, is checked against.
fn agents_on_wall(backend: &Backend, strategy: Strategy, clients: usize) -> usize {
    let places = backend.sandbox().map_or(1, |s| 1 + s.also.len());
    match strategy {
        Strategy::Pool(n) if places > 1 => n.div_ceil(places),
        _ => agents_of(strategy, clients),
    }
}

/// The crowds of a plan: for each shared wall, the most agents the schedule keeps alive at
/// once. A backend × workload holds its agents from its first slice to its last (the runner
/// stops them then), so an interleaved order holds every pair's at once and a sequential one
/// a pair's at a time.
pub fn crowds(plan: &Plan) -> Vec<Crowd> {
    let per_backend = plan.workloads.len().max(1);
    let slices: Vec<usize> = plan.slices().into_iter().map(|(s, _)| s.pair).collect();
    let pairs = plan.backends.len() * per_backend;
    let span = |pair: usize| {
        let first = slices.iter().position(|&p| p == pair)?;
        let last = slices.iter().rposition(|&p| p == pair)?;
        Some((first, last))
    };
    let spans: Vec<Option<(usize, usize)>> = (0..pairs).map(span).collect();
    let clients = match plan.load {
        Load::Closed { concurrency } | Load::Open { concurrency, .. } => concurrency,
    };
    let mut out: Vec<Crowd> = Vec::new();
    let walls: Vec<Option<String>> = plan.backends.iter().map(|r| wall_of(&r.backend)).collect();
    for (b, wall) in walls.iter().enumerate() {
        let Some(wall) = wall else { continue };
        if out.iter().any(|c| &c.wall == wall) {
            continue;
        }
        let members: Vec<usize> = (0..plan.backends.len())
            .filter(|&i| walls[i].as_ref() == Some(wall))
            .collect();
        let mut best = Crowd {
            wall: wall.clone(),
            probe_on: b,
            agents: 0,
            holders: Vec::new(),
        };
        for t in 0..slices.len() {
            let mut holders: Vec<(String, usize)> = Vec::new();
            for &i in &members {
                let Some(strategy) = plan.backends[i].backend.strategy() else {
                    continue;
                };
                let live = (0..per_backend)
                    .filter(|w| spans[i * per_backend + w].is_some_and(|(f, l)| f <= t && t <= l))
                    .count();
                if live > 0 {
                    holders.push((
                        plan.backends[i].backend.to_string(),
                        live * agents_on_wall(&plan.backends[i].backend, strategy, clients),
                    ));
                }
            }
            let agents: usize = holders.iter().map(|h| h.1).sum();
            if agents > best.agents {
                best.agents = agents;
                best.holders = holders;
            }
        }
        out.push(best);
    }
    out
}

/// What one interpreter holds and the wall it runs under, as read inside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Resident in all.
    pub rss_kib: u64,
    /// The anonymous part of it: what each interpreter holds on its own.
    pub anon_kib: u64,
    pub wall_bytes: Option<u64>,
}

impl Reading {
    /// Pages mapped from files, shared by every interpreter of the sandbox.
    fn shared_kib(&self) -> u64 {
        self.rss_kib.saturating_sub(self.anon_kib)
    }

    /// What `agents` interpreters hold together, in KiB.
    fn need_kib(&self, agents: usize) -> u64 {
        agents as u64 * self.anon_kib + self.shared_kib()
    }
}

/// Parses the probe's `repr`: `(RSS, ANONYMOUS, LIMIT or None)`.
fn parse(text: &str) -> Option<Reading> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut parts = inner.split(',');
    let (rss, anon, limit) = (parts.next()?, parts.next()?, parts.next()?.trim());
    if parts.next().is_some() {
        return None;
    }
    let reading = Reading {
        rss_kib: rss.trim().parse().ok()?,
        anon_kib: anon.trim().parse().ok()?,
        wall_bytes: if limit == "None" {
            None
        } else {
            Some(limit.parse().ok()?)
        },
    };
    (reading.anon_kib <= reading.rss_kib).then_some(reading)
}

/// Starts one interpreter on `reached` with the plan's agent options (its preload), reads it,
/// and stops it.
fn probe(plan: &Plan, reached: &Reached) -> Result<Reading, String> {
    let executor = Strategy::Persistent.executor(reached.transport.clone(), &plan.agent);
    let reply = executor
        .call(Call {
            code: PROBE,
            stdin: None,
            timeout: plan.timeout,
        })
        .map_err(|e| e.to_string())?;
    if let Some(e) = reply.error {
        return Err(format!("{}: {}", e.kind, e.message));
    }
    let text = reply.result.unwrap_or_default();
    let mut reading = parse(&text).ok_or_else(|| format!("unexpected answer {text:?}"))?;
    if reading.wall_bytes.is_none() {
        reading.wall_bytes = reached.transport.memory_wall();
    }
    Ok(reading)
}

/// The refusal when `crowd`'s agents cannot fit, `None` when they can.
pub fn verdict(crowd: &Crowd, reading: Reading, preload: &[String]) -> Option<String> {
    let wall = reading.wall_bytes?;
    let need = reading.need_kib(crowd.agents) * 1024;
    if need <= wall {
        return None;
    }
    let holders: Vec<String> = crowd
        .holders
        .iter()
        .map(|(b, n)| format!("{b}: {n}"))
        .collect();
    let after = if preload.is_empty() {
        String::new()
    } else {
        format!(" after preloading {}", preload.join(","))
    };
    Some(format!(
        "{}: the run would keep {} interpreters alive at once ({}), each holding at least {} of \
         its own{after} beside {} of shared files: {} in all, above the sandbox's {} memory wall; \
         make fewer at once (a smaller pool, fewer workloads, --order sequential) or give \
         backends profiles of their own",
        crowd.wall,
        crowd.agents,
        holders.join(", "),
        format_kib(reading.anon_kib),
        format_kib(reading.shared_kib()),
        format_kib(need / 1024),
        format_kib(wall / 1024),
    ))
}

/// Refuses a plan whose agents cannot fit their sandbox's memory wall (exit 2, the sizes
/// named). A wall with one agent at most is not probed; a probe that fails is reported by
/// `notice` and the run goes on (its first call will say more).
pub fn check(plan: &Plan, notice: impl Fn(&str)) -> Result<()> {
    for crowd in crowds(plan) {
        if crowd.agents < 2 {
            continue;
        }
        let reached = &plan.backends[crowd.probe_on];
        match probe(plan, reached) {
            Ok(reading) => {
                if let Some(refusal) = verdict(&crowd, reading, &plan.agent.preload) {
                    return Err(usage(refusal));
                }
                if let Some(wall) = reading.wall_bytes {
                    notice(&format!(
                        "memory: {}: {} interpreters at once × {} + {} shared: {} of its {} wall",
                        crowd.wall,
                        crowd.agents,
                        format_kib(reading.anon_kib),
                        format_kib(reading.shared_kib()),
                        format_kib(reading.need_kib(crowd.agents)),
                        format_kib(wall / 1024)
                    ));
                }
            }
            Err(e) => notice(&format!(
                "memory: {}: the memory wall could not be checked: {e}",
                crowd.wall
            )),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::agent::AgentOptions;
    use crate::bench::schedule::Order;
    use crate::bench::workload::{Case, Workload};
    use crate::transport::Transport;
    use crate::transport::fake::Fake;

    fn workload(name: &str) -> Workload {
        Workload {
            name: name.into(),
            description: String::new(),
            calls: 4,
            cases: vec![Case {
                code: "result = 1".into(),
                expected: "1".into(),
                stdin: None,
                fresh: false,
            }],
            source: "(test)".into(),
        }
    }

    fn plan(backends: &[(TransportKind, Strategy)], workloads: usize, order: Order) -> Plan {
        let fake: Arc<dyn Transport> = Arc::new(Fake::answering());
        Plan {
            backends: backends
                .iter()
                .map(|&(t, s)| Reached {
                    backend: Backend::on_docker(t, s),
                    transport: Arc::clone(&fake),
                    shared_dir: None,
                    tap: None,
                })
                .collect(),
            workloads: (0..workloads).map(|i| workload(&format!("w{i}"))).collect(),
            calls_scale: 1.0,
            warmup: 0,
            timeout: Duration::from_secs(5),
            order,
            calibration: 0,
            load: Load::Closed { concurrency: 1 },
            agent: AgentOptions::default(),
            switch_warmup: Duration::ZERO,
            min_time: Duration::ZERO,
        }
    }

    #[test]
    fn an_interleaved_run_holds_every_pair_at_once_a_sequential_one_a_pair_at_a_time() {
        let backends = [
            (TransportKind::Compose, Strategy::Pool(4)),
            (TransportKind::Docker, Strategy::Persistent),
            (TransportKind::Local, Strategy::Pool(8)),
        ];
        let interleaved = crowds(&plan(
            &backends,
            3,
            Order::Interleaved { seed: 7, rounds: 2 },
        ));
        // The host's pool shares no wall; the profile's container holds 3 × 4 + 3 × 1.
        assert_eq!(interleaved.len(), 1);
        assert_eq!(interleaved[0].wall, "profile docker");
        assert_eq!(interleaved[0].agents, 15);
        assert_eq!(
            interleaved[0].holders,
            vec![
                ("compose:pool=4".to_string(), 12),
                ("docker:persistent".to_string(), 3)
            ]
        );
        let sequential = crowds(&plan(&backends, 3, Order::Sequential));
        assert_eq!(sequential[0].agents, 4);
        assert_eq!(
            sequential[0].holders,
            vec![("compose:pool=4".to_string(), 4)]
        );
    }

    fn crowd(agents: usize) -> Crowd {
        Crowd {
            wall: "profile docker".into(),
            probe_on: 0,
            agents,
            holders: vec![("compose:pool=4".into(), agents)],
        }
    }

    #[test]
    fn the_probe_answer_is_read_with_and_without_a_limit() {
        assert_eq!(
            parse("(70123, 50000, 536870912)"),
            Some(Reading {
                rss_kib: 70123,
                anon_kib: 50000,
                wall_bytes: Some(536870912)
            })
        );
        assert_eq!(
            parse("(9000, 7000, None)"),
            Some(Reading {
                rss_kib: 9000,
                anon_kib: 7000,
                wall_bytes: None
            })
        );
        assert_eq!(parse("9000"), None);
        assert_eq!(parse("(9000, None)"), None);
        assert_eq!(parse("(x, 1, None)"), None);
        assert_eq!(parse("(1, 2, 3, 4)"), None);
        // More anonymous memory than resident memory is no reading.
        assert_eq!(parse("(100, 200, None)"), None);
    }

    #[test]
    fn agents_that_pass_the_wall_are_refused_with_the_sizes() {
        let reading = Reading {
            rss_kib: 70 * 1024,
            anon_kib: 50 * 1024,
            wall_bytes: Some(512 << 20),
        };
        // Files mapped are counted once: 9 × 50 + 20 = 470 MiB fits (9 × 70 = 630 would not);
        // 10 × 50 + 20 = 520 does not.
        assert_eq!(verdict(&crowd(9), reading, &[]), None);
        let refusal = verdict(&crowd(10), reading, &["numpy".into(), "pandas".into()]).unwrap();
        assert!(refusal.contains("10 interpreters"), "{refusal}");
        assert!(refusal.contains("50.0 MiB of its own"), "{refusal}");
        assert!(refusal.contains("20.0 MiB of shared files"), "{refusal}");
        assert!(refusal.contains("520.0 MiB in all"), "{refusal}");
        assert!(refusal.contains("512.0 MiB"), "{refusal}");
        assert!(refusal.contains("preloading numpy,pandas"), "{refusal}");
        assert!(refusal.contains("compose:pool=4: 10"), "{refusal}");
    }

    #[test]
    fn no_wall_no_refusal() {
        let reading = Reading {
            rss_kib: 1 << 30,
            anon_kib: 1 << 30,
            wall_bytes: None,
        };
        assert_eq!(verdict(&crowd(64), reading, &[]), None);
    }

    #[test]
    fn agents_per_strategy() {
        assert_eq!(agents_of(Strategy::Pool(4), 1), 4);
        assert_eq!(agents_of(Strategy::Pool(4), 8), 4);
        assert_eq!(agents_of(Strategy::PerCall, 3), 3);
        assert_eq!(agents_of(Strategy::Persistent, 3), 1);
        assert_eq!(agents_of(Strategy::Fork, 3), 1);
        assert_eq!(agents_of(Strategy::Reset(10), 1), 1);
    }

    #[test]
    fn a_spread_pool_holds_its_first_engines_share_behind_that_wall() {
        use crate::sandbox::backend::Catalog;
        use crate::sandbox::profile::Profile;
        let profiles = ["r1:host=tcp://10.0.0.2:2376", "r2:host=tcp://10.0.0.3:2376"]
            .map(|p| Profile::parse(p, std::path::Path::new("c.yml"), "sandbox").unwrap());
        let c = Catalog::new(std::path::Path::new("c.yml"), "sandbox", profiles.to_vec()).unwrap();
        let on = |name: &str| c.parse(name).unwrap();
        let spread = on("api@r1+r2:pool=5");
        assert_eq!(wall_of(&spread).as_deref(), Some("profile r1"));
        assert_eq!(agents_on_wall(&spread, Strategy::Pool(5), 1), 3);
        assert_eq!(
            agents_on_wall(&on("api@r1:pool=5"), Strategy::Pool(5), 1),
            5
        );
    }
}
