"""sandbox-bench kernel launcher: starts one ipykernel in the sandbox and stays its keeper.

Started as `python3 -u -c <this source> STEM [--unsigned] [--preload M,…]`, where STEM is a
path in the directory the sandbox shares with the harness (`/run/sandbox-bench/kernel-…`). It
writes the connection file STEM.json (HMAC-SHA256 with a fresh key, or none with --unsigned)
whose five channels are ZeroMQ IPC sockets STEM-ipc-1…5 (the sandbox has no network), starts
the kernel (which imports --preload's modules) in a session of its own (so an interrupt
reaches what the code forked), waits until every socket exists and the kernel has loaded its
guard (after rewriting the connection file), and announces itself with the agent's handshake
line, `pid` being the kernel's:
  {"ready": true, "protocol": 1, "python": "3.11.2", "pid": 8, "launcher": 7}
Then it waits: when its input ends (the harness let go of the kernel) or the kernel exits, it
kills the kernel's process group, removes the kernel's files and exits. The harness drives the
kernel itself, over the sockets, with the Jupyter protocol.
"""

import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

PROTOCOL = 1
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the kernel, before exec: the kernel dies with its launcher, whatever kills it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def connection(stem, signed):
    """The connection file's content: IPC channels beside the file, a fresh key if signed."""
    return {
        "transport": "ipc",
        "ip": stem + "-ipc",
        "shell_port": 1,
        "iopub_port": 2,
        "stdin_port": 3,
        "control_port": 4,
        "hb_port": 5,
        "key": secrets.token_hex(32) if signed else "",
        "signature_scheme": "hmac-sha256",
        "kernel_name": "python3",
    }


def files(stem):
    """Every file the kernel's start leaves under STEM, the mark that it is ready last."""
    return [stem + ".json"] + ["%s-ipc-%d" % (stem, n) for n in range(1, 6)] + [stem + "-ready"]


def clean(stem):
    for path in files(stem):
        try:
            os.unlink(path)
        except OSError:
            pass
    shutil.rmtree(stem + "-home", ignore_errors=True)


# An IPython extension the kernel loads at start, the agent's own guards of its channel: code
# that replaces sys.stdout (with None, say) would leave ipykernel failing on its flush after
# the cell and never replying, and text with lone surrogates (bytes decoded with
# surrogateescape) would be sent as JSON no client can read; both are repaired here, outside
# the user's namespace.
GUARD = """
import os
import sys


def _clean(write):
    def clean_write(text):
        if isinstance(text, str):
            text = text.encode("utf-8", "replace").decode("utf-8")
        return write(text)
    return clean_write


def load_ipython_extension(shell):
    streams = sys.stdout, sys.stderr
    for stream in streams:
        stream.write = _clean(stream.write)

    def restore(*_):
        sys.stdout, sys.stderr = streams

    shell.events.register("post_run_cell", restore)
    # --preload's modules, imported once before the first call as the agent imports them.
    import importlib
    error = ""
    try:
        for name in filter(None, os.environ.pop("SANDBOX_BENCH_PRELOAD", "").split(",")):
            importlib.import_module(name)
    except Exception as e:
        error = "--preload: %s: %s" % (type(e).__name__, e)
    # Extensions load after ipykernel has rewritten its connection file: the launcher waits
    # for this mark (whole, renamed into place), so the harness never reads that file half
    # written; it holds what failed, if anything did.
    mark = os.environ.pop("SANDBOX_BENCH_KERNEL_READY")
    with open(mark + ".part", "w") as f:
        f.write(error)
    os.rename(mark + ".part", mark)
"""


def main(argv):
    stem = argv[0]
    signed = "--unsigned" not in argv[1:]
    preload = argv[argv.index("--preload") + 1] if "--preload" in argv[1:] else ""
    try:
        import ipykernel  # noqa: F401  (a clear line rather than the kernel's silent exit)
    except ImportError as e:
        sys.stderr.write("no ipykernel in this Python (%s): install python3-ipykernel\n" % e)
        return 3
    old = os.umask(0o077)
    with open(stem + ".json", "w") as f:
        json.dump(connection(stem, signed), f)
    os.umask(old)
    # IPython's own files (profile, history) go beside the connection file: the sandbox's
    # root is read-only and its user has no home, and the harness removes them with the rest.
    home = stem + "-home"
    os.makedirs(home, exist_ok=True)
    # The guard's own folder: IPython does not find a module in IPYTHONDIR itself.
    lib = os.path.join(home, "lib")
    os.makedirs(lib, exist_ok=True)
    with open(os.path.join(lib, "sandbox_bench_guard.py"), "w") as f:
        f.write(GUARD)
    path = os.pathsep.join(filter(None, [lib, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, HOME=home, PYTHONPATH=path, IPYTHONDIR=home,
               JUPYTER_RUNTIME_DIR=home, JUPYTER_DATA_DIR=home, JUPYTER_CONFIG_DIR=home,
               MPLCONFIGDIR=home, SANDBOX_BENCH_KERNEL_READY=stem + "-ready",
               SANDBOX_BENCH_PRELOAD=preload)
    kernel = subprocess.Popen(
        [sys.executable, "-m", "ipykernel_launcher", "-f", stem + ".json",
         "--HistoryManager.enabled=False", "--InteractiveShell.colors=NoColor",
         "--IPKernelApp.extensions=sandbox_bench_guard"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=env, start_new_session=True, preexec_fn=die_with_parent)

    def stop(code):
        try:
            os.killpg(kernel.pid, signal.SIGKILL)
        except OSError:
            pass
        kernel.wait()
        clean(stem)
        os._exit(code)

    deadline = time.monotonic() + 60
    while not all(os.path.exists(p) for p in files(stem)):
        if kernel.poll() is not None:
            err = kernel.stderr.read().decode(errors="replace").strip().splitlines()
            why = err[-1] if err else "exit code %s" % kernel.returncode
            sys.stderr.write("the kernel exited at start: %s\n" % why)
            stop(4)
        if time.monotonic() > deadline:
            sys.stderr.write("the kernel was not ready within 60 s\n")
            stop(5)
        time.sleep(0.005)
    with open(stem + "-ready") as f:
        failed = f.read()
    if failed:
        sys.stderr.write("the kernel could not start: %s\n" % failed)
        stop(6)
    # The kernel's stderr is drained (and dropped) so that a flood cannot block it.
    threading.Thread(target=lambda: shutil.copyfileobj(kernel.stderr, open(os.devnull, "wb")),
                     daemon=True).start()
    ready = {"ready": True, "protocol": PROTOCOL, "pid": kernel.pid, "launcher": os.getpid(),
             "python": "%d.%d.%d" % sys.version_info[:3]}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    threading.Thread(target=lambda: (kernel.wait(), stop(0)), daemon=True).start()
    while sys.stdin.buffer.read(4096):
        pass
    stop(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
