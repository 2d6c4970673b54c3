#!/bin/sh
# Set up a virtual environment in .venv and serve the demo shop on
# 127.0.0.1, personalized by the embedded catalog recommender.
# Usage: scripts/demo.sh [fastapi|flask|django] [--port PORT]
set -eu
cd "$(dirname "$0")/.."

framework="fastapi"
if [ "$#" -gt 0 ] && { [ "$1" = "flask" ] || [ "$1" = "fastapi" ] || [ "$1" = "django" ]; }; then
    framework="$1"
    shift
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[examples]'
if [ "$framework" = "django" ]; then
    port=8000
    if [ "$#" -ge 2 ] && [ "$1" = "--port" ]; then
        port="$2"
    fi
    echo "Open http://127.0.0.1:${port}/products/essence-mascara-lash-princess"
    exec .venv/bin/python -m examples.django_app runserver --noreload "127.0.0.1:${port}"
fi
exec .venv/bin/python -m "examples.${framework}_app" "$@"
