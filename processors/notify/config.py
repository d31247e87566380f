"""The notify feature's configuration: who is paged (contacts, teams), how (escalation), and the channels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, model_validator

from command_center.config import Config
from command_center.config.base import EntityId, Section, unique_ids


class ContactConfig(Section):
    id: EntityId
    name: str
    webhook: HttpUrl | None = None
    telegram_chat_id: str = ""
    email: str = ""


class EscalationStep(Section):
    wait_minutes: float = Field(default=0, ge=0, le=1440)
    notify: list[str] = Field(min_length=1, description="contact or team ids")


class EscalationPolicy(Section):
    id: EntityId
    steps: list[EscalationStep] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=10)


class EscalationRoute(Section):
    policy: EntityId
    severities: list[Literal["critical", "major", "minor", "info"]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    areas: list[str] = Field(default_factory=list)


class TeamConfig(Section):
    id: EntityId
    members: list[str] = Field(min_length=1, description="contact ids; a rota pages them in turn")
    rota: bool = False


class NotifyConfig(Section):
    telegram_base_url: str = Field(default="https://api.telegram.org", description="Bot API base URL")
    telegram_token: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "command-center@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    ack_link_hours: float = Field(default=24, gt=0, le=720, description="how long a one-click ack link works")
    max_attempts: int = Field(default=10, ge=1, le=50)
    first_retry_s: float = Field(default=5, gt=0, le=600)
    timeout_s: float = Field(default=10, gt=0, le=60)



class NotifySettings(Config):
    contacts: Annotated[list[ContactConfig], AfterValidator(lambda v: unique_ids(v, "contact"))] = Field(
        default_factory=list)
    teams: Annotated[list[TeamConfig], AfterValidator(lambda v: unique_ids(v, "team"))] = Field(default_factory=list)
    escalation_policies: Annotated[list[EscalationPolicy], AfterValidator(lambda v: unique_ids(v, "escalation_policy"))] = \
        Field(default_factory=list)
    escalation_routes: list[EscalationRoute] = Field(default_factory=list)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)

    @model_validator(mode="after")
    def _people(self) -> NotifySettings:
        people = {c.id for c in self.contacts} | {t.id for t in self.teams}
        for policy in self.escalation_policies:
            for j, step in enumerate(policy.steps):
                for who in step.notify:
                    if who not in people:
                        raise ValueError(f"escalation_policies[{policy.id}].steps.{j}: unknown contact {who!r}")
        policies = {p.id for p in self.escalation_policies}
        for i, route in enumerate(self.escalation_routes):
            if route.policy not in policies:
                raise ValueError(f"escalation_routes.{i}.policy: unknown policy {route.policy!r}")
        return self
