"""Finds, and may kill, processes in the sandbox that no live agent answers for.

Run inside the sandbox as `python3 -c <this source> WHAT [PID]`; prints how many processes it
found. WHAT is `count` (every process but the container's own and this one), `all` (kills
those), or `orphans` (kills the trees re-parented to the container's init: what a dead agent's
calls left running; live agents are started by `docker exec` and have no parent in the
container). PID, when given, is an agent to kill first, with its process group.
"""
import os
import signal
import sys
import time


def processes():
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    cmdline = f.read()
            except (OSError, IndexError):
                continue
            if fields[0] not in (b"Z", b"X"):
                found[int(name)] = (int(fields[1]), int(fields[19]), cmdline)
    return found


INITS = (b"docker-init", b"tini", b"podman-init", b"catatonit", b"dumb-init")


def in_sandbox():
    """Whether pid 1 is a container's init wrapper or the sandbox service's own command. A
    `cmd` prefix may run this on a host, where every tree under pid 1 is the machine's own
    (daemons, shells, CI jobs): there nothing is swept. Marker files such as /.dockerenv are
    no test: some hosts are built from container images and keep one."""
    try:
        with open("/proc/1/cmdline", "rb") as f:
            init = os.path.basename(f.read().split(b"\0")[0])
    except OSError:
        return False
    return init in INITS or init == b"sleep"


def targets(what):
    if not in_sandbox():
        return []
    procs = processes()
    keep = {1, os.getpid()}
    try:
        with open("/proc/1/cmdline", "rb") as f:
            init = f.read().split(b"\0")[0]
    except OSError:
        init = b""
    # An init wrapper (Docker's docker-init is tini, Podman's podman-init is catatonit): its
    # first child is the service's command, which must outlive every sweep.
    if init.endswith(INITS):
        firsts = sorted((p for p, v in procs.items() if v[0] == 1), key=lambda p: procs[p][1])
        keep.update(firsts[:1])
    if what != "orphans":
        return [p for p in procs if p not in keep]
    # A socket server's forks are live agents even when the server is gone.
    roots = [p for p, v in procs.items() if v[0] == 1 and p not in keep
             and b"\0socket\0/run/sandbox-bench/" not in v[2]]
    children = {}
    for p, v in procs.items():
        children.setdefault(v[0], []).append(p)
    found, todo = [], roots
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def main(what, agent=None):
    if agent:
        for kill in (os.killpg, os.kill):
            try:
                kill(agent, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)  # its children are re-parented once it is gone
    found = targets(what)
    if what != "count":
        for _ in range(50):  # a fork bomb refills as it is killed: go round until it is empty
            pids = targets(what)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)
    print(len(found))


main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
