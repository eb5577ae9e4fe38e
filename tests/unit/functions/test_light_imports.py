"""The API functions stay light: a cold start pays for every import."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ["numpy", "pandas", "gensim", "optuna", "scipy", "matplotlib", "sklearn"]


@pytest.mark.parametrize(
    "module", ["functions.interact.app", "functions.recs.app", "functions.popularity.app"]
)
def test_api_and_popularity_functions_do_not_import_heavy_libraries(module):
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
