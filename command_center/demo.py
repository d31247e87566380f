"""`command-center demo`: the whole system in one process, embedded bus and store, simulated sources."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from importlib.resources import files
from pathlib import Path

import yaml

from command_center.accounts.feature import DEMO_PEOPLE
from command_center.api.auth import demo_tokens
from command_center.bus import EMBEDDED_URL
from command_center.config import Config, load_config, parse_config
from command_center.features import Application
from command_center.runtime.host import open_runtime, topic_specs
from command_center.services import expand, run_services
from command_center.store import MEMORY_URL

logger = logging.getLogger(__name__)


def demo_config(application: Application, *, host: str, port: int, workdir: Path, config_path: str | None = None,
                sim: dict[str, str] | None = None) -> Config:
    """The demo estate (or a given file) with the embedded bus and store and the demo's listeners.

    `sim` fills the {placeholders} of demo.yaml: the simulated applications' ports and the demo CA.
    """
    if config_path:
        base = load_config(config_path, env={})
    else:
        text = files("command_center").joinpath("demo.yaml").read_text()
        for name, value in (sim or {}).items():
            text = text.replace("{" + name + "}", value)
        base = parse_config(yaml.safe_load(text), origin="demo.yaml", env={})
    url = f"http://{host}:{port}"
    config = base.model_copy(update={
        "kafka": base.kafka.model_copy(update={"bootstrap": EMBEDDED_URL}),
        "redis": base.redis.model_copy(update={"url": MEMORY_URL}),
        "http": base.http.model_copy(update={"host": host, "port": port}),
        "hub": base.hub.model_copy(update={"embed": True, "public_url": ""}),
        "site": base.site.model_copy(update={"public_url": url}),
        "tokens": base.tokens or demo_tokens(),
    })
    for feature in application.features:
        if feature.demo_settings is not None:
            config = config.model_copy(update=dict(feature.demo_settings(config, workdir)))
    return config


def banner(config: Config, people: Sequence[tuple[str, str, str]] = ()) -> str:
    """What the demo prints: where everything is, the one-click sign-in link, and its people's passwords."""
    url = config.site.public_url
    accounts = "\n".join(f"    {login:<9} demo-{login:<10} {role:<9} {name}" for login, name, role in people)
    link = f"  sign in  {url}/auth/demo?key={config.accounts.demo_key} (as operator, once per browser)\n" \
        if config.accounts.demo_key else ""
    return (f"\ncommand-center demo: {config.site.name}\n  wall     {url}/  (on a wall screen: {url}/?screen=wall-1, watched)\n{link}  API      {url}/openapi.json\n"
            f"  Open311  {url}/open311/v2/services.json?api_key=demo-open311\n"
            f"  reports  {url}/reports (open data: {url}/open-data/)\n"
            f"  health   {url}/healthz\n  people (login, password, role, name):\n{accounts}\n  Ctrl+C stops.\n")


async def run_demo(application: Application, *, host: str = "127.0.0.1", port: int = 8080,
                   config_path: str | None = None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cc-demo-"))
    api = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    async with AsyncExitStack() as stack:
        placeholders: dict[str, str] = {}
        for peer in (p for f in application.features for p in f.demo_peers):
            placeholders.update(await stack.enter_async_context(peer(workdir, api)))
        config = demo_config(application, host=host, port=port, workdir=workdir, config_path=config_path,
                             sim=placeholders)
        for feature in application.features:
            if feature.demo_setup is not None:
                await feature.demo_setup(config)
        rt = await stack.enter_async_context(open_runtime(config))
        await rt.bus.ensure_topics(topic_specs(config))
        print(banner(config, DEMO_PEOPLE), flush=True)
        await run_services(rt, application, [s for s in expand(application, ["all"]) if s != "hub"],
                           extra=[s for f in application.features for s in f.simulators])
