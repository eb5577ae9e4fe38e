#!/usr/bin/env bash
# Create .venv-localstack: a Python 3.13 virtualenv with LocalStack's S3 runtime.
# No Docker needed (see DESIGN.md "Machines and services"). Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LOCALSTACK_VENV:-$ROOT/.venv-localstack}"

if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import localstack.runtime.main" 2>/dev/null; then
    echo "LocalStack venv already present: $VENV"
    exit 0
fi

# LocalStack's runtime needs Python 3.13 (the project's own venv is 3.12).
if [[ -n "${LOCALSTACK_PYTHON:-}" ]]; then
    PYTHON="$LOCALSTACK_PYTHON"
elif ! PYTHON="$("$ROOT/scripts/find_python.sh" 3.13)"; then
    echo "error: LocalStack needs Python 3.13 (pyenv install 3.13, or set LOCALSTACK_PYTHON)" >&2
    exit 1
fi

echo "Creating $VENV with $PYTHON"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet \
    "localstack-core[runtime]==2026.3.0" \
    "cbor2<5.7" \
    "pyopenssl==25.1.0" \
    "cryptography>=45,<46" \
    service_identity
"$VENV/bin/python" -c "import localstack.runtime.main"
echo "LocalStack installed in $VENV"
