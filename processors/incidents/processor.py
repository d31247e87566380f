"""The incident processor: anomalies from every source and operators' commands in, incidents out.

Incidents go to the compacted topic cc.incidents (keyed by incident id) and to Redis for the API and the
wall; operators' actions also leave an audit event on cc.audit.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import msgspec

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event, derive_id, new_event
from command_center.events.types import AuditAction
from command_center.runtime import Context, Processor
from command_center.topics import AUDIT, SYSTEM_EVENTS
from processors.cctv.events import CCTV_EVENTS
from processors.complaints.events import COMPLAINTS
from processors.health.events import HEALTH_EVENTS
from processors.incidents import affected, correlation
from processors.incidents.config import IncidentsSettings
from processors.incidents.events import INCIDENT_COMMANDS, INCIDENTS, IncidentCommand, IncidentState
from processors.incidents.keys import (  # noqa: F401 (re-exported)
    ALL_INDEX,
    OPEN_INDEX,
    STATE,
    area_key,
    cause_key,
    dedup_key,
    incident_key,
)
from processors.incidents.lifecycle import DedupRecord, Refused, apply_command, apply_trigger, entry, worst
from processors.incidents.triggers import Trigger, triggers_of
from processors.incidents.view import INCIDENTS as INCIDENTS_VIEW
from processors.sensors.events import SENSOR_EVENTS

logger = logging.getLogger(__name__)

ACK_TIMER = "incident-ack"
KEEP_DAYS = 90


class AreaIndex(msgspec.Struct, kw_only=True):
    """Incidents opened recently in one area or on one dependency, for correlation: (incident id, opened at)."""

    entries: list[tuple[str, float]] = []


def _save(ctx: Context, incident: IncidentState, change: str, cause: str) -> None:
    ctx.state.put(incident_key(incident.id), incident)
    updated = incident.updated_at.timestamp()
    ctx.state.zadd(ALL_INDEX, incident.id, updated)
    if incident.status == "resolved":
        ctx.state.zrem(OPEN_INDEX, incident.id)
    else:
        ctx.state.zadd(OPEN_INDEX, incident.id, incident.opened_at.timestamp())
    ctx.emit(INCIDENTS, new_event(
        f"id.go.cc.incident.{change}", id=derive_id("incident-change", incident.id, cause, change),
        source="/processors/incidents", subject=incident.id, time=incident.updated_at, data=incident))


def _public(ctx: Context, trigger: Trigger) -> bool:
    return f"{trigger.source}:{trigger.kind}" in IncidentsSettings.of(ctx.config).incidents.public and \
        trigger.severity in ("major", "critical")


def _silenced(ctx: Context, trigger: Trigger) -> bool:
    return trigger.suppressed or any(s.matches(trigger.source, trigger.entity, trigger.area, trigger.kind, trigger.at)
                                     for s in IncidentsSettings.of(ctx.config).incidents.silences)


async def on_trigger(ctx: Context, trigger: Trigger, cause: str, *, held: bool = False) -> None:
    """`held`: an outage whose hold or grace period ended (it opens now, whatever its dependencies)."""
    trigger = replace(trigger, suppressed=_silenced(ctx, trigger))

    def save(incident: IncidentState, change: str) -> None:
        _save(ctx, incident, change, cause)

    if not held and (await affected.park(ctx, trigger, save) if trigger.active else
                     await affected.unpark(ctx, trigger, save)):
        return
    record = await ctx.state.get(dedup_key(trigger.dedup_key), DedupRecord) or DedupRecord(key=trigger.dedup_key)
    current = await ctx.state.get(incident_key(record.open_id), IncidentState) if record.open_id else None
    record, incident, change = apply_trigger(record, current, trigger, cause, _public(ctx, trigger))
    ctx.state.put(dedup_key(trigger.dedup_key), record)
    if change is None or incident is None:
        return
    if change == "opened":
        incident = await _correlate(ctx, await affected.opened(ctx, incident), cause)
    elif change == "reopened":  # a dependency down again: what fails under it folds again
        incident = await affected.opened(ctx, incident)
    _save(ctx, incident, change, cause)
    if change in ("cleared", "resolved"):
        await affected.released(ctx, incident)
    logger.info("incident %s", change, extra={"incident": incident.id, "dedup_key": incident.dedup_key,
                                               "severity": incident.severity, "status": incident.status})
    if change == "resolved":
        await _child_resolved(ctx, incident, cause)


async def _recent(ctx: Context, key: str, incident: IncidentState, window: float) -> list[str]:
    """The incidents opened within the window under one index (a district's, a dependency's); this one joins it."""
    opened = incident.opened_at.timestamp()
    index = await ctx.state.get(key, AreaIndex) or AreaIndex()
    recent = [(i, ts) for i, ts in index.entries if opened - ts <= window and i != incident.id]
    ctx.state.put(key, AreaIndex(entries=[*recent, (incident.id, opened)]))
    return [i for i, _ in recent]


async def _correlate(ctx: Context, incident: IncidentState, cause: str) -> IncidentState:
    """Fold an incident that just opened into the story it shares a cause or a relation with, with a parent
    created when it is the second; unrelated incidents in one district stay apart."""
    if incident.source == "correlation":
        return incident
    settings = IncidentsSettings.of(ctx.config).incidents
    window = settings.correlation_window_minutes * 60
    candidates: list[str] = []
    if incident.area:
        candidates += await _recent(ctx, area_key(incident.area), incident, window)
    outage = f"{incident.source}/{incident.kind}" in settings.outages
    for dependency in sorted(correlation.causes(ctx.config, incident)) if outage else []:
        candidates += await _recent(ctx, cause_key(dependency), incident, window)
    relations = [(r.name, *r.members) for r in settings.relations]
    siblings: list[tuple[IncidentState, str, str]] = []  # (sibling, parent kind, what they share)
    for sibling_id in dict.fromkeys(candidates):
        sibling = await ctx.state.get(incident_key(sibling_id), IncidentState)
        if sibling is None or sibling.status == "resolved" or sibling.source == "correlation":
            continue
        shared = correlation.shared_cause(settings.outages, ctx.config, incident, sibling)
        if shared:
            siblings.append((sibling, "cause", shared))
        elif relation := correlation.related_by_relation(relations, ctx.config, incident, sibling):
            siblings.append((sibling, "area", relation))
    if not siblings:
        return incident
    parent_id = next((s.parent_id for s, _, _ in siblings if s.parent_id), "")
    parent = await ctx.state.get(incident_key(parent_id), IncidentState) if parent_id else None
    change = "updated"
    if parent is None or parent.status == "resolved":
        first, kind, shared = min(siblings, key=lambda s: s[0].opened_at)
        group = shared if kind == "cause" else first.area
        parent = IncidentState(
            id=derive_id("correlation", group, first.id), dedup_key=f"correlation:{group}:{first.id}",
            title="", severity=first.severity, status="open", source="correlation", kind=kind,
            area=first.area if kind == "area" or first.area == incident.area else "",
            opened_at=first.opened_at, updated_at=incident.opened_at, entities=[], children=[], public=False,
            timeline=[], links={"cause": shared} if kind == "cause" else {"relation": shared})
        change = "opened"
        for sibling, _, _ in siblings:
            if not sibling.parent_id:
                parent = _adopt(ctx.config, parent, sibling)
                _save(ctx, msgspec.structs.replace(sibling, parent_id=parent.id), "updated", cause)
    parent = _adopt(ctx.config, parent, incident)
    _save(ctx, parent, change, cause)
    return msgspec.structs.replace(incident, parent_id=parent.id)


def _adopt(config: Config, parent: IncidentState, child: IncidentState) -> IncidentState:
    children = [*parent.children, child.id]
    if parent.kind == "cause":
        found = config.place(parent.links.get("cause", ""))
        title = f"Kemungkinan satu penyebab: {found.name if found else parent.links.get('cause', '')}: " \
                f"{len(children)} anomali"
    else:
        area = by_id(config.areas).get(parent.area)
        title = f"Kejadian terkait di {area.name if area else parent.area}: {len(children)} anomali"
    return msgspec.structs.replace(
        parent, children=children, entities=sorted({*parent.entities, *child.entities}),
        severity=worst(parent.severity, child.severity), public=parent.public or child.public,
        updated_at=max(parent.updated_at, child.opened_at), title=title,
        area=parent.area if parent.area == child.area else "",
        timeline=[*parent.timeline, entry(child.opened_at, "grouped", child.title, event_id=child.id)][-200:],
    )


async def _child_resolved(ctx: Context, child: IncidentState, cause: str) -> None:
    """A parent resolves when the last of its children does."""
    if not child.parent_id:
        return
    parent = await ctx.state.get(incident_key(child.parent_id), IncidentState)
    if parent is None or parent.status == "resolved":
        return
    children = [await ctx.state.get(incident_key(i), IncidentState) for i in parent.children]
    if all(c is None or c.status == "resolved" for c in children):
        resolved = msgspec.structs.replace(
            parent, status="resolved", cleared=True, resolved_at=child.updated_at, updated_at=child.updated_at,
            timeline=[*parent.timeline, entry(child.updated_at, "resolved", "every related anomaly cleared")][-200:])
        _save(ctx, resolved, "resolved", cause)


async def on_command(ctx: Context, event: Event, command: IncidentCommand) -> None:
    incident = await ctx.state.get(incident_key(command.incident_id), IncidentState)
    if incident is None:
        logger.warning("command for an unknown incident", extra={"incident": command.incident_id})
        return
    try:
        after, change = apply_command(incident, command, event.time, event.id)
    except Refused as refused:
        _audit(ctx, event, command, f"refused: {refused}")
        return
    if change is None:
        return
    _save(ctx, after, change, event.id)
    _audit(ctx, event, command, command.text[:200])
    timeout = IncidentsSettings.of(ctx.config).incidents.ack_timeout_minutes
    if change == "acknowledged" and timeout:
        ctx.state.schedule(ACK_TIMER, after.id, event.time + timedelta(minutes=timeout))
    if change == "resolved":
        await affected.released(ctx, after)
        ctx.state.cancel(ACK_TIMER, after.id)
        record = await ctx.state.get(dedup_key(after.dedup_key), DedupRecord)
        if record is not None and record.open_id == after.id:
            ctx.state.put(dedup_key(after.dedup_key), msgspec.structs.replace(record, open_id=""))
        await _child_resolved(ctx, after, event.id)
    if after.source == "correlation" and command.action in ("ack", "resolve"):
        for child_id in after.children:  # acknowledging a story acknowledges its parts; resolving it resolves
            child = await ctx.state.get(incident_key(child_id), IncidentState)  # only those that have cleared
            if child is None or child.status == "resolved" or (command.action == "ack" and child.acknowledged) \
                    or (command.action == "resolve" and not child.cleared):
                continue
            await on_command(ctx, event, msgspec.structs.replace(command, incident_id=child_id))


def _audit(ctx: Context, event: Event, command: IncidentCommand, detail: str) -> None:
    ctx.emit(AUDIT, new_event(
        "id.go.cc.audit.action", id=derive_id("audit", event.id, command.incident_id), source="/processors/incidents",
        subject=command.incident_id, time=event.time,
        data=AuditAction(actor=command.actor, role=command.role, action=f"incident.{command.action}",
                         target_kind="incident", target_id=command.incident_id, detail=detail)))


async def restore(ctx: Context, incident: IncidentState) -> None:
    """An incident as cc.incidents last recorded it, read again while this processor's lost state is derived from
    the topic (its changelog): the incident, its indexes, its dedup key's generation and open incident, the open
    outage of its entities and its acknowledgement's timer. (Which outages were held or folded under it, and the
    correlation window's recent openings, are relearned from what comes.)"""
    current = await ctx.state.get(incident_key(incident.id), IncidentState)
    if current is not None and current.updated_at > incident.updated_at:
        return
    ctx.state.put(incident_key(incident.id), incident)
    ctx.state.zadd(ALL_INDEX, incident.id, incident.updated_at.timestamp())
    if incident.status == "resolved":
        ctx.state.zrem(OPEN_INDEX, incident.id)
    else:
        ctx.state.zadd(OPEN_INDEX, incident.id, incident.opened_at.timestamp())
    if incident.source != "correlation":
        record = await ctx.state.get(dedup_key(incident.dedup_key), DedupRecord) or DedupRecord(key=incident.dedup_key)
        generation = max(record.generation, incident.generation)
        if incident.status != "resolved":
            record = msgspec.structs.replace(record, generation=generation, open_id=incident.id)
        else:
            record = msgspec.structs.replace(record, generation=generation,
                                             open_id="" if record.open_id == incident.id else record.open_id)
        ctx.state.put(dedup_key(incident.dedup_key), record)
    if affected.is_outage(ctx.config, incident.source, incident.kind) and incident.status in ("open", "acknowledged"):
        for entity in incident.entities:
            ctx.state.put(affected.down_key(entity), affected.Keys(keys=[incident.id]))
    timeout = IncidentsSettings.of(ctx.config).incidents.ack_timeout_minutes
    acked = [e.at for e in incident.timeline if e.kind == "acknowledged"]
    if timeout and incident.status == "acknowledged" and acked:
        ctx.state.schedule(ACK_TIMER, incident.id, acked[-1] + timedelta(minutes=timeout))
    else:
        ctx.state.cancel(ACK_TIMER, incident.id)


