"""Which incidents tell one story: those that share a cause (something they both depend on in the topology: a
switch, a link, a site) wherever they are, or a declared relation (a river gauge and the complaints of flooding)
within one district. Never unrelated kinds only because they share a district. Pure: no bus, store or clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from command_center.config import Config
from processors.incidents.events import IncidentState


def causes(config: Config, incident: IncidentState) -> set[str]:
    """Everything the incident's entities run on (the topology's nodes and entities named by `depends_on`)."""
    return {d for entity in incident.entities for d in config.dependencies(entity)}


def tags(config: Config, incident: IncidentState) -> set[str]:
    """What the incident is, as relations name it: `source/kind` of the anomaly, `source/kind` of its entities
    (sensors/water_level), and a complaint surge's category (complaints/banjir)."""
    out = {f"{incident.source}/{incident.kind}"}
    for entity in incident.entities:
        place = config.place(entity)
        if place is not None:
            out.add(f"{incident.source}/{place.kind}")
        if incident.source == "complaints" and "@" in entity:
            out.add(f"complaints/{entity.split('@', 1)[0]}")
    return out


def shared_cause(outages: Iterable[str], config: Config, a: IncidentState, b: IncidentState) -> str:
    """The nearest thing both depend on, in `a`'s order, when both are outages such a thing can cause; empty
    otherwise."""
    kinds = set(outages)
    if f"{a.source}/{a.kind}" not in kinds or f"{b.source}/{b.kind}" not in kinds:
        return ""
    theirs = causes(config, b)
    return next((d for entity in a.entities for d in config.dependencies(entity) if d in theirs), "")


def related_by_relation(relations: Iterable[Sequence[str]], config: Config, a: IncidentState,
                        b: IncidentState) -> str:
    """The name of a relation both belong to, when they are in one district; empty otherwise."""
    if not a.area or a.area != b.area:
        return ""
    mine, theirs = tags(config, a), tags(config, b)
    for relation in relations:
        members = set(relation[1:])
        if mine & members and theirs & members:
            return relation[0]
    return ""
