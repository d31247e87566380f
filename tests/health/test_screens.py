"""A wall screen is watched like an application with a push check: its page's reports (through the hub) are the
heartbeats; a hidden page or one that has stopped drawing is a failed check, and silence is one too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from command_center.events.types import ScreenReport
from processors.health.config import AppConfig
from processors.health.processor import screen_result

NOW = datetime(2026, 12, 2, 2, 10, tzinfo=UTC)
SCREEN = AppConfig(id="wall-3", name="Layar dinding 3", kind="screen",
                   checks=[{"id": "report", "kind": "push", "target": "", "interval": 10}])  # type: ignore[list-item]


def report(**kw: object) -> ScreenReport:
    return ScreenReport(**{"screen": "wall-3", "layout": "operator", "rendered_at": NOW, "visible": True,  # type: ignore[arg-type]
                           "by": "operator", **kw})


def test_a_visible_screen_that_draws_is_a_passed_check() -> None:
    result = screen_result(SCREEN, report(rendered_at=NOW - timedelta(seconds=3)), NOW)
    assert result is not None and result.ok and result.check_id == "report" and "operator" in result.detail


def test_a_hidden_screen_or_one_that_stopped_drawing_fails_its_check() -> None:
    hidden = screen_result(SCREEN, report(visible=False), NOW)
    stuck = screen_result(SCREEN, report(rendered_at=NOW - timedelta(seconds=31)), NOW)
    assert hidden is not None and not hidden.ok and hidden.reason == "hidden"
    assert stuck is not None and not stuck.ok and stuck.reason == "not_rendering"


def test_an_app_that_is_not_a_screen_takes_no_screen_reports() -> None:
    app = SCREEN.model_copy(update={"kind": "app"})
    assert screen_result(app, report(), NOW) is None
