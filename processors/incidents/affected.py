"""What depends on something that is down opens no incident of its own: it is folded under the dependency's
incident as affected (shown there, counted in its title and pages), and nobody is paged for it.

    switch down ──────────────────────────┐ (incident, paged)            switch up (resolved, sent)
    camera offline ─ held (hold_s) ─ folded under the switch ── affected ─┴─ grace (grace_s) ─ still offline:
                                                                                              its own incident

An outage of an entity with a watched dependency (one that is itself checked: a switch or a link with an ICMP
check, an app) waits `dependency_hold_s` before it opens, because the camera that times out and the switch that
stops answering are seen in either order; if a dependency goes down meanwhile it is folded at once. When the
dependency recovers, each entity still failing waits `affected_grace_s` and then opens its own incident; one
that recovers first opens nothing. Monitoring never stops and no resolution is held back: the dependency's
incident resolves when the dependency does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import msgspec

from command_center.config import Config
from command_center.runtime import Context
from processors.incidents.config import IncidentsSettings
from processors.incidents.events import IncidentState
from processors.incidents.keys import dedup_key, down_key, folded_key, incident_key, parked_key, waiting_key
from processors.incidents.lifecycle import DedupRecord, entry
from processors.incidents.triggers import Trigger

HOLD_TIMER = "incident-hold"
Save = Callable[[IncidentState, str], None]  # keep an incident and emit its change
_COUNT = re.compile(r" \(\d+ terdampak\)$")


class Parked(msgspec.Struct, kw_only=True):
    """An outage that has no incident of its own: held for a while, or folded under `parent`."""

    trigger: Trigger
    parent: str = ""  # the dependency's incident it is folded under; "" while held
    watched: list[str] = []  # the watched dependencies it waits on


class Keys(msgspec.Struct, kw_only=True):
    keys: list[str] = []


def watched(config: Config, entity: str) -> list[str]:
    """What `entity` runs on that is itself checked (an app, a device with an ICMP check), nearest first."""
    out = []
    for name in config.dependencies(entity):
        place = config.place(name)
        if place is not None and place.source != "topology":
            out.append(name)
    return out


def is_outage(config: Config, source: str, kind: str) -> bool:
    return f"{source}/{kind}" in IncidentsSettings.of(config).incidents.outages


def titled(incident: IncidentState) -> IncidentState:
    base = _COUNT.sub("", incident.title)
    n = len(incident.affected)
    return msgspec.structs.replace(incident, title=f"{base} ({n} terdampak)" if n else base)


async def _add(ctx: Context, key: str, member: str) -> None:
    found = await ctx.state.get(key, Keys) or Keys()
    if member not in found.keys:
        ctx.state.put(key, Keys(keys=[*found.keys, member]))


async def _remove(ctx: Context, key: str, member: str) -> None:
    found = await ctx.state.get(key, Keys)
    if found is not None and member in found.keys:
        rest = [k for k in found.keys if k != member]
        ctx.state.put(key, Keys(keys=rest)) if rest else ctx.state.delete(key)


def _fold(incident: IncidentState, trigger: Trigger) -> IncidentState:
    if trigger.entity in incident.affected:
        return incident
    return titled(msgspec.structs.replace(
        incident, affected=[*incident.affected, trigger.entity], updated_at=max(incident.updated_at, trigger.at),
        timeline=[*incident.timeline, entry(trigger.at, "affected", trigger.title)][-200:]))


async def park(ctx: Context, trigger: Trigger, save: Save) -> bool:
    """An outage raised: folded under a dependency that is down, or held while one may yet go down. False when
    it should open its own incident now."""
    deps = watched(ctx.config, trigger.entity)
    if not deps or not is_outage(ctx.config, trigger.source, trigger.kind):
        return False
    key = parked_key(trigger.dedup_key)
    if await ctx.state.get(key, Parked) is not None:
        return True  # already held or folded: a repeat
    record = await ctx.state.get(dedup_key(trigger.dedup_key), DedupRecord)
    if record is not None and record.open_id:
        return False  # it has its own incident already (opened before its dependency fell): that one goes on
    for dep in deps:
        down = await ctx.state.get(down_key(dep), Keys)
        parent = await ctx.state.get(incident_key(down.keys[0]), IncidentState) if down and down.keys else None
        if parent is not None and parent.status != "resolved" and not parent.cleared:
            ctx.state.put(key, Parked(trigger=trigger, parent=parent.id, watched=deps))
            await _add(ctx, folded_key(parent.id), trigger.dedup_key)
            save(_fold(parent, trigger), "updated")
            return True
    hold = IncidentsSettings.of(ctx.config).incidents.dependency_hold_s
    if hold <= 0:
        return False
    ctx.state.put(key, Parked(trigger=trigger, watched=deps))
    for dep in deps:
        await _add(ctx, waiting_key(dep), trigger.dedup_key)
    ctx.state.schedule(HOLD_TIMER, trigger.dedup_key, ctx.now() + timedelta(seconds=hold))
    return True


async def unpark(ctx: Context, trigger: Trigger, save: Save) -> bool:
    """An outage cleared: True when it had no incident of its own (held or folded), which is then forgotten
    (and taken off its parent's affected list)."""
    key = parked_key(trigger.dedup_key)
    parked = await ctx.state.get(key, Parked)
    if parked is None:
        return False
    ctx.state.delete(key)
    ctx.state.cancel(HOLD_TIMER, trigger.dedup_key)
    for dep in parked.watched:
        await _remove(ctx, waiting_key(dep), trigger.dedup_key)
    if parked.parent:
        await _remove(ctx, folded_key(parked.parent), trigger.dedup_key)
        parent = await ctx.state.get(incident_key(parked.parent), IncidentState)
        if parent is not None and trigger.entity in parent.affected:
            save(titled(msgspec.structs.replace(
                parent, affected=[e for e in parent.affected if e != trigger.entity],
                updated_at=max(parent.updated_at, trigger.at),
                timeline=[*parent.timeline, entry(trigger.at, "recovered", trigger.title)][-200:])), "updated")
    return True


async def opened(ctx: Context, incident: IncidentState) -> IncidentState:
    """An outage incident opened: what depends on its entity is folded under it from now on, and what was held
    on it is folded now (before its first page goes, so the page counts them)."""
    if not is_outage(ctx.config, incident.source, incident.kind):
        return incident
    for entity in incident.entities:
        ctx.state.put(down_key(entity), Keys(keys=[incident.id]))
        waiting = await ctx.state.get(waiting_key(entity), Keys)
        for dedup in waiting.keys if waiting else []:
            parked = await ctx.state.get(parked_key(dedup), Parked)
            if parked is None or parked.parent:
                continue
            ctx.state.put(parked_key(dedup), msgspec.structs.replace(parked, parent=incident.id))
            ctx.state.cancel(HOLD_TIMER, dedup)
            for dep in parked.watched:
                await _remove(ctx, waiting_key(dep), dedup)
            await _add(ctx, folded_key(incident.id), dedup)
            incident = _fold(incident, parked.trigger)
    return incident


async def released(ctx: Context, incident: IncidentState) -> None:
    """A dependency's incident cleared or was resolved: what is still failing under it waits the grace period,
    then opens its own incident (unless it recovers, or the dependency goes down again, first)."""
    for entity in incident.entities:
        down = await ctx.state.get(down_key(entity), Keys)
        if down is not None and down.keys == [incident.id]:
            ctx.state.delete(down_key(entity))
    folded = await ctx.state.get(folded_key(incident.id), Keys)
    if folded is None:
        return
    ctx.state.delete(folded_key(incident.id))
    grace = IncidentsSettings.of(ctx.config).incidents.affected_grace_s
    for dedup in folded.keys:
        parked = await ctx.state.get(parked_key(dedup), Parked)
        if parked is None or parked.parent != incident.id:
            continue
        ctx.state.put(parked_key(dedup), msgspec.structs.replace(parked, parent=""))
        for dep in parked.watched:
            await _add(ctx, waiting_key(dep), dedup)
        ctx.state.schedule(HOLD_TIMER, dedup, ctx.now() + timedelta(seconds=grace))


async def due(ctx: Context) -> list[Trigger]:
    """The held outages whose time is up: each opens its own incident now."""
    out = []
    for dedup in await ctx.state.claim_due(HOLD_TIMER, ctx.now()):
        ctx.state.cancel(HOLD_TIMER, dedup)
        parked = await ctx.state.get(parked_key(dedup), Parked)
        if parked is None or parked.parent:
            continue
        ctx.state.delete(parked_key(dedup))
        for dep in parked.watched:
            await _remove(ctx, waiting_key(dep), dedup)
        out.append(parked.trigger)
    return out
