"""Accounts as the application sees them: the sign-in and administration routes, the `users` and `tokens`
commands, and the demo's people."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from command_center.accounts import routes
from command_center.accounts.directory import AccountError, Directory
from command_center.api.auth import PEOPLE, ROLES
from command_center.clock import SystemClock
from command_center.config import Config
from command_center.features import Command, Feature

# The demo's people: login, display name, role, scopes (the first agency for the agency's desk).
DEMO_PEOPLE = (("admin", "Admin Diskominfo", "admin"), ("operator", "Siti Rahmawati", "operator"),
               ("oncall", "Budi Santoso", "oncall"), ("police", "Bripka Agus (Polres)", "police"),
               ("agency", "Meja Dinas", "agency"), ("viewer", "Pengamat Dinas", "viewer"))


def demo_password(login: str) -> str:
    return f"demo-{login}"


def _directory(config: Config) -> Directory:
    if not config.accounts.url:
        print("command-center: no accounts database configured (accounts.url)", file=sys.stderr)
        raise SystemExit(2)
    return Directory.open(config.accounts.url, SystemClock().now)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _scopes_of(config: Config, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The agencies and areas named on the command line, each known to the configuration."""
    agencies, areas = _csv(args.agencies), _csv(args.areas)
    for name, given, known in (("agencies", agencies, {a.id for a in config.agencies}),
                               ("areas", areas, {a.id for a in config.areas})):
        unknown = sorted(set(given) - known)
        if unknown:
            raise AccountError(f"--{name}: unknown {', '.join(unknown)} (not in the configuration)")
    return agencies, areas


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return secrets.token_urlsafe(15)


async def _run(config: Config, action: Any) -> int:
    directory = _directory(config)
    try:
        await action(directory)
        return 0
    except AccountError as err:
        print(f"command-center: {err}", file=sys.stderr)
        return 1
    finally:
        await directory.close()


async def users_add(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        agencies, areas = _scopes_of(config, args)
        password = _password(args)
        user = await d.add_user(args.login, args.name or args.login, args.role, password=password,
                                agencies=agencies, areas=areas)
        print(f"added {user.login} ({user.role})" + ("" if args.password_stdin else f"; password: {password}"))
    return await _run(config, act)


async def users_list(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        for u in await d.users():
            scope = ",".join([*u.agencies, *u.areas]) or "all"
            print(f"{u.login:<20} {u.role:<9} {'disabled' if u.disabled else 'active':<8} {u.source:<6} {scope:<20} "
                  f"{u.display_name}")
    return await _run(config, act)


async def users_disable(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        await d.change_user(args.login, disabled=True)
        print(f"disabled {args.login}; their sessions end within a second")
    return await _run(config, act)


async def users_reset(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        password = _password(args)
        await d.change_user(args.login, password=password, disabled=False)
        print(f"reset {args.login}" + ("" if args.password_stdin else f"; password: {password}"))
    return await _run(config, act)


async def tokens_create(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        agencies, areas = _scopes_of(config, args)
        plain, token = await d.create_token(args.name, args.role, by=f"cli:{getpass.getuser()}",
                                            expires_in=timedelta(days=args.days) if args.days else None,
                                            agencies=agencies, areas=areas)
        print(f"token {token.name} ({token.role}, expires {token.expires_at or 'never'}); shown once:\n{plain}")
    return await _run(config, act)


async def tokens_list(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        for t in await d.tokens():
            state = "revoked" if t.revoked_at else "active"
            print(f"{t.name:<24} {t.role:<9} {state:<8} expires {t.expires_at or 'never'}  "
                  f"last used {t.last_used_at or 'never'}")
    return await _run(config, act)


async def tokens_revoke(config: Config, args: argparse.Namespace) -> int:
    async def act(d: Directory) -> None:
        await d.revoke(args.name)
        print(f"revoked {args.name}; refused everywhere within a second")
    return await _run(config, act)


def _scopes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agencies", default="", help="comma-separated agency ids it may see (default: all)")
    p.add_argument("--areas", default="", help="comma-separated district ids it may see (default: all)")


def _user_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("login")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--role", required=True, choices=PEOPLE)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input "
                                                                 "(otherwise one is generated and printed)")
    _scopes(p)


def _login_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("login")


def _reset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("login")
    p.add_argument("--password-stdin", action="store_true")


def _token_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--days", type=int, default=0, help="days until it expires (default: until revoked)")
    _scopes(p)


def _name_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")


def _demo_settings(config: Config, workdir: Path) -> dict[str, Any]:
    return {"accounts": config.accounts.model_copy(update={
        "url": config.accounts.url or f"sqlite+aiosqlite:///{workdir / 'accounts.db'}",
        "demo_key": secrets.token_urlsafe(16)})}


async def add_demo_people(config: Config) -> None:
    """The demo's people, one per role, with the passwords the banner prints."""
    directory = Directory.open(config.accounts.url, SystemClock().now)
    try:
        first_agency = [config.agencies[0].id] if config.agencies else []
        for login, name, role in DEMO_PEOPLE:
            if await directory.user(login, fresh=True) is None:
                await directory.add_user(login, name, role, password=demo_password(login),
                                         agencies=first_agency if role == "agency" else ())
    finally:
        await directory.close()


FEATURE = Feature(
    name="accounts",
    routes=(routes.routes,),
    demo_settings=_demo_settings,
    demo_setup=add_demo_people,
    commands=(
        Command(group="users", name="add", help="add a person", run=users_add, arguments=_user_args),
        Command(group="users", name="list", help="list people", run=users_list),
        Command(group="users", name="disable", help="disable a person", run=users_disable, arguments=_login_arg),
        Command(group="users", name="reset", help="set a new password (and enable)", run=users_reset,
                arguments=_reset_args),
        Command(group="tokens", name="create", help="create a named API token", run=tokens_create,
                arguments=_token_args),
        Command(group="tokens", name="list", help="list named API tokens", run=tokens_list),
        Command(group="tokens", name="revoke", help="revoke a named API token", run=tokens_revoke,
                arguments=_name_arg),
    ),
)
