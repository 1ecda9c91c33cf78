//! A pool spread over several engines (`transport@r1+r2:pool=N`): one transport per engine,
//! its slots dealt round-robin over them. Each slot keeps its engine, so killing or sweeping an
//! agent goes to the engine that runs it; when one engine dies, only its slots' calls fail.

use std::sync::Arc;

use super::{Sweep, Transport};

/// The transports of a spread pool, one per engine, in the order the backend names them.
pub struct Spread {
    places: Vec<Arc<dyn Transport>>,
}

impl Spread {
    /// A spread over `places` (two or more).
    pub fn new(places: Vec<Arc<dyn Transport>>) -> Self {
        assert!(places.len() >= 2, "a spread has two places or more");
        Spread { places }
    }

    fn first(&self) -> &dyn Transport {
        self.places[0].as_ref()
    }
}

impl Transport for Spread {
    /// The first engine's command: what a message or a probe shows; slots start on their own.
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        self.first().command(program, args)
    }

    fn python(&self) -> &str {
        self.first().python()
    }

    fn relayed(&self) -> bool {
        self.places.iter().any(|p| p.relayed())
    }

    fn places(&self) -> Option<&[Arc<dyn Transport>]> {
        Some(&self.places)
    }

    fn kill_in_sandbox(&self, _pid: u32) {
        // A pid names no engine: each slot kills its agents through its own place.
    }

    fn restarts(&self) -> u32 {
        self.places.iter().map(|p| p.restarts()).sum()
    }

    /// Every engine swept; `None` when one could not be reached.
    fn sweep(&self, what: Sweep, agent: Option<u32>) -> Option<usize> {
        self.places.iter().map(|p| p.sweep(what, agent)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentOptions;
    use crate::strategy::{Call, Executor, Strategy};
    use crate::transport::fake::{Act, Fake};
    use std::time::Duration;

    fn call(executor: &dyn Executor, n: u32) -> Result<(), String> {
        let code = format!("result = {n}");
        executor
            .call(Call {
                code: &code,
                stdin: None,
                timeout: Duration::from_millis(200),
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn slots_are_dealt_round_robin_and_a_dead_place_fails_only_its_slots() {
        let a = Arc::new(Fake::new(|_| Act::Delay(Duration::from_millis(100))));
        let b = Arc::new(Fake::new(|_| Act::Die));
        let spread = Arc::new(Spread::new(vec![a.clone(), b.clone()]));
        let pool: Arc<dyn Executor> = Strategy::Pool(4)
            .executor(spread, &AgentOptions::default())
            .into();
        pool.start_all(Duration::from_secs(5)).unwrap();
        assert_eq!((a.starts(), b.starts()), (2, 2), "two slots on each");
        // Four calls at once take the four slots: b's agents die on theirs.
        let at_once: Vec<_> = std::thread::scope(|s| {
            let calls: Vec<_> = (0..4)
                .map(|n| {
                    s.spawn({
                        let pool = Arc::clone(&pool);
                        move || call(pool.as_ref(), n)
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert_eq!(
            at_once.iter().filter(|o| o.is_err()).count(),
            2,
            "{at_once:?}"
        );
        // The failed slots wait at the back: a's serve the next calls.
        for n in 4..10 {
            assert_eq!(call(pool.as_ref(), n), Ok(()));
        }
        assert_eq!(pool.restarts(), 2);
    }
}
