"""The notify processor: escalation until someone acknowledges, pushes with retries, never twice.

Escalation steps and deliveries are timers in Redis, so any instance takes over after a restart. A
delivery's id derives from incident, round, step, contact and channel; a delivered push is marked at
once (not with the batch), so a replay finds the mark and does not page the person again.

The rule for a page that does not get through: a step goes out only once every page of the step before it
has settled, and then `wait_minutes` after the first of them was delivered. While the previous step's pages
are being retried the next step waits; when all of them have used up their retries (`notify.max_attempts`,
or a permanent refusal) nobody was reached and the next step goes out at once. So the second contact is
never paged before the first contact's page got through or was given up, and always has the first
contact's full wait behind it. Every page says which step of how many it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import msgspec
from prometheus_client import Counter

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event, derive_id, new_event
from command_center.runtime import Context, Processor
from processors.incidents.events import INCIDENTS, IncidentState
from processors.incidents.keys import incident_key
from processors.notify.channels import deliver
from processors.notify.config import NotifySettings
from processors.notify.events import NOTIFICATIONS, NotificationAttempt
from processors.notify.links import make_token
from processors.notify.policy import channels, choose_policy, targets

logger = logging.getLogger(__name__)
ATTEMPTS = Counter("cc_notification_attempts_total", "Pushes tried, by channel and outcome (sent, resolved: "
                   "delivered; retrying; failed: given up)", ["channel", "outcome"])

STEP_TIMER = "notify-step"
DELIVERY_TIMER = "notify-delivery"
SENT_TTL = 7 * 86_400
MAX_BACKOFF_S = 600
RECHECK_S = 1.0  # how often a held-back step looks again at the previous step's pages
DELIVERIES_PER_TICK = 50
MAX_PAGES_KEPT = 200


class Escalation(msgspec.Struct, kw_only=True):
    incident_id: str
    policy: str
    step: int = 0
    round: int = 0
    active: bool = True
    paged: list[str] = []
    resolved_sent: bool = False
    pending: list[str] = []  # the last step's page deliveries: the next step waits until they have settled


class Delivery(msgspec.Struct, kw_only=True):
    id: str
    incident_id: str
    step: int
    round: int
    contact: str
    channel: str
    target: str
    kind: str  # page | resolved
    subject: str
    text: str
    ack_url: str = ""
    attempt: int = 0


def esc_key(incident_id: str) -> str:
    return f"cc:notify:esc:{incident_id}"


def delivery_key(notification_id: str) -> str:
    return f"cc:notify:delivery:{notification_id}"


def sent_key(notification_id: str) -> str:
    """Set when a push got through, to the time it did: a replay never sends it again."""
    return f"cc:notify:sent:{notification_id}"


def failed_key(notification_id: str) -> str:
    """Set when a push used up its retries or was refused for good."""
    return f"cc:notify:failed:{notification_id}"


def incident_copy_key(incident_id: str) -> str:
    """The incident as notify last heard of it (its own copy: it reads no other processor's state)."""
    return f"cc:notify:incident:{incident_id}"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} jam {minutes % 60} menit" if minutes >= 60 else f"{minutes} menit"