async def handle(event: Event, ctx: Context) -> None:
    if isinstance(event.data, IncidentState):  # its own output read back: state only while it is being rebuilt
        if ctx.replaying:
            await restore(ctx, event.data)
        return
    if isinstance(event.data, IncidentCommand):
        await on_command(ctx, event, event.data)
        return
    for trigger in triggers_of(event, ctx.config):
        await on_trigger(ctx, trigger, event.id)


async def tick(ctx: Context) -> None:
    """Acknowledgements that lapsed without the incident clearing go back to open; old incidents leave the index."""
    now = ctx.now()
    ctx.state.zremrangebyscore(ALL_INDEX, 0, now.timestamp() - KEEP_DAYS * 86_400)
    for trigger in await affected.due(ctx):  # held outages whose hold or grace ended: their own incidents now
        await on_trigger(ctx, trigger, derive_id("held", trigger.dedup_key, now.isoformat()), held=True)
    for incident_id in await ctx.state.claim_due(ACK_TIMER, now):
        ctx.state.cancel(ACK_TIMER, incident_id)
        command = IncidentCommand(incident_id=incident_id, action="unack", actor="system", role="system",
                                  text="acknowledgement timed out")
        cause = new_event("id.go.cc.incident.command", id=derive_id("ack-timeout", incident_id, now.isoformat()),
                          source="/processors/incidents", subject=incident_id, time=now, data=command)
        await on_command(ctx, cause, command)


def state_keys(event: Event, config: Config) -> list[str]:
    """What handling `event` reads first: its dedup records and its area's index."""
    if isinstance(event.data, IncidentCommand):
        return [incident_key(event.data.incident_id)]
    if isinstance(event.data, IncidentState):
        return [incident_key(event.data.id), dedup_key(event.data.dedup_key)]
    found = triggers_of(event, config)
    return [dedup_key(t.dedup_key) for t in found] + [area_key(t.area) for t in found if t.area and t.active]


INCIDENTS_PROCESSOR = Processor(
    view=INCIDENTS_VIEW,
    name="incidents",
    inputs=(CCTV_EVENTS, HEALTH_EVENTS, SENSOR_EVENTS, COMPLAINTS, SYSTEM_EVENTS, INCIDENT_COMMANDS, INCIDENTS),
    outputs=(INCIDENTS, AUDIT), handle=handle, tick=tick, tick_every=1.0, state_keys=state_keys,
    replay=STATE.topics,  # its own compacted output is its changelog: every incident as last recorded
    keys=("cc:incident:*", "cc:incidents:*", "cc:timers:incident-*"),
    description="deduplicated incidents, lifecycle, correlation by area, operator commands")
