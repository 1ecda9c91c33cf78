#!/usr/bin/env bash
# Prepare Podman for sandbox-bench's @podman backends on Debian (run as root, after
# scripts/setup-docker.sh, whose image it copies). Idempotent: a second run changes nothing.
#
#   1. installs podman (and catatonit, the init of `init: true`) and crun with apt if missing
#   2. writes the open-files and process limits into a containers.conf drop-in: without them
#      runc fails on these machines with "error setting rlimit type 7: operation not permitted";
#      the same drop-in keeps runc the default runtime (Podman would take crun once installed:
#      the built-in `podman` profile stays what it was, crun is a profile's choice)
#   3. copies the sandbox image from Docker (`docker save | podman load`) unless Podman has the
#      same image already
#   4. starts `podman system service` on $SOCKET (Docker-compatible API) unless one answers
#      there; its pid is kept in $SANDBOX_BENCH_PODMAN_STATE so that scripts/stop-podman.sh
#      stops only a service this script started
#   5. checks that a container with the sandbox's walls starts, on runc and on crun, and
#      starts a second service on $CRUN_SOCKET whose default runtime is crun (Podman's
#      Docker-compatible API ignores a container's runtime: profiles with runtime=crun go there)
#
# Progress goes to stderr; one summary line goes to stdout.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${SANDBOX_BENCH_PODMAN_STATE:-/tmp/sandbox-bench-podman}
PID_FILE=$STATE_DIR/service.pid
SERVICE_LOG=${SANDBOX_BENCH_PODMAN_LOG:-/var/log/sandbox-bench-podman.log}
SOCKET=/run/podman/podman.sock
CONF=/etc/containers/containers.conf.d/sandbox-bench.conf
WAIT_SECONDS=30

log() { echo "setup-podman: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
command -v docker >/dev/null 2>&1 || die "no docker client: run scripts/setup-docker.sh first"

# The image the Compose file names, as scripts/setup-docker.sh chose it.
image=${SANDBOX_IMAGE:-}
if [[ -z $image && -f $REPO_DIR/.env ]]; then
    image=$(sed -n 's/^SANDBOX_IMAGE=//p' "$REPO_DIR/.env" | tail -n 1)
fi
image=${image:-python:3.12-slim}

# --- 1. packages ----------------------------------------------------------
if ! command -v podman >/dev/null 2>&1 || [[ ! -x /usr/libexec/podman/catatonit ]] ||
    ! command -v crun >/dev/null 2>&1; then
    log "installing podman, catatonit and crun with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q podman catatonit crun >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q podman catatonit crun >&2; }
fi
podman_version=$(podman version --format '{{.Client.Version}}')
# crun refuses hybrid cgroups with a controller left in cgroup2: move it to v1 (see the script).
bash "$REPO_DIR/scripts/crun-cgroups.sh"

# --- 2. limits ------------------------------------------------------------
want='[containers]
# sandbox-bench (scripts/setup-podman.sh): runc cannot raise these limits here by itself
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
# sandbox-bench: the default runtime stays runc; a profile chooses crun (runtime=crun)
runtime = "runc"'
if [[ $(cat "$CONF" 2>/dev/null) != "$want" ]]; then
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$want" >"$CONF.tmp"
    mv -f "$CONF.tmp" "$CONF"
    log "wrote $CONF (nofile and nproc limits, runc the default runtime)"
    # A running service read the old configuration: have it restarted below.
    restart=yes
fi

# --- 3. image -------------------------------------------------------------
docker_id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) ||
    die "Docker has no image $image: run scripts/setup-docker.sh first"
