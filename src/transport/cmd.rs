//! `cmd`: any command prefix the user gives (`kubectl exec -i pod --`, `podman exec -i box`),
//! followed by `python3 -u -c AGENT MODE`. It reaches sandboxes the harness has no code for; the
//! prefix must pass stdin, stdout and stderr through unchanged, as `exec -i` commands do.

use super::Transport;

/// Runs programs behind a user-given command prefix.
pub struct Prefix {
    /// The prefix's words: a program and its first arguments.
    pub argv: Vec<String>,
    pub python: String,
}

/// Splits a `--prefix` the way a POSIX shell would, refusing an empty or badly quoted one.
pub fn parse_prefix(text: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(text).ok_or_else(|| {
        format!("--prefix '{text}': unbalanced quotes or a trailing backslash; quote it as a shell would")
    })?;
    if words.is_empty() {
        return Err(
            "--prefix is empty: give the command that runs a program in the sandbox, e.g. \
             --prefix \"kubectl exec -i my-pod --\""
                .into(),
        );
    }
    Ok(words)
}

impl Transport for Prefix {
    fn command(&self, program: &str, args: &[String]) -> duct::Expression {
        // `argv` is never empty: `parse_prefix` refuses that, and it is the only constructor used.
        let (first, rest) = self
            .argv
            .split_first()
            .map_or(("true", &[][..]), |(f, r)| (f.as_str(), r));
        let mut argv: Vec<String> = rest.to_vec();
        argv.push(program.into());
        argv.extend(args.iter().cloned());
        duct::cmd(first, argv)
    }

    fn python(&self) -> &str {
        &self.python
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_split_like_a_shell() {
        assert_eq!(
            parse_prefix("kubectl exec -i 'my pod' --").unwrap(),
            ["kubectl", "exec", "-i", "my pod", "--"]
        );
        assert_eq!(parse_prefix("env").unwrap(), ["env"]);
        assert_eq!(
            parse_prefix(r#"podman exec -i "box 1""#).unwrap(),
            ["podman", "exec", "-i", "box 1"]
        );
    }

    #[test]
    fn bad_prefixes_say_what_to_do() {
        let e = parse_prefix("docker exec -i 'oops").unwrap_err();
        assert!(e.contains("unbalanced quotes"), "{e}");
        let e = parse_prefix("   ").unwrap_err();
        assert!(e.contains("--prefix is empty"), "{e}");
    }

    #[test]
    fn the_program_follows_the_prefix() {
        let t = Prefix {
            argv: parse_prefix("env FOO=1").unwrap(),
            python: "python3".into(),
        };
        let shown = format!("{:?}", t.command("python3", &["-c".into(), "pass".into()]));
        let at = |w: &str| shown.find(w).unwrap_or_else(|| panic!("{w} in {shown}"));
        assert!(
            at("\"env\"") < at("FOO=1")
                && at("FOO=1") < at("python3")
                && at("python3") < at("pass")
        );
    }
}
