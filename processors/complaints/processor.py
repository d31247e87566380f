"""The complaints processor: receipts routed to an agency with their SLA clocks, duplicates linked, agencies'
actions applied, breaches and surges raised. It reads cc.complaints (and the contacts topic) and writes its
decisions back to cc.complaints, where the incident processor and the hub read them.

Clocks start at receipt: a response is due `response_minutes` later (60 unless the service says otherwise)
and feedback to the citizen `feedback_minutes` later (1,440), or, for a service that counts in working time
(`response_working_hours`, `feedback_working_days`), that much of the site's working calendar later. Each is a Redis timer, so a restarted or
different instance keeps every deadline; a breach fires once, at its minute, and only if the agency has not
acted. Closing a complaint gives its response and feedback if they were still owed, and closes its
duplicates with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from command_center.config import Config
from command_center.config.base import by_id
from command_center.errors import Refused
from command_center.events import Event, derive_id, new_event
from command_center.events.types import AuditAction
from command_center.runtime import Context, Processor
from command_center.topics import AUDIT
from processors.complaints import stats
from processors.complaints.config import ComplaintsSettings, deadlines
from processors.complaints.events import (
    COMPLAINT_CONTACTS,
    COMPLAINTS,
    ComplaintAction,
    ComplaintBreach,
    ComplaintContact,
    ComplaintForwarded,
    ComplaintLinked,
    ComplaintRated,
    ComplaintReceived,
    ComplaintRouted,
    ComplaintSurge,
)
from processors.complaints.record import (
    BY_TIME,
    ComplaintRecord,
    StatusChange,
    TokenRef,
    by_service_key,
    contact_key,
    contact_ref_of,
    from_receipt,
    geo_key,
    recent_key,
    record_key,
    token_key,
)
from processors.complaints.route import area_of, route
from processors.complaints.surge import SurgeChange, SurgeMemory, counted, hour_ended, surge_key
from processors.complaints.tokens import claim_token
from processors.complaints.view import COMPLAINTS_VIEW, RECORDS

logger = logging.getLogger(__name__)

RESPONSE_TIMER = "complaint-response"
FEEDBACK_TIMER = "complaint-feedback"
SURGE_TIMER = "complaint-surge"
TRIM_TIMER = "complaint-trim"
HISTORY = 100
SOURCE = "/processors/complaints"


def _change(record: ComplaintRecord, action: str, at: datetime, *, actor: str = "", notes: str = "",
            event_id: str = "", **fields: object) -> ComplaintRecord:
    history = [*record.history, StatusChange(at=at, action=action, actor=actor, notes=notes[:1000],
                                             event_id=event_id)][-HISTORY:]
    return msgspec.structs.replace(record, history=history, updated_at=max(record.updated_at, at), **fields)


async def _duplicate_of(ctx: Context, data: ComplaintReceived) -> tuple[ComplaintRecord, float] | None:
    """An open, first-reported complaint of the same service within the radius and the window."""
    if data.location is None:
        return None
    c = ComplaintsSettings.of(ctx.config).complaints
    window = timedelta(minutes=c.duplicate_window_minutes)
    near = [(member, distance) for member, distance in await ctx.state.geo_near(
        geo_key(data.service_code), data.location.long, data.location.lat, c.duplicate_radius_m)
        if member != data.complaint_id]
    records = await ctx.state.get_many([record_key(member) for member, _ in near], ComplaintRecord)  # one round trip
    for (_, distance), first in zip(near, records, strict=True):
        if first is not None and first.status == "open" and not first.duplicate_of and \
                abs(data.requested_at - first.requested_at) <= window:
            return first, distance
    return None


def _receipt_of(record: ComplaintRecord) -> str:
    return record.receipt_id or (record.history[0].event_id if record.history else "")


async def receive(ctx: Context, event: Event, data: ComplaintReceived) -> None:
    """Make the complaint's record, once: a replay of its receipt changes nothing, and another receipt under
    the same id (a reused Idempotency-Key with another body) is refused, keeping the first complaint whole."""
    existing = await ctx.state.get(record_key(data.complaint_id), ComplaintRecord)
    if existing is not None:
        if _receipt_of(existing) == event.id:
            return  # a replay
        raise Refused(f"complaint {data.complaint_id} already exists (receipt {_receipt_of(existing)}); "
                      f"this different receipt is not applied")
    token = data.token
    held = await ctx.state.get(token_key(token), TokenRef) if token else None
    if held is None and token:  # the store lost intake's claim: the token the citizen was given stays theirs
        ctx.state.put(token_key(token), TokenRef(data.complaint_id))
    elif held is None or held.complaint_id != data.complaint_id:  # intake could not claim one (Redis was down)
        token = await claim_token(ctx.state.store, data.complaint_id)
    area = data.area or area_of(ctx.config, data.location, data.address)
    record = msgspec.structs.replace(from_receipt(data, event.id), area=area, token=token)
    ctx.state.zadd(BY_TIME, record.id, record.requested_at.timestamp())
    ctx.state.zadd(by_service_key(record.service_code), record.id, record.requested_at.timestamp())
    duplicate = await _duplicate_of(ctx, data)
    if duplicate is not None:
        first, distance = duplicate
        minutes = abs((data.requested_at - first.requested_at).total_seconds()) / 60
        notes = f"Aduan serupa sudah tercatat: #{first.id}"
        record = _change(record, "linked", data.requested_at, notes=notes, status_notes=notes,
                         duplicate_of=first.id, agency=first.agency, rule="duplicate")
        ctx.state.put(record_key(first.id), msgspec.structs.replace(first, duplicates=[*first.duplicates, record.id]))
        ctx.show(first.id)
        ctx.state.put(record_key(record.id), record)
        stats.count(ctx.state, ctx.config, record, "duplicates")
        ctx.emit(COMPLAINTS, new_event(
            "id.go.cc.complaint.linked", id=derive_id("linked", record.id), source=SOURCE, subject=record.id,
            time=data.requested_at, data=ComplaintLinked(complaint_id=record.id, duplicate_of=first.id,
                                                         distance_m=round(distance, 1),
                                                         minutes_apart=round(minutes, 1))))
        return
    agency, rule = route(ctx.config, record.service_code, record.description, area)
    response_due, feedback_due = deadlines(record.service_code, record.requested_at, ctx.config)
    record = _change(record, "routed", data.requested_at, notes=agency, agency=agency, rule=rule,
                     response_due=response_due, feedback_due=feedback_due)
    ctx.state.put(record_key(record.id), record)
    ctx.state.schedule(RESPONSE_TIMER, record.id, response_due)
    ctx.state.schedule(FEEDBACK_TIMER, record.id, feedback_due)
    if data.location is not None:
        ctx.state.geoadd(geo_key(record.service_code), data.location.long, data.location.lat, record.id)
        ctx.state.zadd(recent_key(record.service_code), record.id, record.requested_at.timestamp())
    stats.count(ctx.state, ctx.config, record, "received")
    ctx.emit(COMPLAINTS, new_event(
        "id.go.cc.complaint.routed", id=derive_id("routed", record.id), source=SOURCE, subject=record.id,
        time=data.requested_at, data=ComplaintRouted(complaint_id=record.id, agency=agency or "-", rule=rule,
                                                     response_due=response_due, feedback_due=feedback_due,
                                                     service_code=record.service_code, area=area)))
    await _count_for_surge(ctx, record)


async def _count_for_surge(ctx: Context, record: ComplaintRecord) -> None:
    key = surge_key(record.service_code, record.area)
    memory = await ctx.state.get(key, SurgeMemory) or SurgeMemory(service_code=record.service_code, area=record.area)
    hour = int(record.requested_at.timestamp() // 3600)
    memory, change = counted(memory, hour, ComplaintsSettings.of(ctx.config).complaints)
    ctx.state.put(key, memory)
    if change is not None:
        _emit_surge(ctx, memory, change)
        ctx.state.schedule(SURGE_TIMER, f"{record.service_code}@{record.area}",
                           datetime.fromtimestamp((hour + 1) * 3600, UTC))


def _emit_surge(ctx: Context, memory: SurgeMemory, change: SurgeChange) -> None:
    start = datetime.fromtimestamp(change.hour * 3600, UTC)
    ctx.emit(COMPLAINTS, new_event(
        "id.go.cc.complaint.surge", id=derive_id("surge", memory.service_code, memory.area, change.hour, change.active),
        source=SOURCE, subject=f"{memory.service_code}@{memory.area}", time=start,
        data=ComplaintSurge(service_code=memory.service_code, area=memory.area, active=change.active,
                            count=change.count, baseline=round(change.baseline, 2), window_start=start)))
    logger.info("complaint surge %s", "raised" if change.active else "cleared",
                extra={"service": memory.service_code, "area": memory.area, "count": change.count,
                       "baseline": change.baseline})


async def act(ctx: Context, event: Event, data: ComplaintAction) -> None:
    """An agency's respond, feedback or close; what it implies (closing gives a response still owed) comes too."""
    record = await ctx.state.get(record_key(data.complaint_id), ComplaintRecord)
    if record is None or any(h.event_id == event.id for h in record.history):
        return  # unknown, or a replay
    if data.action == "reopen":
        await _reopen(ctx, event, data, record)
        return
    if record.status == "closed":
        logger.info("action on a closed complaint ignored", extra={"complaint": record.id, "action": data.action})
        return
    applied = len(record.history)

    def step(current: ComplaintRecord, action: str, **fields: object) -> ComplaintRecord:
        return _change(current, action, data.at, actor=data.actor, notes=data.status_notes, event_id=event.id,
                       **fields)

    owed = {"respond": {"respond"}, "feedback": {"respond", "feedback"}, "close": {"respond", "feedback"}}
    if "respond" in owed[data.action] and record.responded_at is None:
        record = step(record, "responded", responded_at=data.at)
        ctx.state.cancel(RESPONSE_TIMER, record.id)
        stats.count(ctx.state, ctx.config, record, "responded")
        stats.response_time(ctx.state, ctx.config, record, (data.at - record.requested_at).total_seconds())
        if record.response_due is None or data.at <= record.response_due:
            stats.count(ctx.state, ctx.config, record, "responded_in_sla")
    if "feedback" in owed[data.action] and record.feedback_at is None:
        record = step(record, "feedback", feedback_at=data.at)
        ctx.state.cancel(FEEDBACK_TIMER, record.id)
        stats.count(ctx.state, ctx.config, record, "feedback")
        if record.feedback_due is None or data.at <= record.feedback_due:
            stats.count(ctx.state, ctx.config, record, "feedback_in_sla")
    if data.action == "close":
        record = step(record, "closed", status="closed", closed_at=data.at)
        stats.count(ctx.state, ctx.config, record, "closed")
        await _close_duplicates(ctx, record, data)
    if len(record.history) == applied:  # nothing owed any more: the new notes are the change
        record = step(record, "notes")
    if data.status_notes:
        record = msgspec.structs.replace(record, status_notes=data.status_notes)
    ctx.state.put(record_key(record.id), record)
    _audit(ctx, event, data, record)


