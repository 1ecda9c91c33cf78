//! One parser per kind of value on the command line (numbers, percentages, lists, backends,
//! command prefixes, module names); each refuses bad input with a usage error naming the flag.

use crate::error::usage;
use crate::sandbox::backend::{Backend, Catalog};

/// A number above zero and at most `max`; the error says why not (clap adds the flag).
pub fn above_zero(text: &str, max: f64) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= max => Ok(x),
        _ => Err(format!(
            "'{text}' is not a number above 0 and at most {max}"
        )),
    }
}

/// A percentage from 0 to `max` (a trailing `%` allowed), as a fraction; the error says why
/// not (clap adds the flag).
pub fn percentage(text: &str, max: f64) -> Result<f64, String> {
    match text.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=max).contains(&x) => Ok(x / 100.0),
        _ => Err(format!("'{text}' is not a percentage from 0 to {max}")),
    }
}

/// The non-empty, trimmed items of a comma-separated list.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A comma-separated list of backends, without repeats, named in `catalog`.
pub fn backends(catalog: &Catalog, flag: &str, text: &str) -> anyhow::Result<Vec<Backend>> {
    catalog
        .parse_list(text)
        .map_err(|e| usage(format!("{flag}: {e}")))
}

/// One backend named in `catalog`.
pub fn backend(catalog: &Catalog, flag: &str, text: &str) -> anyhow::Result<Backend> {
    catalog
        .parse(text)
        .map_err(|e| usage(format!("{flag}: {e}")))
}

/// A command prefix, split into words as a shell would.
pub fn prefix(text: &str) -> anyhow::Result<Vec<String>> {
    crate::transport::parse_prefix(text).map_err(usage)
}

/// Python module names (`json`, `xml.etree`), comma-separated.
pub fn modules(flag: &str, text: &str) -> anyhow::Result<Vec<String>> {
    let modules = list(text);
    if let Some(bad) = modules.iter().find(|m| {
        !m.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    }) {
        return Err(usage(format!("{flag}: '{bad}' is not a module name")));
    }
    Ok(modules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_positive_and_bounded() {
        assert_eq!(above_zero("2.5", 10.0).unwrap(), 2.5);
        for bad in ["0", "-1", "abc", "inf", "NaN", "11"] {
            let e = above_zero(bad, 10.0).unwrap_err();
            assert!(
                e.starts_with(&format!("'{bad}'")) && e.contains("above 0"),
                "{e}"
            );
        }
    }

    #[test]
    fn percentages_are_checked() {
        assert_eq!(percentage("10", 1000.0).unwrap(), 0.1);
        assert_eq!(percentage("2.5%", 1000.0).unwrap(), 0.025);
        for bad in ["-1", "abc", "1001", "NaN"] {
            let e = percentage(bad, 1000.0).unwrap_err();
            assert_eq!(e, format!("'{bad}' is not a percentage from 0 to 1000"));
        }
    }

    #[test]
    fn lists_drop_blanks_and_modules_are_checked() {
        assert_eq!(list(" a, ,b,"), vec!["a", "b"]);
        assert_eq!(modules("--preload", "json, xml.etree").unwrap().len(), 2);
        let e = modules("--preload", "json,os;x").unwrap_err().to_string();
        assert!(e.contains("'os;x'"), "{e}");
    }
}
