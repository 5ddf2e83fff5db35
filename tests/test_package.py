"""Packaging promises: a light import, no silent fallback, a lint-clean tree."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd="/", env={**os.environ, **env})


def test_import_deepsym_does_not_import_torch():
    result = run_python("import sys, deepsym; print('torch' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_missing_compiled_kernels_fail_loudly_with_rebuild_instructions():
    result = run_python("import sys; sys.modules['deepsym._ext.smf'] = None; import deepsym")
    assert result.returncode != 0
    assert "compiled kernels" in result.stderr
    assert "build_ext --inplace" in result.stderr and "DEEPSYM_PUREPYTHON=1" in result.stderr


def test_pure_python_twins_are_chosen_only_explicitly():
    code = "from deepsym._kernels import smf; print(smf.__name__)"
    assert run_python(code).stdout.strip() == "deepsym._ext.smf"
    assert run_python(code, DEEPSYM_PUREPYTHON="1").stdout.strip() == "deepsym._ext.smf_py"


def test_the_tree_is_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is part of the test dependencies: pip install -e '.[test]'")
    result = subprocess.run([ruff, "check", "src", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
