"""Delivery of one push: a signed webhook, a Telegram-Bot-API sendMessage, or an e-mail over SMTP.

Each returns (delivered, permanent, detail): a 5xx, a 429, a timeout or a refused connection is worth
retrying; a 4xx answer or a refused recipient is not.
"""

from __future__ import annotations

import json

import aiohttp

from command_center.config import Config
from command_center.delivery import Result, SmtpConfig, http_result, send_mail, within
from command_center.signing import sign
from processors.notify.config import NotifySettings


async def webhook(session: aiohttp.ClientSession, config: Config, target: str, payload: dict) -> Result:  # type: ignore[type-arg]
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-CC-Notification": payload["notification_id"],
               **sign(config.webhook_secret, body)}
    async with session.post(target, data=body, headers=headers) as response:
        return http_result(response.status, await response.text())


async def telegram(session: aiohttp.ClientSession, config: Config, chat_id: str, payload: dict) -> Result:  # type: ignore[type-arg]
    url = f"{NotifySettings.of(config).notify.telegram_base_url.rstrip('/')}/bot{NotifySettings.of(config).notify.telegram_token}/sendMessage"
    text = payload["text"] + (f"\n\nAcknowledge: {payload['ack_url']}" if payload.get("ack_url") else "")
    async with session.post(url, json={"chat_id": chat_id, "text": text, "disable_web_page_preview": True}) as response:
        result = http_result(response.status, await response.text())
        if result[0]:
            body = await response.json(content_type=None)
            if not body.get("ok", False):
                return False, True, f"Telegram refused: {body.get('description', '')}"
        return result


async def email(session: aiohttp.ClientSession, config: Config, address: str, payload: dict) -> Result:  # type: ignore[type-arg]
    n = NotifySettings.of(config).notify
    smtp = SmtpConfig(host=n.smtp_host, port=n.smtp_port, sender=n.smtp_from, username=n.smtp_username,
                      password=n.smtp_password, starttls=n.smtp_starttls)
    text = payload["text"] + (f"\n\nAcknowledge: {payload['ack_url']}\n" if payload.get("ack_url") else "")
    return await send_mail(smtp, address, payload["subject"], text,
                           headers={"X-CC-Notification": payload["notification_id"]}, timeout_s=n.timeout_s)


CHANNELS = {"webhook": webhook, "telegram": telegram, "email": email}


async def deliver(session: aiohttp.ClientSession, config: Config, channel: str, target: str, payload: dict) -> Result:  # type: ignore[type-arg]
    """Deliver within the configured timeout; every failure is a Result, never an exception."""
    return await within(NotifySettings.of(config).notify.timeout_s, CHANNELS[channel](session, config, target, payload))
