"""The OpenAPI document is the server: schemathesis (a tool nobody here wrote) generates requests from
/openapi.json, valid and invalid, stateful sequences included, against the running demo, and checks every
answer against the document (`--checks all`). The count of failures must be 0. The same command, with its
seed, is in the README."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from command_center.testing.servers import demo_process

SEED = "1"
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = "10"


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    with demo_process() as url:
        yield url


def test_schemathesis_finds_no_failure(demo: str, tmp_path: Path) -> None:
    st = shutil.which("st") or shutil.which("schemathesis")
    assert st, "schemathesis is in the test extra: pip install -e '.[test]'"
    run = subprocess.run([st, "--config-file", str(CONFIG), "run", f"{demo}/openapi.json", "--checks", "all", "-H", "Authorization: Bearer demo-admin",
                          "--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1", "--no-color"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache stays out of the tree
    summary = run.stdout[-3000:]
    assert run.returncode == 0, run.stdout[-12000:]
    assert "failure" not in summary.split("SUMMARY")[-1].lower(), summary
    assert " passed" in summary
