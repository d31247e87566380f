"""Sending one reply: an SMS gateway's HTTP API, WhatsApp's Cloud API, e-mail, a social desk, an Open311 client.

Each returns a Result (command_center.delivery): delivered, or worth retrying, or refused for good.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from command_center.config import Config
from command_center.delivery import Result, http_result, send_mail, within
from command_center.signing import sign
from processors.replies.config import RepliesSettings


@dataclass(frozen=True)
class Outgoing:
    reply_id: str
    complaint_id: str
    step: str
    text: str
    target: str  # a number, an address, a handle, or an Open311 client's webhook
    subject: str = ""
    template: str = ""  # WhatsApp: the approved template to use outside the 24-hour window
    secret: str = ""  # an Open311 client's signing key
    status: dict[str, Any] = field(default_factory=dict)  # an Open311 client's view of the step


async def sms(session: aiohttp.ClientSession, config: Config, out: Outgoing) -> Result:
    gateway = RepliesSettings.of(config).replies.sms
    headers = {"Authorization": f"Bearer {gateway.token}"} if gateway.token else {}
    body = {"to": out.target, "text": out.text, "reference": out.reply_id, "sender": gateway.sender}
    async with session.post(str(gateway.url), json=body, headers=headers) as response:
        return http_result(response.status, await response.text())


async def whatsapp(session: aiohttp.ClientSession, config: Config, out: Outgoing) -> Result:
    """A text message, or, outside the customer-service window, the step's approved template."""
    wa = RepliesSettings.of(config).replies.whatsapp
    url = f"{wa.base_url.rstrip('/')}/{wa.phone_number_id}/messages"
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": out.target}
    if out.template:
        body |= {"type": "template", "template": {
            "name": out.template, "language": {"code": wa.template_language},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": out.text}]}]}}
    else:
        body |= {"type": "text", "text": {"preview_url": False, "body": out.text}}
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {wa.access_token}"}) as response:
        answer = await response.text()
        result = http_result(response.status, answer)
        if result[0]:
            sent = json.loads(answer or "{}").get("messages") or [{}]
            return True, False, f"HTTP {response.status}: {sent[0].get('id', '')}"
        return result


async def email(session: aiohttp.ClientSession, config: Config, out: Outgoing) -> Result:
    r = RepliesSettings.of(config).replies
    return await send_mail(r.email, out.target, out.subject, out.text, headers={"X-CC-Reply": out.reply_id},
                           timeout_s=r.timeout_s)


async def _signed_post(session: aiohttp.ClientSession, url: str, secret: str, out: Outgoing,
                       payload: dict[str, Any]) -> Result:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-CC-Event-Id": out.reply_id, **sign(secret, body)}
    async with session.post(url, data=body, headers=headers) as response:
        return http_result(response.status, await response.text())


async def social(session: aiohttp.ClientSession, config: Config, out: Outgoing) -> Result:
    platform, _, author = out.target.partition(":")
    return await _signed_post(session, str(RepliesSettings.of(config).replies.social.url), config.webhook_secret,
                              out, {"reply_id": out.reply_id, "platform": platform, "to": author, "text": out.text})


async def open311(session: aiohttp.ClientSession, config: Config, out: Outgoing) -> Result:
    """The Open311 client's status webhook: the service request as GET requests shows it, and the step."""
    return await _signed_post(session, out.target, out.secret or config.webhook_secret, out,
                              {"event_id": out.reply_id, "step": out.step, **out.status})


SENDERS = {"sms": sms, "whatsapp": whatsapp, "email": email, "social": social, "open311": open311}


async def send(session: aiohttp.ClientSession, config: Config, kind: str, out: Outgoing) -> Result:
    return await within(RepliesSettings.of(config).replies.timeout_s, SENDERS[kind](session, config, out))
