"""sandbox-bench agent: runs the Python code the harness sends and replies with what happened.

Started inside the sandbox as `python3 -u -c <this source> MODE`, so nothing has to be mounted:
MODE `oneshot` answers one request and exits (the per-call strategy), `loop` answers requests
until its input ends (the persistent strategy), `fork` runs each request in a child forked from
a warm zygote. MODE `socket PATH` listens on a unix socket instead: each connection first sends
one line naming the mode, and a forked child serves it with fds 0 and 1 on the connection.
The one-shot agent is the part of this file above the line that says where it ends: the harness
sends only that part for `oneshot`, so a per-call start compiles and imports little.
Tests: `python3 agent_selftest.py` (beside this file).

Protocol, one JSON object per line. First the agent announces itself:
  {"ready": true, "protocol": 1, "python": "3.11.2", "pid": 7, "mode": "loop"}
then answers each request {"id": 1, "code": "...", "stdin": null, "timeout_ms": 30000} with
  {"id": 1, "ok": true, "result": "2", "stdout": "", "stderr": "", "error": null,
   "exec_ns": 1234, "truncated": false}
where `result` is repr() of the code's `result` variable (null when unset) and `error` is
{"type", "message", "traceback"} when the code raised.
"""

# Only modules the interpreter has loaded before running any code: `json`, `signal` and
# `threading` would import `re` and `enum`, which a bare `python3 -c` does not pay for.
import _signal
import _thread
import builtins
import io
import os
import sys
import time

PROTOCOL = 1
# Characters kept per stream and call; the rest is dropped and the reply is marked truncated.
OUTPUT_CAP = 1 << 20

try:
    from _json import encode_basestring as _quote
    from _json import make_scanner as _make_scanner
except ImportError:  # a Python built without the json accelerator
    _quote = _make_scanner = None


class _JsonContext:
    """What the scanner of `_json` reads from a json.JSONDecoder: plain JSON, no hooks."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                      "-Infinity": float("-inf")}.__getitem__


_scan = _make_scanner(_JsonContext) if _make_scanner else None


def loads(data):
    """The JSON value of one UTF-8 line; raises ValueError (as json.loads does) when malformed."""
    if _scan is None:
        import json

        return json.loads(data)
    text = (data.decode("utf-8") if isinstance(data, bytes) else data).strip(" \t\r\n")
    try:
        value, end = _scan(text, 0)
    except StopIteration as stop:
        raise ValueError("Expecting value: char %d" % stop.value) from None
    if end != len(text):
        raise ValueError("Extra data: char %d" % end)
    return value


def dumps(value):
    """JSON text of a message (dicts of strings, ints, booleans and None), non-ASCII kept."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str and _quote is not None:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    if kind is dict and _quote is not None:
        return "{" + ", ".join([_quote(k) + ": " + dumps(v) for k, v in value.items()]) + "}"
    import json  # anything else (a request id of another type): the standard encoder

    return json.dumps(value, ensure_ascii=False)


class CallTimeout(BaseException):
    """Raised inside user code when its time is up (a BaseException: `except Exception` misses
    it)."""


class CappedWriter(io.TextIOBase):
    """A text stream that keeps at most `cap` characters."""

    last = None

    def __init__(self, cap=OUTPUT_CAP):
        super().__init__()
        self.parts, self.size, self.cap, self.truncated = [], 0, cap, False

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        if Stale.idents and _thread.get_ident() in Stale.idents:
            return len(s)
        room = self.cap - self.size
        kept = s if len(s) <= room else s[: max(room, 0)]
        if len(kept) < len(s):
            self.truncated = True
        if kept:
            self.parts.append(kept)
            self.size += len(kept)
        return len(s)

    def getvalue(self):
        return "".join(self.parts)

    @classmethod
    def pair(cls):
        """Empty stdout and stderr writers for a call: the last call's, unless it closed one."""
        pair = cls.last
        if pair is None or pair[0].closed or pair[1].closed:
            pair = cls.last = (cls(), cls())
        else:
            for writer in pair:
                writer.parts, writer.size, writer.truncated = [], 0, False
        return pair


