//! The executor of every long-lived strategy: N slots, each call served by an idle one. With
//! one slot, concurrent calls wait their turn (the original's lock); with N they spread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::slot::Slot;
use super::{Call, CallError, Executor, TIMEOUT_GRACE};
use crate::agent::{Reply, Request};

/// Slots and the queue of idle ones.
pub struct Pooled {
    slots: Vec<Mutex<Slot>>,
    idle: Mutex<Vec<usize>>,
    freed: Condvar,
    next_id: AtomicU64,
}

impl Pooled {
    pub fn new(slots: Vec<Slot>) -> Self {
        let idle = (0..slots.len()).rev().collect();
        Pooled {
            slots: slots.into_iter().map(Mutex::new).collect(),
            idle: Mutex::new(idle),
            freed: Condvar::new(),
            next_id: AtomicU64::new(1),
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

    fn give_back(&self, i: usize) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(i);
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
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            code: call.code,
            stdin: call.stdin,
            timeout_ms: super::timeout_ms(&call),
        };
        let i = self.take();
        let outcome = self.slots[i]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .call(&request, deadline);
        self.give_back(i);
        outcome
    }

    fn python_version(&self) -> Option<String> {
        self.each(|s| s.python.clone()).into_iter().flatten().next()
    }

    fn restarts(&self) -> u32 {
        self.each(|s| s.discarded).into_iter().sum()
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
