"""One run of one check: HTTP(S), TCP connect, DNS resolution, TLS certificate, ICMP echo.

Every way a check can fail becomes an Outcome with a short reason and a detail, never an exception:
a name that does not resolve, a refused or hung connection, a TLS handshake that fails, a body that
trickles forever or is too large, a JSON body that does not parse.
"""

from __future__ import annotations

import asyncio
import json
import operator
import socket
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import icmplib
import pysnmp.hlapi.v3arch.asyncio as snmp
from cryptography import x509
from pysnmp.error import PySnmpError

from processors.health.conditions import parse_condition
from processors.health.config import CheckConfig, SnmpConfig
from processors.health.traffic import Port, Sample

MAX_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    latency_ms: float
    reason: str = ""
    detail: str = ""
    http_status: int | None = None
    cert_days_left: float | None = None
    sample: Sample | None = None
    loss_pct: float | None = None


class _Failed(Exception):
    def __init__(self, reason: str, detail: str = "", http_status: int | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.http_status = reason, detail, http_status


def split_host_port(target: str, default_port: int) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host:
        return target, default_port
    return host.strip("[]"), int(port)


def ssl_context(check: CheckConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=check.ca_file or None)
    if not check.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --- JSON path conditions: "$.status == ok", "$.db.latency_ms < 200", "$.items[0].id" (exists) ---------

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le,
}


def evaluate(text: str, document: Any) -> tuple[bool, str]:
    """Whether `document` satisfies the condition, and why not."""
    steps, op, expected = parse_condition(text)
    node = document
    for step in steps:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return False, f"{text}: path not found"
    if op is None:
        return bool(node), f"{text}: value is {node!r}"
    detail = f"{text}: value is {node!r}"
    try:
        return _OPERATORS[op](float(node), float(expected or "")), detail
    except (TypeError, ValueError):
        if op not in ("==", "!="):
            return False, f"{detail}, not a number"
    actual = str(node).lower() if isinstance(node, bool) else str(node)
    return _OPERATORS[op](actual, expected), detail


# --- the check kinds --------------------------------------------------------------------------------------

async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise _Failed("body_too_large", f"body larger than {MAX_BODY // 1024} KiB", response.status)
        chunks.append(chunk)
    return b"".join(chunks)


async def http_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    started = time.perf_counter()
    headers = dict(check.headers)
    if check.username:
        headers["Authorization"] = aiohttp.encode_basic_auth(check.username, check.password)
    try:
        async with session.request(
            check.method, check.target, headers=headers, allow_redirects=check.follow_redirects,
            max_redirects=10, ssl=ssl_context(check) if check.target.startswith("https") else True,
        ) as response:
            body = await _read_limited(response)
            status = response.status
    except aiohttp.TooManyRedirects as err:
        raise _Failed("redirect_loop", f"more than 10 redirects: {err}") from err
    except aiohttp.ClientConnectorCertificateError as err:
        raise _Failed("tls", str(err.certificate_error)) from err
    except aiohttp.ClientSSLError as err:
        raise _Failed("tls", str(err)) from err
    except aiohttp.ClientConnectorDNSError as err:
        raise _Failed("dns", str(err)) from err
    except aiohttp.ClientConnectorError as err:
        raise _Failed("refused", str(err)) from err
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as err:
        raise _Failed("connection", str(err)) from err
    except aiohttp.InvalidURL as err:
        raise _Failed("config", f"invalid URL {err}") from err
    latency = (time.perf_counter() - started) * 1000
    if status not in check.expect_status:
        raise _Failed("status", f"HTTP {status}, expected {check.expect_status}", status)
    text = body.decode("utf-8", "replace")
    if check.body_contains and check.body_contains not in text:
        raise _Failed("keyword_missing", f"body does not contain {check.body_contains!r}", status)
    if check.body_excludes and check.body_excludes in text:
        raise _Failed("keyword_present", f"body contains {check.body_excludes!r}", status)
    if check.json_path:
        try:
            document = json.loads(text)
        except ValueError as err:
            raise _Failed("json", f"body is not JSON: {err}", status) from err
        ok, detail = evaluate(check.json_path, document)
        if not ok:
            raise _Failed("json_path", detail, status)
    return Outcome(ok=True, latency_ms=latency, http_status=status)


