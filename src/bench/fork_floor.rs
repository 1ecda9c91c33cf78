//! The platform's own fork floor: how long the agent's interpreter takes to fork a child that
//! exits at once, and to reap it, measured inside the sandbox by a timing loop run as code
//! through a persistent agent. A fork backend cannot be faster than this; the rest of its p50
//! is the zygote's own work and the transport.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::AgentOptions;
use crate::transport::Transport;

/// Forks timed per measurement.
pub const FORKS: usize = 200;

/// The timing loop: fork, `_exit(0)` in the child, `waitpid` in the parent; the quartiles of
/// the round trips in nanoseconds.
const CODE: &str = "\
import os, time
ts = []
for _ in range(200):
    t = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    ts.append(time.perf_counter_ns() - t)
ts.sort()
result = (ts[len(ts) // 4], ts[len(ts) // 2], ts[3 * len(ts) // 4])
";

/// Quartiles of fork + exit + wait of the agent's interpreter, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForkFloor {
    pub p25_us: f64,
    pub p50_us: f64,
    pub p75_us: f64,
    pub forks: usize,
}

/// Measures the fork floor over `transport` with a persistent agent (one warm-up run first).
pub fn measure(
    transport: Arc<dyn Transport>,
    agent: &AgentOptions,
    timeout: Duration,
) -> Result<ForkFloor, String> {
    let result = super::second_run_result(transport, agent, timeout, CODE)?;
    parse(result.as_deref().unwrap_or_default())
        .ok_or_else(|| format!("unexpected result {result:?}"))
}

/// Reads the loop's `(p25, p50, p75)` in nanoseconds.
fn parse(repr: &str) -> Option<ForkFloor> {
    let inner = repr.trim().strip_prefix('(')?.strip_suffix(')')?;
    let v: Vec<f64> = inner
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok())
        .collect::<Option<_>>()?;
    match v[..] {
        [p25, p50, p75] => Some(ForkFloor {
            p25_us: p25 / 1000.0,
            p50_us: p50 / 1000.0,
            p75_us: p75 / 1000.0,
            forks: FORKS,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_reports_three_quartiles() {
        let f = parse("(412000, 540500, 610000)").unwrap();
        assert_eq!((f.p25_us, f.p50_us, f.p75_us), (412.0, 540.5, 610.0));
        assert_eq!(parse("(1, 2)"), None);
        assert_eq!(parse("None"), None);
    }

    #[test]
    fn the_code_forks_as_many_times_as_it_says() {
        assert!(CODE.contains(&format!("range({FORKS})")));
    }
}
