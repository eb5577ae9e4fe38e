#!/usr/bin/env bash
# Create (or reuse) an isolated tools virtualenv with the AWS SAM CLI and cfn-lint.
#
#   scripts/setup_sam.sh            # -> .venv-tools/bin/{sam,cfn-lint}
#   RECSYS_TOOLS_VENV=/opt/tools scripts/setup_sam.sh
#
# The tools live apart from the project venv: aws-sam-cli pins its own versions
# of boto3, pydantic, jsonschema ... which must not leak into the application.
# Idempotent: a venv whose tools already run is left untouched.
# `sam build` needs an interpreter that matches the Lambda runtime (python3.12)
# on PATH; this script also reports where one can be found.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RECSYS_TOOLS_VENV:-$ROOT/.venv-tools}"
# Pinned: a newer cfn-lint may add rules, and CI should not change under us.
# Override to try newer ones: SAM_SPEC="aws-sam-cli>=1.170" scripts/setup_sam.sh
SAM_SPEC="${SAM_SPEC:-aws-sam-cli==1.170.0}"
CFN_LINT_SPEC="${CFN_LINT_SPEC:-cfn-lint==1.58.0}"


if [[ -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]] \
    && "$VENV/bin/sam" --version >/dev/null 2>&1 \
    && "$VENV/bin/cfn-lint" --version >/dev/null 2>&1; then
  echo "tools venv ready: $VENV ($("$VENV/bin/sam" --version), cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'))"
else
  PY="${PYTHON:-$("$ROOT/scripts/find_python.sh" 3.12 2>/dev/null || "$ROOT/scripts/find_python.sh" 3.11)}"
  echo "creating tools venv $VENV with $PY"
  "$PY" -m venv "$VENV"
  # (the filter drops pip's notes about unreachable extra indexes)
  "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
  "$VENV/bin/python" -m pip install --quiet "$SAM_SPEC" "$CFN_LINT_SPEC" 2>&1 \
    | { grep -v "is ignored: it is neither" || true; }
  echo "installed: $("$VENV/bin/sam" --version), cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}')"
fi

# sam build (BuildMethod python3.12 / makefile) needs python3.12 on PATH.
if ! command -v python3.12 >/dev/null 2>&1 && PY312="$("$ROOT/scripts/find_python.sh" 3.12 2>/dev/null)"; then
  echo "note: python3.12 is not on PATH; for sam build use: PATH=$(dirname "$PY312"):\$PATH"
fi
