#!/usr/bin/env bash
# Stop the Docker engine, but only if scripts/setup-docker.sh started it
# (its pid file exists). Takes the sandbox Compose project down first.
# Idempotent: without a pid file it does nothing.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${SANDBOX_BENCH_STATE:-/tmp/sandbox-bench-docker}
PID_FILE=$STATE_DIR/dockerd.pid

log() { echo "stop-docker: $*" >&2; }

# is_dockerd PID: PID is a live (not zombie) dockerd process
is_dockerd() {
    [[ $1 =~ ^[0-9]+$ && $(cat "/proc/$1/comm" 2>/dev/null) == dockerd ]] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

if [[ ! -f $PID_FILE ]]; then
    log "no $PID_FILE: engine not started by setup-docker.sh, leaving it alone"
    exit 0
fi
pid=$(cat "$PID_FILE")
if ! is_dockerd "$pid"; then
    log "dockerd (pid ${pid:-?}) is not running; removing stale pid file"
    rm -f "$PID_FILE"
    exit 0
fi

log "taking the compose project down"
timeout 30 docker compose -f "$REPO_DIR/docker-compose.yml" down -t 1 >&2 ||
    log "compose down failed (ignored)"

log "stopping dockerd (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
    is_dockerd "$pid" || break
    sleep 0.2
done
if is_dockerd "$pid"; then
    log "dockerd still running after 20s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$PID_FILE"
log "stopped"
