"""The upstream feed: complaints filed with an upstream system (SP4N-LAPOR!, a province) by Open311, with the
police feed's guarantees: in order per complaint, retried, signed, never twice.

A complaint goes up once it is routed to one of an upstream's agencies (or is of one of its services). The
POST carries our complaint id as its Idempotency-Key and a signature over the body (`X-CC-Signature`, as
every webhook here), so an upstream that lost our first try's answer files nothing twice. An upstream that
does not answer, answers 5xx or one of 401/403/404/408/429 is down: the handler raises Unavailable and the
runner retries the same complaint with backoff, nothing after it committed. Its answer (the request's id
there) is marked in the store at once, with the id there pointing back to ours, so a replay sends nothing
and the forwarded event (a derived id) is the same event again. Any other 4xx is a refusal for good: the
dead-letter topic has it with the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import aiohttp
import msgspec
from prometheus_client import Counter

from command_center.config import Config
from command_center.errors import Refused, Unavailable
from command_center.events import Event, derive_id, new_event
from command_center.runtime import Context, Processor
from command_center.signing import sign
from processors.complaints.events import (
    COMPLAINTS,
    ComplaintForwarded,
    ComplaintLinked,
    ComplaintReceived,
    ComplaintRouted,
)
from processors.upstream import lapor
from processors.upstream.config import UpstreamConfig, UpstreamSettings

logger = logging.getLogger(__name__)
ATTEMPTS = Counter("cc_upstream_attempts_total", "Complaints forwarded upstream, by upstream and outcome",
                   ["upstream", "outcome"])
RETRYABLE = frozenset({401, 403, 404, 408, 425, 429})
KEEP_S = 5 * 365 * 86_400
SOURCE = "/processors/upstream"


class Filed(msgspec.Struct):
    """What an upstream answered for one of our complaints."""

    remote_id: str
    remote_token: str = ""


class Local(msgspec.Struct):
    """Which of our complaints an upstream's request is."""

    complaint_id: str


def copy_key(complaint_id: str) -> str:
    return f"cc:upstream:complaint:{complaint_id}"


def filed_key(upstream: str, complaint_id: str) -> str:
    return f"cc:upstream:{upstream}:filed:{complaint_id}"


def local_key(upstream: str, remote_id: str) -> str:
    return f"cc:upstream:{upstream}:remote:{remote_id}"


def upstream_for(config: Config, routed: ComplaintRouted) -> UpstreamConfig | None:
    return next((u for u in UpstreamSettings.of(config).upstreams
                 if routed.agency in u.agencies or routed.service_code in u.services), None)


def form(upstream: UpstreamConfig, complaint: ComplaintReceived, routed: ComplaintRouted, token: str) -> dict[str, str]:
    fields = {"api_key": upstream.api_key, "service_code": upstream.service_map.get(complaint.service_code,
                                                                                  complaint.service_code),
              "description": complaint.description or "(foto)"}
    if upstream.jurisdiction_id:
        fields["jurisdiction_id"] = upstream.jurisdiction_id
    if complaint.location is not None:
        fields |= {"lat": f"{complaint.location.lat:.6f}", "long": f"{complaint.location.long:.6f}"}
    if complaint.address:
        fields["address_string"] = complaint.address
    if complaint.media_urls:
        fields["media_url"] = complaint.media_urls[0]
    if upstream.kind == "lapor":
        fields |= lapor.fields(upstream, complaint.service_code, routed.agency, token)
    return fields


