#!/usr/bin/env bash
# The Python side of the MCP benchmarks: a virtual environment at .venv-mcp/ holding the official
# MCP SDK from PyPI, pinned, for the reproduction server (mcp/python_execute_server.py).
# Idempotent; on a fresh Debian machine run it as root (it installs python3-venv if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MCP_VERSION=2.3.0
VENV=${MCP_VENV:-.venv-mcp}

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "python3-venv is missing: run this script as root, or install python3-venv" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q python3-venv >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null; }
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' \
        2>/dev/null)" != "$MCP_VERSION" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "mcp==$MCP_VERSION"
fi
"$VENV/bin/python" -c 'import mcp.server' >/dev/null
echo "mcp $MCP_VERSION ready in $VENV (server: $VENV/bin/python mcp/python_execute_server.py)"
