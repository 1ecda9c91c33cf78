#!/usr/bin/env bash
# Stop the `podman system service`s (the default one and crun's), but only those
# scripts/setup-podman.sh started (their pid files exist). Takes the sandbox Compose project down on Podman first. Idempotent: without a pid
# file it does nothing. Podman itself stays installed.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${SANDBOX_BENCH_PODMAN_STATE:-/tmp/sandbox-bench-podman}
PID_FILE=$STATE_DIR/service.pid
SOCKET=/run/podman/podman.sock

log() { echo "stop-podman: $*" >&2; }

# is_service PID: PID is a live (not zombie) podman process
is_service() {
    [[ $1 =~ ^[0-9]+$ && $(cat "/proc/$1/comm" 2>/dev/null) == podman ]] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# stop PID_FILE SOCKET: stops the service of PID_FILE, after taking the Compose project down
stop() {
    local pid_file=$1 socket=$2 pid
    if [[ ! -f $pid_file ]]; then
        log "no $pid_file: service not started by setup-podman.sh, leaving it alone"
        return
    fi
    pid=$(cat "$pid_file")
    if ! is_service "$pid"; then
        log "podman service (pid ${pid:-?}) is not running; removing stale pid file"
        rm -f "$pid_file"
        return
    fi
    log "taking the compose project down on Podman ($socket)"
    DOCKER_HOST=unix://$socket timeout 30 docker compose -f "$REPO_DIR/docker-compose.yml" down -t 1 >&2 ||
        log "compose down failed (ignored)"
    # And the profiles' projects (one per sandbox profile) this checkout's Compose file made.
    local ids
    ids=$(DOCKER_HOST=unix://$socket timeout 30 docker ps -aq \
        --filter "label=com.docker.compose.project.working_dir=$REPO_DIR" 2>/dev/null || true)
    if [[ -n $ids ]]; then
        log "removing the profiles' containers: $(echo $ids)"
        # shellcheck disable=SC2086 # one id per word
        DOCKER_HOST=unix://$socket timeout 60 docker rm -f $ids >/dev/null 2>&1 ||
            log "removing them failed (ignored)"
    fi
    log "stopping podman system service (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        is_service "$pid" || break
        sleep 0.2
    done
    if is_service "$pid"; then
        log "service still running after 10s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
    log "stopped"
}

stop "$STATE_DIR/service-crun.pid" /run/podman/podman-crun.sock
stop "$PID_FILE" "$SOCKET"
