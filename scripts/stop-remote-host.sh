#!/usr/bin/env bash
# Undoes scripts/setup-remote-host.sh N (as root): the engine's containers, its dockerd and the
# containerd it started, the network namespace with its veth pair, the fallback route, the
# exec-root and the pid file. The data-root and certificates in /var/lib/sandbox-bench-remote/N
# are kept (the loaded image makes the next set-up quick); `--purge` removes them too.
# Idempotent: what is already gone is skipped.
set -euo pipefail

N=${1:-}
PURGE=${2:-}
log() { echo "stop-remote-host: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $N =~ ^[1-9][0-9]?$ ]] || die "usage: stop-remote-host.sh N [--purge]"
[[ -z $PURGE || $PURGE == --purge ]] || die "usage: stop-remote-host.sh N [--purge]"
[[ $(id -u) -eq 0 ]] || die "must run as root"

NS=sbr-$N
NET=10.231.$N
ADDR=$NET.2
BASE=/var/lib/sandbox-bench-remote/$N
TLS=$BASE/tls
EXEC_ROOT=/run/sbr-$N
PID_FILE=/run/sbr-$N.pid
remote() { timeout 20 docker -H "tcp://$ADDR:2376" --tlsverify --tlscacert "$TLS/ca.pem" \
    --tlscert "$TLS/cert.pem" --tlskey "$TLS/key.pem" "$@"; }
alive() { [[ $1 =~ ^[0-9]+$ ]] && [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

# The link may have been set down by a fault test: up again, so the engine can be asked.
ip link set "sbr-$N-h" up 2>/dev/null || true

pid=$(cat "$PID_FILE" 2>/dev/null || true)
if alive "$pid" && [[ $(cat "/proc/$pid/comm") == dockerd ]]; then
    # --live-restore keeps containers through a stop of dockerd: remove them first.
    ids=$(remote ps -aq 2>/dev/null || true)
    if [[ -n $ids ]]; then
        log "removing $(echo "$ids" | wc -w) container(s) of host $N"
        # shellcheck disable=SC2086
        remote rm -f $ids >/dev/null || log "could not remove every container (ignored)"
    fi
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.2; done
    alive "$pid" && { log "dockerd did not stop: SIGKILL"; kill -KILL "$pid"; }
fi
# What the engine started under its exec-root (its containerd and shims, which --live-restore
# leaves running), found by that path in their command line and nothing else.
for proc in /proc/[0-9]*; do
    if { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -q -- "$EXEC_ROOT/"; then
        log "stopping ${proc#/proc/} ($(cat "$proc/comm" 2>/dev/null))"
        kill -KILL "${proc#/proc/}" 2>/dev/null || true
    fi
done
rm -f "$PID_FILE"

# Mounts left under the exec-root and data-root (network namespaces of containers, layers).
awk -v a="$EXEC_ROOT/" -v b="$BASE/data/" 'index($5, a) == 1 || index($5, b) == 1 { print $5 }' \
    /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
rm -rf "$EXEC_ROOT"

if [[ -e /run/netns/$NS ]]; then
    log "removing network namespace $NS (and its veth pair)"
    ip netns del "$NS"
fi
ip link del "sbr-$N-h" 2>/dev/null || true
ip route del unreachable "$NET.0/24" 2>/dev/null || true

if [[ $PURGE == --purge ]]; then
    log "removing $BASE (data-root, certificates)"
    rm -rf "$BASE"
elif [[ -d $BASE ]]; then
    log "kept $BASE (data-root with the image, certificates); --purge removes it"
fi
log "host $N is down"