def _audit(ctx: Context, event: Event, data: ComplaintAction, record: ComplaintRecord) -> None:
    ctx.emit(AUDIT, new_event(
        "id.go.cc.audit.action", id=derive_id("audit", event.id), source=SOURCE, subject=record.id, time=data.at,
        data=AuditAction(actor=data.actor, role=f"agency:{data.agency}" if data.agency else "operator",
                         action=f"complaint.{data.action}", target_kind="complaint", target_id=record.id,
                         detail=data.status_notes[:1000])))


async def _reopen(ctx: Context, event: Event, data: ComplaintAction, record: ComplaintRecord) -> None:
    """The desk reopens a closed complaint (its citizen rated the answer poorly, say): open again, the feedback
    owed again, its clock started anew from now by the service's rule."""
    if record.status != "closed":
        logger.info("reopen of an open complaint ignored", extra={"complaint": record.id})
        return
    _, feedback_due = deadlines(record.service_code, data.at, ctx.config)
    record = _change(record, "reopened", data.at, actor=data.actor, notes=data.status_notes, event_id=event.id,
                     status="open", closed_at=None, feedback_at=None, feedback_due=feedback_due,
                     breached=[b for b in record.breached if b != "feedback"],
                     status_notes=data.status_notes or record.status_notes)
    ctx.state.put(record_key(record.id), record)
    ctx.state.schedule(FEEDBACK_TIMER, record.id, feedback_due)
    stats.count(ctx.state, ctx.config, record, "reopened")
    _audit(ctx, event, data, record)


