"""A reproduction of the original MCP sandbox server: one tool, `python_execute(code, input)`, on
the official MCP SDK (`mcp`, pinned by scripts/setup-mcp.sh), with the original's two executors:

- `per-call` (the original executor.py): every call is a subprocess,
  `docker compose exec -T <service> python3 -c <code>`; a new interpreter each time.
- `persistent` (executor_optimized.py): the first call starts one interpreter in the container,
  `docker compose exec -T <service> python3 -u -c <loop>`, which prints READY; each call writes
  one JSON line to its stdin and reads one JSON line from its stdout, under a lock.

The tool returns what the original returned, `{"status": "success", "stdout": ..., "stderr": ...}`
(the code's printed output); code that raises, or a call past its time limit, is a tool error.

    .venv-mcp/bin/python mcp/python_execute_server.py --executor persistent            # stdio
    .venv-mcp/bin/python mcp/python_execute_server.py --transport http --port 8765      # HTTP

HTTP listens on 127.0.0.1 only, at /mcp.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Optional

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# Extra time the server waits past a call's limit for the sandbox to report it itself.
GRACE_S = 2.0

# The persistent interpreter: one JSON request per line in, one JSON reply per line out. Each
# call runs in a fresh globals dict with its output captured; SIGALRM enforces the time limit.
LOOP = r"""
import contextlib, io, json, os, signal, sys, traceback
class CallTimeout(BaseException):
    pass
def on_alarm(signum, frame):
    raise CallTimeout()
signal.signal(signal.SIGALRM, on_alarm)
out = sys.stdout
out.write("READY %d\n" % os.getpid())
out.flush()
for line in sys.stdin:
    request = json.loads(line)
    stdout, stderr = io.StringIO(), io.StringIO()
    reply = {"ok": True}
    sys.stdin = io.StringIO(request.get("input") or "")
    try:
        signal.setitimer(signal.ITIMER_REAL, request["timeout"])
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            exec(compile(request["code"], "<code>", "exec"), {"__name__": "__main__"})
    except CallTimeout:
        reply = {"ok": False, "error": "timeout after %gs" % request["timeout"]}
    except BaseException:
        reply = {"ok": False, "error": traceback.format_exc(limit=-3)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    reply["stdout"] = stdout.getvalue()
    reply["stderr"] = stderr.getvalue()
    out.write(json.dumps(reply) + "\n")
    out.flush()
"""


def log(message: str) -> None:
    """The server's own messages go to stderr: stdout carries MCP over stdio."""
    print(f"python_execute_server: {message}", file=sys.stderr, flush=True)


class PerCallExecutor:
    """executor.py: a new `docker compose exec` and a new interpreter for every call."""

    def __init__(self, compose: list[str], service: str, timeout: float):
        self.compose, self.service, self.timeout = compose, service, timeout

    def run(self, code: str, input: Optional[str]) -> dict:
        # `timeout` inside the container kills the interpreter itself, so nothing outlives a
        # call that overran; the subprocess limit is the backstop for a stuck `docker` client.
        limit = f"{self.timeout:g}"
        argv = self.compose + ["exec", "-T", self.service,
                               "timeout", "-s", "KILL", limit, "python3", "-c", code]
        try:
            done = subprocess.run(argv, input=input or "", capture_output=True, text=True,
                                  timeout=self.timeout + GRACE_S)
        except subprocess.TimeoutExpired:
            raise ToolError(f"timeout after {limit}s (the docker client did not return)") from None
        if done.returncode == 137:
            raise ToolError(f"timeout after {limit}s (killed)\n{done.stderr[-2000:]}")
        if done.returncode != 0:
            raise ToolError(f"exit status {done.returncode}\n{done.stderr[-2000:]}")
        return {"stdout": done.stdout, "stderr": done.stderr}

    def close(self) -> None:
        pass


class PersistentExecutor:
    """executor_optimized.py: one interpreter in the container, fed JSON lines under a lock."""

    def __init__(self, compose: list[str], service: str, timeout: float):
        self.compose, self.service, self.timeout = compose, service, timeout
        self.lock = threading.Lock()
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.lines: queue.Queue = queue.Queue()
        self.restarts = 0

    def _start(self) -> None:
        argv = self.compose + ["exec", "-T", self.service, "python3", "-u", "-c", LOOP]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        first = self._next_line(30.0)
        if first is None or not first.startswith("READY "):
            stderr = self._stop()
            raise ToolError(f"the persistent interpreter did not start: {first!r} {stderr}")
        self.pid = int(first.split()[1])

    @staticmethod
    def _read(proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _next_line(self, timeout: float) -> Optional[str]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return "<timeout>"

    def _stop(self) -> str:
        """Kills the interpreter inside the container (killing the docker client does not),
        then the client; returns what it wrote on stderr."""
        proc, pid, self.proc, self.pid = self.proc, self.pid, None, None
        if proc is None:
            return ""
        if pid is not None:
            subprocess.run(self.compose + ["exec", "-T", self.service,
                                           "sh", "-c", f"kill -9 {pid}"],
                           capture_output=True, timeout=30)
        proc.kill()
        try:
            _, stderr = proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            stderr = ""
        return (stderr or "")[-2000:]

    def run(self, code: str, input: Optional[str]) -> dict:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                if self.proc is not None:
                    self._stop()
                    self.restarts += 1
                    log(f"restarting the persistent interpreter (restarts: {self.restarts})")
                self._start()
            request = {"code": code, "input": input, "timeout": self.timeout}
            try:
                self.proc.stdin.write(json.dumps(request) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                stderr = self._stop()
                raise ToolError(f"the persistent interpreter died\n{stderr}") from None
            line = self._next_line(self.timeout + GRACE_S)
            if line == "<timeout>":
                self._stop()
                raise ToolError(f"timeout after {self.timeout:g}s (interpreter killed)")
            if line is None:
                stderr = self._stop()
                raise ToolError(f"the persistent interpreter died\n{stderr}")
            reply = json.loads(line)
            if not reply["ok"]:
                raise ToolError(reply["error"] + reply["stderr"][-2000:])
            return {"stdout": reply["stdout"], "stderr": reply["stderr"]}

    def close(self) -> None:
        # Without the lock: a call stuck in the interpreter holds it.
        self._stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executor", choices=["per-call", "persistent"], default="persistent")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port on 127.0.0.1")
    parser.add_argument("--compose-file", default=None,
                        help="the Compose file of the sandbox (default: Compose's own lookup)")
    parser.add_argument("--service", default="sandbox")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    args = parser.parse_args()

    compose = ["docker", "compose"]
    if args.compose_file:
        compose += ["-f", args.compose_file]
    kind = PerCallExecutor if args.executor == "per-call" else PersistentExecutor
    executor = kind(compose, args.service, args.timeout)

    def shut_down(*_signal) -> None:
        """Stops the executor (and what runs in the container), without waiting for a call."""
        executor.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, shut_down)

    server = MCPServer("python-sandbox")

    @server.tool()
    def python_execute(code: str, input: Optional[str] = None) -> dict:
        """Execute Python code in the sandbox and return what it printed."""
        return {"status": "success", **executor.run(code, input)}

    log(f"{args.executor} executor, {args.transport} transport, pid {os.getpid()}")
    try:
        if args.transport == "stdio":
            server.run("stdio")  # returns when the client closes its input
        else:
            server.run("streamable-http", host="127.0.0.1", port=args.port)
    finally:
        shut_down()


if __name__ == "__main__":
    main()
