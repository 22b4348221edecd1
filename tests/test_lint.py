"""The package is clean under the project's ruff and mypy configuration (pyproject.toml)."""

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_check_and_format():
    check = _run("ruff", "check", "jforeach", "tests", "notebooks", "examples")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run("ruff", "format", "--check", "jforeach", "tests", "notebooks", "examples")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy():
    result = _run("mypy", "jforeach")
    assert result.returncode == 0, result.stdout + result.stderr
