"""Anomaly events of every source, normalised into triggers: one table per payload, nothing else knows them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from command_center.config import Config
from command_center.config.base import by_id
from command_center.events import Event
from command_center.events.types import Severity, SystemAnomaly
from processors.cctv.events import CameraAnomaly
from processors.complaints.events import ComplaintAction, ComplaintBreach, ComplaintSurge
from processors.health.events import AppAnomaly
from processors.sensors.events import SensorAnomaly

LABELS = {
    "down": "tidak dapat diakses", "slow": "lambat", "lossy": "kehilangan paket",
    "cert_expiring": "sertifikat segera kedaluwarsa", "flapping": "tidak stabil", "saturated": "lalu lintas melebihi kapasitas", "restarted": "baru menyala ulang", "offline": "offline", "frozen": "gambar membeku", "black": "gambar gelap",
    "blurred": "gambar kabur", "covered": "lensa tertutup", "moved": "arah kamera bergeser",
    "threshold": "melewati ambang", "rate": "naik cepat", "spike": "lonjakan nilai", "stale": "tidak mengirim data",
    "flatline": "nilai macet", "fault": "sensor rusak", "breach_response": "melewati batas waktu respons",
    "breach_feedback": "melewati batas waktu tindak lanjut", "surge": "lonjakan aduan",
}
CAMERA_SEVERITY: dict[str, Severity] = {"offline": "major", "frozen": "major", "black": "major", "covered": "major",
                                        "moved": "major", "blurred": "minor"}
APP_SEVERITY: dict[str, Severity] = {"down": "critical", "flapping": "major", "slow": "minor", "lossy": "major",
                                     "cert_expiring": "minor", "saturated": "minor", "restarted": "info"}


@dataclass(frozen=True)
class Trigger:
    """One anomaly raised (active) or cleared, from any source."""

    source: str
    entity: str
    kind: str
    active: bool
    severity: Severity
    area: str
    title: str
    detail: str
    at: datetime
    links: dict[str, str] = field(default_factory=dict)
    suppressed: bool = False
    escalate_to: tuple[str, ...] = ()  # contacts to page at the first step, whatever the policy

    @property
    def dedup_key(self) -> str:
        return f"{self.source}:{self.entity}:{self.kind}"


def _name(config: Config, entity: str) -> str:
    place = config.place(entity)
    return place.name if place is not None else entity


def _camera(e: Event, d: CameraAnomaly, c: Config) -> list[Trigger]:
    return [Trigger("cctv", d.camera_id, d.kind, d.active, CAMERA_SEVERITY[d.kind], d.area,
                    f"Kamera {_name(c, d.camera_id)}: {LABELS[d.kind]}",
                    ", ".join(f"{k} {v:.3g}" for k, v in d.metrics.items()), e.time,
                    {"snapshot": f"/api/cameras/{d.camera_id}/snapshot.jpg", "camera": f"/api/cameras/{d.camera_id}"})]


def _app(e: Event, d: AppAnomaly, c: Config) -> list[Trigger]:
    severity = APP_SEVERITY[d.kind]
    if d.kind == "cert_expiring" and d.cert_days_left is not None and d.cert_days_left < 3:
        severity = "major"
    return [Trigger("health", d.app_id, d.kind, d.active, severity, d.area,
                    f"{_name(c, d.app_id)} {LABELS[d.kind]}", d.reason, e.time, {"app": f"/api/apps/{d.app_id}"},
                    suppressed=d.in_maintenance)]


def _sensor(e: Event, d: SensorAnomaly, c: Config) -> list[Trigger]:
    severity: Severity = "minor" if d.kind in ("fault", "stale", "flatline") else d.severity
    level = f" ({d.level})" if d.level else ""
    return [Trigger("sensors", d.sensor_id, d.kind, d.active, severity, d.area,
                    f"{_name(c, d.sensor_id)} {LABELS[d.kind]}{level}", d.detail, e.time,
                    {"sensor": f"/api/sensors/{d.sensor_id}"})]


def _breach(e: Event, d: ComplaintBreach, c: Config) -> list[Trigger]:
    kind = f"breach_{d.deadline}"
    found = by_id(c.agencies).get(d.agency) if d.agency else None
    agency = found.name if found else d.agency or "-"
    return [Trigger("complaints", d.complaint_id, kind, True, "minor", d.area,
                    f"Aduan {d.complaint_id} {LABELS[kind]} ({agency})", f"due {d.due.isoformat()}", e.time,
                    {"complaint": f"/api/complaints/{d.complaint_id}"},
                    escalate_to=(d.escalated_to,) if d.escalated_to else ())]


def _action(e: Event, d: ComplaintAction, c: Config) -> list[Trigger]:
    kinds = {"respond": ["breach_response"], "feedback": ["breach_feedback"],
             "close": ["breach_response", "breach_feedback"], "reopen": []}[d.action]
    return [Trigger("complaints", d.complaint_id, kind, False, "minor", "", f"Aduan {d.complaint_id}",
                    f"{d.action} by {d.agency}", e.time) for kind in kinds]


def _surge(e: Event, d: ComplaintSurge, c: Config) -> list[Trigger]:
    return [Trigger("complaints", f"{d.service_code}@{d.area}", "surge", d.active, "major", d.area,
                    f"{LABELS['surge']} {d.service_code} di {d.area}",
                    f"{d.count} aduan dalam satu jam, biasanya {d.baseline:.1f}", e.time)]


def _system(e: Event, d: SystemAnomaly, c: Config) -> list[Trigger]:
    return [Trigger("system", f"processor:{d.component}", d.kind, d.active, "major", "",
                    f"Pemroses {d.component} tertinggal ({d.lag} catatan belum diproses)", d.detail, e.time)]


TRIGGERS: dict[type, Callable[[Event, object, Config], list[Trigger]]] = {
    CameraAnomaly: _camera, AppAnomaly: _app, SensorAnomaly: _sensor,  # type: ignore[dict-item]
    ComplaintBreach: _breach, ComplaintAction: _action, ComplaintSurge: _surge,  # type: ignore[dict-item]
    SystemAnomaly: _system,  # type: ignore[dict-item]
}


def triggers_of(event: Event, config: Config) -> list[Trigger]:
    """The triggers an event carries (none for events that are not anomalies)."""
    make = TRIGGERS.get(type(event.data))
    return make(event, event.data, config) if make else []