def _queue(ctx: Context, incident: IncidentState, esc: Escalation, contact_ids: list[str], kind: str,
           steps: int = 1) -> list[str]:
    """Queue a push to each contact on each of its channels; the deliveries' ids."""
    config: Config = ctx.config
    contacts = by_id(NotifySettings.of(config).contacts)
    queued: list[str] = []
    for contact_id in contact_ids:
        contact = contacts.get(contact_id)
        if contact is None:
            continue
        if kind == "page":
            expires = ctx.now() + timedelta(hours=NotifySettings.of(config).notify.ack_link_hours)
            token = make_token(config.webhook_secret, incident.id, contact.id, expires.timestamp())
            ack_url = f"{config.site.public_url.rstrip('/')}/ack/{token}"
            subject = f"[{incident.severity.upper()}] {incident.title}"
            text = (f"{incident.title}\nSeverity: {incident.severity}, area: {incident.area or '-'}\n"
                    f"Opened {incident.opened_at.isoformat()} (step {esc.step + 1} of {steps}, "
                    f"round {esc.round + 1})")
        else:
            ack_url = ""
            downtime = (incident.resolved_at or incident.updated_at) - incident.opened_at
            subject = f"[RESOLVED] {incident.title}"
            text = f"Selesai / resolved: {incident.title}\nDuration: {_duration(downtime.total_seconds())}"
        for channel, target in channels(config, contact):
            nid = derive_id("notify", incident.id, kind, esc.round, esc.step, contact.id, channel)
            delivery = Delivery(id=nid, incident_id=incident.id, step=esc.step, round=esc.round, contact=contact.id,
                                channel=channel, target=target, kind=kind, subject=subject, text=text, ack_url=ack_url)
            ctx.state.put(delivery_key(nid), delivery, ttl=SENT_TTL)
            ctx.state.schedule(DELIVERY_TIMER, nid, ctx.now())
            queued.append(nid)
    return queued


async def handle(event: Event, ctx: Context) -> None:
    if isinstance(event.data, NotificationAttempt):
        attempted(ctx, event, event.data)
        return
    incident = event.data
    if not isinstance(incident, IncidentState):
        return
    esc = await ctx.state.get(esc_key(incident.id), Escalation)
    if esc is None:
        # an incident open and unacknowledged (its first record, or, on a topic compacted, its latest)
        if incident.status != "open" or incident.acknowledged or incident.suppressed or incident.parent_id:
            return
        policy = choose_policy(ctx.config, incident)
        if policy is None:
            return
        esc = Escalation(incident_id=incident.id, policy=policy.id)
        ctx.state.put(esc_key(incident.id), esc)
        ctx.state.put(incident_copy_key(incident.id), incident, ttl=SENT_TTL * 52)
        ctx.state.schedule(STEP_TIMER, incident.id,
                           incident.opened_at + timedelta(minutes=policy.steps[0].wait_minutes))
        return
    ctx.state.put(incident_copy_key(incident.id), incident, ttl=SENT_TTL * 52)
    if incident.status == "resolved":
        ctx.state.cancel(STEP_TIMER, incident.id)
        if not esc.resolved_sent and esc.paged:
            _queue(ctx, incident, esc, esc.paged, "resolved")
        ctx.state.put(esc_key(incident.id), msgspec.structs.replace(esc, active=False, resolved_sent=True))
    elif incident.acknowledged and esc.active:
        ctx.state.cancel(STEP_TIMER, incident.id)
        ctx.state.put(esc_key(incident.id), msgspec.structs.replace(esc, active=False))
    elif incident.status == "open" and not esc.active and not esc.resolved_sent:
        restarted = msgspec.structs.replace(esc, active=True, step=0, round=esc.round + 1)
        ctx.state.put(esc_key(incident.id), restarted)
        ctx.state.schedule(STEP_TIMER, incident.id, ctx.now())


def _delivered_at(mark: bytes) -> float:
    """The time a sent mark records (a mark from before marks carried it counts as long ago)."""
    try:
        return float(mark)
    except ValueError:
        return 0.0


async def _held_back_until(ctx: Context, esc: Escalation, wait_minutes: float) -> datetime | None:
    """When the step may go out, if not now: the previous step's pages are still being retried (look again
    shortly), or the first of them was delivered less than `wait_minutes` ago."""
    if not esc.pending:
        return None
    keys = [k for nid in esc.pending for k in (sent_key(nid), failed_key(nid), delivery_key(nid))]
    marks = await ctx.state.store.many_bytes(keys)
    delivered: list[float] = []
    for sent, failed, queued in zip(marks[0::3], marks[1::3], marks[2::3], strict=True):
        if sent is None and failed is None and queued is not None:
            return ctx.now() + timedelta(seconds=RECHECK_S)
        if sent is not None:
            delivered.append(_delivered_at(sent))
    if not delivered:
        return None  # nobody was reached: no reason to wait
    due = datetime.fromtimestamp(min(delivered), UTC) + timedelta(minutes=wait_minutes)
    return due if due > ctx.now() else None


