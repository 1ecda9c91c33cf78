//! Where the time of a per-call backend goes: with the per-call backends of several layers in
//! one run (Compose CLI → Docker CLI → Engine API → the host's own interpreter), each layer's
//! cost is the p50 difference to the next layer down, ending in the agent's own exec time.
//! Podman's per-call backends make a second waterfall: its own CLI (`podman exec -i`, the cmd
//! prefix) over its Engine API. An MCP server measured beside the executor its tool runs on
//! sits right above that executor's row: its cost is the MCP layer.

use super::format_us;
use super::model::{Column, Table};
use crate::bench::stats;
use crate::results::{BenchmarkResults, Entry};

/// The per-call layers from the outermost in, and what dropping each one takes away.
const LAYERS: [(&str, &str); 4] = [
    ("compose:per-call", "Compose CLI"),
    ("docker:per-call", "Docker CLI"),
    ("api:per-call", "Engine API + container exec"),
    ("local:per-call", "interpreter start + framing"),
];

/// The same on Podman: Compose and the Docker CLI reach it through its socket, its own CLI
/// does not (`podman exec` runs the exec itself), so the CLI layer is Podman's.
const PODMAN_LAYERS: [(&str, &str); 4] = [
    (
        "compose@podman:per-call",
        "Compose CLI + Podman service, not Podman CLI",
    ),
    ("cmd@podman:per-call", "Podman CLI (podman exec -i)"),
    ("api@podman:per-call", "Engine API + container exec"),
    ("local:per-call", "interpreter start + framing"),
];

