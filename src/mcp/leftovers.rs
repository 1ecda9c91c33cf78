//! What a stdio MCP server leaves on the host: processes it started that still run once it has
//! exited (a kernel in the background, a daemon). Each server session is started with a mark in
//! its environment, which what it starts inherits; the harness is made their subreaper, so
//! that a process the server orphaned stays the harness's child rather than init's, and can be
//! reaped once killed.

use std::time::{Duration, Instant};

/// The environment variable that marks a session's processes.
pub(super) const MARK: &str = "SANDBOX_BENCH_MCP_SESSION";

/// A process found running after its server's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub pid: u32,
    /// Its command line, cut to a readable length.
    pub command: String,
}

/// The live processes (zombies aside) whose environment holds `MARK=mark`, after giving them
/// `grace` to end on their own.
pub(super) fn find(mark: &str, grace: Duration) -> Vec<Leftover> {
    let deadline = Instant::now() + grace;
    loop {
        let found = scan(mark);
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scan(mark: &str) -> Vec<Leftover> {
    let wanted = format!("{MARK}={mark}");
    let mut found = Vec::new();
    for pid in crate::procfs::pids() {
        if pid == std::process::id() {
            continue;
        }
        // Another user's process, or one gone meanwhile: not readable, not ours.
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
            continue;
        }
        if zombie(pid) {
            reap(pid);
            continue;
        }
        found.push(Leftover {
            pid,
            command: command_line(pid),
        });
    }
    found.sort_by_key(|l| l.pid);
    found
}

/// Whether the process has exited and waits to be reaped.
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(true)
}

fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let line = words.join(" ");
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match line.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None if line.is_empty() => "?".into(),
        None => line,
    }
}

/// Stops the leftovers still carrying `mark`: SIGTERM, then SIGKILL to what is still there a
/// moment later; each reaped when it is the harness's child. A pid is signalled only while its
/// environment still holds the mark, so a pid reused meanwhile is left alone.
pub(super) fn kill(mark: &str, leftovers: &[Leftover]) {
    let wanted: Vec<u32> = leftovers.iter().map(|l| l.pid).collect();
    let live = |m: &str| -> Vec<u32> {
        scan(m)
            .into_iter()
            .map(|l| l.pid)
            .filter(|p| wanted.contains(p))
            .collect()
    };
    for (signal, wait) in [
        (libc::SIGTERM, Duration::from_secs(2)),
        (libc::SIGKILL, Duration::from_secs(2)),
    ] {
        let pids = live(mark);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: kill(2) with a pid and a signal number changes no memory.
            unsafe {
                libc::kill(pid as libc::pid_t, signal);
            }
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && !live(mark).is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reaps `pid` if it is an exited child of the harness (a no-op otherwise).
fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: waitpid on one pid with WNOHANG writes only `status`.
    unsafe {
        libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_process_is_found_and_killed_and_others_are_not() {
        let mark = format!("test-{}", std::process::id());
        let mut marked = std::process::Command::new("sleep")
            .arg("60")
            .env(MARK, &mark)
            .spawn()
            .unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        // Right after the spawn, the new process's environ can lack the mark for a moment (once
        // in 200 runs here): look again until it shows (a bound, not a measurement).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut found = find(&mark, Duration::ZERO);
        while found.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            found = find(&mark, Duration::ZERO);
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, marked.id());
        assert_eq!(found[0].command, "sleep 60");
        kill(&mark, &found);
        // Gone, and reaped already (the wait finds no child) or now.
        assert!(!matches!(marked.try_wait(), Ok(None)));
        assert!(find(&mark, Duration::ZERO).is_empty());
        assert!(
            other.try_wait().unwrap().is_none(),
            "an unmarked process was killed"
        );
        let _ = other.kill();
        let _ = other.wait();
    }
}