async def _step(ctx: Context, incident_id: str) -> None:
    esc = await ctx.state.get(esc_key(incident_id), Escalation)
    incident = await ctx.state.get(incident_copy_key(incident_id), IncidentState) or \
        await ctx.state.get(incident_key(incident_id), IncidentState)  # an escalation begun before notify kept a copy
    ctx.state.cancel(STEP_TIMER, incident_id)
    policy = by_id(NotifySettings.of(ctx.config).escalation_policies).get(esc.policy) if esc else None
    if esc is None or not esc.active or incident is None or policy is None or esc.step >= len(policy.steps):
        return
    if incident.acknowledged or incident.status == "resolved":
        ctx.state.put(esc_key(incident_id), msgspec.structs.replace(esc, active=False))
        return
    step = policy.steps[esc.step]
    later = await _held_back_until(ctx, esc, step.wait_minutes)
    if later is not None:
        ctx.state.schedule(STEP_TIMER, incident_id, later)
        return
    paged = [c.id for c in targets(ctx.config, step.notify, esc.round * len(policy.steps) + esc.step)]
    if esc.step == 0 and esc.round == 0:  # an agency head, say: paged with the first step whatever the policy
        paged += [c for c in incident.escalate_to if c not in paged]
    queued = _queue(ctx, incident, esc, paged, "page", steps=len(policy.steps))
    logger.info("escalation step", extra={"incident": incident_id, "step": esc.step, "round": esc.round,
                                          "contacts": paged})
    following = esc.step + 1
    next_round = esc.round
    if following >= len(policy.steps) and esc.round < policy.repeat:
        following, next_round = 0, esc.round + 1
    after = msgspec.structs.replace(esc, step=following, round=next_round, pending=queued,
                                    paged=sorted({*esc.paged, *paged}), active=following < len(policy.steps))
    ctx.state.put(esc_key(incident_id), after)
    if after.active:
        ctx.state.schedule(STEP_TIMER, incident_id,
                           ctx.now() + timedelta(minutes=policy.steps[following].wait_minutes))


def pages_key(incident_id: str) -> str:
    """Every try to reach someone for an incident, newest last: the wall's incident detail shows who was paged."""
    return f"cc:notify:pages:{incident_id}"


class PageTry(msgspec.Struct, kw_only=True):
    at: datetime
    contact: str
    channel: str
    kind: str
    step: int
    round: int
    attempt: int
    status: str
    detail: str = ""


def _attempt(ctx: Context, d: Delivery, status: str, detail: str) -> None:
    """Tell cc.notifications of a try; what it records (the marks, the incident's list of pages) is written when
    the record is read back, so a store rebuilt from the topic holds the same."""
    ATTEMPTS.labels(d.channel, status).inc()
    ctx.emit(NOTIFICATIONS, new_event(
        f"id.go.cc.notification.{status}", id=derive_id("attempt", d.id, d.attempt, status),
        source="/processors/notify", subject=d.incident_id, time=ctx.now(),
        data=NotificationAttempt(notification_id=d.id, incident_id=d.incident_id, step=d.step, attempt=d.attempt,
                                 channel=d.channel, target=d.contact, status=status, detail=detail[:500],  # type: ignore[arg-type]
                                 kind=d.kind, round=d.round)))  # type: ignore[arg-type]


