#!/usr/bin/env bash
# A remote sandbox host on this machine, for the remote-engine tests and docs/remote.md (as
# root): `bash scripts/setup-remote-host.sh N` (N = 1, 2, …) makes
#   - a network namespace sbr-N and a veth pair: sbr-N-h on the host (10.231.N.1/24), sbr-N-c
#     inside (10.231.N.2/24); an `unreachable` fallback route for 10.231.N.0/24, so that with
#     the link down a connection fails at once (EHOSTUNREACH) instead of leaving by the default
#     route and hanging;
#   - a CA, a server certificate (IP 10.231.N.2 and 127.0.0.1) and a client certificate in
#     /var/lib/sandbox-bench-remote/N/tls (ca.pem, cert.pem, key.pem: the Docker CLI's
#     DOCKER_CERT_PATH layout; server-*.pem for the engine);
#   - a second dockerd inside the namespace, listening only on tcp://10.231.N.2:2376 with mutual
#     TLS, with its own data-root, exec-root (/run/sbr-N) and pid file (/run/sbr-N.pid). It is
#     started with `nsenter --net=`, which enters only the network namespace: `ip netns exec`
#     also remounts /sys, which hides the cgroup mounts ("Devices cgroup isn't mounted");
#   - the sandbox image loaded into it (`docker save | docker load`).
# It prints the profile to use on stdout. Idempotent: a host already up is said so and kept.
# What is missing of iproute2, openssl and util-linux (nsenter) is installed with apt.
# Only the namespace's own addresses are ever targets. scripts/stop-remote-host.sh N undoes it.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-}
log() { echo "setup-remote-host: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $N =~ ^[1-9][0-9]?$ ]] || die "usage: setup-remote-host.sh N (N = 1..99: host N at 10.231.N.2)"
[[ $(id -u) -eq 0 ]] || die "must run as root (it makes a network namespace and starts dockerd)"
packages=()
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v nsenter >/dev/null 2>&1 || packages+=(util-linux)
if ((${#packages[@]})) && command -v apt-get >/dev/null 2>&1; then
    log "installing ${packages[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${packages[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${packages[@]}" >&2; } || true
fi
for tool in ip openssl nsenter dockerd docker; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool is missing: apt-get install iproute2 openssl util-linux (dockerd: bash scripts/setup-docker.sh)"
done

NS=sbr-$N
HOST_IF=sbr-$N-h
NS_IF=sbr-$N-c
NET=10.231.$N
ADDR=$NET.2
PORT=2376
BASE=/var/lib/sandbox-bench-remote/$N
TLS=$BASE/tls
EXEC_ROOT=/run/sbr-$N
PID_FILE=/run/sbr-$N.pid
LOG=/var/log/sandbox-bench-remote-$N.log
# The image the Compose file runs (.env beside it, as setup-docker.sh chose), else the default.
IMAGE=${SANDBOX_IMAGE:-$(sed -n 's/^SANDBOX_IMAGE=//p' "$REPO_DIR/.env" 2>/dev/null || true)}
IMAGE=${IMAGE:-sandbox-bench-python:bookworm}
remote() { docker -H "tcp://$ADDR:$PORT" --tlsverify --tlscacert "$TLS/ca.pem" \
    --tlscert "$TLS/cert.pem" --tlskey "$TLS/key.pem" "$@"; }
is_dockerd() {
    local pid
    pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]
}

# --- the network: namespace, veth pair, fallback route ---------------------
[[ -e /run/netns/$NS ]] || { log "network namespace $NS"; ip netns add "$NS"; }
if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    log "veth $HOST_IF ($NET.1) <-> $NS_IF in $NS ($ADDR)"
    ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
    ip addr add "$NET.1/24" dev "$HOST_IF"
    ip -n "$NS" addr add "$ADDR/24" dev "$NS_IF"
    ip -n "$NS" link set lo up
    ip -n "$NS" link set "$NS_IF" up
fi
ip link set "$HOST_IF" up
# replace: an add would fail once it exists
ip route replace unreachable "$NET.0/24" metric 4000

# --- certificates ----------------------------------------------------------
if [[ ! -s $TLS/key.pem || ! -s $TLS/server-key.pem ]]; then
    log "a CA, a server certificate (IP:$ADDR, IP:127.0.0.1) and a client certificate in $TLS"
    mkdir -p "$TLS"
    chmod 700 "$BASE" "$TLS"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key "$TLS/ca-key.pem"
    openssl req -x509 -new -key "$TLS/ca-key.pem" -days 825 -subj "/CN=sandbox-bench remote $N CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$TLS/ca.pem"
    sign() { # NAME SUBJECT EXTENSIONS
        openssl req -new -key "$TLS/$1-key.pem.tmp" -subj "$2" -out "$tmp/$1.csr"
        printf '%s\n' "$3" >"$tmp/$1.ext"
        openssl x509 -req -in "$tmp/$1.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca-key.pem" \
            -CAcreateserial -days 825 -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null
    }
    key "$TLS/server-key.pem.tmp"
    sign server "/CN=$ADDR" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$ADDR,IP:127.0.0.1"
    key "$TLS/client-key.pem.tmp"
    sign client "/CN=sandbox-bench client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
    mv "$tmp/server.pem" "$TLS/server-cert.pem"
    mv "$TLS/server-key.pem.tmp" "$TLS/server-key.pem"
    mv "$tmp/client.pem" "$TLS/cert.pem"
    mv "$TLS/client-key.pem.tmp" "$TLS/key.pem"
    chmod 600 "$TLS"/*key.pem
fi

# --- the engine ------------------------------------------------------------
if is_dockerd && remote version >/dev/null 2>&1; then
    log "host $N is already up: dockerd (pid $(cat "$PID_FILE")) at tcp://$ADDR:$PORT"
else
    is_dockerd && die "a dockerd (pid $(cat "$PID_FILE")) holds $PID_FILE but does not answer: bash scripts/stop-remote-host.sh $N first"
    rm -f "$PID_FILE"
    mkdir -p "$BASE/data" "$EXEC_ROOT"
    # Its own configuration: the host's daemon.json may name hosts or runtimes this one lacks.
    echo '{}' >"$BASE/daemon.json"
    log "starting dockerd in $NS (log: $LOG)"
    setsid nsenter --net="/run/netns/$NS" dockerd --config-file "$BASE/daemon.json" \
        --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/server-cert.pem" \
        --tlskey "$TLS/server-key.pem" -H "tcp://$ADDR:$PORT" \
        --data-root "$BASE/data" --exec-root "$EXEC_ROOT" --pidfile "$PID_FILE" \
        --iptables=false --ip6tables=false --bridge=none --live-restore \
        </dev/null >>"$LOG" 2>&1 &
    for _ in $(seq 1 120); do
        remote version >/dev/null 2>&1 && break
        sleep 0.5
    done
    remote version >/dev/null 2>&1 || die "dockerd in $NS did not answer within 60 s: see $LOG"
    log "dockerd (pid $(cat "$PID_FILE")) answers at tcp://$ADDR:$PORT"
fi

# --- the sandbox image -----------------------------------------------------
want=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null) ||
    die "image $IMAGE is not on the local engine: bash scripts/setup-docker.sh"
if [[ $(remote image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true) != "$want" ]]; then
    log "loading $IMAGE into host $N"
    docker save "$IMAGE" | remote load >&2
fi

echo "--profile r$N:host=tcp://$ADDR:$PORT,tls=$TLS"
