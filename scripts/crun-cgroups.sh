#!/usr/bin/env bash
# crun refuses to run on a host whose cgroups are in hybrid mode (v1 controllers under a tmpfs
# /sys/fs/cgroup, plus a cgroup2 at /sys/fs/cgroup/unified) while that cgroup2 still offers a
# controller: "cgroups in hybrid mode not supported, drop all controllers from cgroupv2". On
# such hosts the one left there is usually hugetlb, which no v1 hierarchy took; mounting a v1
# hugetlb hierarchy moves it out of cgroup2 (allowed while no cgroup2 group uses it), and runc
# uses v1 hugetlb as it uses every other v1 controller. Idempotent; does nothing elsewhere.
# Run as root by scripts/setup-docker.sh and scripts/setup-podman.sh.
set -euo pipefail

log() { echo "crun-cgroups: $*" >&2; }

unified=/sys/fs/cgroup/unified
[[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) == tmpfs ]] || exit 0
[[ $(stat -f -c %T "$unified" 2>/dev/null) == cgroup2fs ]] || exit 0
for controller in $(cat "$unified/cgroup.controllers" 2>/dev/null); do
    dir=/sys/fs/cgroup/$controller
    if mountpoint -q "$dir"; then
        continue
    fi
    mkdir -p "$dir"
    if mount -t cgroup -o "$controller" cgroup "$dir" 2>/dev/null; then
        log "mounted the $controller controller as cgroup v1 at $dir (crun needs cgroup2 empty here)"
    else
        rmdir "$dir" 2>/dev/null || true
        log "WARNING: cannot move $controller out of cgroup2: crun will refuse to start containers"
    fi
done