/// The chains of layers a run can hold: Docker's built-in profile, each other Docker profile
/// of the run (its per-call backends over the host's interpreter: the image's own libraries
/// make a profile's chain, as with `--preload numpy,pandas` on a data-science image), and
/// Podman's.
fn layer_chains(results: &BenchmarkResults) -> Vec<[(String, &'static str); 4]> {
    let owned = |layers: &[(&str, &'static str); 4]| layers.map(|(b, what)| (b.to_string(), what));
    let mut out = vec![owned(&LAYERS)];
    for p in &results.profiles {
        if p.engine == "docker" && p.name != "docker" {
            out.push(LAYERS.map(|(b, what)| {
                let name = match b.split_once(':') {
                    Some((transport, strategy)) if transport != "local" => {
                        format!("{transport}@{}:{strategy}", p.name)
                    }
                    _ => b.to_string(),
                };
                (name, what)
            }));
        }
    }
    out.push(owned(&PODMAN_LAYERS));
    out
}

/// One layer's latency figures, in µs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
}

/// One row of the waterfall: a backend's total and what separates it from the next one down.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub total: Level,
    /// What the difference to the next step is made of.
    pub cost_of: String,
    pub cost_us: f64,
}

/// The waterfall of one workload from its layers' levels (in [`LAYERS`] order, `None` where the
/// run did not have that backend), the innermost layer's `--preload` imports (agent-reported,
/// when its calls paid for them) and its exec time. `None` below two layers.
pub fn steps(
    levels: &[Option<Level>; 4],
    import: Option<Level>,
    exec: Option<Level>,
) -> Option<Vec<Step>> {
    steps_of(&LAYERS, levels, import, exec)
}

/// `steps` over the layers of one engine.
fn steps_of(
    layers: &[(&str, &str); 4],
    levels: &[Option<Level>; 4],
    import: Option<Level>,
    exec: Option<Level>,
) -> Option<Vec<Step>> {
    let present: Vec<usize> = (0..layers.len()).filter(|&i| levels[i].is_some()).collect();
    if present.len() < 2 {
        return None;
    }
    let mut out = Vec::new();
    for (k, &i) in present.iter().enumerate() {
        let total = levels[i]?;
        let (next_p50, until) = match present.get(k + 1) {
            Some(&j) => (levels[j]?.p50, j),
            // The innermost layer's rest is everything but the agent's imports and exec time.
            None => (
                exec.map_or(0.0, |e| e.p50) + import.map_or(0.0, |i| i.p50),
                layers.len(),
            ),
        };
        let cost_of: Vec<&str> = layers[i..until].iter().map(|l| l.1).collect();
        let mut cost_of = cost_of.join(" + ");
        if until == layers.len() && i + 1 < layers.len() {
            // An innermost layer above local also holds the interpreter start.
            cost_of = format!("{} + interpreter start + framing", layers[i].1);
        }
        out.push(Step {
            name: layers[i].0.to_string(),
            total,
            cost_of,
            cost_us: total.p50 - next_p50,
        });
    }
    out.extend(import.map(import_step));
    out.extend(exec.map(exec_step));
    Some(out)
}

/// Above the exec row of a per-call chain run with `--preload`: the imports every fresh
/// interpreter makes before it runs the code.
fn import_step(import: Level) -> Step {
    Step {
        name: "import (agent-reported)".into(),
        total: import,
        cost_of: "importing --preload's modules".into(),
        cost_us: import.p50,
    }
}

/// The last row of every chain: the agent's own time running the code.
fn exec_step(exec: Level) -> Step {
    Step {
        name: "exec (agent-reported)".into(),
        total: exec,
        cost_of: "running the code".into(),
        cost_us: exec.p50,
    }
}

fn level(histogram: &str) -> Option<Level> {
    let h = stats::decode(histogram).ok()?;
    if h.is_empty() {
        return None;
    }
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Some(Level {
        p25: us(0.25),
        p50: us(0.50),
        p75: us(0.75),
    })
}

fn exec_level(e: &Entry) -> Option<Level> {
    match &e.exec_histogram {
        Some(h) => level(h),
        None => e.exec_us.as_ref().map(|s| Level {
            p25: s.p50,
            p50: s.p50,
            p75: s.p50,
        }),
    }
}

/// The waterfall table, when the run measured per-call backends of at least two layers, or MCP
/// servers beside the executor they run on (each server's row above its executor's).
pub fn waterfall_table(results: &BenchmarkResults) -> Option<Table> {
    let mut table = Table::new(vec![
        Column::text("Workload"),
        Column::text("Layer"),
        Column::figure("p50 [p25–p75]"),
        Column::figure("Cost to the next layer"),
        Column::prose("Made of"),
    ]);
    let mut any = false;
    for workload in &results.settings.workloads {
        let find = |backend: &str| {
            results
                .results
                .iter()
                .find(|e| e.backend == backend && &e.workload == workload)
        };
        // The executors MCP servers run on, each to get its servers' rows above it.
        let mut unplaced: Vec<&str> = mcp_executors(results);
        let mut chains: Vec<Vec<Step>> = Vec::new();
        for owned in layer_chains(results) {
            let layers = &owned.each_ref().map(|(b, what)| (b.as_str(), *what));
            let levels = layers.map(|(b, _)| find(b).and_then(|e| level(&e.histogram)));
            let innermost = layers
                .iter()
                .rev()
                .find_map(|(b, _)| find(b).filter(|e| level(&e.histogram).is_some()));
            let import = innermost.and_then(|e| e.import_histogram.as_deref().and_then(level));
            if let Some(rows) = steps_of(layers, &levels, import, innermost.and_then(exec_level)) {
                unplaced.retain(|over| !rows.iter().any(|s| s.name == *over));
                chains.push(rows);
            }
        }
        // An executor outside the per-call layers (persistent, fork, …): itself, then its exec.
        for over in unplaced {
            let Some(e) = find(over) else { continue };
            let Some(total) = level(&e.histogram) else {
                continue;
            };
            let exec = exec_level(e);
            let mut rows = vec![Step {
                name: over.to_string(),
                total,
                cost_of: "transport + agent + framing".into(),
                cost_us: total.p50 - exec.map_or(0.0, |x| x.p50),
            }];
            rows.extend(exec.map(exec_step));
            chains.push(rows);
        }
        for mut rows in chains {
            // Each MCP server goes right above the executor it runs on.
            let mut i = 0;
            while i < rows.len() {
                let above = mcp_steps(results, workload, &rows[i]);
                let n = above.len();
                rows.splice(i..i, above);
                i += n + 1;
            }
            any = true;
            for s in rows {
                table.push([
                    workload.clone(),
                    s.name,
                    format!(
                        "{} [{}–{}]",
                        format_us(s.total.p50),
                        format_us(s.total.p25),
                        format_us(s.total.p75)
                    ),
                    signed_us(s.cost_us),
                    s.cost_of,
                ]);
            }
        }
    }
    any.then_some(table)
}

/// The executors this run's MCP servers run on (each once).
fn mcp_executors(results: &BenchmarkResults) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for over in results
        .settings
        .mcp
        .iter()
        .filter_map(|m| m.over.as_deref())
    {
        if !out.contains(&over) {
            out.push(over);
        }
    }
    out
}

/// The rows of the MCP servers that run on `executor`'s backend: each costs its MCP layer.
fn mcp_steps(results: &BenchmarkResults, workload: &str, executor: &Step) -> Vec<Step> {
    results
        .settings
        .mcp
        .iter()
        .filter(|m| m.over.as_deref() == Some(executor.name.as_str()))
        .filter_map(|m| {
            let backend = format!("mcp:{}", m.name);
            let e = results
                .results
                .iter()
                .find(|e| e.backend == backend && e.workload == workload)?;
            let total = level(&e.histogram)?;
            Some(Step {
                name: backend,
                total,
                cost_of: format!("MCP layer ({}) over {}", m.transport, executor.name),
                cost_us: total.p50 - executor.total.p50,
            })
        })
        .collect()
}

