"""Tests of agent.py, runnable with plain python3 (`python3 src/agent/agent_selftest.py`) and
run by `cargo test`; prints 'N passed, M failed'. Kept apart from the agent, whose source is sent
to the sandbox on every start."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent  # noqa: E402

with open(agent.__file__) as _f:
    SOURCE = _f.read()
# What the harness sends for `oneshot`: the file up to the line that ends the one-shot agent.
ONESHOT_SOURCE = SOURCE.split("\n# ---- the one-shot agent ends here")[0]


def selftest():
    """Runs every check; prints 'N passed, M failed' and returns the exit status."""
    checks = []
    signal.signal(signal.SIGALRM, agent._on_alarm)

    def check(name, condition):
        checks.append((name, bool(condition)))
        if not condition:
            print("FAIL:", name, file=sys.stderr)

    r = agent.run_call({"id": 1, "code": "result = 1 + 1"})
    check("result is the repr", r["ok"] and r["result"] == "2" and r["id"] == 1)
    r = agent.run_call({"id": 2, "code": "print('hi'); import sys; print('e', file=sys.stderr)"})
    check("stdout and stderr captured", r["stdout"] == "hi\n" and r["stderr"] == "e\n")
    check("no result is null", r["result"] is None)
    r = agent.run_call({"id": 3, "code": "1 / 0"})
    check("exception reported", not r["ok"] and r["error"]["type"] == "ZeroDivisionError")
    check("traceback names the code", "<code>" in r["error"]["traceback"])
    r = agent.run_call({"id": 4, "code": "def f(:"})
    check("syntax error reported", r["error"]["type"] == "SyntaxError")
    r = agent.run_call({"id": 5, "code": "raise SystemExit(3)"})
    check("SystemExit is a call error", r["error"]["type"] == "SystemExit")
    r = agent.run_call({"id": 6, "code": "raise KeyboardInterrupt"})
    check("KeyboardInterrupt is a call error", r["error"]["type"] == "KeyboardInterrupt")
    r = agent.run_call({"id": 7, "code": "result = input() + input()", "stdin": "a\nb\n"})
    check("input() reads the call's stdin", r["result"] == "'ab'")
    r = agent.run_call({"id": 8, "code": "input()"})
    check("input() without stdin is EOF", r["error"]["type"] == "EOFError")
    out = sys.stdout
    r = agent.run_call({"id": 9, "code": "import sys; sys.stdout = None; print('lost')"})
    check("replaced sys.stdout is restored", r["ok"] and sys.stdout is out)
    agent.run_call({"id": 10, "code": "x = 5"})
    r = agent.run_call({"id": 11, "code": "result = 'x' in globals()"})
    check("each call has fresh globals", r["result"] == "False")
    r = agent.run_call({"id": 12, "code": "print('y' * (%d + 10))" % agent.OUTPUT_CAP})
    check("output capped", r["truncated"] and len(r["stdout"]) == agent.OUTPUT_CAP)
    r = agent.run_call({"id": 13, "code": "while True: pass", "timeout_ms": 200})
    check("timeout stops a loop", r["error"]["type"] == "Timeout")
    r = agent.run_call({"id": 14, "code": "print(b'\\xff'.decode('utf-8', 'surrogateescape'))"})
    check("undecodable output is escaped", r["ok"] and r["stdout"].encode("utf-8") == b"\\udcff\n")
    try:
        agent.parse_request('{"id": 1}')
        check("request without code rejected", False)
    except ValueError:
        check("request without code rejected", True)

    # End to end through the real channel: fd-1 writes and input() must not break framing.
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", SOURCE, "loop"],
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
    replies = [json.loads(proc.stdout.readline())]
    for request in ["not json"] + [json.dumps(q) for q in requests]:
        if request.startswith('{"id": 5'):  # needs the pid the call before returned
            request = request.replace("%s", replies[-1]["result"] or "0")
        proc.stdin.write(request.encode() + b"\n")
        proc.stdin.flush()
        replies.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    proc.wait(timeout=30)
    check("handshake first", replies[0]["ready"] and replies[0]["protocol"] == agent.PROTOCOL)
    check("no preload, no import time", replies[0]["import_ns"] == 0)
    check("malformed line answered", replies[1]["error"]["type"] == "ProtocolError")
    check("fd 1 write captured", replies[2]["stdout"] == "raw\n" and replies[2]["result"] == "7")
    check("input() on the channel is EOF", replies[3]["error"]["type"] == "EOFError")
    check("channel intact after", replies[4]["result"] == "'after'" and len(replies) == 9)
    check("a child left running is killed after the call", replies[6]["result"] == "'gone'")
    check("a stale thread's output is dropped", replies[8]["stdout"] == "mine\n")
    check("agent exits cleanly", proc.returncode == 0)

    def talk(args, requests):
        proc = subprocess.Popen(
            [sys.executable, "-u", "-c", SOURCE] + args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        wire = "".join(json.dumps(q) + "\n" for q in requests)
        out, _ = proc.communicate(wire.encode(), timeout=60)
        lines = [json.loads(x) for x in out.decode().splitlines()][1:]
        return [r for r in lines if "ack" not in r], proc.returncode

    leak = [{"id": 1, "code": "import sys, os, colorsys; sys.path.append('/x'); "
                              "os.environ['K'] = '1'"},
            {"id": 2, "code": "import sys, os; result = ('colorsys' in sys.modules, "
                              "'/x' in sys.path, 'K' in os.environ)"}]
    replies, code = talk(["loop"], leak)
    check("persistent keeps imports, sys.path, environ",
          replies[1]["result"] == "(True, True, True)")
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
    preloading = subprocess.Popen(
        [sys.executable, "-u", "-c", SOURCE, "oneshot", "--preload", "colorsys"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    out, _ = preloading.communicate(b"", timeout=60)
    check("the handshake says how long the preload took",
          json.loads(out.decode().splitlines()[0])["import_ns"] > 0)
    check("fork: a crash is the call's error", replies[2]["error"]["type"] == "ChildDied")
    check("fork: a hang is killed", replies[3]["error"]["type"] == "Timeout")
    check("fork: each call in its own group", replies[4]["result"] == "'own group'")
    check("fork: zygote exits cleanly", code == 0 and len(replies) == 5)
    # What a call could reach the next call through: only its reply channel and its status
    # pipe are open (no request stream, no sibling's pipe), and no other process may open
    # its fds or trace it (not dumpable; root keeps CAP_SYS_PTRACE, so that is not tried here).
    replies, code = talk(["fork"], [
        {"id": 1, "code": "import ctypes, os\nmodes = []\n"
                          "for fd in os.listdir('/proc/self/fd'):\n    try:\n"
                          "        link = os.readlink('/proc/self/fd/' + fd)\n"
                          "        if int(fd) > 2 and link[:5] == 'pipe:':\n"
                          "            info = open('/proc/self/fdinfo/' + fd).read()\n"
                          "            flags = info.split('flags:')[1].split()[0]\n"
                          "            modes.append(int(flags, 8) & 3)\n"
                          "    except OSError:\n        pass\n"
                          "result = (sorted(modes), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))"},
    ])
    check("fork: a call holds two write ends, is not dumpable",
          replies[0]["result"] == "([1, 1], 0)")
    # Protections the hot path checks cheaply: fd 1 replaced, the kept /proc/loadavg fd closed.
    replies, code = talk(["loop"], [
        {"id": 1, "code": "import os; os.dup2(os.open(os.devnull, os.O_WRONLY), 1)"},
        {"id": 2, "code": "import os; os.write(1, b'back\\n')"},
        {"id": 3, "code": "import os\nfor fd in range(3, 64):\n    try:\n"
                          "        if os.readlink('/proc/self/fd/%d' % fd) == '/proc/loadavg':\n"
                          "            os.close(fd)\n    except OSError:\n        pass\n"
                          "import subprocess; result = subprocess.Popen(['sleep', '30']).pid"},
        {"id": 4, "code": "result = 1"},
    ])
    check("fd 1 put back after a call replaced it", replies[1]["stdout"] == "back\n")
    pid = int(replies[2]["result"] or 0)
    check("a child is killed though the call closed the agent's fds", pid > 0 and _dead(pid))
    check("agent answers after", replies[3]["result"] == "1" and code == 0)

    # JSON without the json module: what the standard one reads and writes.
    for value in [{"id": 1, "code": "x = 'é\\u2028'", "stdin": None, "timeout_ms": 5},
                  {"a": [1, 2.5, True, None], "b": {"c": "\\ud83d\\ude00"}}]:
        text = json.dumps(value)
        check("reads %s" % text[:20], agent.loads(text.encode()) == json.loads(text))
    for bad in [b"not json", b'{"id": 1} x', b"", b"\xff"]:
        try:
            agent.loads(bad)
            check("malformed %r refused" % bad, False)
        except ValueError:
            check("malformed %r refused" % bad, True)
    reply = agent.run_call({"id": 7, "code": "print('é\\t\"'); result = [1]"})
    check("writes what json reads", json.loads(agent.dumps(reply)) == reply)
    check("other ids written too", json.loads(agent.dumps({"id": [1.5]})) == {"id": [1.5]})

    # The one-shot agent is the first part of the file alone, and keeps the protections.
    check("one-shot source is a part", "def serve_fork" not in ONESHOT_SOURCE
          and len(ONESHOT_SOURCE) < len(SOURCE))
    proc = subprocess.Popen([sys.executable, "-u", "-c", ONESHOT_SOURCE, "oneshot"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    wire = json.dumps({"id": 1, "code": "import os, subprocess; os.write(1, b'raw'); "
                                        "result = subprocess.Popen(['sleep', '30']).pid"})
    out, _ = proc.communicate(wire.encode() + b"\n", timeout=30)
    lines = [json.loads(x) for x in out.decode().splitlines()]
    check("one-shot handshake and reply", len(lines) == 2 and lines[0]["mode"] == "oneshot"
          and lines[1]["stdout"] == "raw" and proc.returncode == 0)
    pid = int(lines[-1].get("result") or 0)
    check("one-shot kills what the call started", pid > 0 and _dead(pid))
    preloaded = subprocess.run([sys.executable, "-c", ONESHOT_SOURCE + "\nimport sys\n"
                                "print(sorted(m for m in ('json', 're', 'enum', 'signal') "
                                "if m in sys.modules))"], capture_output=True, text=True)
    check("one-shot imports nothing a bare interpreter lacks",
          preloaded.stdout.strip() == bare_imports())

    # The socket mode: one loop connection and one oneshot connection, each its own process.
    import socket
    import tempfile

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "agent.sock")
    server = subprocess.Popen([sys.executable, "-u", "-c", SOURCE, "socket", path])
    for _ in range(200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    pids = []
    for mode, codes in (("loop", ["result = 1", "result = 2"]), ("oneshot", ["result = 3"])):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        lines = [json.dumps({"id": i, "code": c}) + "\n" for i, c in enumerate(codes)]
        wire = mode + "\n" + "".join(lines)
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


def _dead(pid, within=2.0):
    """Whether process `pid` (> 0) is gone or a zombie, allowing `within` seconds for a kill
    to land. A killed orphan stays a zombie until its new parent reaps it, so that counts."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(") ", 1)[1][0] in "ZX":
                    return True
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def bare_imports():
    """Which of the modules the agent avoids a bare interpreter has loaded on its own."""
    return subprocess.run([sys.executable, "-c", "import sys\nprint(sorted(m for m in ('json', "
                           "'re', 'enum', 'signal') if m in sys.modules))"],
                          capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(selftest())
