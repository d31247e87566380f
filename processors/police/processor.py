"""The police feed: every CCTV event to the police system, signed, in order per camera, never lost or doubled.

Each event of cc.cctv.events is republished, unchanged (same CloudEvent id), on cc.police.cctv for a police
consumer on Kafka, and POSTed to the police endpoint as the CloudEvent's JSON, signed with HMAC-SHA256 over
"<timestamp>.<body>" (`X-CC-Signature`, `X-CC-Timestamp`; see command_center/api/signing.py) and carrying
`X-CC-Event-Id` for the receiver's own dedup. A 2xx is delivery; a timeout, a refused connection or a 5xx
(and 401/403/404/408/429, which a fix at either end cures) means the endpoint is down: the handler raises
Unavailable, the runner retries the same event with backoff, and nothing after it is committed, so the
events wait in Kafka, in order, however long the outage lasts. A delivered event is marked in the store
at once, so a replay after a crash does not send it twice. Any other 4xx means the police system refuses
this event for good: it goes to the dead-letter topic with the answer, and the feed moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from prometheus_client import Counter

from command_center.config import Config
from command_center.errors import Unavailable
from command_center.events import Event, encode
from command_center.runtime import Context, Processor
from command_center.signing import sign
from processors.cctv.events import CCTV_EVENTS, CameraActivity, CameraAnomaly
from processors.police.config import PoliceSettings
from processors.police.events import POLICE_CCTV

logger = logging.getLogger(__name__)

DELIVERED = Counter("cc_police_delivered_total", "CCTV events delivered to the police endpoint")
ATTEMPTS = Counter("cc_police_attempts_total", "Deliveries tried, by outcome", ["outcome"])
SENT_TTL_S = 7 * 86_400
RETRYABLE = frozenset({401, 403, 404, 408, 425, 429})


class Refused(Exception):
    """The police endpoint refused an event for good (a 4xx that retrying cannot cure)."""


def sent_key(event_id: str) -> str:
    return f"cc:police:sent:{event_id}"


def forwards(event: Event, config: Config) -> bool:
    return isinstance(event.data, CameraAnomaly) or (isinstance(event.data, CameraActivity) and
                                                     PoliceSettings.of(config).police.activity)


async def deliver(session: aiohttp.ClientSession, config: Config, event: Event) -> None:
    """POST one event; return on 2xx, raise Unavailable to retry, Refused to give up on this event."""
    police = PoliceSettings.of(config).police
    body = encode(event)
    headers = {"Content-Type": "application/cloudevents+json", "X-CC-Event-Id": event.id,
               **sign(police.secret or config.webhook_secret, body)}
    try:
        async with asyncio.timeout(police.timeout_s), session.post(str(police.url), data=body, headers=headers) as r:
            answer = (await r.text())[:300]
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        ATTEMPTS.labels("unreachable").inc()
        raise Unavailable(f"police endpoint: {type(err).__name__}: {err}") from err
    if 200 <= r.status < 300:
        ATTEMPTS.labels("delivered").inc()
        return
    if r.status >= 500 or r.status in RETRYABLE:
        ATTEMPTS.labels("retry").inc()
        raise Unavailable(f"police endpoint answered HTTP {r.status}: {answer}")
    ATTEMPTS.labels("refused").inc()
    raise Refused(f"police endpoint refused the event with HTTP {r.status}: {answer}")


async def handle(event: Event, ctx: Context) -> None:
    if not forwards(event, ctx.config):
        return
    ctx.emit(POLICE_CCTV, event)
    if PoliceSettings.of(ctx.config).police.url is None:
        return
    store = ctx.state.store
    if ctx.replaying or await store.get_bytes(sent_key(event.id)) is not None:
        return  # delivered before a crash, a rebalance or the store's loss: not again
    await deliver(ctx.resources, ctx.config, event)
    await ctx.state.mark(sent_key(event.id), b"1", ttl=SENT_TTL_S)
    DELIVERED.inc()
    logger.info("cctv event delivered to the police", extra={"event_id": event.id, "type": event.type,
                                                             "camera": event.subject})


@asynccontextmanager
async def police_session(config: Config) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


POLICE = Processor(name="police", inputs=(CCTV_EVENTS,), outputs=(POLICE_CCTV,), handle=handle,
                   resources=police_session, description="CCTV events to the police endpoint (signed) and topic")