class Channel:
    """The protocol's pipe ends, moved off fds 0 and 1 so that user code cannot reach them.

    Afterwards fd 0 reads /dev/null (so `input()` without stdin gets EOF) and fd 1 is a memory
    file whose content is added to the call's stdout: raw writes to fd 1 (os.write, C code, child
    processes) are captured instead of corrupting the replies.
    """

    def __init__(self):
        self.inp = os.fdopen(os.dup(0), "rb")
        self.out = os.dup(1)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.close(null)
        self.raw = self.raw_id = None
        self.capture_fd1()

    def capture_fd1(self):
        """Points fd 1 at a new memory file (/dev/null where there is none)."""
        if hasattr(os, "memfd_create"):
            self.raw = os.memfd_create("sandbox-bench-fd1", os.MFD_CLOEXEC)
        else:
            self.raw = os.open(os.devnull, os.O_RDWR)
        os.dup2(self.raw, 1)
        st = os.fstat(self.raw)
        self.raw_id = (st.st_dev, st.st_ino)

    def send(self, message):
        data = (dumps(message) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.out, data) :]

    spin_ns = 0
    poller = None

    def receive(self):
        """The next request line as bytes, or None at end of input."""
        if self.spin_ns:
            self.spin()
        line = self.inp.readline()
        while line and not line.strip():
            line = self.inp.readline()
        return line or None

    def spin(self):
        """Polls the request stream without blocking for up to `spin_ns` before the blocking
        read (`--spin-us`, a loop agent under `run --wait spin`): its CPU stays awake between
        close calls, as on a loaded machine, instead of going idle and being woken for each
        request."""
        poller = self.poller
        if poller is None:
            import select

            poller = self.poller = select.poll()
            poller.register(self.inp.fileno(), select.POLLIN)
        clock, give_way = time.perf_counter_ns, os.sched_yield
        until = clock() + self.spin_ns
        while not poller.poll(0) and clock() < until:
            # Awake, but not in the way: when the caller shares this CPU (the other one busy),
            # it needs it to send the request this loop waits for.
            give_way()

    def take_raw_output(self):
        """What was written to fd 1 since it was last taken, and whether it was cut. One fstat
        when fd 1 is still the memory file and nothing was written to it."""
        try:
            st = os.fstat(1)
        except OSError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != self.raw_id:
            os.dup2(self.raw, 1)  # the code closed or replaced fd 1
            try:
                st = os.fstat(self.raw)
            except OSError:
                return "", False
        size = st.st_size
        if size == 0:
            return "", False
        data = os.pread(self.raw, min(size, OUTPUT_CAP), 0)
        os.ftruncate(self.raw, 0)
        os.lseek(self.raw, 0, os.SEEK_SET)
        return data.decode("utf-8", "replace"), size > OUTPUT_CAP


_timer = {"armed": False}


