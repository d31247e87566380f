"""The command line as an operator uses it: help, the demo, run with real servers, topics create, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from command_center.testing.servers import KafkaBroker, RedisServer, free_port, wait_for_port

CLI = [sys.executable, "-m", "command_center"]


def _get(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _stop(proc: subprocess.Popen) -> int:  # type: ignore[type-arg]
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


@pytest.mark.parametrize("args", [[], ["demo"], ["run"], ["topics"], ["topics", "create"]])
def test_every_command_has_help(args: list[str]) -> None:
    result = subprocess.run([*CLI, *args, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "usage: command-center" in result.stdout


def test_unknown_service_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    result = subprocess.run([*CLI, "run", "nonsense", "--config", str(config)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "unknown service 'nonsense'" in result.stderr


def test_demo_serves_the_wall_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen([*CLI, "demo", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for_port(port, timeout=60, proc=proc)
        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200 and b"<html" in r.read()
    finally:
        code = _stop(proc)
    out = proc.stdout.read() if proc.stdout else ""
    assert code == 0
    assert "demo-operator" in out and f"http://127.0.0.1:{port}/" in out


def test_run_against_real_servers_reports_ready_and_stops_cleanly(
    tmp_path: Path, kafka_broker: KafkaBroker, redis_server: RedisServer
) -> None:
    """`run all` with a config file, servers from CC_* variables; /readyz turns 200; SIGTERM exits 0."""
    port = free_port()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"http: {{host: 127.0.0.1, port: {port}}}\nhub: {{host: 127.0.0.1, port: 0}}\n"
        "kafka: {bootstrap: 'nowhere:1', topic_prefix: cli., session_timeout_ms: 3000, heartbeat_interval_ms: 500,"
        " rebalance_timeout_ms: 1000}\n"
    )
    env = {**os.environ, "CC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap, "CC_REDIS_URL": redis_server.url}
    created = subprocess.run([*CLI, "topics", "create", "--config", str(config)], capture_output=True, text=True,
                             timeout=60, env=env)
    assert created.returncode == 0, created.stderr
    assert "cli.cc.incidents\tpartitions=6" in created.stdout and "compact" in created.stdout
    proc = subprocess.Popen([*CLI, "run", "all", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_port(port, timeout=60, proc=proc)
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            assert time.monotonic() < deadline, _get(f"http://127.0.0.1:{port}/readyz")
            time.sleep(0.5)
        status, body = _get(f"http://127.0.0.1:{port}/readyz")
        assert body["checks"]["bus"]["detail"] == f"kafka {kafka_broker.bootstrap}"
    finally:
        code = _stop(proc)
    logs = [json.loads(line) for line in (proc.stderr.read() if proc.stderr else "").splitlines() if line.startswith("{")]
    assert code == 0
    assert any(line["message"] == "stopping services" for line in logs)
