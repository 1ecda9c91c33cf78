#!/usr/bin/env bash
# Everything a `cargo test` without a skip needs, on Debian or Ubuntu, as root: the Docker
# engine, Compose and the sandbox images; Podman with the same image; two remote sandbox hosts
# (scripts/setup-remote-host.sh); the MCP SDK's environment
# (.venv-mcp); Chromium, which renders the HTML report in a test. Idempotent; .ci/run runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== setup docker" >&2
bash scripts/setup-docker.sh

echo "== the Python 3.13, data-science and Jupyter images (tests/profiles.rs runs real agent code on them, tests/jupyter.rs kernels)" >&2
bash scripts/setup-images.sh

echo "== ipykernel on the host (tests/jupyter.rs runs local:jupyter with /usr/bin/python3)" >&2
if ! /usr/bin/python3 -c "import ipykernel" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q python3-ipykernel >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q python3-ipykernel >/dev/null; }
fi

echo "== setup podman (tests/podman.rs and the walls run on it too)" >&2
bash scripts/setup-podman.sh

echo "== setup the MCP reproduction server's Python environment" >&2
bash scripts/setup-mcp.sh

echo "== remote hosts 1 and 2: a dockerd each in a network namespace, mutual TLS (tests/remote.rs)" >&2
bash scripts/setup-remote-host.sh 1 >/dev/null
bash scripts/setup-remote-host.sh 2 >/dev/null

echo "== chromium (renders the HTML report in a test)" >&2
# A machine with Google Chrome but no Chromium (GitHub's Ubuntu runners): the test looks for
# `chromium`, and Chrome renders the same.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 &&
    command -v google-chrome >/dev/null 2>&1; then
    ln -sf "$(command -v google-chrome)" /usr/local/bin/chromium
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } ||
        apt-get install -y -q chromium-browser >/dev/null
fi
