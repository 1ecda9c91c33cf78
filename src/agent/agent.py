"""sandbox-bench agent: runs the Python code the harness sends and replies with what happened.

Started inside the sandbox as `python3 -u -c <this source> MODE`, so nothing has to be mounted:
MODE `oneshot` answers one request and exits (the per-call strategy), `loop` answers requests
until its input ends (the persistent strategy). `python3 agent.py selftest` runs its own tests.
MODE `socket PATH` listens on a unix socket instead: each connection first sends one line naming
`oneshot` or `loop`, and a forked child serves it with fds 0 and 1 on the connection.

Protocol, one JSON object per line. First the agent announces itself:
  {"ready": true, "protocol": 1, "python": "3.11.2", "pid": 7, "mode": "loop"}
then answers each request {"id": 1, "code": "...", "stdin": null, "timeout_ms": 30000} with
  {"id": 1, "ok": true, "result": "2", "stdout": "", "stderr": "", "error": null,
   "exec_ns": 1234, "truncated": false}
where `result` is repr() of the code's `result` variable (null when unset) and `error` is
{"type", "message", "traceback"} when the code raised.
"""

import _thread
import builtins
import io
import json
import os
import signal
import sys
import time

PROTOCOL = 1
# Characters kept per stream and call; the rest is dropped and the reply is marked truncated.
OUTPUT_CAP = 1 << 20


class CallTimeout(BaseException):
    """Raised inside user code when its time is up; BaseException so `except Exception` misses it."""


class CappedWriter(io.TextIOBase):
    """A text stream that keeps at most `cap` characters."""

    def __init__(self, cap=OUTPUT_CAP):
        super().__init__()
        self.parts, self.size, self.cap, self.truncated = [], 0, cap, False

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        if Stale.current():
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
        if hasattr(os, "memfd_create"):
            self.raw = os.memfd_create("sandbox-bench-fd1", os.MFD_CLOEXEC)
        else:
            self.raw = os.open(os.devnull, os.O_RDWR)
        os.dup2(self.raw, 1)

    def send(self, message):
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.out, data) :]

    def receive(self):
        """The next request line as bytes, or None at end of input."""
        line = self.inp.readline()
        while line and not line.strip():
            line = self.inp.readline()
        return line or None

    def take_raw_output(self):
        """What was written to fd 1 since the last call, and whether it was cut."""
        os.dup2(self.raw, 1)  # the code may have closed or replaced fd 1
        try:
            size = os.fstat(self.raw).st_size
        except OSError:
            return "", False
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

    def __init__(self, ranged=False):
        if os.getsid(0) != os.getpid():
            try:
                os.setsid()
            except OSError:  # already a group leader: the harness still kills it by pid
                pass
        self.sid = os.getsid(0)
        self.seen = self.last_pid()
        # Looking only at the pids handed out since the last call keeps a persistent agent's
        # clean-up cheap when other processes come and go around it, but only where the last
        # pid of /proc/loadavg is of the namespace that /proc lists: checked once, by a fork.
        self.ranged = ranged and self._loadavg_follows_pids()

    def _loadavg_follows_pids(self):
        before = self.last_pid()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        after = self.last_pid()
        self.seen = after
        return before is not None and after is not None and int(before) < pid <= int(after)

    @staticmethod
    def last_pid():
        """The last process id the kernel handed out (in this pid namespace), or None."""
        try:
            with open("/proc/loadavg", "rb") as f:
                return f.read().split()[-1]
        except (OSError, IndexError):
            return None

    def members(self, pids=None):
        """Live processes of this session other than the agent, among `pids` (default: all)."""
        found = []
        for name in os.listdir("/proc") if pids is None else map(str, pids):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
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
        if self.ranged and self.seen is not None and now is not None:
            # Pids are handed out in increasing order: what this call started has one in
            # (seen, now], unless the counter wrapped or many were used (then scan them all).
            first, last = int(self.seen) + 1, int(now)
            if 0 < last - first + 1 <= 4096 and not self.members(range(first, last + 1)):
                self.seen = now
                return
        for _ in range(200):  # a fork bomb refills as it is killed: go round until it is empty
            members = self.members()
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.reap()
        self.reap()
        self.seen = self.last_pid()

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
    here instead of to the container's init, so `kill_descendants` still finds it."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):  # no ctypes: the session clean-up remains
        return False