async def rate(ctx: Context, event: Event, data: ComplaintRated) -> None:
    """The citizen's rating of a closed complaint, kept once (the first reply counts; a replay changes nothing)."""
    record = await ctx.state.get(record_key(data.complaint_id), ComplaintRecord)
    if record is None or record.rating is not None or any(h.event_id == event.id for h in record.history):
        return
    record = _change(record, "rated", data.at, actor=data.channel, notes=f"{data.rating}/5", event_id=event.id,
                     rating=data.rating, rated_at=data.at)
    ctx.state.put(record_key(record.id), record)
    stats.count(ctx.state, ctx.config, record, "rated")
    stats.count(ctx.state, ctx.config, record, "rating_sum", data.rating)
    if data.rating <= 2:
        stats.count(ctx.state, ctx.config, record, "rated_poor")


async def forwarded(ctx: Context, event: Event, data: ComplaintForwarded) -> None:
    record = await ctx.state.get(record_key(data.complaint_id), ComplaintRecord)
    if record is None or any(h.event_id == event.id for h in record.history):
        return
    notes = f"{data.upstream}: {data.remote_token or data.remote_id}"
    ctx.state.put(record_key(record.id), _change(record, "forwarded", data.at, actor=data.upstream, notes=notes,
                                                 event_id=event.id, upstream=data.upstream,
                                                 upstream_id=data.remote_id))


