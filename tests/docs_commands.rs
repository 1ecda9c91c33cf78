//! Every `sandbox-bench …` command line shown in README.md and docs/ must still parse with the
//! real command-line definition, and name only backends the backend catalog accepts and
//! workloads that exist, so the documentation cannot drift from the flags or the names.

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use sandbox_bench::bench::workload;
use sandbox_bench::mcp::{Answer, McpServer};
use sandbox_bench::sandbox::backend::{Catalog, McpBackend};
use sandbox_bench::sandbox::profile::{self, Profile};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Prefixes after which a shown command line is sandbox-bench's own arguments.
const PREFIXES: [&str; 5] = [
    "sandbox-bench ",
    "target/release/sandbox-bench ",
    "./target/release/sandbox-bench ",
    "cargo run --release -- ",
    "cargo run --release --quiet -- ",
];

fn documents() -> Vec<PathBuf> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Whether `word` sets an environment variable for the command after it (`PATH=…`).
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The arguments after the program name, if `text` is a sandbox-bench command line (after a
/// prompt and any environment assignments).
fn arguments(text: &str) -> Option<String> {
    let mut text = text.trim().trim_start_matches("$ ");
    while let Some((first, rest)) = text.split_once(' ')
        && is_assignment(first)
    {
        text = rest.trim_start();
    }
    PREFIXES
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .map(str::to_string)
}

/// Command lines in fenced code blocks (continuation lines joined), and inline code spans
/// that start with `sandbox-bench <subcommand>`.
fn command_lines(text: &str, subcommands: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_block = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            let (n, joined) = match pending.take() {
                Some((n, head)) => (n, format!("{head} {}", line.trim())),
                None => (i + 1, line.to_string()),
            };
            if let Some(stripped) = joined.strip_suffix('\\') {
                pending = Some((n, stripped.trim_end().to_string()));
            } else if let Some(args) = arguments(&joined) {
                found.push((n, args));
            }
            continue;
        }
        for (k, span) in line.split('`').enumerate() {
            if k % 2 == 1
                && let Some(args) = arguments(span)
                && subcommands
                    .iter()
                    .any(|s| args.split(' ').next() == Some(s))
            {
                found.push((i + 1, args));
            }
        }
    }
    found
}

/// The words of a command line up to a comment, pipe, redirection or `&`.
fn words(args: &str) -> Vec<String> {
    let words = shlex::split(args).unwrap_or_else(|| panic!("unbalanced quotes: {args}"));
    words
        .into_iter()
        .take_while(|w| {
            !w.starts_with('#') && !["|", "&&", "&", ">", "2>", ";"].contains(&w.as_str())
        })
        .collect()
}

/// `--help` and `--version` end parsing with a message, not a failure.
fn shown_help(e: &clap::Error) -> Result<(), &clap::Error> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Ok(()),
        _ => Err(e),
    }
}

/// A flag's value, when the subcommand has that flag and it was given (or has a default).
fn value<T: Clone + Send + Sync + 'static>(m: &ArgMatches, id: &str) -> Option<T> {
    m.try_get_one::<T>(id).ok().flatten().cloned()
}

/// A repeatable flag's values.
fn values(m: &ArgMatches, id: &str) -> Vec<String> {
    m.try_get_many::<String>(id)
        .ok()
        .flatten()
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

/// The file a `--profiles FILE` names: in the repository, or else shown in the same document
/// as a `toml` block whose first line is `# FILE`.
fn profiles_file(name: &Path, document: &str) -> Result<PathBuf, String> {
    let in_repo = Path::new(ROOT).join(name);
    if in_repo.exists() {
        return Ok(in_repo);
    }
    let header = format!("# {}", name.display());
    let mut lines = document.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```toml")
            && lines.clone().next().map(str::trim) == Some(header.as_str())
        {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.trim_start().starts_with("```"))
                .collect();
            let file = std::env::temp_dir().join(format!(
                "docs-commands-{}-{}",
                std::process::id(),
                name.file_name().unwrap().to_string_lossy()
            ));
            std::fs::write(&file, body.join("\n")).map_err(|e| e.to_string())?;
            return Ok(file);
        }
    }
    Err(format!(
        "--profiles {}: no such file, and no ```toml block starting with `{header}` in the same page",
        name.display()
    ))
}