class Session:
    """The agent leads its own session, so that every process a call starts can be found (by
    session id) and killed: after each call here, and by the harness (`kill -9 -PID`) when the
    agent itself must go. A call leaves no process behind, however its code forks or crashes.
    """

    def __init__(self):
        if os.getsid(0) != os.getpid():
            try:
                os.setsid()
            except OSError:  # already a group leader: the harness still kills it by pid
                pass
        self.sid, self.pid = os.getsid(0), os.getpid()
        self.loadavg = None
        self.seen = self.last_pid()

    def last_pid(self, again=True):
        """The last process id the kernel handed out (in this pid namespace), or None. Read
        from /proc/loadavg through an fd kept open: one pread. A call that closed or replaced
        that fd makes it unreadable or not /proc/loadavg: it is opened again."""
        try:
            if self.loadavg is None:
                self.loadavg = os.open("/proc/loadavg", os.O_RDONLY)
            fields = os.pread(self.loadavg, 256, 0).split()
            if len(fields) == 5 and b"/" in fields[3] and fields[4].isdigit():
                return fields[4]
        except OSError:
            pass
        self.loadavg = None  # not closed: that fd number may be the code's now
        return self.last_pid(False) if again else None

    def members(self, pids=None):
        """Live processes of this session other than the agent, among `pids` (default: all)."""
        found = []
        for name in os.listdir("/proc") if pids is None else map(str, pids):
            if not name.isdigit() or int(name) == self.pid:
                continue
            try:
                if os.getsid(int(name)) != self.sid:  # one syscall; /proc only for the session
                    continue
                fd = os.open("/proc/%s/stat" % name, os.O_RDONLY)
                try:
                    data = os.read(fd, 4096)
                finally:
                    os.close(fd)
                fields = data.rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] not in (b"Z", b"X") and int(fields[3]) == self.sid:
                found.append(int(name))
        return found

    def clear(self):
        """Kills what the last call left running; skipped when no process was started since."""
        now = self.last_pid()
        if now is not None and now == self.seen:
            return
        if self.started_none(now):
            self.seen = now
            return
        for _ in range(200):  # a fork bomb refills as it is killed: go round until it is empty
            members = self.members()
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, 9)  # SIGKILL
                except OSError:
                    pass
            self.reap()
        self.reap()
        self.seen = self.last_pid()

    def started_none(self, now):
        """Whether the call surely left no process (only a ranged session can tell)."""
        return False

    @staticmethod
    def reap():
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass


def become_subreaper():
    """Makes this process the reaper of its orphaned descendants (prctl PR_SET_CHILD_SUBREAPER):
    a process a call starts that forks away, calls setsid() or loses its parent is re-parented
    here instead of to the container's init, so `kill_descendants` still finds it. Also makes
    it (and every process it forks) not dumpable (PR_SET_DUMPABLE 0): another process of the
    same user can then neither open its /proc/PID/fd entries nor ptrace it, so a call cannot
    reach into a zygote's waiting children (or another agent) to plant the next call's code.
    Calls prctl through `_ctypes` alone: importing the whole `ctypes` package costs a one-shot
    start ~2 ms."""
    try:
        import _ctypes

        class Prctl(_ctypes.CFuncPtr):  # int prctl(int, unsigned long, ...): the default int
            _flags_ = _ctypes.FUNCFLAG_CDECL

        class Libc:
            _handle = _ctypes.dlopen(None, os.RTLD_NOW | os.RTLD_GLOBAL)

        prctl = Prctl(("prctl", Libc()))
        prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE: 0
        return prctl(36, 1, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):  # no ctypes: the session clean-up remains
        return False


_subreaper = {"on": False}


