#!/usr/bin/env python3
"""Checks an isolation_results.json against the matrix the README's "which strategy" table
promises: each backend's outcome for each probe must be the one expected, so a cell that
changes (a fork zygote that lets a call plant the next call's code, a per-call interpreter that
keeps state) fails CI. Exits 1 naming every cell that differs."""

import json
import sys

# What each kind of backend lets through on the Compose sandbox; every probe not named is
# isolated. The container's /tmp is shared by every executor that is not a container per call.
LEAKS = {
    "compose:per-call": {"tmp_file"},
    "compose:fork": {"tmp_file"},
    "compose:persistent": {
        "import", "sys_path", "builtin_monkeypatch", "os_environ", "tmp_file",
        "module_memory", "planted_call",
    },
}


def differences(results):
    found = []
    outcomes = {(o["backend"], o["probe"]): o["outcome"] for o in results["outcomes"]}
    probes = sorted({probe for _, probe in outcomes})
    for backend, leaks in LEAKS.items():
        for probe in probes:
            expected = "leaks" if probe in leaks else "isolated"
            got = outcomes.get((backend, probe))
            if got != expected:
                found.append("%s x %s: %s, expected %s" % (backend, probe, got, expected))
    if not probes:
        found.append("no outcomes")
    return found


def main():
    if len(sys.argv) != 2:
        print("usage: check-isolation.py ISOLATION_RESULTS.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        found = differences(json.load(f))
    for line in found:
        print("check-isolation: " + line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
