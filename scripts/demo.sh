#!/bin/sh
# Set up a virtual environment in .venv and serve the demo shop on
# 127.0.0.1, personalized by the embedded catalog recommender.
# Usage: scripts/demo.sh [fastapi|flask] [--port PORT]
set -eu
cd "$(dirname "$0")/.."

framework="fastapi"
if [ "$#" -gt 0 ] && [ "$1" = "flask" -o "$1" = "fastapi" ]; then
    framework="$1"
    shift
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[examples]'
exec .venv/bin/python -m "examples.${framework}_app" "$@"
