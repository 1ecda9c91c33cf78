#!/usr/bin/env python3
"""Where a fork call's time goes, measured inside the sandbox with no harness or relay around.

Run it in the sandbox with the agent's source as its argument:

    docker compose exec -T sandbox \
        python3 -c "$(cat scripts/fork-cost.py)" "$(cat src/agent/agent.py)"

It starts the agent in `loop` and in `fork` mode (as the harness does: `python3 -u -c SOURCE
MODE`), makes CALLS calls of `result = 1 + 1` on each, back to back, every reply checked, and
prints per call: the p50, the CPU time of the agent and of the processes it reaped (the fork
children), and the page faults of both; then the machine's cost of a copy-on-write page fault
and python3's fork()+_exit()+waitpid() floor. CALLS is the second argument (default 1000).
"""

import json
import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """(utime, stime, cutime, cstime) in seconds and (minflt, cminflt) of a live process."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    times = [int(fields[i]) / HZ for i in (11, 12, 13, 14)]
    return times, (int(fields[7]), int(fields[8]))


def measure(source, mode, calls):
    agent = subprocess.Popen([sys.executable, "-u", "-c", source, mode],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    agent.stdout.readline()  # the handshake
    times, faults = stat(agent.pid)
    took = []
    for i in range(1, calls + 1):
        start = time.perf_counter_ns()
        agent.stdin.write(b'{"id": %d, "code": "result = 1 + 1"}\n' % i)
        while True:
            reply = json.loads(agent.stdout.readline())
            if "ack" not in reply:
                break
        took.append(time.perf_counter_ns() - start)
        if reply["id"] != i or reply["result"] != "2":
            raise SystemExit("wrong reply %r" % reply)
    times2, faults2 = stat(agent.pid)
    agent.stdin.close()
    agent.wait()
    took.sort()
    per = [(b - a) / calls * 1e6 for a, b in zip(times, times2)]
    flt = [(b - a) / calls for a, b in zip(faults, faults2)]
    print("%-5s p50 %7.0f µs | CPU/call: agent %5.0f µs (user %4.0f, sys %4.0f), "
          "its children %5.0f µs | page faults/call: agent %4.0f, children %4.0f"
          % (mode, took[calls // 2] / 1000, per[0] + per[1], per[0], per[1], per[2] + per[3],
             flt[0], flt[1]))


def cow_fault_us(pages=1000, rounds=20):
    """µs per copy-on-write fault: a child writes one byte in each of `pages` shared pages."""
    buf = bytearray(pages * 4096)
    for off in range(0, len(buf), 4096):
        buf[off] = 1
    took = []
    for _ in range(rounds):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            start = time.perf_counter_ns()
            for off in range(0, len(buf), 4096):
                buf[off] = 2
            os.write(w, str(time.perf_counter_ns() - start).encode())
            os._exit(0)
        os.close(w)
        took.append(int(os.read(r, 64)))
        os.close(r)
        os.waitpid(pid, 0)
    took.sort()
    return took[rounds // 2] / pages / 1000


FLOOR = """
import os, time
took = []
faults = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[8])
for _ in range(300):
    start = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    took.append(time.perf_counter_ns() - start)
faults = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[8]) - faults
took.sort()
print(took[150] / 1000, faults / 300)
"""


def fork_floor():
    """python3's fork()+_exit()+waitpid() in a fresh interpreter, as the bench measures it:
    (µs, median of 300; page faults of each child)."""
    out = subprocess.run([sys.executable, "-c", FLOOR], capture_output=True, check=True)
    took, faults = out.stdout.split()
    return float(took), float(faults)


def main():
    if len(sys.argv) < 2 or "def serve_fork" not in sys.argv[1]:
        raise SystemExit("usage: fork-cost.py AGENT_SOURCE [CALLS]")
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    for mode in ("loop", "fork"):
        measure(sys.argv[1], mode, calls)
    print("copy-on-write fault: %.1f µs a page (median of 20 children writing 1000 pages)"
          % cow_fault_us())
    print("python3 fork()+_exit()+waitpid() in a fresh interpreter: %.0f µs (median of 300), "
          "%.0f page faults in each child" % fork_floor())


main()
