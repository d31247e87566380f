"""The replies processor: every step of a complaint told to its citizen on the channel it came by, and to the
Open311 client that filed it, in order, once each, however long a gateway is down and across restarts.

It reads cc.complaints and the restricted contacts topic (the only reader of contacts besides the complaints
processor); it keeps its own copy of a complaint's contact, which nothing else reads. Each step makes one
reply per outbox (the citizen's, the client's); an outbox sends its replies one after another, the next only
once the one before it was delivered or given up, so a citizen never hears "closed" before "received". A
reply's id derives from its complaint, step and occurrence; a delivered reply (each SMS part of it) is marked
in the store at once, so a replay or a restart finds the mark and does not send it again, and the gateway
gets the same `reference` for a retry. A failure that retrying may cure (5xx, 429, timeout, no connection)
is retried with backoff (`first_retry_s` doubling to `max_backoff_s`, `max_attempts` in all); a refusal
(another 4xx, no number to send to) is given up at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import msgspec
from prometheus_client import Counter

from command_center.config import Config
from command_center.config.base import by_id
from command_center.delivery import Result
from command_center.events import Event, derive_id, new_event
from command_center.runtime import Context, Processor
from processors.complaints.events import (
    COMPLAINT_CONTACTS,
    COMPLAINTS,
    ComplaintAction,
    ComplaintContact,
    ComplaintLinked,
    ComplaintRated,
    ComplaintReceived,
    ComplaintRouted,
    tracking_url,
)
from processors.replies.channels import Outgoing, send
from processors.replies.config import RepliesConfig, RepliesSettings, Template
from processors.replies.events import REPLIES, ReplyAttempt
from processors.replies.keys import Awaiting, awaiting_key
from processors.replies.templates import DEFAULTS, render, shorten, split

logger = logging.getLogger(__name__)
ATTEMPTS = Counter("cc_reply_attempts_total", "Replies to citizens tried, by channel and outcome", ["channel", "outcome"])

TIMER = "reply-delivery"
KEEP_S = 400 * 86_400  # a thread and its marks outlive any complaint's clocks
PER_TICK = 50
CONTACT_RECHECK_S = 1.0
SEEN = 64
ACTIONS = {"respond": "responded", "feedback": "feedback", "close": "closed", "reopen": "reopened"}
# Where a citizen hears back, by the channel they came by: the first of these their contact has.
PREFERENCE = {"sms": ("sms",), "phone": ("sms",), "whatsapp": ("whatsapp",), "social": ("social",),
              "web": ("email", "sms"), "open311": ("email", "sms")}


class Thread(msgspec.Struct, kw_only=True):
    complaint_id: str
    channel: str
    token: str = ""
    client: str = ""  # the Open311 client to tell too (it has a status_webhook)
    contact: bool = False  # the citizen left a contact (it comes on the contacts topic)
    agency: str = ""
    last_inbound: datetime | None = None  # the citizen's last message (WhatsApp's 24-hour window)
    outboxes: dict[str, list[str]] = {}  # "citizen" | "client" -> reply ids not yet settled, in order
    counts: dict[str, int] = {}  # step -> how many times it was queued (a reopened complaint closes twice)
    linked: list[str] = []  # its duplicates: they hear of its close too
    closed: bool = False  # a second close (an upstream's repeat) is not told twice
    seen: list[str] = []  # the last events applied: a replay queues nothing


class Reply(msgspec.Struct, kw_only=True):
    id: str
    complaint_id: str
    box: str
    step: str
    values: dict[str, str]
    queued_at: datetime
    status: dict[str, Any] = {}
    attempt: int = 0


def thread_key(complaint_id: str) -> str:
    return f"cc:replies:thread:{complaint_id}"


def contact_copy_key(complaint_id: str) -> str:
    return f"cc:replies:contact:{complaint_id}"


def reply_key(reply_id: str) -> str:
    return f"cc:replies:reply:{reply_id}"


def sent_key(reply_id: str, part: int = 0) -> str:
    return f"cc:replies:sent:{reply_id}:{part}"


def settled_key(reply_id: str) -> str:
    """Set once a reply was delivered whole or given up: its outbox moves on."""
    return f"cc:replies:settled:{reply_id}"


def _client(config: Config, name: str) -> Any:
    return next((c for c in config.api_clients()[0] if c.name == name and c.status_webhook), None)


def _template(r: RepliesConfig, step: str) -> Template:
    return r.templates.get(r.language, {}).get(step) or Template(text=DEFAULTS[r.language][step])


def _values(ctx: Context, thread: Thread, **more: str) -> dict[str, str]:
    agency = by_id(ctx.config.agencies).get(thread.agency)
    return {"token": thread.token or thread.complaint_id[:8], "agency": agency.name if agency else thread.agency,
            "url": tracking_url(ctx.config, thread.token), **more}


def _status(ctx: Context, thread: Thread, step: str, at: datetime, values: dict[str, str]) -> dict[str, Any]:
    """What an Open311 client hears of a step: the service request's fields that changed (never a contact)."""
    local = at.astimezone(ZoneInfo(ctx.config.site.timezone)).isoformat(timespec="seconds")
    return {"service_request_id": thread.complaint_id, "token": thread.token or None,
            "status": "closed" if step == "closed" else "open", "status_notes": values.get("notes") or None,
            "agency_responsible": values["agency"] or None, "updated_datetime": local,
            "rating": int(values["rating"]) if values.get("rating") else None}


