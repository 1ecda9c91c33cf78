#!/usr/bin/env bash
# Stop `podman system service`, but only if scripts/setup-podman.sh started it (its pid file
# exists). Takes the sandbox Compose project down on Podman first. Idempotent: without a pid
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

if [[ ! -f $PID_FILE ]]; then
    log "no $PID_FILE: service not started by setup-podman.sh, leaving it alone"
    exit 0
fi
pid=$(cat "$PID_FILE")
if ! is_service "$pid"; then
    log "podman service (pid ${pid:-?}) is not running; removing stale pid file"
    rm -f "$PID_FILE"
    exit 0
fi

log "taking the compose project down on Podman"
DOCKER_HOST=unix://$SOCKET timeout 30 docker compose -f "$REPO_DIR/docker-compose.yml" down -t 1 >&2 ||
    log "compose down failed (ignored)"

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
rm -f "$PID_FILE"
log "stopped"
