"""Public incidents as OASIS CAP 1.2 alerts, and an Atom feed of them, for BPBD and public displays.

An incident opens as msgType Alert, changes as Update and ends as Cancel, each Update and Cancel
referencing the first Alert. Times carry a numeric offset: CAP forbids "Z".
"""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from command_center.config import Config
from command_center.xmldoc import serialize
from processors.incidents.events import IncidentState
from processors.incidents.view import location_of

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
URGENCY = {"critical": "Immediate", "major": "Expected", "minor": "Future", "info": "Unknown"}
SEVERITY = {"critical": "Severe", "major": "Moderate", "minor": "Minor", "info": "Unknown"}
EVENTS = {"water_level": ("Met", "Banjir / tinggi muka air"), "rainfall": ("Met", "Hujan lebat"),
          "air_quality": ("Env", "Kualitas udara buruk")}
INSTRUCTIONS = {"Met": "Hindari area terdampak, jauhi bantaran sungai, dan ikuti arahan BPBD.",
                "Env": "Kurangi aktivitas di luar ruangan dan gunakan masker."}


def cap_time(when: datetime, zone: str) -> str:
    return when.astimezone(ZoneInfo(zone)).replace(microsecond=0).isoformat()


def _sender(config: Config) -> str:
    return f"command-center@{config.site.code}.go.id"


def _identifier(config: Config, incident: IncidentState, when: datetime | None = None) -> str:
    base = f"{config.site.code}-{incident.id}"
    return base if when is None else f"{base}-{int(when.timestamp())}"


def _kind(incident: IncidentState, config: Config) -> tuple[str, str]:
    for entity in incident.entities:
        place = config.place(entity)
        if place is not None and place.source == "sensors" and place.kind in EVENTS:
            return EVENTS[place.kind]
    return "Safety", incident.title


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP}}}{tag}")
    element.text = text
    return element


def cap_alert(incident: IncidentState, config: Config) -> ET.Element:
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
    category, event = _kind(incident, config)
    info = ET.SubElement(alert, f"{{{CAP}}}info")
    _sub(info, "language", "id-ID")
    _sub(info, "category", category)
    _sub(info, "event", event)
    _sub(info, "responseType", "AllClear" if msg_type == "Cancel" else "Monitor")
    _sub(info, "urgency", "Past" if msg_type == "Cancel" else URGENCY[incident.severity])
    _sub(info, "severity", SEVERITY[incident.severity])
    _sub(info, "certainty", "Observed")
    _sub(info, "senderName", config.site.name)
    _sub(info, "headline", incident.title[:160])
    details = [f"{e.at.astimezone(ZoneInfo(zone)):%H:%M} {e.kind}: {e.text}".strip() for e in incident.timeline[-5:]]
    _sub(info, "description", "\n".join(details) or incident.title)
    if msg_type != "Cancel" and category in INSTRUCTIONS:
        _sub(info, "instruction", INSTRUCTIONS[category])
    _sub(info, "web", f"{config.site.public_url.rstrip('/')}/cap/alerts/{incident.id}.xml")
    area = ET.SubElement(info, f"{{{CAP}}}area")
    _sub(area, "areaDesc", f"{incident.area or config.site.name}, {config.site.name}")
    place = location_of(incident, config)
    if place:
        _sub(area, "circle", f"{place['lat']:.5f},{place['long']:.5f} 2.0")
    return alert


def cap_document(incident: IncidentState, config: Config) -> bytes:
    ET.register_namespace("", CAP)
    return serialize(cap_alert(incident, config))


def atom_feed(incidents: list[IncidentState], config: Config) -> bytes:
    ET.register_namespace("", ATOM)
    base = config.site.public_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM}}}feed")
    for tag, text in (("id", f"{base}/cap/alerts.xml"), ("title", f"Peringatan publik - {config.site.name}"),
                      ("updated", cap_time(max((i.updated_at for i in incidents), default=datetime.now().astimezone()),
                                           config.site.timezone))):
        ET.SubElement(feed, f"{{{ATOM}}}{tag}").text = text
    ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = config.site.name
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}/cap/alerts.xml")
    for incident in incidents:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{base}/cap/alerts/{incident.id}.xml"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = incident.title
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = cap_time(incident.updated_at, config.site.timezone)
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = f"{incident.severity} - {incident.status}"
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="application/cap+xml",
                      href=f"{base}/cap/alerts/{incident.id}.xml")
    return serialize(feed)