def _queue(ctx: Context, thread: Thread, step: str, at: datetime, **more: str) -> Thread:
    r = RepliesSettings.of(ctx.config).replies
    if step not in r.steps:
        return thread
    n = thread.counts.get(step, 0)
    values = _values(ctx, thread, **more)
    outboxes = {k: list(v) for k, v in thread.outboxes.items()}
    boxes = [b for b, wanted in (("citizen", thread.contact), ("client", bool(thread.client))) if wanted]
    for box in boxes:
        reply = Reply(id=derive_id("reply", thread.complaint_id, step, n, box), complaint_id=thread.complaint_id,
                      box=box, step=step, values=values, queued_at=ctx.now(),
                      status=_status(ctx, thread, step, at, values) if box == "client" else {})
        ctx.state.put(reply_key(reply.id), reply, ttl=KEEP_S)
        pending = outboxes.setdefault(box, [])
        if not pending:
            ctx.state.schedule(TIMER, reply.id, ctx.now())
        pending.append(reply.id)
    return msgspec.structs.replace(thread, outboxes=outboxes, counts={**thread.counts, step: n + 1})


async def _begin(ctx: Context, data: ComplaintReceived) -> None:
    if await ctx.state.get(thread_key(data.complaint_id), Thread) is not None:
        return
    client = data.client if _client(ctx.config, data.client) else ""
    contact = bool(data.contact_ref) and any(_configured(ctx.config)[k] for k in PREFERENCE.get(data.channel, ()))
    if not contact and not client:
        return  # nobody to tell, or no channel configured that could
    ctx.state.put(thread_key(data.complaint_id), Thread(
        complaint_id=data.complaint_id, channel=data.channel, token=data.token, client=client,
        contact=contact, last_inbound=data.requested_at), ttl=KEEP_S)


class Asked(msgspec.Struct, kw_only=True):
    """A citizen was asked to rate their closed complaint (read back while the store is rebuilt), until the
    complaint's thread and contact are back too."""

    kind: str
    at: datetime


def asked_key(complaint_id: str) -> str:
    return f"cc:replies:asked:{complaint_id}"


async def attempted(ctx: Context, event: Event, a: ReplyAttempt) -> None:
    """A try read back from cc.complaints.replies: a reply delivered or given up is settled (its outbox moves
    on, and it is never sent again), and a close delivered by SMS or WhatsApp, read again while the store is
    rebuilt, awaits its citizen's rating again for what is left of the rating window."""
    if a.status == "retrying":
        return
    ctx.state.put(settled_key(a.reply_id), b"1", ttl=KEEP_S)
    if ctx.replaying and a.status == "sent" and a.step == "closed" and a.kind in ("sms", "whatsapp"):
        ctx.state.put(asked_key(a.complaint_id), Asked(kind=a.kind, at=event.time), ttl=KEEP_S)
        await _awaits_rating(ctx, a.complaint_id)


