//! Criterion benches of one checked call per strategy: on the local transport always, and on
//! the Compose sandbox when a Docker engine answers (skipped with a notice otherwise). The same
//! executors `sandbox-bench run` uses; each reply is checked, so a broken path fails the bench.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sandbox_bench::agent::AgentOptions;
use sandbox_bench::sandbox::compose_stack::{self, Stack};
use sandbox_bench::sandbox::profile::{Engine, Profile};
use sandbox_bench::strategy::{Call, Strategy};
use sandbox_bench::transport::{Compose, Local, Transport};

const CODE: &str = "result = sum(range(1000))";
const EXPECTED: &str = "499500";

fn bench_transport(c: &mut Criterion, name: &str, transport: Arc<dyn Transport>) {
    let mut group = c.benchmark_group(name);
    for strategy in Strategy::EACH {
        let executor = strategy.executor(Arc::clone(&transport), &AgentOptions::default());
        let call = Call {
            code: CODE,
            stdin: None,
            timeout: Duration::from_secs(30),
        };
        group.bench_function(strategy.name(), |b| {
            b.iter(|| {
                let reply = executor
                    .call(call)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(reply.result.as_deref(), Some(EXPECTED), "{name}: {reply:?}");
            })
        });
    }
    group.finish();
}

fn local(c: &mut Criterion) {
    let python = std::env::var("SANDBOX_BENCH_PYTHON")
        .unwrap_or_else(|_| sandbox_bench::transport::host_python());
    bench_transport(c, "local", Arc::new(Local { python }));
}

fn compose_sandbox(c: &mut Criterion) {
    if compose_stack::engine_version().is_none() || compose_stack::compose_version().is_none() {
        eprintln!("SKIPPED compose benches: no Docker engine with Compose answers");
        return;
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml");
    let profile = Profile::builtin(Engine::Docker, &file, "sandbox");
    let stack = match Stack::of(&profile).and_then(|s| s.up().map(|()| s)) {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("SKIPPED compose benches: the sandbox does not start: {e:#}");
            return;
        }
    };
    let transport = Compose {
        file: stack.file.clone(),
        service: stack.service.clone(),
        python: "python3".into(),
    };
    bench_transport(c, "compose", Arc::new(transport));
}

criterion_group! {
    name = benches;
    // Per-call through Compose costs ~200 ms a call: few samples keep a run to minutes.
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = local, compose_sandbox
}
criterion_main!(benches);
