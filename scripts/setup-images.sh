#!/usr/bin/env bash
# The sandbox images beside the default one, built offline from Debian packages on the Docker
# engine that scripts/setup-docker.sh prepared (run that first; as root). Idempotent: an image
# already present is kept (SANDBOX_BENCH_REBUILD=1 builds it again).
#
#   sandbox-bench-python:trixie   Debian 13, Python 3.13, as minimal as the default image
#   sandbox-bench-python:datasci  Debian 12, Python 3.11 with numpy, pandas and matplotlib
#   sandbox-bench-python:jupyter  Debian 12, Python 3.11 with ipykernel (the jupyter strategy)
#
# Select one per backend through a sandbox profile:
#   sandbox-bench run --profile py313:image=sandbox-bench-python:trixie \
#       --backends compose:persistent,compose@py313:persistent
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build() {
    local image=$1
    shift
    if [[ ${SANDBOX_BENCH_REBUILD:-0} != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
        echo "setup-images: $image present" >&2
        return
    fi
    bash scripts/build-image.sh "$image" "$@"
}

build sandbox-bench-python:trixie trixie python3-minimal,libpython3.13-stdlib
build sandbox-bench-python:datasci bookworm \
    python3-minimal,libpython3.11-stdlib,python3-numpy,python3-pandas,python3-matplotlib \
    json,ctypes,signal,numpy,pandas,matplotlib
build sandbox-bench-python:jupyter bookworm \
    python3-minimal,libpython3.11-stdlib,python3-ipykernel \
    json,ctypes,signal,ipykernel,ipykernel_launcher,zmq
for image in sandbox-bench-python:trixie sandbox-bench-python:datasci sandbox-bench-python:jupyter; do
    docker image inspect --format "setup-images: $image {{.Id}} {{.Size}} bytes" "$image" >&2
done
