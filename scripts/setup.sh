#!/usr/bin/env bash
# Create .venv (Python 3.12, the Lambda runtime's version; 3.11 also works)
# and install the project with its dev extras.  Idempotent: re-installs only
# when pyproject.toml changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RECSYS_VENV:-$ROOT/.venv}"
cd "$ROOT"

if [[ ! -x "$VENV/bin/python" ]]; then
    PYTHON="${RECSYS_PYTHON:-$(scripts/find_python.sh 3.12 2>/dev/null || scripts/find_python.sh 3.11)}"
    echo "Creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
    echo "Installing the project and its dev dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi
echo "Python environment ready: $VENV ($("$VENV/bin/python" --version))"
