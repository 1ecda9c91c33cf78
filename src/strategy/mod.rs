//! Strategies: how interpreters are used over a transport. A strategy turns "run this code" into
//! agent processes and requests; it never knows which transport it runs over.

mod cached;
mod jupyter;
mod kernel;
mod per_call;
mod pooled;
mod slot;

pub use cached::Cached;
pub use jupyter::{Jupyter, Signing};
pub use per_call::PerCall;
pub use pooled::Pooled;
pub use slot::Slot;

/// Where it is raised; strategies and executors pass it on.
pub use crate::agent::CallError;

use std::sync::Arc;
use std::time::Duration;

use crate::agent::{AgentOptions, Mode, Reply};
use crate::transport::{SharedDir, Transport};

/// Extra time the harness waits past a call's timeout, for the agent to report it itself.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(2);

/// One call's input.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub code: &'a str,
    pub stdin: Option<&'a str>,
    pub timeout: Duration,
}

/// Runs calls with one strategy over one transport; shared by concurrent clients.
pub trait Executor: Send + Sync {
    /// Runs one call and returns the agent's reply.
    fn call(&self, call: Call) -> Result<Reply, CallError>;

    /// The sandbox's Python version, once an agent has announced it.
    fn python_version(&self) -> Option<String>;

    /// How many agents were thrown away after a fault (each is replaced on the next call).
    fn restarts(&self) -> u32;

    /// Starts every agent not yet running, so none starts during measured calls.
    fn start_all(&self, _timeout: Duration) -> Result<(), CallError> {
        Ok(())
    }

    /// The pids of the long-lived agents running now, as their sandbox sees them (none for
    /// per-call).
    fn agent_pids(&self) -> Vec<u32> {
        Vec::new()
    }

    /// A result cache's hits and misses; `None` without one.
    fn cache_counts(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Restart period of `reset` when none is given.
pub const DEFAULT_RESET_EVERY: u32 = 1000;
/// The largest pool.
pub const MAX_POOL: usize = 64;

/// The strategies a backend can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    PerCall,
    Persistent,
    /// N persistent agents; each call goes to an idle one.
    Pool(usize),
    /// A warm zygote forks a fresh child for every call.
    Fork,
    /// Persistent, with interpreter state restored after each call and a restart every K calls.
    Reset(u32),
    /// An ipykernel, one `execute_request` per call.
    Jupyter(Signing),
}

/// How each strategy is written, with what it does, for `--help`, listings and errors.
pub const STRATEGIES: [(&str, &str); 6] = [
    (
        "per-call",
        "a fresh interpreter for every call (full isolation)",
    ),
    (
        "persistent",
        "one long-lived interpreter fed over pipes (fresh globals only)",
    ),
    (
        "pool=N",
        "N persistent interpreters, each call to an idle one",
    ),
    (
        "fork",
        "a warm zygote forks a fresh child per call (process isolation)",
    ),
    (
        "reset[=K]",
        "persistent, state restored after each call, restart every K (1000)",
    ),
    (
        "jupyter[=unsigned]",
        "an ipykernel over ZeroMQ IPC, an execute_request per call (signed)",
    ),
];

impl Strategy {
    /// One of each strategy, a pool of two: what benches and listings run.
    pub const EACH: [Strategy; 5] = [
        Strategy::PerCall,
        Strategy::Persistent,
        Strategy::Pool(2),
        Strategy::Fork,
        Strategy::Reset(DEFAULT_RESET_EVERY),
    ];

