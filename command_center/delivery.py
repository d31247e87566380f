"""Pushing one message to someone else's server: what an HTTP answer or an SMTP conversation means for a retry.

Every sender here (on-call pages, replies to citizens) returns a Result, (delivered, permanent, detail): a
5xx, a 408, a 429, a timeout or a refused connection is worth retrying; any other 4xx, or a refused
recipient, is not. Nothing raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from email.message import EmailMessage

import aiohttp
import aiosmtplib
from pydantic import Field

from command_center.config.base import Section

Result = tuple[bool, bool, str]


def http_result(status: int, body: str) -> Result:
    if 200 <= status < 300:
        return True, False, f"HTTP {status}"
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    return False, permanent, f"HTTP {status}: {body[:200]}"


class SmtpConfig(Section):
    """An SMTP server to hand mail to."""

    host: str = Field(default="", description="empty: no e-mail")
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(default="command-center@localhost", description="the From address")
    username: str = ""
    password: str = ""
    starttls: bool = False


async def send_mail(smtp: SmtpConfig, to: str, subject: str, text: str, *, headers: dict[str, str] | None = None,
                    timeout_s: float = 10) -> Result:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    try:
        await aiosmtplib.send(message, hostname=smtp.host, port=smtp.port, start_tls=smtp.starttls,
                              username=smtp.username or None, password=smtp.password or None, timeout=timeout_s)
    except aiosmtplib.SMTPRecipientsRefused as err:
        return False, True, f"recipient refused: {err}"
    except aiosmtplib.SMTPResponseException as err:
        return False, 500 <= err.code < 600 and err.code != 552, f"SMTP {err.code}: {err.message}"
    except (aiosmtplib.SMTPException, OSError) as err:
        return False, False, f"{type(err).__name__}: {err}"
    return True, False, "accepted by the SMTP server"


async def within(timeout_s: float, attempt: Awaitable[Result]) -> Result:
    """The attempt's Result, or a retryable one if it took longer than `timeout_s` or could not connect."""
    try:
        async with asyncio.timeout(timeout_s):
            return await attempt
    except TimeoutError:
        return False, False, f"no answer within {timeout_s:g}s"
    except (aiohttp.ClientError, aiosmtplib.SMTPException, OSError) as err:
        return False, False, f"{type(err).__name__}: {err}"
