#!/usr/bin/env bash
# Builds a sandbox image offline with mmdebstrap from this machine's Debian apt sources and
# imports it into Docker (scripts/setup-podman.sh copies Docker's images into Podman):
#
#   scripts/build-image.sh IMAGE RELEASE PACKAGES [MODULES]
#
# RELEASE is a Debian release (bookworm, trixie): the machine's entries for its own release are
# used with RELEASE's suites, so a bookworm machine builds a trixie image from the same mirror.
# PACKAGES is a comma-separated list for --include; MODULES, comma-separated Python modules the
# image must import (checked in a container without network; the image is removed if not).
# Run as root. Progress goes to stderr.
set -euo pipefail

[[ $# -ge 3 ]] || { echo "usage: $0 IMAGE RELEASE PACKAGES [MODULES]" >&2; exit 2; }
IMAGE=$1 RELEASE=$2 PACKAGES=$3 MODULES=${4:-json,math,ctypes,io,signal,traceback,os}
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "build-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

own=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
sources=$(python3 "$REPO_DIR/scripts/debian-sources.py" "$own" "$RELEASE")
[[ -n $sources ]] || die "no Debian $own entries in /etc/apt/sources.list{,.d}"
# The merged-usr hook sets up /usr symlinks itself; otherwise apt picks usrmerge, which drags
# perl (~45 MB) into the image.
hooks=()
[[ -d /usr/share/mmdebstrap/hooks/merged-usr ]] &&
    hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
log "building $IMAGE ($RELEASE: $PACKAGES) with mmdebstrap from this machine's apt sources"
# shellcheck disable=SC2016 # $1 is expanded by mmdebstrap in the hook
printf '%s\n' "$sources" | mmdebstrap --quiet --variant=essential "${hooks[@]}" \
    --include="$PACKAGES" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -f "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*' \
    "$RELEASE" "$tmp/rootfs.tar" - >"$tmp/mmdebstrap.log" 2>&1 || {
    tail -n 30 "$tmp/mmdebstrap.log" >&2
    die "mmdebstrap failed"
}
changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change 'ENV LANG=C.UTF-8' --change 'ENV MPLBACKEND=Agg'
    --change 'ENV MPLCONFIGDIR=/tmp/matplotlib'
    --change 'CMD ["sleep","infinity"]')
docker import "${changes[@]}" "$tmp/rootfs.tar" "$IMAGE" >/dev/null

out=$(docker run --rm --network none "$IMAGE" sh -c "
    command -v sleep >/dev/null || { echo 'no sleep'; exit 1; }
    python3 -c 'import ${MODULES}; print(1)'" 2>&1) || true
if [[ $out != 1 ]]; then
    docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
    die "image $IMAGE failed its check (removed it): $out"
fi
log "$IMAGE ready"