def attempted(ctx: Context, event: Event, a: NotificationAttempt) -> None:
    """A try read back from cc.notifications: a delivered push is marked with its time (never sent again, and
    the next step's wait counts from it), one given up is marked failed, and the incident's list shows it."""
    if a.status in ("sent", "resolved"):
        ctx.state.put(sent_key(a.notification_id), repr(event.time.timestamp()).encode(), ttl=SENT_TTL)
    elif a.status == "failed":
        ctx.state.put(failed_key(a.notification_id), b"1", ttl=SENT_TTL)
    ctx.state.push_capped(pages_key(a.incident_id), msgspec.json.encode(PageTry(
        at=event.time, contact=a.target, channel=a.channel, kind=a.kind, step=a.step, round=a.round,
        attempt=a.attempt, status=a.status, detail=a.detail[:200])), MAX_PAGES_KEPT)


async def _deliveries(ctx: Context, session: aiohttp.ClientSession) -> None:
    due = await ctx.state.claim_due(DELIVERY_TIMER, ctx.now(), limit=DELIVERIES_PER_TICK)
    if not due:
        return
    store = ctx.state.store
    work: list[Delivery] = []
    for nid in due:
        delivery = await ctx.state.get(delivery_key(nid), Delivery)
        if delivery is None or await store.get_bytes(sent_key(nid)) is not None:
            ctx.state.cancel(DELIVERY_TIMER, nid)
            continue
        work.append(delivery)
    results = await asyncio.gather(*(deliver(session, ctx.config, d.channel, d.target, {
        "notification_id": d.id, "incident_id": d.incident_id, "kind": d.kind, "subject": d.subject, "text": d.text,
        "ack_url": d.ack_url, "step": d.step, "attempt": d.attempt + 1}) for d in work))
    n = NotifySettings.of(ctx.config).notify
    for delivery, (ok, permanent, detail) in zip(work, results, strict=True):
        d = msgspec.structs.replace(delivery, attempt=delivery.attempt + 1)
        if ok:  # marked at once, with the time: never page twice, and the next step's wait counts from here
            await ctx.state.mark(sent_key(d.id), repr(ctx.now().timestamp()).encode(), ttl=SENT_TTL)
            ctx.state.cancel(DELIVERY_TIMER, d.id)
            _attempt(ctx, d, "sent" if d.kind == "page" else "resolved", detail)
        elif permanent or d.attempt >= n.max_attempts:
            await ctx.state.mark(failed_key(d.id), b"1", ttl=SENT_TTL)
            ctx.state.cancel(DELIVERY_TIMER, d.id)
            _attempt(ctx, d, "failed", detail)
            logger.warning("push failed for good", extra={"notification": d.id, "channel": d.channel,
                                                          "contact": d.contact, "detail": detail})
        else:
            delay = min(MAX_BACKOFF_S, n.first_retry_s * 2 ** (d.attempt - 1))
            ctx.state.put(delivery_key(d.id), d, ttl=SENT_TTL)
            ctx.state.schedule(DELIVERY_TIMER, d.id, ctx.now() + timedelta(seconds=delay))
            _attempt(ctx, d, "retrying", f"{detail}; next try in {delay:g}s")


async def tick(ctx: Context) -> None:
    """Escalation steps that are due, then pushes that are due (new ones and retries)."""
    steps = await ctx.state.claim_due(STEP_TIMER, ctx.now())
    for incident_id in steps:
        await _step(ctx, incident_id)
    if steps:
        await ctx.state.flush()  # steps emit nothing, so their pushes may go out in this same tick
    await _deliveries(ctx, ctx.resources)


@asynccontextmanager
async def http_session(config: Config) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=NotifySettings.of(config).notify.timeout_s)) as session:
        yield session


NOTIFY = Processor(name="notify", inputs=(INCIDENTS, NOTIFICATIONS), outputs=(NOTIFICATIONS,), handle=handle,
                   tick=tick, tick_every=0.1, resources=http_session, replay=(INCIDENTS, NOTIFICATIONS),
                   keys=("cc:notify:esc:*", "cc:notify:delivery:*", "cc:notify:sent:*", "cc:notify:failed:*",
                         "cc:notify:pages:*", "cc:notify:incident:*", "cc:timers:notify-*"),
                   description="escalation policies, pushes by webhook, Telegram and e-mail, one-click ack links")