def _childless():
    """Whether this process has no child at all, running or exited: one wait4 call. A
    subreaper with none has no descendant either, since an orphan below it becomes its child
    (and threads share their children). An exited child found is reaped: not childless."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _started():
    """This process's start time, in clock ticks since boot (field 22 of /proc/PID/stat)."""
    with open("/proc/self/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19])


def kill_orphans(keep=()):
    """Where this process cannot be a subreaper (gVisor refuses PR_SET_CHILD_SUBREAPER), a
    process a call daemonized (forked away, setsid) is re-parented to the container's init,
    out of `kill_descendants`' reach: kills every child of init started after this agent, but
    those in `keep`. Such a process is an orphan of some call, this agent's or another's in the
    same sandbox (an agent is started from outside, parent 0, and the container's own command
    started before any agent). Done only as a user other than root, that is in a sandbox: on a
    shared host init's children are not the harness's to kill. A listing of /proc after every
    call, and each process's stat read when the listing changed: a cost the gVisor rows
    include."""
    if _subreaper["on"] or os.getuid() == 0:
        return
    # No process started or ended in the sandbox since the last look: no new orphan can be
    # there (one listing, where each process's stat costs a few trapped calls under gVisor).
    names = os.listdir("/proc")
    if names == _orphan_scan["names"]:
        return
    me, keep = os.getpid(), set(keep)
    try:
        born = _started()
    except (OSError, IndexError, ValueError):
        return
    for _ in range(200):  # a forking orphan refills as it is killed
        found = False
        for name in names:
            if not name.isdigit() or int(name) in keep or int(name) == me:
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                if fields[1] != b"1" or fields[0] in (b"Z", b"X") or int(fields[19]) < born:
                    continue
                os.kill(int(name), _signal.SIGKILL)
                found = True
            except (OSError, IndexError, ValueError):
                pass
        names = os.listdir("/proc")
        if not found:
            break
    _orphan_scan["names"] = names


_orphan_scan = {"names": None}


def kill_descendants(keep=()):
    """Kills every process below this one except those in `keep` (the zygote's waiting
    children) and what is below them, and where it is no subreaper the orphans calls left to
    the container's init. Cheap when nothing is there: one wait4 call for a subreaper with no
    child, else only this process's child lists are read."""
    _kill_tree(keep)
    kill_orphans(keep)  # after: a child killed above leaves its own children to init


def _kill_tree(keep):
    if not keep and _subreaper["on"] and _childless():
        return
    me, keep = os.getpid(), set(keep)
    for round in range(200):  # a fork bomb refills as it is killed: go round until it is empty
        kids = _children(me) - keep
        if not kids:
            return
        doomed = set(kids)
        if round >= 2:  # still refilling: kill the whole tree at once, not a level per round
            tree = {}
            for name in os.listdir("/proc"):
                try:
                    with open("/proc/%s/stat" % name, "rb") as f:
                        ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
                    tree.setdefault(ppid, []).append(int(name))
                except (OSError, IndexError, ValueError):
                    pass
            todo = list(kids)
            while todo:
                for pid in tree.get(todo.pop(), ()):
                    if pid not in keep and pid not in doomed:
                        doomed.add(pid)
                        todo.append(pid)
        for pid in doomed:
            try:
                os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        for pid in kids:  # once a child is gone, its orphans are this process's children
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _children(pid):
    """This process's children, from /proc/PID/task/*/children where the kernel has it."""
    found = set()
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as f:
                found.update(int(p) for p in f.read().split())
    except OSError:  # no such file: scan /proc for this parent
        for name in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        found.add(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return found


class Stale:
    """Threads a call left running keep going, but what they print is dropped: it must not end
    up in a later call's output. A one-shot agent has no later call: the loop modes below note
    the threads after each call."""

    idents = set()
    note = staticmethod(lambda: None)


def _on_alarm(signum, frame):
    if _timer["armed"]:
        _timer["armed"] = False
        raise CallTimeout("the call ran past its time limit")


def _clean(text):
    """Text safe to send as UTF-8 JSON: lone surrogates (undecodable bytes) become escapes."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def describe(exc):
    """The reply's error object for an exception raised by the user's code."""
    import traceback  # only paid for when a call fails

    tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # skip the agent's own frame
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<unprintable message>"
    return {
        "type": "Timeout" if isinstance(exc, CallTimeout) else type(exc).__name__,
        "message": _clean(message),
        "traceback": _clean("".join(traceback.format_exception(type(exc), exc, tb))),
    }


def run_call(request, channel=None, session=None):
    """Runs one request's code in fresh globals and builds its reply."""
    code, stdin, timeout_ms = request["code"], request.get("stdin"), request.get("timeout_ms")
    out, err = CappedWriter.pair()
    if channel is not None:
        channel.take_raw_output()  # written between calls (by a stale thread): not this call's
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin or ""), out, err
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    error, result, ended = None, None, None
    start = time.perf_counter_ns()
    try:
        if timeout_ms:
            _timer["armed"] = True
            _signal.setitimer(_signal.ITIMER_REAL, timeout_ms / 1000)
        try:
            exec(compile(code, "<code>", "exec"), namespace)
        finally:
            _timer["armed"] = False
            if timeout_ms:
                _signal.setitimer(_signal.ITIMER_REAL, 0)
            ended = time.perf_counter_ns()  # the code's time, not the clean-up's
            if session is not None:  # before the reply is built: a fork bomb starves it
                session.clear()
                kill_descendants()
        if "result" in namespace:
            result = repr(namespace["result"])
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the code's errors too
        error = describe(exc)
    exec_ns = (ended if ended is not None else time.perf_counter_ns()) - start
    Stale.note()
    sys.stdin, sys.stdout, sys.stderr = saved
    stdout, truncated = out.getvalue(), out.truncated or err.truncated
    if channel is not None:
        raw, raw_cut = channel.take_raw_output()
        if raw:
            stdout, truncated = stdout + raw, truncated or raw_cut
    if result is not None and len(result) > OUTPUT_CAP:
        result, truncated = result[:OUTPUT_CAP], True
    return {
        "id": request.get("id"),
        "ok": error is None,
        "result": None if result is None else _clean(result),
        "stdout": _clean(stdout),
        "stderr": _clean(err.getvalue()),
        "error": error,
        "exec_ns": exec_ns,
        "truncated": truncated,
    }


def parse_request(line):
    """A request dict from one line, or raises ValueError saying what is wrong."""
    request = loads(line)
    if not isinstance(request, dict) or not isinstance(request.get("code"), str):
        raise ValueError("a request is an object with a string `code`")
    if request.get("stdin") is not None and not isinstance(request["stdin"], str):
        raise ValueError("`stdin` must be a string or null")
    timeout = request.get("timeout_ms")
    if timeout is not None and (not isinstance(timeout, int) or timeout < 0):
        raise ValueError("`timeout_ms` must be a non-negative integer or null")
    return request


def error_reply(request_id, kind, message):
    """A reply for a call that produced none of its own."""
    error = {"type": kind, "message": message, "traceback": ""}
    return {"id": request_id, "ok": False, "result": None, "stdout": "", "stderr": "",
            "error": error, "exec_ns": 0, "truncated": False}


def serve_requests(channel, answer):
    """The request loop of every mode: reads lines until the input ends, answers a malformed
    one itself and hands each request to `answer(request, line)`, which returns False to stop."""
    while True:
        line = channel.receive()
        if line is None:
            return
        try:
            request = parse_request(line)
        except ValueError as exc:  # a decode error is a ValueError too
            channel.send(error_reply(None, "ProtocolError", str(exc)))
            continue
        if answer(request, line) is False:
            return


def serve(mode, preload=(), reset=False, spin_us=0):
    _subreaper["on"] = become_subreaper()
    session = RangedSession() if mode == "loop" else Session()
    channel = Channel()
    if mode == "loop":
        channel.spin_ns = spin_us * 1000
    _signal.signal(_signal.SIGALRM, _on_alarm)
    imports = time.perf_counter_ns()
    for module in preload:  # before the handshake: the start-up pays, not the first call
        __import__(module)
    imports = time.perf_counter_ns() - imports if preload else 0
    version = "%d.%d.%d" % sys.version_info[:3]
    channel.send(
        {
            "ready": True,
            "protocol": PROTOCOL,
            "python": version,
            "pid": os.getpid(),
            "mode": mode,
            "import_ns": imports,
        }
    )
    if mode == "fork":
        serve_fork(channel)
    else:
        guard = StateGuard() if reset and mode != "oneshot" else None

        def answer(request, line):
            reply = run_call(request, channel, session)
            if guard is not None:
                guard.restore()
            channel.send(reply)
            return mode != "oneshot"

        serve_requests(channel, answer)
    kill_descendants()
    # Skip interpreter shutdown: it would wait for threads the user's code left running.
    os._exit(0)


def parse_args(argv):
    """MODE [--preload MOD,MOD] [--reset] [--spin-us N] -> (mode, preload, reset, spin_us)."""
    mode, preload, reset, rest = (argv[0] if argv else ""), [], False, list(argv[1:])
    spin_us = 0
    while rest:
        flag = rest.pop(0)
        if flag == "--preload" and rest:
            preload = [m for m in rest.pop(0).split(",") if m]
        elif flag == "--reset":
            reset = True
        elif flag == "--spin-us" and rest and rest[0].isdigit():
            spin_us = min(int(rest.pop(0)), 100000)
        else:
            raise SystemExit("agent: unknown argument " + flag)
    return mode, preload, reset, spin_us


if __name__ == "__main__" and sys.argv[1:2] == ["oneshot"]:
    serve(*parse_args(sys.argv[1:]))
# ---- the one-shot agent ends here; below: the loop, fork, reset and socket modes ----


class RangedSession(Session):
    """A persistent agent's session: its clean-up looks only at the pids handed out since the
    last call, cheap when other processes come and go around it, but only where the last pid
    of /proc/loadavg is of the namespace that /proc lists: checked once, by a fork."""

    def __init__(self):
        super().__init__()
        before = self.last_pid()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        self.seen = after = self.last_pid()
        self.ranged = before is not None and after is not None and int(before) < pid <= int(after)

    def started_none(self, now):
        if not self.ranged or self.seen is None or now is None:
            return False
        # Pids are handed out in increasing order: what this call started has one in
        # (seen, now], unless the counter wrapped or many were used (then scan them all).
        first, last = int(self.seen) + 1, int(now)
        return 0 < last - first + 1 <= 4096 and not self.members(range(first, last + 1))


def _note_stale_threads():
    if not _thread._count():  # no thread but the main one is running
        return
    threading = sys.modules.get("threading")  # no call started a thread without it
    if threading is not None:
        main = threading.main_thread()
        Stale.idents.update(t.ident for t in threading.enumerate() if t is not main)


Stale.note = staticmethod(_note_stale_threads)


class StateGuard:
    """For the reset strategy: what a call may change in the interpreter, put back after it."""

    def __init__(self):
        self.path, self.modules = list(sys.path), set(sys.modules)
        self.environ, self.cwd = dict(os.environ), os.getcwd()

    def restore(self):
        sys.path[:] = self.path
        for name in set(sys.modules) - self.modules:
            del sys.modules[name]
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        try:
            os.chdir(self.cwd)
        except OSError:
            pass


def serve_fork(channel):
    """The zygote: each request goes to a child forked ahead of time, which runs it and replies
    itself. Two children wait, warmed up; a successor is forked once the reply is out, so that
    neither the fork nor the warm-up competes with a call for the CPU."""
    import gc
    import select

    gc.freeze()  # the collector then leaves the zygote's objects, and their pages, alone
    waiting = []
    waiting.append(_Child(channel, waiting))
    waiting.append(_Child(channel, waiting))

    def answer(request, line):
        current = waiting.pop(0)
        try:
            current.hand_over(line)
        except OSError:  # the waiting child died (killed from outside): use a fresh one
            current.kill()
            current.close_pipes()
            current = _Child(channel, waiting)
            current.hand_over(line)
        channel.send({"ack": request.get("id")})  # delivered: the harness must not resend it
        current.await_reply(request, channel, select)
        kill_descendants(keep=[child.pid for child in waiting])
        waiting.append(_Child(channel, waiting))
        _reap()

    serve_requests(channel, answer)
    for child in waiting:
        child.kill()
    kill_descendants()
    _reap(block=True)


class _Child:
    """A forked child that waits for one request on a pipe, runs it, replies on the channel,
    then says so with one byte on its status pipe: EOF without that byte means it died."""

    def __init__(self, channel, siblings=()):
        handover_r, self.handover = os.pipe()
        self.status, status_w = os.pipe()
        self.pid = os.fork()
        if self.pid:
            os.close(handover_r)
            os.close(status_w)
            return
        try:
            os.close(self.handover)
            os.close(self.status)
            # What the zygote holds and a call must not: the request stream (a call could
            # write the next requests into it) and the other waiting children's pipes (it
            # could hand them its own code, or fake their replies' status).
            channel.inp.close()
            for sibling in siblings:
                sibling.close_pipes()
            os.setpgid(0, 0)  # its own group, so whatever the call starts dies with it
            channel.capture_fd1()  # its own fd-1 capture, not the zygote's
            # Warm up while waiting: a first run makes most of the copy-on-write page copies
            # that running a call needs, off the call's critical path.
            dumps(run_call({"id": 0, "code": "pass"}, channel))
            with os.fdopen(handover_r, "rb") as handover:
                line = handover.readline()
            if line:
                channel.send(run_call(parse_request(line), channel))
                os.write(status_w, b"1")
        finally:
            os._exit(0)

    def hand_over(self, line):
        while line:
            line = line[os.write(self.handover, line) :]
        os.close(self.handover)

    def await_reply(self, request, channel, select):
        """Waits for the reply (or death, or the time limit), then kills the child's group: no
        process of a call outlives it, and its exit does not hold up the next call."""
        timeout_ms = request.get("timeout_ms")
        limit = None if timeout_ms is None else timeout_ms / 1000 + 1.0
        ready, _, _ = select.select([self.status], [], [], limit)
        replied = bool(ready) and os.read(self.status, 1) == b"1"
        os.close(self.status)
        self.kill()
        if replied:
            return
        status = os.waitpid(self.pid, 0)[1]
        if not ready:
            message = "the call ran past its time limit; its process was killed"
            channel.send(error_reply(request["id"], "Timeout", message))
            return
        if os.WIFSIGNALED(status):
            how = "was killed by signal %d" % os.WTERMSIG(status)
        else:
            how = "exited with code %d" % os.WEXITSTATUS(status)
        channel.send(error_reply(request["id"], "ChildDied", "the call's process %s" % how))

    def close_pipes(self):
        """Closes this process's ends of the child's hand-over and status pipes."""
        for fd in (self.handover, self.status):
            try:
                os.close(fd)
            except OSError:
                pass

    def kill(self):
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, 9)  # SIGKILL
            except OSError:
                pass


