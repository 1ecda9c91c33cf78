//! Every `sandbox-bench …` command line shown in README.md and docs/ must still parse with the
//! real command-line definition, so the documentation cannot drift from the flags.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Prefixes after which a shown command line is sandbox-bench's own arguments.
const PREFIXES: [&str; 3] = [
    "sandbox-bench ",
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

/// The arguments after the program name, if `text` is a sandbox-bench command line.
fn arguments(text: &str) -> Option<String> {
    let text = text.trim().trim_start_matches("$ ");
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

/// The words of a command line up to a comment, pipe or redirection.
fn words(args: &str) -> Vec<String> {
    let words = shlex::split(args).unwrap_or_else(|| panic!("unbalanced quotes: {args}"));
    words
        .into_iter()
        .take_while(|w| !w.starts_with('#') && !["|", "&&", ">", "2>", ";"].contains(&w.as_str()))
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

#[test]
fn every_command_line_in_the_docs_parses() {
    let definition = sandbox_bench::cli::definition();
    let subcommands: Vec<String> = definition
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, args) in command_lines(&text, &subcommands) {
            let argv = std::iter::once("sandbox-bench".to_string()).chain(words(&args));
            checked += 1;
            let parsed = definition.clone().try_get_matches_from(argv);
            if let Err(e) = parsed.as_ref().map(drop).or_else(shown_help) {
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                let name = path
                    .strip_prefix(ROOT)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                failures.push(format!("{name}:{line}: sandbox-bench {args}\n    {first}"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} command lines found");
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
    let parse = |args: &str| {
        let argv = std::iter::once("sandbox-bench".to_string()).chain(words(args));
        definition.clone().try_get_matches_from(argv)
    };
    assert!(parse(&lines[0].1).is_err());
    assert!(parse(&lines[1].1).is_ok());
}
