//! Workloads: named lists of Python cases with expected results, one TOML file each in a folder.
//! Loading validates every file, so a typo is reported with its file name before anything runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One workload, as read from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: String,
    pub description: String,
    /// How many times each case runs; the cases take turns.
    pub calls: u32,
    pub cases: Vec<Case>,
    pub source: PathBuf,
}

/// One piece of code and the `repr()` of the `result` it must set.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub code: String,
    /// Empty for a `fresh` case.
    pub expected: String,
    pub stdin: Option<String>,
    /// Each answer must differ from every earlier one of the case on the same backend (the code
    /// reads a clock or random bytes): a replayed or cached answer is a wrong answer.
    pub fresh: bool,
}

/// Why a workload file or a selection of workloads cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(
        "cannot read workload folder '{0}': {1} (point --workloads-dir at the folder of *.toml files)"
    )]
    Folder(PathBuf, std::io::Error),
    #[error("no workload files (*.toml) in '{0}'")]
    Empty(PathBuf),
    #[error("workload file '{0}': {1}")]
    File(PathBuf, String),
    #[error("workloads '{first}' and '{second}' are both named '{name}': names must be unique")]
    Duplicate {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("unknown workload '{0}' (known: {1})")]
    Unknown(String, String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    name: String,
    #[serde(default)]
    description: String,
    calls: u32,
    #[serde(rename = "case")]
    cases: Vec<CaseForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseForm {
    code: String,
    expected: Option<String>,
    stdin: Option<String>,
    #[serde(default)]
    fresh: bool,
}

impl Workload {
    /// Parses one workload file's text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Self, WorkloadError> {
        let bad = |msg: String| WorkloadError::File(source.to_path_buf(), msg);
        let form: FileForm = toml::from_str(text).map_err(|e| bad(one_line(&e.to_string())))?;
        if form.name.is_empty()
            || !form
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(format!(
                "name '{}' must be letters, digits, '_' or '-'",
                form.name
            )));
        }
        if form.calls == 0 {
            return Err(bad("calls must be at least 1".into()));
        }
        if form.cases.is_empty() {
            return Err(bad("no [[case]] tables: give at least one".into()));
        }
        let mut cases = Vec::with_capacity(form.cases.len());
        for (i, c) in form.cases.into_iter().enumerate() {
            if c.code.trim().is_empty() {
                return Err(bad(format!("case {} has empty code", i + 1)));
            }
            let expected = match (c.expected, c.fresh) {
                (Some(e), false) => e,
                (None, true) => String::new(),
                (Some(_), true) => {
                    return Err(bad(format!(
                        "case {} is fresh: it has no expected answer (each must be new)",
                        i + 1
                    )));
                }
                (None, false) => {
                    return Err(bad(format!(
                        "case {}: missing field `expected` (or fresh = true)",
                        i + 1
                    )));
                }
            };
            cases.push(Case {
                code: c.code,
                expected,
                stdin: c.stdin,
                fresh: c.fresh,
            });
        }
        Ok(Workload {
            name: form.name,
            description: form.description,
            calls: form.calls,
            cases,
            source: source.to_path_buf(),
        })
    }

    /// Measured calls for a scale factor: each case `calls × scale` times (at least once).
    pub fn scaled_calls(&self, scale: f64) -> usize {
        let per_case = ((self.calls as f64) * scale).round().max(1.0) as usize;
        per_case * self.cases.len()
    }

    /// The case of the n-th call: the cases take turns.
    pub fn case(&self, n: usize) -> &Case {
        &self.cases[n % self.cases.len()]
    }
}