async def post(session: aiohttp.ClientSession, upstream: UpstreamConfig, complaint_id: str,
               fields: dict[str, str]) -> Filed:
    """File one complaint; its id there, or Unavailable (retry), or Refused (for good)."""
    body = urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": complaint_id,
               "Accept": "application/json", **sign(upstream.secret, body)}
    url = f"{str(upstream.url).rstrip('/')}/requests.json"
    try:
        async with asyncio.timeout(upstream.timeout_s), session.post(url, data=body, headers=headers) as r:
            answer = await r.text()
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        ATTEMPTS.labels(upstream.id, "unreachable").inc()
        raise Unavailable(f"upstream {upstream.id}: {type(err).__name__}: {err}") from err
    if r.status >= 500 or r.status in RETRYABLE:
        ATTEMPTS.labels(upstream.id, "retry").inc()
        raise Unavailable(f"upstream {upstream.id} answered HTTP {r.status}: {answer[:300]}")
    if not 200 <= r.status < 300:
        ATTEMPTS.labels(upstream.id, "refused").inc()
        raise Refused(f"upstream {upstream.id} refused complaint {complaint_id} with HTTP {r.status}: {answer[:300]}")
    try:
        first = msgspec.json.decode(answer)[0]
        filed = Filed(remote_id=str(first.get("service_request_id") or first["token"]),
                      remote_token=str(first.get("token") or ""))
    except (msgspec.DecodeError, KeyError, IndexError, TypeError, AttributeError) as err:
        ATTEMPTS.labels(upstream.id, "refused").inc()
        raise Refused(f"upstream {upstream.id} answered {r.status} without a service request: {answer[:300]}") from err
    ATTEMPTS.labels(upstream.id, "filed").inc()
    return filed


async def handle(event: Event, ctx: Context) -> None:
    data = event.data
    if isinstance(data, ComplaintReceived):
        if UpstreamSettings.of(ctx.config).upstreams:
            ctx.state.put(copy_key(data.complaint_id), data, ttl=KEEP_S)
        return
    if isinstance(data, ComplaintLinked):  # a duplicate is not forwarded: its first report is
        ctx.state.delete(copy_key(data.complaint_id))
        return
    if isinstance(data, ComplaintForwarded):  # read back: the marks a rebuilt store needs to post nothing twice
        filed = Filed(remote_id=data.remote_id, remote_token=data.remote_token)
        ctx.state.put(local_key(data.upstream, data.remote_id), Local(data.complaint_id), ttl=KEEP_S)
        ctx.state.put(filed_key(data.upstream, data.complaint_id), filed, ttl=KEEP_S)
        return
    if not isinstance(data, ComplaintRouted):
        return
    upstream = upstream_for(ctx.config, data)
    complaint = await ctx.state.get(copy_key(data.complaint_id), ComplaintReceived) if upstream else None
    ctx.state.delete(copy_key(data.complaint_id))  # routed: kept no longer than it takes to forward it
    if upstream is None or complaint is None or ctx.replaying:
        return  # while the store is rebuilt: posted before, and its forwarded record follows on this topic
    store = ctx.state.store
    mark = await store.get_bytes(filed_key(upstream.id, data.complaint_id))
    if mark is None:
        filed = await post(ctx.resources, upstream, data.complaint_id, form(upstream, complaint, data, complaint.token))
        # at once, not with the batch: a replay after a crash finds it and posts nothing
        await ctx.state.mark(local_key(upstream.id, filed.remote_id), msgspec.json.encode(Local(data.complaint_id)),
                              ttl=KEEP_S)
        await ctx.state.mark(filed_key(upstream.id, data.complaint_id), msgspec.json.encode(filed), ttl=KEEP_S)
        logger.info("complaint forwarded upstream", extra={"complaint": data.complaint_id, "upstream": upstream.id,
                                                           "remote_id": filed.remote_id})
    else:
        filed = msgspec.json.decode(mark, type=Filed)
    ctx.emit(COMPLAINTS, new_event(
        "id.go.cc.complaint.forwarded", id=derive_id("forwarded", data.complaint_id, upstream.id), source=SOURCE,
        subject=data.complaint_id, time=ctx.now(),
        data=ComplaintForwarded(complaint_id=data.complaint_id, upstream=upstream.id, remote_id=filed.remote_id,
                                remote_token=filed.remote_token, at=ctx.now())))


@asynccontextmanager
async def session(config: Config) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


UPSTREAM = Processor(name="upstream", inputs=(COMPLAINTS,), outputs=(COMPLAINTS,), handle=handle, resources=session,
                     replay=(COMPLAINTS,), keys=("cc:upstream:*",),
                     state_keys=lambda e, c: (copy_key(e.subject),),
                     description="complaints forwarded to SP4N-LAPOR! or a province by Open311, signed, never twice")