async def _awaits_rating(ctx: Context, complaint_id: str) -> None:
    """The rating a rebuilt store awaits again, once the ask, the thread and the contact are all read back (the
    three topics are read in no order between them)."""
    asked = await ctx.state.get(asked_key(complaint_id), Asked)
    thread = await ctx.state.get(thread_key(complaint_id), Thread) if asked else None
    contact = await ctx.state.get(contact_copy_key(complaint_id), ComplaintContact) if thread else None
    if asked is None or thread is None or contact is None:
        return
    ctx.state.delete(asked_key(complaint_id))
    left = RepliesSettings.of(ctx.config).replies.rating_days * 86_400 - (ctx.now() - asked.at).total_seconds()
    route = _route(ctx.config, thread, contact)
    if left > 0 and route is not None and route[0] == asked.kind:
        ctx.state.put(awaiting_key(asked.kind, route[1]), Awaiting(complaint_id=complaint_id, token=thread.token),
                      ttl=left)


async def handle(event: Event, ctx: Context) -> None:
    data = event.data
    if isinstance(data, ReplyAttempt):
        await attempted(ctx, event, data)
        return
    if isinstance(data, ComplaintContact):
        if await ctx.state.get(contact_copy_key(data.complaint_id), ComplaintContact) is None:
            ctx.state.put(contact_copy_key(data.complaint_id), data, ttl=KEEP_S)
        if ctx.replaying:
            await _awaits_rating(ctx, data.complaint_id)
        return
    if isinstance(data, ComplaintReceived):
        await _begin(ctx, data)
        if ctx.replaying:
            await _awaits_rating(ctx, data.complaint_id)
        return
    thread = await ctx.state.get(thread_key(event.subject), Thread)
    if thread is None or event.id in thread.seen:
        return
    thread = msgspec.structs.replace(thread, seen=[*thread.seen, event.id][-SEEN:])
    if isinstance(data, ComplaintRouted):
        thread = _queue(ctx, msgspec.structs.replace(thread, agency=data.agency), "received", event.time)
    elif isinstance(data, ComplaintLinked):
        thread = _queue(ctx, thread, "linked", event.time)
        first = await ctx.state.get(thread_key(data.duplicate_of), Thread)
        if first is not None and thread.complaint_id not in first.linked:
            ctx.state.put(thread_key(first.complaint_id),
                          msgspec.structs.replace(first, linked=[*first.linked, thread.complaint_id]), ttl=KEEP_S)
    elif isinstance(data, ComplaintAction):
        step = ACTIONS[data.action]
        if ((step == "closed") == thread.closed and step in ("closed", "reopened")) or \
                (thread.closed and step in ("responded", "feedback")):
            ctx.state.put(thread_key(thread.complaint_id), thread, ttl=KEEP_S)
            return  # closed again, reopened while open, acted on once closed: the complaints processor ignores it too
        thread = _queue(ctx, msgspec.structs.replace(thread, closed=step == "closed" or (thread.closed and
                                                                                          step != "reopened")),
                        step, data.at, notes=data.status_notes)
        if step == "closed":
            for duplicate_id in thread.linked:
                duplicate = await ctx.state.get(thread_key(duplicate_id), Thread)
                if duplicate is not None and "closed" not in duplicate.counts:
                    ctx.state.put(thread_key(duplicate_id), _queue(ctx, duplicate, "closed", data.at,
                                                                   notes=data.status_notes), ttl=KEEP_S)
    elif isinstance(data, ComplaintRated):
        thread = _queue(ctx, msgspec.structs.replace(thread, last_inbound=data.at), "rated", data.at,
                        rating=str(data.rating))
    ctx.state.put(thread_key(thread.complaint_id), thread, ttl=KEEP_S)


def _configured(config: Config) -> dict[str, bool]:
    r = RepliesSettings.of(config).replies
    return {"sms": r.sms.url is not None, "whatsapp": bool(r.whatsapp.phone_number_id), "email": bool(r.email.host),
            "social": r.social.url is not None}


def _route(config: Config, thread: Thread, contact: ComplaintContact) -> tuple[str, str] | None:
    """The channel and address the citizen is answered on, or None when there is none."""
    configured = _configured(config)
    addresses = {"sms": contact.phone, "whatsapp": contact.phone, "email": contact.email, "social": contact.handle}
    return next(((kind, addresses[kind]) for kind in PREFERENCE.get(thread.channel, ())
                 if configured[kind] and addresses[kind]), None)


