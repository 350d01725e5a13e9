"""The code checks CI runs with the tests: ruff's lint and format check over the whole Python
tree, and mypy over the library and the docs' examples (docs/examples; settings in
pyproject.toml). A failure prints the tool's own
report, so the fix is where it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TREE = ["mexa_ray", "tests", "benchmarks"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "command", [("ruff", "check"), ("ruff", "format", "--check")], ids=["ruff-lint", "ruff-format"]
)
def test_ruff(command):
    result = run(*command, *PYTHON_TREE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_the_library():
    result = run("mypy")  # files and settings: [tool.mypy] in pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
