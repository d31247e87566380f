"""Public incidents as OASIS CAP 1.2 alerts, and an Atom feed of them, for BPBD and public displays.

An incident opens as msgType Alert, changes as Update and ends as Cancel, each Update and Cancel
referencing the first Alert. Times carry a numeric offset: CAP forbids "Z".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from command_center.config import Config, Place
from command_center.config.base import by_id
from command_center.xmldoc import serialize
from processors.incidents.config import CapTemplate, IncidentsSettings
from processors.incidents.events import IncidentState

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
URGENCY = {"critical": "Immediate", "major": "Expected", "minor": "Future", "info": "Unknown"}
SEVERITY = {"critical": "Severe", "major": "Moderate", "minor": "Minor", "info": "Unknown"}
LANGUAGES = (("id", "id-ID"), ("en", "en-US"))
CIRCLE_KM = 2.0  # the area around a located sensor when its district has no outline


@dataclass(frozen=True)
class PublicSubject:
    """What a public alert is about: the one entity of a kind the public is told of, and its words."""

    place: Place
    template: CapTemplate


def public_subject(incident: IncidentState, config: Config) -> PublicSubject | None:
    """The first of the incident's entities whose kind has a public template; None when it has none, and then
    nothing of it is published (a correlation parent's other members, internal applications, complaints,
    cameras and operators' comments never are)."""
    if not incident.public or incident.suppressed:
        return None
    templates = IncidentsSettings.of(config).incidents.cap
    for entity in incident.entities:
        place = config.place(entity)
        if place is None:
            continue
        template = templates.get(place.kind) or templates.get(f"{place.source}:{place.kind}")
        if template is not None:
            return PublicSubject(place, template)
    return None


def cap_time(when: datetime, zone: str) -> str:
    return when.astimezone(ZoneInfo(zone)).replace(microsecond=0).isoformat()


def _sender(config: Config) -> str:
    return f"command-center@{config.site.code}.go.id"


def _identifier(config: Config, incident: IncidentState, when: datetime | None = None) -> str:
    base = f"{config.site.code}-{incident.id}"
    return base if when is None else f"{base}-{int(when.timestamp())}"


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP}}}{tag}")
    element.text = text
    return element


def _area(info: ET.Element, subject: PublicSubject, config: Config) -> None:
    district = by_id(config.areas).get(subject.place.area)
    area = ET.SubElement(info, f"{{{CAP}}}area")
    _sub(area, "areaDesc", f"{district.name if district else subject.place.area or config.site.name}, "
                           f"{config.site.name}")
    if district is not None and district.polygon:
        ring = [*district.polygon, district.polygon[0]]  # CAP: the first and last pairs are the same
        _sub(area, "polygon", " ".join(f"{p.lat:.5f},{p.long:.5f}" for p in ring))
    elif district is not None and district.center is not None:
        _sub(area, "circle", f"{district.center.lat:.5f},{district.center.long:.5f} {district.radius_km:g}")
    elif subject.place.location is not None:
        _sub(area, "circle", f"{subject.place.location.lat:.5f},{subject.place.location.long:.5f} {CIRCLE_KM:g}")
    if district is not None and district.code:
        geocode = ET.SubElement(area, f"{{{CAP}}}geocode")
        _sub(geocode, "valueName", "KODE_WILAYAH_KEMENDAGRI")
        _sub(geocode, "value", district.code)


def cap_alert(incident: IncidentState, config: Config, subject: PublicSubject) -> ET.Element:
    """The incident as the public sees it: the template's words for its public entity, its severity and its
    district; nothing from its timeline, its comments or the other members of its story."""
    zone = config.site.timezone
    first = incident.count == 1 and incident.status in ("open", "acknowledged") and \
        incident.updated_at == incident.opened_at
    msg_type = "Cancel" if incident.status == "resolved" else ("Alert" if first else "Update")
    alert = ET.Element(f"{{{CAP}}}alert")
    _sub(alert, "identifier", _identifier(config, incident, None if msg_type == "Alert" else incident.updated_at))
    _sub(alert, "sender", _sender(config))
    _sub(alert, "sent", cap_time(incident.updated_at, zone))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "source", config.site.name)
    _sub(alert, "scope", "Public")
    if msg_type != "Alert":
        _sub(alert, "references", f"{_sender(config)},{_identifier(config, incident)},{cap_time(incident.opened_at, zone)}")
    district = by_id(config.areas).get(subject.place.area)
    words = {"name": subject.place.name, "area": district.name if district else subject.place.area or config.site.name}
    for key, language in LANGUAGES:
        text = getattr(subject.template, key)
        info = ET.SubElement(alert, f"{{{CAP}}}info")
        _sub(info, "language", language)
        _sub(info, "category", subject.template.category)
        _sub(info, "event", text.event)
        _sub(info, "responseType", "AllClear" if msg_type == "Cancel" else "Monitor")
        _sub(info, "urgency", "Past" if msg_type == "Cancel" else URGENCY[incident.severity])
        _sub(info, "severity", SEVERITY[incident.severity])
        _sub(info, "certainty", subject.template.certainty)
        _sub(info, "senderName", config.site.name)
        _sub(info, "headline", text.headline.format_map(words)[:160])
        _sub(info, "description", text.description.format_map(words))
        if msg_type != "Cancel" and text.instruction:
            _sub(info, "instruction", text.instruction.format_map(words))
        _sub(info, "web", f"{config.site.public_url.rstrip('/')}/cap/alerts/{incident.id}.xml")
        _area(info, subject, config)
    return alert


def cap_document(incident: IncidentState, config: Config, subject: PublicSubject) -> bytes:
    ET.register_namespace("", CAP)
    return serialize(cap_alert(incident, config, subject))


def atom_feed(incidents: list[tuple[IncidentState, PublicSubject]], config: Config) -> bytes:
    ET.register_namespace("", ATOM)
    base = config.site.public_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM}}}feed")
    for tag, text in (("id", f"{base}/cap/alerts.xml"), ("title", f"Peringatan publik - {config.site.name}"),
                      ("updated", cap_time(max((i.updated_at for i, _ in incidents), default=datetime.now().astimezone()),
                                           config.site.timezone))):
        ET.SubElement(feed, f"{{{ATOM}}}{tag}").text = text
    ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = config.site.name
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}/cap/alerts.xml")
    for incident, subject in incidents:
        district = by_id(config.areas).get(subject.place.area)
        words = {"name": subject.place.name, "area": district.name if district else subject.place.area}
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{base}/cap/alerts/{incident.id}.xml"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = subject.template.id.headline.format_map(words)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = cap_time(incident.updated_at, config.site.timezone)
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = f"{incident.severity} - {incident.status}"
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="application/cap+xml",
                      href=f"{base}/cap/alerts/{incident.id}.xml")
    return serialize(feed)
