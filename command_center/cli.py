"""The command line (DESIGN.md, contract): demo, run SERVICE..., topics create, and the features' own commands
(db upgrade, archive rebuild)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from command_center.config import Config, ConfigError, load_config
from command_center.errors import Unavailable
from command_center.features import Application
from command_center.runtime.rebuild import rebuildable

logger = logging.getLogger(__name__)

EXIT_CONFIG = 2


def _parser(application: Application) -> argparse.ArgumentParser:
    from command_center.services import service_table

    parser = argparse.ArgumentParser(
        prog="command-center",
        description="Event-driven backend for a regional government command centre.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run everything in one process with simulated sources, no servers needed",
                          description="Run the whole system in one process: embedded bus and store, simulated "
                                      "cameras, apps, complaints and sensors, the wall at http://HOST:PORT/.")
    demo.add_argument("--port", type=int, default=8080, help="port for the wall, the API and /ws (default 8080)")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument("--config", help="a configuration file to use instead of the built-in demo estate")

    run = sub.add_parser("run", help="run services against Kafka and Redis (production)",
                         description="Run one or more services in this process. Services: all, "
                                     + ", ".join(service_table(application)) + ".")
    run.add_argument("services", nargs="+", metavar="SERVICE", help="service names, or all")
    run.add_argument("--config", required=True, help="the YAML configuration file")

    topics = sub.add_parser("topics", help="manage Kafka topics", description="Manage Kafka topics.")
    topics_sub = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    create = topics_sub.add_parser("create", help="create every topic with its partitions and retention",
                                   description="Create every topic with its partitions and retention; "
                                               "existing topics are left as they are.")
    create.add_argument("--config", required=True, help="the YAML configuration file")
    state = sub.add_parser("state", help="a processor's state in the store",
                           description="A processor's state in the store (Redis), derived from the log (Kafka).")
    state_sub = state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    rebuild = state_sub.add_parser(
        "rebuild", help="drop a processor's state and derive it again from the log, with a progress bar",
        description="Drop a processor's state and derive it again from the log up to what its consumer group "
                    "committed, showing progress; stop the processor's services first (the command waits for its "
                    "group to empty). A processor also rebuilds by itself whatever state the store lost.")
    rebuild.add_argument("processor", choices=rebuildable(application.processors), metavar="PROCESSOR",
                         help="one of: " + ", ".join(rebuildable(application.processors)))
    rebuild.add_argument("--config", required=True, help="the YAML configuration file")
    rebuild.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                         help="how long to wait for the processor's other members to leave its group (default 30)")
    for group, commands in application.commands.items():
        group_parser = sub.add_parser(group, help=", ".join(commands), description=f"{group}: " + "; ".join(
            f"{name}: {c.help}" for name, c in commands.items()))
        actions = group_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for name, command in commands.items():
            action = actions.add_parser(name, help=command.help, description=command.help)
            action.add_argument("--config", required=True, help="the YAML configuration file")
            if command.arguments is not None:
                command.arguments(action)
    return parser


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as err:
        print(f"command-center: configuration error: {err}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from err


async def _run(application: Application, config: Config, names: list[str]) -> None:
    from command_center.runtime.host import open_runtime
    from command_center.services import run_services

    async with open_runtime(config) as rt:
        await run_services(rt, application, names)


async def _rebuild(application: Application, config: Config, name: str, wait_s: float) -> int:
    from command_center.runtime.host import open_runtime
    from command_center.runtime.rebuild import rebuild

    async with open_runtime(config) as rt:
        return await rebuild(rt, application.processors[name], wait_s=wait_s)


async def _create_topics(config: Config) -> None:
    from command_center.runtime.host import bus_for, topic_specs

    bus = bus_for(config)
    specs = topic_specs(config)
    await bus.ensure_topics(specs)
    for spec in specs:
        print(f"{config.kafka.topic_prefix}{spec.name}\tpartitions={spec.partitions}\t"
              f"retention.ms={spec.retention_ms}\t{'compact' if spec.compacted else 'delete'}")


def main(application: Application, argv: Sequence[str] | None = None) -> int:
    """The command line over `application` (the composition root's, processors/composition.py)."""
    from command_center.runtime.logs import setup_logging

    args = _parser(application).parse_args(argv)
    if args.command == "demo":
        from command_center.demo import run_demo

        setup_logging("INFO")
        asyncio.run(run_demo(application, host=args.host, port=args.port, config_path=args.config))
        return 0
    config = _load(args.config)
    setup_logging(config.log_level)
    if args.command == "run":
        from command_center.services import expand

        try:
            names = expand(application, args.services)
        except ValueError as err:
            print(f"command-center: {err}", file=sys.stderr)
            return EXIT_CONFIG
        asyncio.run(_run(application, config, names))
        return 0
    if args.command == "state":
        try:
            return asyncio.run(_rebuild(application, config, args.processor, args.wait))
        except Unavailable as err:
            print(f"command-center: {err}", file=sys.stderr)
            return 1
    if args.command in application.commands:
        try:
            return asyncio.run(application.commands[args.command][args.action].run(config, args))
        except Unavailable as err:
            print(f"command-center: {err}", file=sys.stderr)
            return 1
    try:
        asyncio.run(_create_topics(config))
    except Unavailable as err:
        print(f"command-center: {err}", file=sys.stderr)
        return 1
    return 0

