"""The grammar of a health check's JSON path condition, checked when the configuration is read."""

from __future__ import annotations

import re

# --- JSON path conditions: "$.status == ok", "$.db.latency_ms < 200", "$.items[0].id" (exists) ---------

_CONDITION = re.compile(r"^\$(?P<path>(?:\.[A-Za-z_][\w-]*|\[\d+\])*)\s*(?:(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>.+))?$")
_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


def parse_condition(text: str) -> tuple[list[str | int], str | None, str | None]:
    """Split a condition into path steps, operator and expected value; ValueError when malformed."""
    m = _CONDITION.match(text.strip())
    if not m:
        raise ValueError(f"not a JSON path condition: {text!r}")
    steps: list[str | int] = [name if name else int(index) for name, index in _STEP.findall(m["path"])]
    value = m["value"].strip().strip("'\"") if m["value"] else None
    return steps, m["op"], value
