from __future__ import annotations

from pipeline.cli import cli

from .conftest import ROOT


def test_every_cli_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"`pipeline {name}" in readme, f"pipeline {name} is missing from README.md"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme.split("## What it does")[0]
    assert ci.strip().splitlines()[-1] == "make test"
