"""The health tests' network device (tests/health/netns.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.health.netns import IN_CI, Device


@pytest.fixture
def device() -> Iterator[Device]:
    found = Device()
    try:
        found.start()
    except (OSError, subprocess.CalledProcessError) as err:
        found.stop()
        reason = f"cannot make a network namespace here ({getattr(err, 'stderr', b'') or err!s})"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true)")
        pytest.skip(reason)
    yield found
    found.stop()


