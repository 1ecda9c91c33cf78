//! The host's processes, as /proc shows them.

/// The pids /proc lists now (a process that ends meanwhile may still be among them).
pub fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// A process's pid in its innermost pid namespace (the last field of its `NSpid` line); `None`
/// when it is gone.
pub fn inner_pid(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_listed_under_its_own_pid() {
        let me = std::process::id();
        assert!(pids().contains(&me));
        // The tests run in the host's pid namespace, or in one of their own: either way the
        // innermost pid is the one this process sees for itself.
        assert_eq!(inner_pid(me), Some(me));
        assert_eq!(inner_pid(u32::MAX), None);
    }
}