@dataclasses.dataclass(frozen=True)
class _Send:
    reply: Reply
    kind: str
    texts: list[str]  # one, or an SMS's parts
    out: Outgoing
    first_part: int = 0


def _texts(config: Config, reply: Reply, kind: str) -> list[str]:
    r = RepliesSettings.of(config).replies
    template = _template(r, reply.step)
    if kind != "sms":
        return [render(template.text, reply.values)]
    if template.long == "shorten":
        return [shorten(template.text, reply.values)]
    return split(render(template.text, reply.values), r.max_sms_parts)


async def _prepare(ctx: Context, reply: Reply, thread: Thread) -> _Send | str | None:
    """What to send, or why it cannot go (a string: given up), or None: not yet (the contact is on its way)."""
    r = RepliesSettings.of(ctx.config).replies
    if reply.box == "client":
        client = _client(ctx.config, thread.client)
        if client is None:
            return f"Open311 client {thread.client!r} has no status_webhook any more"
        texts = [render(_template(r, reply.step).text, reply.values)]
        return _Send(reply, "open311", texts, Outgoing(reply.id, reply.complaint_id, reply.step, texts[0],
                                                      str(client.status_webhook), secret=client.status_secret,
                                                      status=reply.status))
    contact = await ctx.state.get(contact_copy_key(reply.complaint_id), ComplaintContact)
    if contact is None:
        if ctx.now() - reply.queued_at < timedelta(seconds=r.contact_wait_s):
            return None
        return f"the complaint's contact did not arrive within {r.contact_wait_s:g}s"
    route = _route(ctx.config, thread, contact)
    if route is None:
        return f"no configured channel reaches this citizen (came by {thread.channel})"
    kind, address = route
    template = ""
    if kind == "whatsapp" and thread.last_inbound and ctx.now() - thread.last_inbound > timedelta(hours=24):
        template = r.whatsapp.templates.get(reply.step, "")  # type: ignore[call-overload]
    texts = _texts(ctx.config, reply, kind)
    first = 0
    if len(texts) > 1:  # the parts already delivered before a failure or a restart are not sent again
        marks = await ctx.state.store.many_bytes([sent_key(reply.id, i) for i in range(len(texts))])
        first = next((i for i, m in enumerate(marks) if m is None), len(texts))
    subject = f"[{reply.values.get('token', '')}] {reply.step}"
    return _Send(reply, kind, texts, Outgoing(reply.id, reply.complaint_id, reply.step, "", address,
                                              subject=subject, template=template), first)


async def _deliver(session: aiohttp.ClientSession, ctx: Context, work: _Send) -> Result:
    """Each part not yet delivered, in order, each marked at once; the first failure stops the rest."""
    result: Result = (True, False, "nothing left to send")
    for part in range(work.first_part, len(work.texts)):
        out = dataclasses.replace(work.out, text=work.texts[part],
                                  reply_id=work.reply.id if len(work.texts) == 1 else f"{work.reply.id}.{part + 1}")
        result = await send(session, ctx.config, work.kind, out)
        if not result[0]:
            return result
        await ctx.state.mark(sent_key(work.reply.id, part), b"1", ttl=KEEP_S)
    return result


def _attempt(ctx: Context, reply: Reply, kind: str, status: str, detail: str) -> None:
    ATTEMPTS.labels(kind, status).inc()
    ctx.emit(REPLIES, new_event(
        f"id.go.cc.reply.{status}", id=derive_id("reply-attempt", reply.id, reply.attempt, status),
        source="/processors/replies", subject=reply.complaint_id, time=ctx.now(),
        data=ReplyAttempt(reply_id=reply.id, complaint_id=reply.complaint_id, step=reply.step, kind=kind,  # type: ignore[arg-type]
                          attempt=max(1, reply.attempt), status=status, detail=detail[:500])))  # type: ignore[arg-type]


async def _settle(ctx: Context, reply: Reply) -> None:
    """The reply is done with (delivered or given up): its outbox's next reply goes now."""
    await ctx.state.mark(settled_key(reply.id), b"1", ttl=KEEP_S)
    ctx.state.cancel(TIMER, reply.id)
    thread = await ctx.state.get(thread_key(reply.complaint_id), Thread)
    if thread is None:
        return
    pending = [rid for rid in thread.outboxes.get(reply.box, []) if rid != reply.id]
    if pending:
        ctx.state.schedule(TIMER, pending[0], ctx.now())
    ctx.state.put(thread_key(thread.complaint_id), msgspec.structs.replace(
        thread, outboxes={**thread.outboxes, reply.box: pending}), ttl=KEEP_S)


