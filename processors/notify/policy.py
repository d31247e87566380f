"""Which escalation policy an incident follows, and who each step pages (pure functions)."""

from __future__ import annotations

from command_center.config import Config
from command_center.config.base import by_id
from processors.incidents.events import IncidentState
from processors.notify.config import ContactConfig, EscalationPolicy, NotifySettings


def choose_policy(config: Config, incident: IncidentState) -> EscalationPolicy | None:
    """The first route whose severities, sources and areas (each empty: any) match the incident."""
    for route in NotifySettings.of(config).escalation_routes:
        if (not route.severities or incident.severity in route.severities) and \
                (not route.sources or incident.source in route.sources) and \
                (not route.areas or incident.area in route.areas):
            return by_id(NotifySettings.of(config).escalation_policies).get(route.policy)
    return None


def targets(config: Config, names: list[str], turn: int) -> list[ContactConfig]:
    """Contacts for a step: a contact itself, a team's members, or a rota's member whose turn it is."""
    contacts = by_id(NotifySettings.of(config).contacts)
    teams = by_id(NotifySettings.of(config).teams)
    out: list[ContactConfig] = []
    for name in names:
        team = teams.get(name)
        if team is None:
            out.append(contacts[name])
        elif team.rota:
            out.append(contacts[team.members[turn % len(team.members)]])
        else:
            out.extend(contacts[m] for m in team.members)
    return list({c.id: c for c in out}.values())


def channels(config: Config, contact: ContactConfig) -> list[tuple[str, str]]:
    """(channel, target) pairs this contact can be reached on with the configured transports."""
    out: list[tuple[str, str]] = []
    if contact.webhook:
        out.append(("webhook", str(contact.webhook)))
    if contact.telegram_chat_id and NotifySettings.of(config).notify.telegram_token:
        out.append(("telegram", contact.telegram_chat_id))
    if contact.email and NotifySettings.of(config).notify.smtp_host:
        out.append(("email", contact.email))
    return out
