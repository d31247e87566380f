"""The architecture is a test: import-linter's contracts (pyproject.toml) hold for the tree, and break as soon as
a kernel module imports a feature."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("command_center", "ingest", "processors")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the packages of `tree` (found first on the path), with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from importlinter.cli import lint_imports_command; " \
           "lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, str(tree), str(tree / "pyproject.toml")],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_contracts_hold_for_the_tree() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout + done.stderr


def test_a_kernel_module_that_imports_a_feature_breaks_the_contract(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "command_center" / "leak.py").write_text('"""A kernel module that knows a feature."""\n\n'
                                                         "from processors.cctv.decide import PRIORITY\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "The kernel knows no feature BROKEN" in done.stdout
    assert "command_center.leak -> processors.cctv.decide" in done.stdout
