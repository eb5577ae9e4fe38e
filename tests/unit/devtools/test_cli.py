"""The one command line: job options reach the module that parses them."""

from __future__ import annotations

import pytest

from devtools import cli


def test_train_and_evaluate_pass_their_options_through(monkeypatch) -> None:
    seen: list[str] = []

    def fake_evaluate(args, settings) -> int:
        seen.extend(cli._passthrough(args))
        return 0

    monkeypatch.setattr(cli, "cmd_evaluate", fake_evaluate)  # build_parser looks it up
    assert cli.main(["evaluate", "--no-taste", "--trials", "3"]) == 0
    assert seen == ["--no-taste", "--trials", "3"]


def test_other_commands_still_refuse_unknown_options() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["popularity", "--bogus"])
    assert exited.value.code == 2