/// Loads every `*.toml` in `dir`, ordered by file name, refusing duplicate names.
pub fn load_dir(dir: &Path) -> Result<Vec<Workload>, WorkloadError> {
    let entries = fs::read_dir(dir).map_err(|e| WorkloadError::Folder(dir.to_path_buf(), e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(WorkloadError::Empty(dir.to_path_buf()));
    }
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut workloads = Vec::with_capacity(files.len());
    for path in files {
        let text = fs::read_to_string(&path)
            .map_err(|e| WorkloadError::File(path.clone(), e.to_string()))?;
        let workload = Workload::parse(&text, &path)?;
        if let Some(first) = seen.insert(workload.name.clone(), path.clone()) {
            return Err(WorkloadError::Duplicate {
                name: workload.name,
                first,
                second: path,
            });
        }
        workloads.push(workload);
    }
    Ok(workloads)
}

/// Keeps the named workloads, in the order given; `None` keeps all.
pub fn select(
    all: Vec<Workload>,
    names: Option<&[String]>,
) -> Result<Vec<Workload>, WorkloadError> {
    let Some(names) = names else { return Ok(all) };
    let known = || {
        all.iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|w| &w.name == n)
                .cloned()
                .ok_or_else(|| WorkloadError::Unknown(n.clone(), known()))
        })
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
calls = 3
[[case]]
code = "result = 1 + 1"
expected = "2"
[[case]]
code = "result = input()"
expected = "'x'"
stdin = "x\n"
"#;

    fn parse(text: &str) -> Result<Workload, WorkloadError> {
        Workload::parse(text, Path::new("w/demo.toml"))
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_fresh_case_has_no_expected_answer() {
        let p = Path::new("w/f.toml");
        let w = Workload::parse(
            "name = \"f\"\ncalls = 1\n[[case]]\ncode = \"result = 1\"\nfresh = true\n",
            p,
        )
        .unwrap();
        assert!(w.cases[0].fresh && w.cases[0].expected.is_empty());
        let both =
            "name = \"f\"\ncalls = 1\n[[case]]\ncode = \"x\"\nexpected = \"1\"\nfresh = true\n";
        let e = Workload::parse(both, p).unwrap_err().to_string();
        assert!(e.contains("fresh"), "{e}");
    }

    #[test]
    fn parses_cases_and_calls() {
        let w = parse(GOOD).unwrap();
        assert_eq!(w.name, "demo");
        assert_eq!(w.cases.len(), 2);
        assert_eq!(w.cases[1].stdin.as_deref(), Some("x\n"));
        assert_eq!(w.scaled_calls(1.0), 6);
        assert_eq!(w.scaled_calls(0.01), 2, "at least one call per case");
        assert_eq!(w.case(3).expected, "'x'");
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let e = error_of("name = \"a\"\ncalls = 1\n[[case]]\ncode = \"x\"\n");
        assert!(e.contains("w/demo.toml") && e.contains("expected"), "{e}");
        let e = error_of(&GOOD.replace("calls = 3", "calls = 3\nrepeat = 2"));
        assert!(e.contains("unknown field") && e.contains("repeat"), "{e}");
        let e = error_of(&GOOD.replace("result = 1 + 1", "  "));
        assert!(e.contains("case 1 has empty code"), "{e}");
        let e = error_of("name = \"a\"\ncalls = 1\n");
        assert!(e.contains("case"), "{e}");
        let e = error_of("name = \"a b\"\ncalls = 1\n[[case]]\ncode = \"x\"\nexpected = \"1\"\n");
        assert!(e.contains("name 'a b'"), "{e}");
        let e = error_of(&GOOD.replace("calls = 3", "calls = 0"));
        assert!(e.contains("at least 1"), "{e}");
        let e = error_of("name = ");
        assert!(e.contains("w/demo.toml") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn duplicate_names_and_unknown_selection_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.toml"), GOOD).unwrap();
        fs::write(dir.path().join("b.toml"), GOOD).unwrap();
        let e = load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("a.toml") && e.contains("b.toml") && e.contains("'demo'"),
            "{e}"
        );
        fs::remove_file(dir.path().join("b.toml")).unwrap();
        let all = load_dir(dir.path()).unwrap();
        let e = select(all.clone(), Some(&["nope".into()]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown workload 'nope'") && e.contains("demo"),
            "{e}"
        );
        assert_eq!(select(all, Some(&["demo".into()])).unwrap().len(), 1);
    }

    #[test]
    fn the_shipped_workloads_load_in_the_original_order() {
        let all = load_dir(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workloads")
                .as_path(),
        )
        .unwrap();
        let names: Vec<_> = all.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "simple_calc",
                "loop_calc",
                "string_ops",
                "list_comp",
                "dict_ops",
                "json_parsing",
                "mixed_workload"
            ]
        );
        let calls: Vec<_> = all.iter().map(|w| w.scaled_calls(1.0)).collect();
        assert_eq!(calls, [50, 30, 30, 30, 30, 30, 50]);
    }
}