async def _deliveries(ctx: Context, session: aiohttp.ClientSession) -> None:
    due = await ctx.state.claim_due(TIMER, ctx.now(), limit=PER_TICK)
    r = RepliesSettings.of(ctx.config).replies
    work: list[_Send] = []
    for rid in due:
        reply = await ctx.state.get(reply_key(rid), Reply)
        thread = await ctx.state.get(thread_key(reply.complaint_id), Thread) if reply else None
        if reply is None or thread is None:
            ctx.state.cancel(TIMER, rid)
            continue
        if await ctx.state.store.get_bytes(settled_key(rid)) is not None:
            await _settle(ctx, reply)  # settled before a crash: only the outbox's move was lost
            continue
        prepared = await _prepare(ctx, reply, thread)
        if prepared is None:
            ctx.state.schedule(TIMER, rid, ctx.now() + timedelta(seconds=CONTACT_RECHECK_S))
        elif isinstance(prepared, str):
            kind = "open311" if reply.box == "client" else (PREFERENCE.get(thread.channel) or ("sms",))[0]
            _attempt(ctx, reply, kind, "failed", prepared)
            logger.warning("reply given up", extra={"reply": rid, "complaint": reply.complaint_id, "why": prepared})
            await _settle(ctx, reply)
        else:
            work.append(prepared)
    results = await asyncio.gather(*(_deliver(session, ctx, w) for w in work))
    done: list[tuple[_Send, Reply, bool]] = []
    # every outcome is emitted before the store is touched again: a store that fails now must not keep the log
    # from hearing what was delivered (the tick's outputs are published even if it fails)
    for w, (ok, permanent, detail) in zip(work, results, strict=True):
        reply = msgspec.structs.replace(w.reply, attempt=w.reply.attempt + 1)
        if ok:
            _attempt(ctx, reply, w.kind, "sent", detail)
            done.append((w, reply, True))
        elif permanent or reply.attempt >= r.max_attempts:
            _attempt(ctx, reply, w.kind, "failed", detail)
            logger.warning("reply failed for good", extra={"reply": reply.id, "channel": w.kind, "detail": detail})
            done.append((w, reply, False))
        else:
            delay = min(r.max_backoff_s, r.first_retry_s * 2 ** (reply.attempt - 1))
            ctx.state.put(reply_key(reply.id), reply, ttl=KEEP_S)
            ctx.state.schedule(TIMER, reply.id, ctx.now() + timedelta(seconds=delay))
            _attempt(ctx, reply, w.kind, "retrying", f"{detail}; next try in {delay:g}s")
    for w, reply, delivered in done:
        if delivered and reply.step == "closed" and w.kind in ("sms", "whatsapp"):
            await ctx.state.mark(
                awaiting_key(w.kind, w.out.target),
                msgspec.json.encode(Awaiting(complaint_id=reply.complaint_id, token=reply.values.get("token", ""))),
                ttl=r.rating_days * 86_400)
        await _settle(ctx, reply)


async def tick(ctx: Context) -> None:
    await _deliveries(ctx, ctx.resources)


@asynccontextmanager
async def http_session(config: Config) -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=RepliesSettings.of(config).replies.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


def _state_keys(event: Event, config: Config) -> tuple[str, ...]:
    data = event.data
    if isinstance(data, ComplaintContact):
        return (contact_copy_key(data.complaint_id),)
    if isinstance(data, ReplyAttempt):
        return ()
    return (thread_key(event.subject),)


REPLIES_PROCESSOR = Processor(
    name="replies", inputs=(COMPLAINTS, COMPLAINT_CONTACTS, REPLIES), outputs=(REPLIES,), handle=handle, tick=tick,
    replay=(COMPLAINTS, COMPLAINT_CONTACTS, REPLIES),  # threads from the complaints, what was told from the replies
    keys=("cc:replies:*", "cc:timers:reply-*"),
    tick_every=0.2, resources=http_session, state_keys=_state_keys,
    description="each step of a complaint to its citizen (SMS, WhatsApp, e-mail, social) and its Open311 client")