/// The backend catalog a parsed command line reads its names against, built as the binary
/// builds it: the built-in profiles, `--profiles`, `--profile`, then the `--mcp` servers.
fn catalog(m: &ArgMatches, document: &str) -> Result<Catalog, String> {
    let compose_file: PathBuf =
        value(m, "compose_file").unwrap_or_else(|| "docker-compose.yml".into());
    let service: String = value(m, "service").unwrap_or_else(|| "sandbox".into());
    let mut extra = Vec::new();
    if let Some(file) = value::<PathBuf>(m, "profile_file") {
        let path = profiles_file(&file, document)?;
        extra = profile::read_file(&path, &compose_file, &service)
            .map_err(|e| format!("--profiles: {e}"))?;
    }
    for text in values(m, "profiles") {
        extra.push(
            Profile::parse(&text, &compose_file, &service)
                .map_err(|e| format!("--profile: {e}"))?,
        );
    }
    let mut catalog = Catalog::new(&compose_file, &service, extra)?;
    let tool: String = value(m, "mcp_tool").unwrap_or_else(|| "python_execute".into());
    let code_arg: String = value(m, "mcp_code_arg").unwrap_or_else(|| "code".into());
    for spec in values(m, "mcp") {
        let server = McpServer::parse(&spec, &tool, &code_arg, Answer::Print)
            .map_err(|e| format!("--mcp: {e}"))?;
        catalog.mcp.push(McpBackend {
            server: server.into(),
            over: None,
        });
    }
    Ok(catalog)
}

/// Whether a shown value is a placeholder in prose (`--backend B`, `--backends LIST`), not a
/// name: capital letters only.
fn placeholder(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_uppercase())
}

/// A flag's value, unless it is a placeholder.
fn name<T: Clone + Send + Sync + 'static + AsRef<str>>(m: &ArgMatches, id: &str) -> Option<T> {
    value::<T>(m, id).filter(|v| !placeholder(v.as_ref()))
}

/// The backend and workload names of a parsed command line, checked against the catalog and
/// the workload folder it names.
fn names_known(m: &ArgMatches, document: &str) -> Result<(), String> {
    let catalog = catalog(m, document)?;
    if let Some(list) = name::<String>(m, "backends") {
        catalog
            .parse_list(&list)
            .map_err(|e| format!("--backends: {e}"))?;
    }
    if let Some(b) = name::<String>(m, "baseline") {
        catalog.parse(&b).map_err(|e| format!("--baseline: {e}"))?;
    }
    if let Some(b) = name::<String>(m, "backend") {
        catalog
            .parse_sandbox(&b)
            .map_err(|e| format!("--backend: {e}"))?;
    }
    for spec in values(m, "mcp_over") {
        let (_, b) = spec
            .split_once('=')
            .ok_or_else(|| format!("--mcp-over: '{spec}': write NAME=BACKEND"))?;
        catalog
            .parse_sandbox(b)
            .map_err(|e| format!("--mcp-over: {e}"))?;
    }
    if let Some(dir) = value::<PathBuf>(m, "workloads_dir") {
        let all = workload::load_dir(&Path::new(ROOT).join(&dir)).map_err(|e| e.to_string())?;
        if let Some(list) = name::<String>(m, "workloads") {
            let names: Vec<String> = list
                .split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            workload::select(all, Some(&names)).map_err(|e| format!("--workloads: {e}"))?;
        }
    }
    Ok(())
}

/// Why a shown command line would be refused, if it would be: its flags, or the backend and
/// workload names it gives.
fn refusal(definition: &clap::Command, args: &str, document: &str) -> Option<String> {
    let argv = std::iter::once("sandbox-bench".to_string()).chain(words(args));
    match definition.clone().try_get_matches_from(argv) {
        Ok(matches) => {
            let (_, sub) = matches.subcommand()?;
            names_known(sub, document).err()
        }
        Err(e) => shown_help(&e)
            .err()
            .map(|e| e.to_string().lines().next().unwrap_or("").to_string()),
    }
}