podman_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
if [[ ${docker_id#sha256:} == "${podman_id#sha256:}" ]]; then
    log "image $image present"
else
    log "copying $image from Docker (docker save | podman load)"
    docker save "$image" | podman load -q >&2
fi

# --- 4. services ----------------------------------------------------------
# Podman's Docker-compatible API runs every container under its service's default runtime,
# whatever the container asks for: crun gets a service of its own, whose containers.conf makes
# crun the default (sandbox profiles with engine=podman,runtime=crun go there).
CRUN_SOCKET=/run/podman/podman-crun.sock
CRUN_CONF=/etc/containers/sandbox-bench-crun.conf
CRUN_PID_FILE=$STATE_DIR/service-crun.pid
want_crun='[containers]
# sandbox-bench (scripts/setup-podman.sh): runc cannot raise these limits here by itself
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
# sandbox-bench: the crun service (CONTAINERS_CONF of the service on /run/podman/podman-crun.sock)
runtime = "crun"'
if [[ $(cat "$CRUN_CONF" 2>/dev/null) != "$want_crun" ]]; then
    printf '%s\n' "$want_crun" >"$CRUN_CONF.tmp"
    mv -f "$CRUN_CONF.tmp" "$CRUN_CONF"
    log "wrote $CRUN_CONF (the limits, crun the default runtime)"
    restart=yes
fi

# answers SOCKET: a service answers there
answers() { DOCKER_HOST=unix://$1 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
# is_service PID: PID is a live (not zombie) podman process
is_service() {
    [[ $1 =~ ^[0-9]+$ && $(cat "/proc/$1/comm" 2>/dev/null) == podman ]] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
for f in "$PID_FILE" "$CRUN_PID_FILE"; do
    if [[ -f $f ]] && ! is_service "$(cat "$f")"; then
        rm -f "$f"
    fi
done
if [[ ${restart:-no} == yes ]] && [[ -f $PID_FILE || -f $CRUN_PID_FILE ]]; then
    log "restarting the services started earlier for the new configuration"
    bash "$REPO_DIR/scripts/stop-podman.sh"
fi
# serve SOCKET PID_FILE [CONTAINERS_CONF]: starts a service on SOCKET unless one answers there
serve() {
    local socket=$1 pid_file=$2 conf=${3:-} pid deadline
    if answers "$socket"; then
        log "a service already answers on $socket"
        return
    fi
    mkdir -p "$STATE_DIR" "$(dirname "$socket")" "$(dirname "$SERVICE_LOG")"
    rm -f "$socket"
    local with=""
    [[ -z $conf ]] || with=" with CONTAINERS_CONF=$conf"
    log "starting podman system service on unix://$socket$with (log: $SERVICE_LOG)"
    # From the state directory: conmon writes an empty `oom` file into its working directory
    # when a container's process is OOM-killed, and the service's children inherit it.
    (
        cd "$STATE_DIR"
        if [[ -n $conf ]]; then export CONTAINERS_CONF=$conf; fi
        nohup podman system service --time=0 "unix://$socket" >>"$SERVICE_LOG" 2>&1 </dev/null &
        echo $! >"$pid_file"
    )
    pid=$(cat "$pid_file")
    deadline=$((SECONDS + WAIT_SECONDS))
    until answers "$socket"; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            tail -n 5 "$SERVICE_LOG" >&2 || true
            kill "$pid" 2>/dev/null || true
            rm -f "$pid_file"
            die "podman system service did not answer on $socket within ${WAIT_SECONDS}s"
        fi
        sleep 0.2
    done
}
serve "$SOCKET" "$PID_FILE"
started_by_script=no
[[ -f $PID_FILE ]] && started_by_script=yes

# --- 5. check -------------------------------------------------------------
hardened() {
    podman run --rm --runtime "$1" --network none --read-only --cap-drop ALL \
        --user 65534:65534 --security-opt no-new-privileges --pids-limit 128 --memory 512m \
        --init "$image" python3 -c 'print(1)' 2>&1
}
out=$(hardened runc) || true
[[ $out == 1 ]] || die "a hardened container on Podman does not start: $out"
runtimes=runc
if command -v crun >/dev/null 2>&1; then
    out=$(hardened crun) || true
    if [[ $out == 1 ]]; then
        runtimes=runc,crun
        serve "$CRUN_SOCKET" "$CRUN_PID_FILE" "$CRUN_CONF"
        [[ $(DOCKER_HOST=unix://$CRUN_SOCKET docker info --format '{{.DefaultRuntime}}') == crun ]] ||
            die "the service on $CRUN_SOCKET does not run crun by default"
    else
        log "WARNING: crun does not start the sandbox image on Podman: $(tail -n 1 <<<"$out")"
    fi
fi

echo "setup-podman: podman $podman_version, socket unix://$SOCKET (crun: unix://$CRUN_SOCKET), image $image, runtimes $runtimes, started-by-script=$started_by_script"