def kill_descendants(keep=0):
    """Kills every process below this one except `keep` (the zygote's next child) and what is
    below it. Cheap when nothing is there: only this process's child lists are read."""
    me = os.getpid()
    for round in range(200):  # a fork bomb refills as it is killed: go round until it is empty
        kids = _children(me) - {keep}
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
                    if pid != keep and pid not in doomed:
                        doomed.add(pid)
                        todo.append(pid)
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
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
    up in a later call's output."""

    idents = set()

    @classmethod
    def note(cls):
        threading = sys.modules.get("threading")  # no call started a thread without it
        if threading is not None:
            main = threading.main_thread()
            cls.idents.update(t.ident for t in threading.enumerate() if t is not main)

    @classmethod
    def current(cls):
        return bool(cls.idents) and _thread_ident() in cls.idents


def _thread_ident():
    return _thread.get_ident()


def _on_alarm(signum, frame):
    if _timer["armed"]:
        _timer["armed"] = False
        raise CallTimeout("the call ran past its time limit")


def _clean(text):
    """Text safe to send as UTF-8 JSON: lone surrogates (undecodable bytes) become escapes."""
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
    out, err = CappedWriter(), CappedWriter()
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
            signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)
        try:
            exec(compile(code, "<code>", "exec"), namespace)
        finally:
            _timer["armed"] = False
            if timeout_ms:
                signal.setitimer(signal.ITIMER_REAL, 0)
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
    request = json.loads(line)
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


def serve(mode, preload=(), reset=False):
    become_subreaper()
    session = Session(ranged=mode == "loop")
    channel = Channel()
    signal.signal(signal.SIGALRM, _on_alarm)
    for module in preload:  # before the handshake: the start-up pays, not the first call
        __import__(module)
    version = "%d.%d.%d" % sys.version_info[:3]
    channel.send(
        {"ready": True, "protocol": PROTOCOL, "python": version, "pid": os.getpid(), "mode": mode}
    )
    if mode == "fork":
        serve_fork(channel)
        os._exit(0)
    guard = StateGuard() if reset else None
    while True:
        line = channel.receive()
        if line is None:
            break
        try:
            request = parse_request(line)
        except ValueError as exc:  # json's decode error is a ValueError too
            channel.send(error_reply(None, "ProtocolError", str(exc)))
            continue
        reply = run_call(request, channel, session)
        if guard is not None:
            guard.restore()
        channel.send(reply)
        if mode == "oneshot":
            break
    kill_descendants()
    # Skip interpreter shutdown: it would wait for threads the user's code left running.
    os._exit(0)


def serve_fork(channel):
    """The zygote: each request goes to a child forked ahead of time, which runs it and replies
    itself. The successor is forked while that child runs, off the call's critical path."""
    import gc
    import select

    gc.freeze()  # the collector then leaves the zygote's objects, and their pages, alone
    child = _Child(channel)
    while True:
        line = channel.receive()
        if line is None:
            break
        try:
            request = parse_request(line)
        except ValueError as exc:
            channel.send(error_reply(None, "ProtocolError", str(exc)))
            continue
        current = child
        try:
            current.hand_over(line)
        except OSError:  # the waiting child died (killed from outside): use a fresh one
            current.kill()
            current = _Child(channel)
            current.hand_over(line)
        channel.send({"ack": request.get("id")})  # delivered: the harness must not resend it
        child = _Child(channel)
        current.await_reply(request, channel, select)
        kill_descendants(keep=child.pid)
        _reap()
    child.kill()
    kill_descendants()
    _reap(block=True)


class _Child:
    """A forked child that waits for one request on a pipe, runs it, replies on the channel,
    then says so with one byte on its status pipe: EOF without that byte means it died."""

    def __init__(self, channel):
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
            os.setpgid(0, 0)  # its own group, so whatever the call starts dies with it
            if hasattr(os, "memfd_create"):  # its own fd-1 capture, not the zygote's
                channel.raw = os.memfd_create("sandbox-bench-fd1", os.MFD_CLOEXEC)
            # Warm up while waiting: a first run makes most of the copy-on-write page copies
            # that running a call needs, off the call's critical path.
            json.dumps(run_call({"id": 0, "code": "pass"}, channel))
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

    def kill(self):
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
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


def parse_args(argv):
    """MODE [--preload MOD,MOD] [--reset] -> (mode, preload, reset)."""
    mode, preload, reset, rest = (argv[0] if argv else ""), [], False, list(argv[1:])
    while rest:
        flag = rest.pop(0)
        if flag == "--preload" and rest:
            preload = [m for m in rest.pop(0).split(",") if m]
        elif flag == "--reset":
            reset = True
        else:
            raise SystemExit("agent: unknown argument " + flag)
    return mode, preload, reset
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