#[test]
fn every_command_line_in_the_docs_is_accepted() {
    let definition = sandbox_bench::cli::definition();
    let subcommands: Vec<String> = definition
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut checked = 0;
    let mut named = 0;
    let mut failures = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, args) in command_lines(&text, &subcommands) {
            checked += 1;
            if args.contains("--backends") || args.contains("--workloads ") {
                named += 1;
            }
            if let Some(why) = refusal(&definition, &args, &text) {
                let name = path
                    .strip_prefix(ROOT)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                failures.push(format!("{name}:{line}: sandbox-bench {args}\n    {why}"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} command lines found");
    assert!(
        named >= 20,
        "only {named} command lines name backends or workloads"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_changed_flag_is_caught() {
    let definition = sandbox_bench::cli::definition();
    let subcommands = vec!["run".to_string()];
    let text =
        "```sh\nsandbox-bench run --no-such-flag \\\n  --quiet\n```\n`sandbox-bench run -q`\n";
    let lines = command_lines(text, &subcommands);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], (2, "run --no-such-flag --quiet".to_string()));
    assert!(refusal(&definition, &lines[0].1, text).is_some());
    assert_eq!(refusal(&definition, &lines[1].1, text), None);
}

#[test]
fn an_unknown_backend_or_workload_is_caught() {
    let definition = sandbox_bench::cli::definition();
    let refused = |args: &str| refusal(&definition, args, "");
    assert_eq!(refused("run --backends compose@podman:per-call"), None);
    assert!(refused("run --backends podman:per-call").is_some());
    assert!(refused("faults --backends compose:sometimes").is_some());
    assert!(refused("run --backends compose@nowhere:persistent").is_some());
    assert_eq!(
        refused("run --profile alt:image=x --backends compose@alt:persistent"),
        None
    );
    assert!(refused("run --baseline local:never").is_some());
    assert!(refused("serve --backend mcp:sdk").is_some());
    assert_eq!(refused("serve --backend B"), None, "a placeholder in prose");
    assert!(refused("serve --backend b").is_some());
    assert!(refused("run --backends compose:persistent,B").is_some());
    assert!(refused("run --backends mcp:sdk").is_some());
    assert_eq!(refused("run --mcp sdk=server --backends mcp:sdk"), None);
    assert_eq!(refused("run --workloads simple_calc,dict_ops"), None);
    assert!(refused("run --workloads simple_calc,no_such_workload").is_some());
    assert_eq!(
        refused("run --workloads-dir workloads/hostile --workloads daemonize"),
        None
    );
    assert!(refused("run --workloads-dir workloads/hostile --workloads simple_calc").is_some());
    assert!(refused("soak --workloads-dir no/such/dir").is_some());
}

#[test]
fn release_binary_lines_and_environment_are_read() {
    let subcommands = vec!["run".to_string()];
    let text = "```console\n$ PATH=/opt/py/bin:$PATH ./target/release/sandbox-bench run \\\n    --backends local:never\ntarget/release/sandbox-bench list\n```\n";
    let lines = command_lines(text, &subcommands);
    assert_eq!(
        lines,
        vec![
            (2, "run --backends local:never".to_string()),
            (4, "list".to_string())
        ]
    );
    let definition = sandbox_bench::cli::definition();
    assert!(refusal(&definition, &lines[0].1, text).is_some());
}

#[test]
fn a_profiles_file_shown_in_the_page_is_read() {
    let definition = sandbox_bench::cli::definition();
    let page = "```toml\n# shown.toml\n[profiles.gv]\nruntime = \"runsc\"\n```\n";
    let args = "run --profiles shown.toml --backends compose@gv:persistent";
    assert_eq!(refusal(&definition, args, page), None);
    let args = "run --profiles shown.toml --backends compose@other:persistent";
    assert!(refusal(&definition, args, page).is_some());
    assert!(refusal(&definition, args, "").is_some());
}
