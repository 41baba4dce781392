"""The code base stays ruff-clean (settings in pyproject.toml)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if not ruff and Path(sys.prefix) != REPO / ".venv":
        pytest.skip("ruff is not installed (a colcon workspace's Python); the project's .venv has it pinned")
    assert ruff, "ruff is not installed; it is pinned in scripts/requirements.txt (run scripts/setup.sh)"
    result = subprocess.run([ruff, "check", "--output-format", "concise", str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
