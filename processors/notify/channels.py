"""Delivery of one push: a signed webhook, a Telegram-Bot-API sendMessage, or an e-mail over SMTP.

Each returns (delivered, permanent, detail): a 5xx, a 429, a timeout or a refused connection is worth
retrying; a 4xx answer or a refused recipient is not.
"""

from __future__ import annotations

import asyncio
import json
from email.message import EmailMessage

import aiohttp
import aiosmtplib

from command_center.config import Config
from command_center.signing import sign
from processors.notify.config import NotifySettings

Result = tuple[bool, bool, str]


def _http_result(status: int, body: str) -> Result:
    if 200 <= status < 300:
        return True, False, f"HTTP {status}"
    permanent = 400 <= status < 500 and status not in (408, 429)
    return False, permanent, f"HTTP {status}: {body[:200]}"


async def webhook(session: aiohttp.ClientSession, config: Config, target: str, payload: dict) -> Result:  # type: ignore[type-arg]
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-CC-Notification": payload["notification_id"],
               **sign(config.webhook_secret, body)}
    async with session.post(target, data=body, headers=headers) as response:
        return _http_result(response.status, await response.text())


async def telegram(session: aiohttp.ClientSession, config: Config, chat_id: str, payload: dict) -> Result:  # type: ignore[type-arg]
    url = f"{NotifySettings.of(config).notify.telegram_base_url.rstrip('/')}/bot{NotifySettings.of(config).notify.telegram_token}/sendMessage"
    text = payload["text"] + (f"\n\nAcknowledge: {payload['ack_url']}" if payload.get("ack_url") else "")
    async with session.post(url, json={"chat_id": chat_id, "text": text, "disable_web_page_preview": True}) as response:
        result = _http_result(response.status, await response.text())
        if result[0]:
            body = await response.json(content_type=None)
            if not body.get("ok", False):
                return False, True, f"Telegram refused: {body.get('description', '')}"
        return result


async def email(session: aiohttp.ClientSession, config: Config, address: str, payload: dict) -> Result:  # type: ignore[type-arg]
    n = NotifySettings.of(config).notify
    message = EmailMessage()
    message["From"] = n.smtp_from
    message["To"] = address
    message["Subject"] = payload["subject"]
    message["X-CC-Notification"] = payload["notification_id"]
    message.set_content(payload["text"] + (f"\n\nAcknowledge: {payload['ack_url']}\n" if payload.get("ack_url") else ""))
    try:
        await aiosmtplib.send(message, hostname=n.smtp_host, port=n.smtp_port, start_tls=n.smtp_starttls,
                              username=n.smtp_username or None, password=n.smtp_password or None,
                              timeout=n.timeout_s)
    except aiosmtplib.SMTPRecipientsRefused as err:
        return False, True, f"recipient refused: {err}"
    except aiosmtplib.SMTPResponseException as err:
        return False, 500 <= err.code < 600 and err.code != 552, f"SMTP {err.code}: {err.message}"
    return True, False, "accepted by the SMTP server"


CHANNELS = {"webhook": webhook, "telegram": telegram, "email": email}


async def deliver(session: aiohttp.ClientSession, config: Config, channel: str, target: str, payload: dict) -> Result:  # type: ignore[type-arg]
    """Deliver within the configured timeout; every failure is a Result, never an exception."""
    try:
        async with asyncio.timeout(NotifySettings.of(config).notify.timeout_s):
            return await CHANNELS[channel](session, config, target, payload)
    except TimeoutError:
        return False, False, f"no answer within {NotifySettings.of(config).notify.timeout_s:g}s"
    except (aiohttp.ClientError, aiosmtplib.SMTPException, OSError) as err:
        return False, False, f"{type(err).__name__}: {err}"