def _reap(block=False):
    """Collects the exit status of finished children, so none stays a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_mode(conn):
    """The connection's first line (the mode and its options), read a byte at a time so
    nothing after it is consumed."""
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        byte = conn.recv(1)
        if not byte:
            break
        data += byte
    return data.decode("ascii", "replace").strip()


def _socket_id(path):
    """The socket file's inode. gVisor refuses to stat a host socket (EPERM), so there it is
    the inode its directory entry gives."""
    try:
        return os.stat(path).st_ino
    except PermissionError:
        name = os.path.basename(path)
        with os.scandir(os.path.dirname(path) or ".") as entries:
            for entry in entries:
                if entry.name == name:
                    return ("entry", entry.inode())
        raise FileNotFoundError(path) from None


def serve_socket(path):
    """Listens on `path`; exits once the file is removed or replaced (the harness is done)."""
    import socket

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    ours = _socket_id(path)
    server.listen(64)
    server.settimeout(0.5)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)  # children are reaped by the kernel
    become_subreaper()  # what a dead agent's calls left running comes here, and is killed
    agents = set()

    def kill_strays():
        kids = _children(os.getpid())
        agents.intersection_update(kids)
        for pid in kids - agents:
            try:
                os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass

    while True:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            try:
                if _socket_id(path) != ours:
                    return
            except OSError:
                return
            kill_strays()
            continue
        for _ in range(100):  # a dead agent's fork bomb may hold every pid for a moment
            try:
                pid = os.fork()
                break
            except OSError:
                kill_strays()
                time.sleep(0.02)
        else:
            conn.close()
            continue
        if pid:
            agents.add(pid)
        else:
            server.close()
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            conn.setblocking(True)
            try:
                mode, preload, reset, spin_us = parse_args(_read_mode(conn).split())
            except SystemExit:
                os._exit(2)
            if mode not in ("oneshot", "loop", "fork"):
                os._exit(2)
            os.dup2(conn.fileno(), 0)
            os.dup2(conn.fileno(), 1)
            conn.close()
            serve(mode, preload, reset, spin_us)
        conn.close()


def main(argv):
    if argv[:1] == ["socket"] and len(argv) == 2:
        return serve_socket(argv[1])
    mode, preload, reset, spin_us = parse_args(argv)
    if mode not in ("oneshot", "loop", "fork"):
        return (
            "usage: agent.py oneshot|loop|fork [--preload MOD,MOD] [--reset] [--spin-us N]"
            " | socket PATH"
        )
    serve(mode, preload, reset, spin_us)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
