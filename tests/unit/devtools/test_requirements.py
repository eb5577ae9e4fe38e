"""Dependencies are declared once, in pyproject.toml; the per-function files follow it."""

from __future__ import annotations

from devtools import requirements


def test_generated_requirement_files_match_pyproject():
    assert requirements.stale() == [], "run `python -m devtools requirements`"


def test_api_functions_get_no_training_stack():
    for function in ("interact", "recs"):
        names = {requirements._name(r) for r in requirements.function_requirements(function)}
        assert {"fastapi", "mangum", "redis", "pika"} <= names
        assert not names & {"numpy", "pandas", "scipy", "gensim", "optuna", "boto3"}


def test_train_zip_leaves_out_what_lambda_provides_or_cannot_hold():
    names = {requirements._name(r) for r in requirements.function_requirements("train")}
    assert {"gensim", "optuna", "numpy"} <= names
    assert "boto3" not in names and "matplotlib" not in names and "pandas" not in names
