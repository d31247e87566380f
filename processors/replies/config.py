"""The replies feature's configuration: the channels replies go out on, their templates, and the retry rule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from command_center.config import Config
from command_center.config.base import Section
from command_center.delivery import SmtpConfig

Step = Literal["received", "linked", "responded", "feedback", "closed", "reopened", "rated"]
Language = Literal["id", "en"]
STEPS: tuple[Step, ...] = ("received", "linked", "responded", "feedback", "closed", "reopened", "rated")


class SmsGatewayConfig(Section):
    """An SMS gateway's HTTP API: `POST url` with JSON {"to", "text", "reference", "sender"} and a bearer token;
    a 2xx is accepted. `reference` is the same for a retry of one message, so a gateway can drop a repeat."""

    url: HttpUrl | None = Field(default=None, description="none: no replies by SMS")
    token: str = ""
    sender: str = Field(default="", description="the sender id or number the gateway sends from")


class WhatsAppConfig(Section):
    """Meta's WhatsApp Business Cloud API: replies by `POST {base_url}/{phone_number_id}/messages` (messages in
    come by the webhook /webhooks/whatsapp: complaints.whatsapp_app_secret and whatsapp_verify_token)."""

    base_url: str = Field(default="https://graph.facebook.com/v21.0", description="a local gateway's URL works")
    phone_number_id: str = Field(default="", description="empty: no replies by WhatsApp")
    access_token: str = ""
    templates: dict[Step, str] = Field(default_factory=dict, description=(
        "approved template names by step: used once the 24-hour customer-service window since the citizen's "
        "last message has closed (the text is its one body parameter)"))
    template_language: str = "id"


class SocialReplyConfig(Section):
    """A social-media desk's reply API (a bridge to the platforms' own): a signed JSON POST per reply."""

    url: HttpUrl | None = Field(default=None, description="none: no replies to social-media posts")


class Template(Section):
    text: str = Field(min_length=1, max_length=2000)
    long: Literal["split", "shorten"] = Field(default="shorten", description=(
        "an SMS over one message: split into numbered parts, or shorten its notes to fit one"))


class RepliesConfig(Section):
    language: Language = "id"
    steps: list[Step] = Field(default_factory=lambda: list(STEPS), description="the steps citizens hear of")
    templates: dict[Language, dict[str, Template]] = Field(default_factory=dict, description=(
        "overrides of the built-in templates, by language and step"))
    max_sms_parts: int = Field(default=4, ge=1, le=10)
    rating_days: float = Field(default=7, gt=0, le=60, description="how long a 1-5 reply counts as a rating")
    contact_wait_s: float = Field(default=600, gt=0, le=86_400, description=(
        "how long a reply waits for its complaint's contact to arrive from the contacts topic"))
    first_retry_s: float = Field(default=5, gt=0, le=600)
    max_backoff_s: float = Field(default=600, gt=0, le=3600)
    max_attempts: int = Field(default=30, ge=1, le=200)
    timeout_s: float = Field(default=10, gt=0, le=60)
    sms: SmsGatewayConfig = Field(default_factory=SmsGatewayConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    social: SocialReplyConfig = Field(default_factory=SocialReplyConfig)
    email: SmtpConfig = Field(default_factory=SmtpConfig)

    @model_validator(mode="after")
    def _templates_render(self) -> RepliesConfig:
        from processors.replies.templates import check_template

        for language, steps in self.templates.items():
            for step, template in steps.items():
                if step not in STEPS:
                    raise ValueError(f"replies.templates.{language}.{step}: not a step ({', '.join(STEPS)})")
                problem = check_template(template.text)
                if problem:
                    raise ValueError(f"replies.templates.{language}.{step}: {problem}")
        return self


class RepliesSettings(Config):
    replies: RepliesConfig = Field(default_factory=RepliesConfig)