def serve_socket(path):
    """Listens on `path`; exits once the file is removed or replaced (the harness is done)."""
    import socket

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    ours = os.stat(path).st_ino
    server.listen(64)
    server.settimeout(0.5)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    become_subreaper()  # what a dead agent's calls left running comes here, and is killed
    agents = set()

    def kill_strays():
        kids = _children(os.getpid())
        agents.intersection_update(kids)
        for pid in kids - agents:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    while True:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            try:
                if os.stat(path).st_ino != ours:
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
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            conn.setblocking(True)
            try:
                mode, preload, reset = parse_args(_read_mode(conn).split())
            except SystemExit:
                os._exit(2)
            if mode not in ("oneshot", "loop", "fork"):
                os._exit(2)
            os.dup2(conn.fileno(), 0)
            os.dup2(conn.fileno(), 1)
            conn.close()
            serve(mode, preload, reset)
        conn.close()


def selftest():
    """Tests of this file alone, runnable with plain python3; prints 'N passed, M failed'."""
    import subprocess

    checks = []
    signal.signal(signal.SIGALRM, _on_alarm)

    def check(name, condition):
        checks.append((name, bool(condition)))
        if not condition:
            print("FAIL:", name, file=sys.stderr)

    r = run_call({"id": 1, "code": "result = 1 + 1"})
    check("result is the repr", r["ok"] and r["result"] == "2" and r["id"] == 1)
    r = run_call({"id": 2, "code": "print('hi'); import sys; print('e', file=sys.stderr)"})
    check("stdout and stderr captured", r["stdout"] == "hi\n" and r["stderr"] == "e\n")
    check("no result is null", r["result"] is None)
    r = run_call({"id": 3, "code": "1 / 0"})
    check("exception reported", not r["ok"] and r["error"]["type"] == "ZeroDivisionError")
    check("traceback names the code", "<code>" in r["error"]["traceback"])
    r = run_call({"id": 4, "code": "def f(:"})
    check("syntax error reported", r["error"]["type"] == "SyntaxError")
    r = run_call({"id": 5, "code": "raise SystemExit(3)"})
    check("SystemExit is a call error", r["error"]["type"] == "SystemExit")
    r = run_call({"id": 6, "code": "raise KeyboardInterrupt"})
    check("KeyboardInterrupt is a call error", r["error"]["type"] == "KeyboardInterrupt")
    r = run_call({"id": 7, "code": "result = input() + input()", "stdin": "a\nb\n"})
    check("input() reads the call's stdin", r["result"] == "'ab'")
    r = run_call({"id": 8, "code": "input()"})
    check("input() without stdin is EOF", r["error"]["type"] == "EOFError")
    out = sys.stdout
    r = run_call({"id": 9, "code": "import sys; sys.stdout = None; print('lost')"})
    check("replaced sys.stdout is restored", r["ok"] and sys.stdout is out)
    run_call({"id": 10, "code": "x = 5"})
    r = run_call({"id": 11, "code": "result = 'x' in globals()"})
    check("each call has fresh globals", r["result"] == "False")
    r = run_call({"id": 12, "code": "print('y' * (%d + 10))" % OUTPUT_CAP})
    check("output capped", r["truncated"] and len(r["stdout"]) == OUTPUT_CAP)
    r = run_call({"id": 13, "code": "while True: pass", "timeout_ms": 200})
    check("timeout stops a loop", r["error"]["type"] == "Timeout")
    r = run_call({"id": 14, "code": "print(b'\\xff'.decode('utf-8', 'surrogateescape'))"})
    check("undecodable output is escaped", r["ok"] and r["stdout"].encode("utf-8") == b"\\udcff\n")
    try:
        parse_request('{"id": 1}')
        check("request without code rejected", False)
    except ValueError:
        check("request without code rejected", True)

    # End to end through the real channel: fd-1 writes and input() must not break framing.
    agent = subprocess.Popen(
        [sys.executable, "-u", "-c", open(__file__).read(), "loop"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    requests = [
        {"id": 1, "code": "import os; os.write(1, b'raw\\n'); result = 7"},
        {"id": 2, "code": "result = input()"},
        {"id": 3, "code": "result = 'after'"},
        {"id": 4, "code": "import subprocess; result = subprocess.Popen(['sleep', '30']).pid"},
        {"id": 5, "code": "import os\ntry:\n    os.kill(%s, 0); result = 'alive'\n"
                          "except OSError:\n    result = 'gone'"},
        {"id": 6, "code": "import threading, time\n"
                          "def talk():\n    while True:\n        print('stale'); time.sleep(0.01)\n"
                          "threading.Thread(target=talk, daemon=True).start()"},
        {"id": 7, "code": "import time; time.sleep(0.1); print('mine')"},
    ]
    replies = [json.loads(agent.stdout.readline())]
    for request in ["not json"] + [json.dumps(q) for q in requests]:
        if request.startswith('{"id": 5'):  # needs the pid the call before returned
            request = request.replace("%s", replies[-1]["result"] or "0")
        agent.stdin.write(request.encode() + b"\n")
        agent.stdin.flush()
        replies.append(json.loads(agent.stdout.readline()))
    agent.stdin.close()
    agent.wait(timeout=30)
    check("handshake first", replies[0]["ready"] and replies[0]["protocol"] == PROTOCOL)
    check("malformed line answered", replies[1]["error"]["type"] == "ProtocolError")
    check("fd 1 write captured", replies[2]["stdout"] == "raw\n" and replies[2]["result"] == "7")
    check("input() on the channel is EOF", replies[3]["error"]["type"] == "EOFError")
    check("channel intact after", replies[4]["result"] == "'after'" and len(replies) == 9)
    check("a child left running is killed after the call", replies[6]["result"] == "'gone'")
    check("a stale thread's output is dropped", replies[8]["stdout"] == "mine\n")
    check("agent exits cleanly", agent.returncode == 0)

    def talk(args, requests):
        proc = subprocess.Popen(
            [sys.executable, "-u", "-c", open(__file__).read()] + args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        wire = "".join(json.dumps(q) + "\n" for q in requests)
        out, _ = proc.communicate(wire.encode(), timeout=60)
        lines = [json.loads(x) for x in out.decode().splitlines()][1:]
        return [r for r in lines if "ack" not in r], proc.returncode

    leak = [{"id": 1, "code": "import sys, os, colorsys; sys.path.append('/x'); os.environ['K'] = '1'"},
            {"id": 2, "code": "import sys, os; result = ('colorsys' in sys.modules, "
                              "'/x' in sys.path, 'K' in os.environ)"}]
    replies, code = talk(["loop"], leak)
    check("persistent keeps imports, sys.path, environ", replies[1]["result"] == "(True, True, True)")
    replies, code = talk(["loop", "--reset"], leak)
    check("reset restores them", replies[1]["result"] == "(False, False, False)" and code == 0)
    replies, code = talk(["fork", "--preload", "colorsys"], [
        {"id": 1, "code": "import sys; sys.modules['colorsys'].x = 1; result = 1"},
        {"id": 2, "code": "import sys; result = hasattr(sys.modules['colorsys'], 'x')"},
        {"id": 3, "code": "import os; os._exit(4)"},
        {"id": 4, "code": "import signal, time; signal.pthread_sigmask(signal.SIG_BLOCK, "
                          "[signal.SIGALRM]); time.sleep(30)", "timeout_ms": 200},
        {"id": 5, "code": "import os; result = os.getpid() != os.getpgid(0) or 'own group'"},
    ])
    check("fork: preloaded module inherited, nothing kept", replies[1]["result"] == "False")
    check("fork: a crash is the call's error", replies[2]["error"]["type"] == "ChildDied")
    check("fork: a hang is killed", replies[3]["error"]["type"] == "Timeout")
    check("fork: each call in its own group", replies[4]["result"] == "'own group'")
    check("fork: zygote exits cleanly", code == 0 and len(replies) == 5)
    # The socket mode: one loop connection and one oneshot connection, each its own process.
    import socket
    import tempfile

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "agent.sock")
    server = subprocess.Popen([sys.executable, "-u", "-c", open(__file__).read(), "socket", path])
    for _ in range(200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    pids = []
    for mode, codes in (("loop", ["result = 1", "result = 2"]), ("oneshot", ["result = 3"])):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        wire = mode + "\n" + "".join(json.dumps({"id": i, "code": c}) + "\n" for i, c in enumerate(codes))
        conn.sendall(wire.encode())
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.close()
        replies = [json.loads(x) for x in data.decode().splitlines()]
        pids.append(replies[0]["pid"])
        check("socket %s handshake" % mode, replies[0]["ready"] and replies[0]["mode"] == mode)
        got = [r["result"] for r in replies[1:]]
        check("socket %s replies" % mode, got == [c.split("= ")[1] for c in codes])
    check("socket connections get their own process", len(set(pids + [server.pid])) == 3)
    os.unlink(path)
    try:
        server.wait(timeout=10)
        check("socket server exits once its file is gone", server.returncode == 0)
    except subprocess.TimeoutExpired:
        server.kill()
        check("socket server exits once its file is gone", False)
    os.rmdir(folder)

    failed = sum(1 for _, ok in checks if not ok)
    print("%d passed, %d failed" % (len(checks) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["socket"] and len(sys.argv) == 3:
        sys.exit(serve_socket(sys.argv[2]))
    mode, preload, reset = parse_args(sys.argv[1:])
    if mode == "selftest":
        sys.exit(selftest())
    if mode not in ("oneshot", "loop", "fork"):
        sys.exit("usage: agent.py oneshot|loop|fork [--preload MOD,MOD] [--reset] | socket PATH "
                 "| selftest")
    serve(mode, preload, reset)
