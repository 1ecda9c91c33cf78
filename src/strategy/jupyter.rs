//! `jupyter`: what hosted code interpreters run, an ipykernel, in the same sandbox as the
//! agent. Each call is one `execute_request` on a long-lived kernel; a call past its limit is
//! interrupted, and a kernel that does not stop, or dies, is replaced on the next call.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::kernel::{Failure, Kernel};
use super::{Call, CallError, Executor};
use crate::agent::{AgentOptions, Reply};
use crate::transport::{SharedDir, Transport};

/// The least time a kernel is given to start, whatever the call's limit: its start is not the
/// code's time.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Whether the kernel's messages are signed with HMAC-SHA256 (the connection file's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// A fresh key per kernel, as deployed kernels use.
    Signed,
    /// An empty key: no signature computed or checked.
    Unsigned,
}

/// One kernel, started on first use and replaced after a fault.
pub struct Jupyter {
    transport: Arc<dyn Transport>,
    dir: SharedDir,
    /// The host directory made for a kernel on the host (local), removed with the executor.
    _own_dir: Option<tempfile::TempDir>,
    signing: Signing,
    /// `--preload`'s modules (imported by the kernel at start) and how to wait for the launcher.
    options: AgentOptions,
    /// The kernel's channels run on this runtime, driven by the calling thread.
    runtime: tokio::runtime::Runtime,
    kernel: Mutex<Option<Kernel>>,
    python: Mutex<Option<String>>,
    restarts: AtomicU32,
}

impl Jupyter {
    /// A kernel's executor over `transport`, its sockets in `dir` (`None`: a new directory on
    /// the host, for the host's own Python).
    pub fn new(
        transport: Arc<dyn Transport>,
        dir: Option<SharedDir>,
        signing: Signing,
        options: &AgentOptions,
    ) -> Self {
        let (dir, own) = match dir {
            Some(dir) => (dir, None),
            None => match tempfile::Builder::new()
                .prefix("sandbox-bench-kernel")
                .tempdir()
            {
                Ok(temp) => (SharedDir::same(temp.path()), Some(temp)),
                Err(_) => (SharedDir::same(&std::env::temp_dir()), None),
            },
        };
        Jupyter {
            transport,
            dir,
            _own_dir: own,
            signing,
            options: options.clone(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime starts"),
            kernel: Mutex::new(None),
            python: Mutex::new(None),
            restarts: AtomicU32::new(0),
        }
    }

    /// The running kernel, started (by `deadline`) if there is none; one found dead is
    /// replaced and counted.
    fn ready<'a>(
        &self,
        slot: &'a mut Option<Kernel>,
        deadline: Instant,
    ) -> Result<&'a mut Kernel, CallError> {
        if slot.as_mut().is_some_and(Kernel::gone) {
            self.discard(slot);
        }
        if slot.is_none() {
            let kernel = Kernel::start(
                self.transport.as_ref(),
                &self.dir,
                self.signing == Signing::Signed,
                &self.options,
                deadline,
                &self.runtime,
            )?;
            if let Ok(mut python) = self.python.lock() {
                python.get_or_insert_with(|| kernel.python.clone());
            }
            *slot = Some(kernel);
        }
        Ok(slot.as_mut().expect("started just above"))
    }

    /// Throws the kernel away after a fault, counted as a restart.
    fn discard(&self, slot: &mut Option<Kernel>) {
        if let Some(kernel) = slot.take() {
            self.restarts.fetch_add(1, Ordering::Relaxed);
            kernel.end(self.transport.as_ref(), &self.runtime);
        }
    }

    fn slot(&self) -> Result<std::sync::MutexGuard<'_, Option<Kernel>>, CallError> {
        self.kernel
            .lock()
            .map_err(|_| CallError::Protocol("the kernel's lock is poisoned".into()))
    }
}

impl Executor for Jupyter {
    fn call(&self, call: Call) -> Result<Reply, CallError> {
        let mut slot = self.slot()?;
        let start_by = Instant::now() + call.timeout.max(START_LIMIT);
        let kernel = self.ready(&mut slot, start_by)?;
        match self.runtime.block_on(kernel.execute(&call)) {
            Ok(reply) => Ok(reply),
            Err(Failure::Timeout { stopped: true }) => Err(CallError::Timeout),
            Err(Failure::Timeout { stopped: false }) => {
                self.discard(&mut slot);
                Err(CallError::Timeout)
            }
            Err(Failure::Lost(e)) => {
                self.discard(&mut slot);
                Err(e)
            }
        }
    }

    fn python_version(&self) -> Option<String> {
        self.python.lock().ok()?.clone()
    }

    fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    fn start_all(&self, timeout: Duration) -> Result<(), CallError> {
        let mut slot = self.slot()?;
        self.ready(&mut slot, Instant::now() + timeout.max(START_LIMIT))
            .map(|_| ())
    }

    fn agent_pids(&self) -> Vec<u32> {
        self.kernel
            .lock()
            .ok()
            .and_then(|k| k.as_ref().map(|k| k.pid))
            .into_iter()
            .collect()
    }
}

impl Drop for Jupyter {
    fn drop(&mut self) {
        let kernel = self.kernel.get_mut().ok().and_then(Option::take);
        if let Some(kernel) = kernel {
            kernel.end(self.transport.as_ref(), &self.runtime);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Local;

    /// The host's Python, when it has ipykernel (tests/jupyter.rs requires it under CI).
    fn host_kernel() -> Option<Arc<dyn Transport>> {
        let python = "/usr/bin/python3";
        let found = std::process::Command::new(python)
            .args(["-c", "import ipykernel"])
            .output()
            .is_ok_and(|o| o.status.success());
        found.then(|| {
            Arc::new(Local {
                python: python.into(),
            }) as Arc<dyn Transport>
        })
    }

    #[test]
    fn the_first_call_on_a_fresh_kernel_answers() {
        let Some(transport) = host_kernel() else {
            return;
        };
        for _ in 0..6 {
            let options = AgentOptions::default();
            let jupyter = Jupyter::new(Arc::clone(&transport), None, Signing::Signed, &options);
            let reply = jupyter.call(Call {
                code: "result = 40 + 2",
                stdin: None,
                timeout: Duration::from_secs(10),
            });
            assert_eq!(reply.map(|r| r.result), Ok(Some("42".into())));
        }
    }

    #[test]
    fn preloaded_modules_are_imported_and_a_missing_one_named() {
        let Some(transport) = host_kernel() else {
            return;
        };
        let call = Call {
            code: "import sys\nresult = 'colorsys' in sys.modules",
            stdin: None,
            timeout: Duration::from_secs(10),
        };
        let options = AgentOptions {
            preload: vec!["colorsys".into()],
            ..AgentOptions::default()
        };
        let jupyter = Jupyter::new(Arc::clone(&transport), None, Signing::Unsigned, &options);
        assert_eq!(
            jupyter.call(call).map(|r| r.result),
            Ok(Some("True".into()))
        );
        let options = AgentOptions {
            preload: vec!["no_such_module_here".into()],
            ..AgentOptions::default()
        };
        let jupyter = Jupyter::new(transport, None, Signing::Signed, &options);
        match jupyter.call(call) {
            Err(CallError::AgentDied(why)) => assert!(why.contains("no_such_module_here"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
