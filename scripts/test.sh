#!/usr/bin/env bash
# Set up a virtualenv in .venv (if needed), install tousu with its dev tools, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check --upgrade pip
python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

echo "== ruff"; ruff check .
echo "== mypy (strict on core/)"; mypy core
echo "== import contracts"; lint-imports
echo "== pytest"; python -m pytest -q -p no:cacheprovider "$@"