async def _close_duplicates(ctx: Context, record: ComplaintRecord, data: ComplaintAction) -> None:
    for duplicate_id in record.duplicates:
        duplicate = await ctx.state.get(record_key(duplicate_id), ComplaintRecord)
        if duplicate is None or duplicate.status == "closed":
            continue
        notes = f"Ditutup bersama aduan #{record.id}: {data.status_notes}"[:4000]
        ctx.show(duplicate_id)
        ctx.state.put(record_key(duplicate_id), _change(duplicate, "closed", data.at, actor=data.actor, notes=notes,
                                                        status="closed", closed_at=data.at, status_notes=notes))


async def handle(event: Event, ctx: Context) -> None:
    data = event.data
    if isinstance(data, ComplaintReceived):
        await receive(ctx, event, data)
    elif isinstance(data, ComplaintAction):
        await act(ctx, event, data)
    elif isinstance(data, ComplaintContact):
        await keep_contact(ctx, data)
    elif isinstance(data, ComplaintRated):
        await rate(ctx, event, data)
    elif isinstance(data, ComplaintForwarded):
        await forwarded(ctx, event, data)
    elif isinstance(data, ComplaintBreach):
        await breached(ctx, data)


async def keep_contact(ctx: Context, data: ComplaintContact) -> None:
    """Write a citizen's contact once, under its complaint's own reference; never over another complaint's."""
    if data.contact_ref != contact_ref_of(data.complaint_id):
        raise Refused(f"contact {data.contact_ref} is not the reference of complaint {data.complaint_id}")
    held = await ctx.state.get(contact_key(data.contact_ref), ComplaintContact)
    if held is None:
        ctx.state.put(contact_key(data.contact_ref), data)
    elif held != data:
        raise Refused(f"complaint {data.complaint_id} already has a different contact; the first is kept")


def _breach_id(record: ComplaintRecord, deadline: str) -> str:
    """One id per deadline missed: a reopened complaint's new feedback deadline missed is another breach."""
    reopened = sum(1 for h in record.history if h.action == "reopened")
    return derive_id("breach", record.id, deadline, *([reopened] if reopened else []))


def _breached(ctx: Context, record: ComplaintRecord, deadline: str, due: datetime, escalated_to: str) -> None:
    ctx.state.cancel(RESPONSE_TIMER if deadline == "response" else FEEDBACK_TIMER, record.id)
    ctx.state.put(record_key(record.id), _change(record, f"breached_{deadline}", due, notes=escalated_to,
                                                 breached=[*record.breached, deadline], escalated_to=escalated_to))


async def breached(ctx: Context, data: ComplaintBreach) -> None:
    """A breach read back from cc.complaints: applied where the record lacks it (a store rebuilt from the log),
    so its timer does not fire a second time."""
    record = await ctx.state.get(record_key(data.complaint_id), ComplaintRecord)
    if record is not None and data.deadline not in record.breached:
        _breached(ctx, record, data.deadline, data.due, data.escalated_to)


async def _breach(ctx: Context, complaint_id: str, deadline: str) -> None:
    timer = RESPONSE_TIMER if deadline == "response" else FEEDBACK_TIMER
    ctx.state.cancel(timer, complaint_id)
    record = await ctx.state.get(record_key(complaint_id), ComplaintRecord)
    if record is None or record.status == "closed" or deadline in record.breached:
        return
    done, due = (record.responded_at, record.response_due) if deadline == "response" else \
        (record.feedback_at, record.feedback_due)
    if done is not None or due is None:
        return
    head = by_id(ctx.config.agencies).get(record.agency)
    escalated_to = head.head if head else ""
    _breached(ctx, record, deadline, due, escalated_to)
    ctx.emit(COMPLAINTS, new_event(
        "id.go.cc.complaint.breached", id=_breach_id(record, deadline), source=SOURCE, subject=record.id,
        time=due, data=ComplaintBreach(complaint_id=record.id, deadline=deadline, due=due,  # type: ignore[arg-type]
                                       agency=record.agency, service_code=record.service_code, area=record.area,
                                       escalated_to=escalated_to)))
    logger.info("complaint SLA breached", extra={"complaint": record.id, "deadline": deadline,
                                                 "agency": record.agency, "escalated_to": escalated_to})


