#!/bin/sh
# Set up a virtual environment in .venv and run the whole test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not e2e"`.
set -eu
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    # pytest's exit code 5 means it collected no tests: a broken run.
    echo "scripts/test.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
