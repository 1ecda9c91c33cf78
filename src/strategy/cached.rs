//! A result cache over any strategy (`STRATEGY+cache` in a backend's name): a call whose code
//! and stdin were answered successfully before gets that answer again without running. Right
//! only for code whose answer depends on nothing but its text: see docs/agent-code.md.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Call, CallError, Executor};
use crate::agent::Reply;

/// Another executor, with its successful replies kept by (code, stdin).
pub struct Cached {
    inner: Box<dyn Executor>,
    replies: Mutex<HashMap<(String, Option<String>), Reply>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Cached {
    pub fn new(inner: Box<dyn Executor>) -> Self {
        Cached {
            inner,
            replies: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl Executor for Cached {
    fn call(&self, call: Call) -> Result<Reply, CallError> {
        let key = (call.code.to_string(), call.stdin.map(str::to_string));
        let kept = self
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(reply) = kept {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(reply);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let reply = self.inner.call(call)?;
        // Only a clean answer is kept: an error may not happen again.
        if reply.error.is_none() {
            self.replies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, reply.clone());
        }
        Ok(reply)
    }

    fn python_version(&self) -> Option<String> {
        self.inner.python_version()
    }

    fn restarts(&self) -> u32 {
        self.inner.restarts()
    }

    fn start_all(&self, timeout: Duration) -> Result<(), CallError> {
        self.inner.start_all(timeout)
    }

    fn agent_pids(&self) -> Vec<u32> {
        self.inner.agent_pids()
    }

    fn cache_counts(&self) -> Option<(u64, u64)> {
        Some((
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agent::AgentOptions;
    use crate::strategy::Strategy;
    use crate::transport::{Local, Transport, host_python};

    fn cached() -> Cached {
        let transport: Arc<dyn Transport> = Arc::new(Local {
            python: host_python(),
        });
        Cached::new(Strategy::Persistent.executor(transport, &AgentOptions::default()))
    }

    fn result(e: &dyn Executor, code: &str, stdin: Option<&str>) -> Option<String> {
        e.call(Call {
            code,
            stdin,
            timeout: Duration::from_secs(30),
        })
        .unwrap()
        .result
    }

    #[test]
    fn a_repeated_call_is_answered_from_the_cache_and_counted() {
        let c = cached();
        let code = "import itertools, builtins\nbuiltins.n = getattr(builtins, 'n', 0) + 1\nresult = builtins.n";
        assert_eq!(result(&c, code, None).as_deref(), Some("1"));
        // The agent would say 2: the cache answers 1 again, which is what makes it unsafe for
        // code with state.
        assert_eq!(result(&c, code, None).as_deref(), Some("1"));
        // Another stdin is another key.
        assert_eq!(result(&c, code, Some("x")).as_deref(), Some("2"));
        assert_eq!(c.cache_counts(), Some((1, 2)));
    }

    #[test]
    fn an_error_is_not_kept() {
        let c = cached();
        let code = "import builtins\nbuiltins.m = getattr(builtins, 'm', 0) + 1\nif builtins.m == 1:\n    raise ValueError('first')\nresult = builtins.m";
        let first = c
            .call(Call {
                code,
                stdin: None,
                timeout: Duration::from_secs(30),
            })
            .unwrap();
        assert!(first.error.is_some());
        assert_eq!(result(&c, code, None).as_deref(), Some("2"));
        assert_eq!(c.cache_counts(), Some((0, 2)));
    }
}
