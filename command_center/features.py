"""What a feature declares of itself, and the application the composition root assembles from features.

The kernel knows no feature: a feature (cctv, health, complaints, ...) declares its processors, its
services, its HTTP routes and its demo sources once, in a Feature record beside its code; the composition
root (processors/composition.py, the one module that names every feature) hands the records to an
Application, which the CLI, the services table, the demo and the API's route table are built from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from command_center.api.routes import Routes
from command_center.config import Config, compose
from command_center.runtime.processor import Processor
from command_center.views import ViewSpec

if TYPE_CHECKING:
    from command_center.runtime.host import Runtime

ServiceFactory = Callable[["Runtime"], AbstractAsyncContextManager[Any]]
# A local server the demo's estate points at (simulated cameras, say), started before the configuration is
# read: given the demo's working folder and the API's URL, it yields the values of demo.yaml's {placeholders}.
DemoPeer = Callable[[Path, str], AbstractAsyncContextManager[Mapping[str, str]]]


@dataclass(frozen=True, kw_only=True)
class Command:
    """A command a feature adds to the command line: `command-center GROUP NAME --config FILE [ARGS]`; `run`
    answers the exit status."""

    group: str
    name: str
    help: str
    run: Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


@dataclass(frozen=True, kw_only=True)
class Feature:
    name: str
    settings: type[Config] | None = None  # its configuration sections: a subclass of the kernel's Config
    # What the demo changes in its settings (an api_key for the simulated clients, say), given the demo's
    # working folder: top-level updates of the configuration.
    demo_settings: Callable[[Config, Path], Mapping[str, Any]] | None = None
    processors: tuple[Processor, ...] = ()
    services: Mapping[str, ServiceFactory] = field(default_factory=dict)  # its ingest services, by name
    routes: tuple[Routes, ...] = ()  # read routes and HTTP intake (Open311, webhooks)
    demo_peers: tuple[DemoPeer, ...] = ()
    simulators: tuple[ServiceFactory, ...] = ()  # the demo's simulated sources, run beside the services
    commands: tuple[Command, ...] = ()  # its command-line commands (`db upgrade`, say)
    # Run by the demo before its services start, given the configuration (create its database, say).
    demo_setup: Callable[[Config], Coroutine[Any, Any, None]] | None = None


@dataclass(frozen=True)
class Application:
    """Every feature, and the tables the process is built from."""

    features: tuple[Feature, ...]
    kernel_routes: tuple[Routes, ...] = ()
    config_class: type[Config] = field(init=False, default=Config)

    def __post_init__(self) -> None:
        # From now on a configuration is read with every feature's sections.
        object.__setattr__(self, "config_class", compose(*(f.settings for f in self.features if f.settings)))

    @cached_property
    def processors(self) -> dict[str, Processor]:
        return {p.name: p for f in self.features for p in f.processors}

    @cached_property
    def routes(self) -> tuple[Routes, ...]:
        return (*self.kernel_routes, *(r for f in self.features for r in f.routes))

    @cached_property
    def channels(self) -> dict[str, ViewSpec]:
        """The hub's channels: the views the processors publish."""
        return {p.view.channel: p.view for p in self.processors.values() if p.view is not None}

    @cached_property
    def commands(self) -> dict[str, dict[str, Command]]:
        """Every feature's commands, by group and name."""
        out: dict[str, dict[str, Command]] = {}
        for command in (c for f in self.features for c in f.commands):
            out.setdefault(command.group, {})[command.name] = command
        return out

    @cached_property
    def ingest_services(self) -> dict[str, ServiceFactory]:
        return {name: factory for f in self.features for name, factory in f.services.items()}
