"""What /readyz reports: every component of the process registers a check that says whether it can work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Check = Callable[[], Awaitable[tuple[bool, str]]]


@dataclass
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def remove(self, name: str) -> None:
        self.checks.pop(name, None)

    async def report(self) -> tuple[bool, dict[str, dict[str, object]]]:
        """(all ready, {component: {ready, detail}})."""
        out: dict[str, dict[str, object]] = {}
        for name, check in list(self.checks.items()):
            ok, detail = await check()
            out[name] = {"ready": ok, "detail": detail}
        return all(v["ready"] for v in out.values()), out