/// A cost that noise can make negative (a layer measured slower than the one it wraps).
pub(crate) fn signed_us(us: f64) -> String {
    if us < 0.0 {
        format!("−{} (noise)", format_us(-us))
    } else {
        format_us(us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p50: f64) -> Option<Level> {
        Some(Level {
            p25: p50 - 1.0,
            p50,
            p75: p50 + 1.0,
        })
    }

    #[test]
    fn each_layer_costs_its_difference_to_the_next() {
        let levels = [at(250_000.0), at(180_000.0), None, at(40_000.0)];
        let rows = steps(&levels, None, at(30.0)).unwrap();
        let costs: Vec<(&str, f64)> = rows.iter().map(|s| (s.name.as_str(), s.cost_us)).collect();
        assert_eq!(
            costs,
            [
                ("compose:per-call", 70_000.0),
                ("docker:per-call", 140_000.0),
                ("local:per-call", 39_970.0),
                ("exec (agent-reported)", 30.0),
            ]
        );
        assert_eq!(rows[1].cost_of, "Docker CLI + Engine API + container exec");
        assert_eq!(rows[2].cost_of, "interpreter start + framing");
        // The costs add up to the outermost total.
        let sum: f64 = rows.iter().map(|s| s.cost_us).sum();
        assert_eq!(sum, 250_000.0);
    }

    #[test]
    fn an_innermost_layer_in_the_sandbox_holds_the_interpreter_start() {
        let rows = steps(&[at(250_000.0), at(180_000.0), None, None], None, at(30.0)).unwrap();
        assert_eq!(rows[1].cost_of, "Docker CLI + interpreter start + framing");
        assert_eq!(rows[1].cost_us, 179_970.0);
    }

    #[test]
    fn preloaded_imports_are_a_layer_of_their_own_above_the_exec() {
        let levels = [None, at(300_000.0), at(250_000.0), None];
        let rows = steps(&levels, at(200_000.0), at(4_000.0)).unwrap();
        let costs: Vec<(&str, f64)> = rows.iter().map(|s| (s.name.as_str(), s.cost_us)).collect();
        assert_eq!(
            costs,
            [
                ("docker:per-call", 50_000.0),
                ("api:per-call", 46_000.0),
                ("import (agent-reported)", 200_000.0),
                ("exec (agent-reported)", 4_000.0),
            ]
        );
        let sum: f64 = rows.iter().map(|s| s.cost_us).sum();
        assert_eq!(sum, 300_000.0);
    }

    #[test]
    fn negative_costs_are_shown_as_noise() {
        assert_eq!(signed_us(-3670.0), "−3.67 ms (noise)");
        assert_eq!(signed_us(1500.0), "1.50 ms");
    }

    #[test]
    fn podman_layers_put_its_cli_over_its_api() {
        let rows = steps_of(
            &PODMAN_LAYERS,
            &[None, at(500.0), at(300.0), None],
            None,
            at(30.0),
        )
        .unwrap();
        assert_eq!(rows[0].name, "cmd@podman:per-call");
        assert_eq!(
            (rows[0].cost_of.as_str(), rows[0].cost_us),
            ("Podman CLI (podman exec -i)", 200.0)
        );
        assert_eq!(
            rows[1].cost_of,
            "Engine API + container exec + interpreter start + framing"
        );
    }

    #[test]
    fn mcp_servers_sit_above_their_executor() {
        use crate::results::synthetic::{self, mcp_server, row};
        let mut r = synthetic::results(
            "compose:per-call",
            &[
                row("compose:per-call", "w", 250_000, 10),
                row("docker:per-call", "w", 180_000, 10),
                row("mcp:pc", "w", 252_000, 10),
                row("compose:persistent", "w", 300, 10),
                row("mcp:sdk", "w", 2_300, 10),
                row("mcp:other", "w", 9_000, 10),
            ],
        );
        r.settings.mcp = vec![
            mcp_server("pc", Some("compose:per-call")),
            mcp_server("sdk", Some("compose:persistent")),
            mcp_server("other", None),
        ];
        let table = waterfall_table(&r).unwrap();
        let rows: Vec<Vec<&str>> = table
            .rows
            .iter()
            .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
            .collect();
        let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
        // The server whose executor is unknown has no row.
        assert_eq!(
            names,
            [
                "mcp:pc",
                "compose:per-call",
                "docker:per-call",
                "mcp:sdk",
                "compose:persistent",
            ]
        );
        assert_eq!(rows[0][4], "MCP layer (stdio) over compose:per-call");
        // 252 ms over 250 ms, within the histogram's three significant figures.
        assert!(rows[0][3].ends_with(" ms") && rows[0][3].starts_with("1.9"));
        assert_eq!(rows[3][4], "MCP layer (stdio) over compose:persistent");
        assert_eq!(rows[3][3], "2.00 ms");
    }

    #[test]
    fn one_layer_makes_no_waterfall() {
        assert_eq!(
            steps(&[None, None, None, at(40_000.0)], None, at(30.0)),
            None
        );
    }
}