async def tcp_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    host, port = split_host_port(check.target, 80)
    started = time.perf_counter()
    try:
        _, writer = await asyncio.open_connection(host, port)
    except socket.gaierror as err:
        raise _Failed("dns", f"{host}: {err}") from err
    except OSError as err:
        raise _Failed("refused", f"{host}:{port}: {err.strerror or err}") from err
    latency = (time.perf_counter() - started) * 1000
    writer.close()
    return Outcome(ok=True, latency_ms=latency, detail=f"connected to {host}:{port}")


async def dns_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    started = time.perf_counter()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(check.target, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as err:
        raise _Failed("dns", f"{check.target}: {err}") from err
    addresses = sorted({str(info[4][0]) for info in infos})
    return Outcome(ok=True, latency_ms=(time.perf_counter() - started) * 1000, detail=", ".join(addresses)[:500])


async def tls_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    host, port = split_host_port(check.target, 443)
    started = time.perf_counter()
    try:
        _, writer = await asyncio.open_connection(host, port, ssl=ssl_context(check), server_hostname=host)
    except ssl.SSLCertVerificationError as err:
        raise _Failed("tls", err.verify_message or str(err)) from err
    except ssl.SSLError as err:
        raise _Failed("tls", f"handshake failed: {err.reason or err}") from err
    except socket.gaierror as err:
        raise _Failed("dns", f"{host}: {err}") from err
    except OSError as err:
        raise _Failed("refused", f"{host}:{port}: {err.strerror or err}") from err
    latency = (time.perf_counter() - started) * 1000
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    cert = x509.load_der_x509_certificate(der)
    days = (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds() / 86_400
    return Outcome(ok=True, latency_ms=latency, cert_days_left=round(days, 2),
                   detail=f"certificate valid until {cert.not_valid_after_utc.isoformat()}")


_PRIVILEGED: list[bool] = []  # whether this process needs raw sockets (learnt at the first echo)


async def _ping(check: CheckConfig) -> icmplib.Host:
    """`check.count` echo requests: by an unprivileged datagram socket where the kernel allows it
    (net.ipv4.ping_group_range), by a raw socket (root, CAP_NET_RAW) otherwise."""
    wait = min(1.0, check.timeout / (check.count + 1))
    for privileged in (_PRIVILEGED or [False, True]):
        try:
            host = await icmplib.async_ping(check.target, count=check.count, interval=min(0.2, wait),
                                            timeout=wait, privileged=privileged)
        except icmplib.SocketPermissionError:
            continue
        _PRIVILEGED[:] = [privileged]
        return host
    raise _Failed("icmp", "no ICMP socket: allow the group in net.ipv4.ping_group_range, or grant CAP_NET_RAW")


async def icmp_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    try:
        host = await _ping(check)
    except icmplib.NameLookupError as err:
        raise _Failed("dns", f"{check.target}: the name does not resolve") from err
    except icmplib.ICMPLibError as err:
        raise _Failed("icmp", f"{check.target}: {err}") from err
    loss = host.packet_loss * 100
    detail = (f"{host.packets_received} of {host.packets_sent} echoes answered ({loss:.0f}% lost), rtt "
              f"{host.min_rtt:.2f}/{host.avg_rtt:.2f}/{host.max_rtt:.2f} ms, jitter {host.jitter:.2f} ms")
    if not host.is_alive:
        raise _Failed("unreachable", f"{check.target}: no answer to {host.packets_sent} echo requests")
    # it answers: up, and degraded by the processor when its loss (or latency) stays over the limit
    return Outcome(ok=True, latency_ms=host.avg_rtt, detail=detail, loss_pct=round(loss, 1))


SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_COLUMNS = {"name": "1.3.6.1.2.1.31.1.1.1.1", "oper": "1.3.6.1.2.1.2.2.1.8", "in": "1.3.6.1.2.1.31.1.1.1.6",
              "out": "1.3.6.1.2.1.31.1.1.1.10", "in_errors": "1.3.6.1.2.1.2.2.1.14",
              "out_errors": "1.3.6.1.2.1.2.2.1.20", "in_discards": "1.3.6.1.2.1.2.2.1.13",
              "out_discards": "1.3.6.1.2.1.2.2.1.19"}
# one engine per event loop (its transports belong to the loop): costly to make, cheap to share
_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, snmp.SnmpEngine] = weakref.WeakKeyDictionary()


def _auth(config: SnmpConfig) -> snmp.CommunityData | snmp.UsmUserData:
    if config.version == "v2c":
        return snmp.CommunityData(config.community, mpModel=1)
    return snmp.UsmUserData(config.user, config.auth_key, config.priv_key, authProtocol=snmp.usmHMACSHAAuthProtocol,
                            privProtocol=snmp.usmAesCfb128Protocol)


async def _column(engine: snmp.SnmpEngine, auth: Any, target: Any, oid: str) -> dict[int, Any]:
    """One column of a table by ifIndex (GETBULK until the column ends)."""
    out: dict[int, Any] = {}
    async for error, status, _, binds in snmp.bulk_walk_cmd(engine, auth, target, snmp.ContextData(), 0, 25,
                                                             snmp.ObjectType(snmp.ObjectIdentity(oid)),
                                                             lexicographicMode=False):
        if error or status:
            raise _Failed("snmp", f"{oid}: {error or status.prettyPrint()}")
        for name, value in binds:
            out[int(name[-1])] = value
    return out


async def snmp_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    """sysUpTime and the interface table (ifName, ifOperStatus, 64-bit octet counters, errors, discards), in one
    sample."""
    assert check.snmp is not None
    host, port = split_host_port(check.target, 161)
    loop = asyncio.get_running_loop()
    engine = _ENGINES.get(loop)
    if engine is None:
        engine = _ENGINES[loop] = snmp.SnmpEngine()
    auth = _auth(check.snmp)
    started = time.perf_counter()
    try:
        target = await snmp.UdpTransportTarget.create((host, port), timeout=max(0.5, check.timeout / 2), retries=1)
    except Exception as err:  # pysnmp raises its own error for a name that does not resolve
        raise _Failed("dns", f"{host}: {err}") from err
    try:
        error, status, _, binds = await snmp.get_cmd(engine, auth, target, snmp.ContextData(),
                                                     snmp.ObjectType(snmp.ObjectIdentity(SYS_UPTIME)))
        if error or status:
            raise _Failed("snmp", f"{host}:{port}: {error or status.prettyPrint()}")
        uptime = int(binds[0][1])
        table = {key: await _column(engine, auth, target, oid) for key, oid in IF_COLUMNS.items()}
    except (PySnmpError, ValueError, TypeError) as err:  # a malformed answer from a device
        raise _Failed("snmp", f"{host}:{port}: {err}") from err
    latency = (time.perf_counter() - started) * 1000
    watched = set(check.snmp.interfaces)
    ports = [Port(name=str(name), up=int(table["oper"].get(i, 2)) == 1, in_octets=int(table["in"].get(i, 0)),
                  out_octets=int(table["out"].get(i, 0)), in_errors=int(table["in_errors"].get(i, 0)),
                  out_errors=int(table["out_errors"].get(i, 0)), in_discards=int(table["in_discards"].get(i, 0)),
                  out_discards=int(table["out_discards"].get(i, 0)))
             for i, name in sorted(table["name"].items()) if not watched or str(name) in watched]
    sample = Sample(uptime_ticks=uptime, ports=ports)
    missing = sorted(watched - {p.name for p in ports})
    down = sorted(p.name for p in ports if not p.up)
    if missing or down:
        detail = ", ".join([*(f"{n} not found" for n in missing), *(f"{n} down" for n in down)])
        return Outcome(ok=False, latency_ms=latency, reason="link_down", detail=detail[:1000], sample=sample)
    return Outcome(ok=True, latency_ms=latency, detail=f"{len(ports)} interfaces up, uptime {uptime / 100:.0f}s",
                   sample=sample)


CheckFn = Callable[[CheckConfig, aiohttp.ClientSession], Awaitable[Outcome]]
CHECKS: dict[str, CheckFn] = {"http": http_check, "tcp": tcp_check, "dns": dns_check, "tls": tls_check,
                              "icmp": icmp_check, "snmp": snmp_check}


async def run_check(check: CheckConfig, session: aiohttp.ClientSession) -> Outcome:
    """Run `check` within its timeout; every failure is an Outcome with a reason."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout):
            return await CHECKS[check.kind](check, session)
    except _Failed as failed:
        return Outcome(ok=False, latency_ms=(time.perf_counter() - started) * 1000, reason=failed.reason,
                       detail=failed.detail[:1000], http_status=failed.http_status)
    except TimeoutError:
        return Outcome(ok=False, latency_ms=check.timeout * 1000, reason="timeout",
                       detail=f"no complete answer within {check.timeout:g}s")
