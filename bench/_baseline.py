"""An earlier version of a module, loaded from git beside the current one, so a benchmark can print both."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(rev: str, path: str, name: str, *, renames: dict[str, str] | None = None) -> types.ModuleType:
    """Module `path` as it was at `rev`, importable as `name`; `renames` points its imports at other baselines."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    for old, new in (renames or {}).items():
        source = source.replace(old, new)
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102  (our own history)
    return module
