#!/usr/bin/env python3
"""The lean reference driver: the least a harness can do to get a reply from a loop agent.

One thread; for each call, a request line written to the agent's stdin and a blocking
readline on its stdout, timed with perf_counter_ns. No deadline, no poll, no request ids
checked beyond the expected result: what is left is the agent and the machine. benches/
agent_cost.rs runs it beside the harness's own driver, with the same agents, to show how much
the harness adds.

Input (stdin, JSON): {"calls": N, "warmup": W, "code": "...", "expected": "...",
                      "agents": [[argv...], ...], "driver_cpu": C or null, "agent_cpu": C or null}
The agents' calls are interleaved one by one. Output (stdout, JSON): per agent, the p50 and
p90 round trip in µs and the CPU time it used per measured call, in µs: utime + stime from
/proc/PID/stat (in clock ticks), and its time on a CPU from /proc/PID/schedstat (nanoseconds).
"""

import json
import os
import subprocess
import sys
import time

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def cpu_us(pid):
    """utime + stime of `pid` in µs, from /proc/PID/stat (fields 14 and 15, clock ticks), and
    its time on a CPU from /proc/PID/schedstat (ns; None where the kernel lacks it)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            sched = int(f.read().split()[0]) / 1000
    except (OSError, ValueError, IndexError):
        sched = None
    return (int(fields[11]) + int(fields[12])) * TICK_US, sched


def main():
    spec = json.load(sys.stdin)
    if spec.get("driver_cpu") is not None:
        os.sched_setaffinity(0, {spec["driver_cpu"]})
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        for argv in spec["agents"]
    ]
    if spec.get("agent_cpu") is not None:  # pinned as the harness pins its agents
        for p in procs:
            os.sched_setaffinity(p.pid, {spec["agent_cpu"]})
    # A buffered reader on each agent's stdout: readline blocks in read(2) until a line is in.
    files = [open(p.stdout.fileno(), "rb", closefd=False) for p in procs]
    pids = [p.pid for p in procs]
    for f in files:
        ready = json.loads(f.readline())
        assert ready.get("ready"), ready
    times = [[] for _ in procs]
    cpu_start = [(0.0, None)] * len(procs)
    total = spec["warmup"] + spec["calls"]
    expected = spec["expected"]
    for i in range(total):
        if i == spec["warmup"]:
            cpu_start = [cpu_us(pid) for pid in pids]
        for k, (p, f) in enumerate(zip(procs, files)):
            line = (json.dumps({"id": i, "code": spec["code"], "stdin": None,
                                "timeout_ms": 30000}) + "\n").encode()
            t = time.perf_counter_ns()
            p.stdin.write(line)
            reply = f.readline()
            took = time.perf_counter_ns() - t
            r = json.loads(reply)
            assert r.get("result") == expected, r
            if i >= spec["warmup"]:
                times[k].append(took / 1000)
    cpu_end = [cpu_us(pid) for pid in pids]
    for p in procs:
        p.stdin.close()
        p.wait()
    out = []
    for k, ts in enumerate(times):
        ts.sort()
        out.append({
            "p50_us": ts[len(ts) // 2],
            "p90_us": ts[int(len(ts) * 0.9)],
            "cpu_us_per_call": (cpu_end[k][0] - cpu_start[k][0]) / spec["calls"],
            "sched_us_per_call": None if cpu_end[k][1] is None or cpu_start[k][1] is None
            else (cpu_end[k][1] - cpu_start[k][1]) / spec["calls"],
            "calls": spec["calls"],
        })
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