    /// Parses a strategy's name: `per-call`, `persistent`, `pool=N`, `fork`, `reset[=K]`.
    pub fn parse(text: &str) -> Result<Strategy, String> {
        let (name, arg) = match text.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (text, None),
        };
        let number = |what: &str, max: u64| -> Result<u64, String> {
            let arg = arg.ok_or_else(|| format!("write {what}"))?;
            match arg.parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "'{text}': {what} takes a whole number from 1 to {max}"
                )),
            }
        };
        Ok(match (name, arg) {
            ("per-call", None) => Strategy::PerCall,
            ("persistent", None) => Strategy::Persistent,
            ("fork", None) => Strategy::Fork,
            ("pool", _) => Strategy::Pool(number("pool=N", MAX_POOL as u64)? as usize),
            ("reset", None) => Strategy::Reset(DEFAULT_RESET_EVERY),
            ("reset", Some(_)) => Strategy::Reset(number("reset=K", u32::MAX as u64)? as u32),
            ("jupyter", None) => Strategy::Jupyter(Signing::Signed),
            ("jupyter", Some("unsigned")) => Strategy::Jupyter(Signing::Unsigned),
            ("jupyter", Some(_)) => {
                return Err(format!(
                    "'{text}': jupyter takes nothing or =unsigned (no message signing)"
                ));
            }
            _ => {
                let known: Vec<&str> = STRATEGIES.iter().map(|s| s.0).collect();
                return Err(format!(
                    "unknown strategy '{text}' (known: {})",
                    known.join(", ")
                ));
            }
        })
    }

    /// Whether its executor keeps files in a directory shared with the sandbox (a kernel's
    /// sockets), which must be prepared before the sandbox starts.
    pub fn shares_dir(self) -> bool {
        matches!(self, Strategy::Jupyter(_))
    }

    pub fn name(self) -> String {
        match self {
            Strategy::PerCall => "per-call".into(),
            Strategy::Persistent => "persistent".into(),
            Strategy::Pool(n) => format!("pool={n}"),
            Strategy::Fork => "fork".into(),
            Strategy::Reset(k) => format!("reset={k}"),
            Strategy::Jupyter(Signing::Signed) => "jupyter".into(),
            Strategy::Jupyter(Signing::Unsigned) => "jupyter=unsigned".into(),
        }
    }

    /// A new executor of this strategy over `transport`; nothing starts until the first call.
    /// A kernel (`jupyter`) keeps its sockets in a new directory on the host: right for
    /// `local`; a sandbox's kernel needs [`Strategy::executor_with`] and its shared directory.
    pub fn executor(
        self,
        transport: Arc<dyn Transport>,
        options: &AgentOptions,
    ) -> Box<dyn Executor> {
        self.executor_with(transport, options, None)
    }

    /// [`Strategy::executor`], with the directory the transport's programs share with the
    /// harness (where a kernel's sockets go), when it has one.
    pub fn executor_with(
        self,
        transport: Arc<dyn Transport>,
        options: &AgentOptions,
        shared: Option<&SharedDir>,
    ) -> Box<dyn Executor> {
        let slot = |mode, options: AgentOptions, recycle| {
            Slot::new(Arc::clone(&transport), mode, options, recycle)
        };
        match self {
            Strategy::PerCall => Box::new(PerCall::new(transport, options)),
            Strategy::Persistent => {
                Box::new(Pooled::new(vec![slot(Mode::Loop, options.clone(), None)]))
            }
            // Spread over engines: slot i on engine i mod k, round-robin.
            Strategy::Pool(n) => Box::new(Pooled::new(match transport.places() {
                Some(places) => (0..n)
                    .map(|i| {
                        let place = Arc::clone(&places[i % places.len()]);
                        Slot::new(place, Mode::Loop, options.clone(), None)
                    })
                    .collect(),
                None => (0..n)
                    .map(|_| slot(Mode::Loop, options.clone(), None))
                    .collect(),
            })),
            Strategy::Fork => Box::new(Pooled::new(vec![slot(Mode::Fork, options.clone(), None)])),
            Strategy::Reset(k) => {
                let options = AgentOptions {
                    reset: true,
                    ..options.clone()
                };
                Box::new(Pooled::new(vec![slot(Mode::Loop, options, Some(k))]))
            }
            Strategy::Jupyter(signing) => {
                Box::new(Jupyter::new(transport, shared.cloned(), signing, options))
            }
        }
    }
}

fn timeout_ms(call: &Call) -> Option<u64> {
    Some(call.timeout.as_millis().min(u64::MAX as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters_and_refuses_bad_ones() {
        assert_eq!(Strategy::parse("pool=4"), Ok(Strategy::Pool(4)));
        assert_eq!(Strategy::parse("reset"), Ok(Strategy::Reset(1000)));
        assert_eq!(Strategy::parse("reset=5"), Ok(Strategy::Reset(5)));
        assert_eq!(Strategy::parse("fork"), Ok(Strategy::Fork));
        assert_eq!(Strategy::Pool(2).name(), "pool=2");
        assert_eq!(
            Strategy::parse("jupyter=unsigned"),
            Ok(Strategy::Jupyter(Signing::Unsigned))
        );
        assert_eq!(Strategy::parse("jupyter").unwrap().name(), "jupyter");
        for bad in [
            "pool",
            "pool=0",
            "pool=65",
            "pool=x",
            "reset=0",
            "fork=2",
            "turbo",
            "jupyter=2",
        ] {
            assert!(Strategy::parse(bad).is_err(), "{bad}");
        }
        let e = Strategy::parse("pool=0").unwrap_err();
        assert!(e.contains("from 1 to 64"), "{e}");
        let e = Strategy::parse("turbo").unwrap_err();
        assert!(e.contains("pool=N") && e.contains("reset[=K]"), "{e}");
    }
}