async def tick(ctx: Context) -> None:
    """Deadlines that have passed, surges whose hour has ended, and the duplicate index's old entries."""
    now = ctx.now()
    for complaint_id in await ctx.state.claim_due(RESPONSE_TIMER, now):
        await _breach(ctx, complaint_id, "response")
    for complaint_id in await ctx.state.claim_due(FEEDBACK_TIMER, now):
        await _breach(ctx, complaint_id, "feedback")
    hour = int(now.timestamp() // 3600)
    for member in await ctx.state.claim_due(SURGE_TIMER, now):
        service_code, _, area = member.partition("@")
        key = surge_key(service_code, area)
        memory = await ctx.state.get(key, SurgeMemory)
        if memory is None:
            ctx.state.cancel(SURGE_TIMER, member)
            continue
        memory, change = hour_ended(memory, hour, ComplaintsSettings.of(ctx.config).complaints)
        ctx.state.put(key, memory)
        if change is not None:
            ctx.state.cancel(SURGE_TIMER, member)
            _emit_surge(ctx, memory, change)
        else:
            ctx.state.schedule(SURGE_TIMER, member, datetime.fromtimestamp((hour + 1) * 3600, UTC))
    ctx.state.schedule_if_absent(TRIM_TIMER, "all", now)
    if await ctx.state.claim_due(TRIM_TIMER, now):
        await _trim(ctx, now)
        ctx.state.schedule(TRIM_TIMER, "all", now + timedelta(minutes=1))


async def _trim(ctx: Context, now: datetime) -> None:
    """Drop complaints older than the duplicate window from the duplicate index (it stays small)."""
    cutoff = (now - timedelta(minutes=ComplaintsSettings.of(ctx.config).complaints.duplicate_window_minutes)).timestamp()
    for service in ComplaintsSettings.of(ctx.config).services:
        old = await ctx.state.store.range_by_score(recent_key(service.code), 0, cutoff)
        if old:
            ctx.state.zrem(geo_key(service.code), *old)
            ctx.state.zrem(recent_key(service.code), *old)


async def _prepare(events: Sequence[Event], ctx: Context) -> Mapping[str, Any]:
    """The duplicate searches the batch's receipts will make, asked of the store in one round trip (the points
    the batch itself adds are found in the batch)."""
    radius = ComplaintsSettings.of(ctx.config).complaints.duplicate_radius_m
    queries = [(geo_key(e.data.service_code), e.data.location.long, e.data.location.lat, radius) for e in events
               if isinstance(e.data, ComplaintReceived) and e.data.location is not None]
    if queries:
        await ctx.state.preload_geo(queries)
    return {}


def _state_keys(event: Event, config: Config) -> tuple[str, ...]:
    data = event.data
    if isinstance(data, ComplaintContact):
        return (contact_key(data.contact_ref),)
    if isinstance(data, ComplaintReceived) and data.token:
        return (record_key(event.subject), token_key(data.token))
    return (record_key(event.subject),)


COMPLAINTS_PROCESSOR = Processor(
    view=COMPLAINTS_VIEW,
    name="complaints", inputs=(COMPLAINTS, COMPLAINT_CONTACTS), outputs=(COMPLAINTS, AUDIT), handle=handle, tick=tick,
    tick_every=1.0, state_keys=_state_keys, prepare=_prepare,
    replay=RECORDS.topics,  # every complaint's whole life is on them (5 years), identities compacted
    # records (a UUID's first eight hex digits, then its dash), tokens, contacts, indexes, statistics, timers; not
    # intake's own notes (pending, idempotency)
    keys=("cc:complaint:" + "[0-9a-f]" * 8 + "-*", "cc:complaint:token:*", "cc:complaint:contact:*", "cc:complaints:*",
          "cc:timers:complaint-*"),
    description="routing to agencies, SLA clocks and breaches, duplicates, surges, statistics")
