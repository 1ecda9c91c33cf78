//! The executor of every long-lived strategy: N slots, each call served by an idle one. With
//! one slot, concurrent calls wait their turn (the original's lock); with N they spread.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::slot::Slot;
use super::{Call, CallError, Executor, TIMEOUT_GRACE};
use crate::agent::{Reply, Request, RequestIds};

/// Slots and the queue of idle ones.
pub struct Pooled {
    slots: Vec<Mutex<Slot>>,
    idle: Mutex<Vec<usize>>,
    freed: Condvar,
    ids: RequestIds,
}

impl Pooled {
    pub fn new(slots: Vec<Slot>) -> Self {
        let idle = (0..slots.len()).rev().collect();
        Pooled {
            slots: slots.into_iter().map(Mutex::new).collect(),
            idle: Mutex::new(idle),
            freed: Condvar::new(),
            ids: RequestIds::new(),
        }
    }

    /// Waits for an idle slot and takes it.
    fn take(&self) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(i) = idle.pop() {
                return i;
            }
            idle = self.freed.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns slot `i` to the idle queue: on top after a served call, at the bottom after a
    /// failed one, so healthy slots serve first while a failed one's engine may still be down
    /// (a pool spread over engines keeps its calls on the live ones).
    fn give_back(&self, i: usize, failed: bool) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if failed {
            idle.insert(0, i);
        } else {
            idle.push(i);
        }
        drop(idle);
        self.freed.notify_one();
    }

    fn each<T>(&self, f: impl Fn(&Slot) -> T) -> Vec<T> {
        self.slots
            .iter()
            .map(|s| f(&s.lock().unwrap_or_else(|e| e.into_inner())))
            .collect()
    }
}

impl Executor for Pooled {
    fn call(&self, call: Call) -> Result<Reply, CallError> {
        let deadline = Instant::now() + call.timeout + TIMEOUT_GRACE;
        let request = Request {
            id: self.ids.next(),
            code: call.code,
            stdin: call.stdin,
            timeout_ms: super::timeout_ms(&call),
        };
        let i = self.take();
        let outcome = self.slots[i]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .call(&request, deadline);
        self.give_back(i, outcome.is_err());
        outcome
    }

    fn python_version(&self) -> Option<String> {
        self.each(|s| s.python.clone()).into_iter().flatten().next()
    }

    fn restarts(&self) -> u32 {
        self.each(|s| s.discarded).into_iter().sum()
    }

    fn agent_pids(&self) -> Vec<u32> {
        self.each(Slot::pid).into_iter().flatten().collect()
    }

    fn start_all(&self, timeout: Duration) -> Result<(), CallError> {
        let deadline = Instant::now() + timeout + TIMEOUT_GRACE;
        for slot in &self.slots {
            slot.lock()
                .unwrap_or_else(|e| e.into_inner())
                .start(deadline)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agent::AgentOptions;
    use crate::strategy::Strategy;
    use crate::transport::fake::{Act, Fake};

    fn call(executor: &dyn Executor, n: usize) -> Result<Option<String>, CallError> {
        let code = format!("result = {n}");
        executor
            .call(Call {
                code: &code,
                stdin: None,
                timeout: Duration::from_millis(50),
            })
            .map(|r| r.result)
    }

    #[test]
    fn a_dead_agent_is_replaced_and_only_its_call_fails() {
        let fake = Arc::new(Fake::new(|seen| {
            if seen.agent == 1 && seen.call == 2 {
                Act::Die
            } else {
                Act::Answer
            }
        }));
        let pool = Strategy::Pool(2).executor(fake.clone(), &AgentOptions::default());
        pool.start_all(Duration::from_secs(5)).unwrap();
        assert_eq!(fake.starts(), 2);
        let outcomes: Vec<_> = (0..4).map(|n| call(pool.as_ref(), n)).collect();
        let died = outcomes.iter().filter(|o| o.is_err()).count();
        assert_eq!(died, 1, "{outcomes:?}");
        assert!(
            matches!(outcomes[1], Err(CallError::AgentDied(_))),
            "{outcomes:?}"
        );
        for (n, o) in outcomes.iter().enumerate().filter(|(n, _)| *n != 1) {
            assert_eq!(o.as_ref().unwrap().as_deref(), Some(n.to_string().as_str()));
        }
        // The failed slot waits at the back of the queue: the other served calls 3 and 4, and
        // its replacement agent starts when the slot is next taken.
        assert_eq!((pool.restarts(), fake.starts()), (1, 2));
    }

    #[test]
    fn a_hung_agent_times_out_is_killed_and_the_others_keep_serving() {
        let fake = Arc::new(Fake::new(|seen| {
            if seen.agent == 1 && seen.call == 1 {
                Act::Hang
            } else {
                Act::Delay(Duration::from_millis(1))
            }
        }));
        let pool: Arc<dyn Executor> = Strategy::Pool(2)
            .executor(fake.clone(), &AgentOptions::default())
            .into();
        pool.start_all(Duration::from_secs(5)).unwrap();
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let hung = s.spawn(|| call(pool.as_ref(), 0));
            // The other agent serves the next calls while the first one hangs.
            while fake.requests() == 0 {
                std::thread::yield_now();
            }
            let served: Vec<_> = (1..4).map(|n| call(pool.as_ref(), n)).collect();
            std::iter::once(hung.join().unwrap())
                .chain(served)
                .collect()
        });
        assert_eq!(outcomes[0], Err(CallError::Timeout));
        assert!(outcomes[1..].iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(fake.killed_in_sandbox(), 1);
        assert_eq!(pool.restarts(), 1);
    }
}
