"""scripts/setup.sh's torch override is checked before anything is installed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setup(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DANCE_VENV": str(tmp_path / "venv"), **variables}
    return subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_missing_torch_wheel_is_named_before_any_install(tmp_path: Path) -> None:
    result = _setup(tmp_path, DANCE_TORCH_WHEEL=str(tmp_path / "torch.whl"))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"[setup] ERROR: DANCE_TORCH_WHEEL {tmp_path / 'torch.whl'} does not exist; "
                                     "give the path of a torch 2.13.0 wheel (.whl)")
    assert not (tmp_path / "venv").exists()


def test_two_torch_sources_are_refused(tmp_path: Path) -> None:
    result = _setup(tmp_path, DANCE_TORCH_WHEEL="a.whl", DANCE_TORCH_INDEX_URL="https://example.invalid/simple")
    assert result.returncode == 1 and "not both" in result.stderr
