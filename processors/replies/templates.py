"""What a citizen is told at each step, per language, and how a text fits an SMS.

An SMS holds 160 characters of the GSM 03.38 alphabet (the basic set; `^{}\\[~]|€` take two), or 70 of
UCS-2 once any other character appears. A template says what to do with a longer text: `split` sends it as
numbered parts ("1/2 ...") each one SMS, `shorten` cuts the staff's notes (never the tracking number or the
link) so the whole fits one.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
FIELDS = frozenset({"token", "agency", "notes", "url", "rating", "service"})
ELLIPSIS = "..."

DEFAULTS: dict[str, dict[str, str]] = {
    "id": {
        "received": "Aduan Anda diterima, no. {token}, diteruskan ke {agency}. Pantau: {url}",
        "linked": "Aduan Anda diterima, no. {token}. Laporan serupa sudah tercatat dan sedang ditangani. Pantau: {url}",
        "responded": "Aduan {token} ditanggapi {agency}. {notes}",
        "feedback": "Tindak lanjut aduan {token}: {notes}",
        "closed": "Aduan {token} selesai: {notes} Nilai layanan kami: balas 1-5 (5 sangat puas).",
        "reopened": "Aduan {token} dibuka kembali: {notes}",
        "rated": "Terima kasih atas penilaian {rating}/5 untuk aduan {token}.",
    },
    "en": {
        "received": "Complaint received, no. {token}, sent to {agency}. Track it: {url}",
        "linked": "Complaint received, no. {token}. The same problem was already reported and is being handled. "
                  "Track it: {url}",
        "responded": "Complaint {token}: {agency} responded. {notes}",
        "feedback": "Progress on complaint {token}: {notes}",
        "closed": "Complaint {token} resolved: {notes} Rate us: reply 1-5 (5 very satisfied).",
        "reopened": "Complaint {token} reopened: {notes}",
        "rated": "Thank you for rating complaint {token} {rating}/5.",
    },
}


def check_template(text: str) -> str:
    """Why a template cannot be used ("" if it can): only the known {fields}."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as err:
        return f"not a template: {err}"
    unknown = names - FIELDS
    return f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(FIELDS))}" if unknown else ""


def render(text: str, values: Mapping[str, str]) -> str:
    return " ".join(text.format_map({k: values.get(k, "") for k in FIELDS}).split())


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def sms_length(text: str) -> tuple[int, int]:
    """(units used, units one SMS holds): GSM-7 septets of 160, else UCS-2 code units of 70."""
    if is_gsm(text):
        return sum(2 if c in GSM_EXTENDED else 1 for c in text), 160
    return len(text.encode("utf-16-le")) // 2, 70


def _fits(text: str) -> bool:
    used, room = sms_length(text)
    return used <= room


def _cut(text: str) -> str:
    """The longest start of `text` that fits one SMS with an ellipsis after it."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if _fits(text[:mid].rstrip() + ELLIPSIS):
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ELLIPSIS


def shorten(template: str, values: Mapping[str, str]) -> str:
    """One SMS: the notes cut (at a word where one is near) until the whole fits; the rest cut last."""
    whole = render(template, values)
    if _fits(whole):
        return whole
    notes = values.get("notes", "")
    low, high = 0, len(notes)
    while low < high:  # the most of the notes that still fits
        mid = (low + high + 1) // 2
        if _fits(render(template, {**values, "notes": notes[:mid].rstrip() + ELLIPSIS})):
            low = mid
        else:
            high = mid - 1
    if low:
        cut = notes[:low]
        space = cut.rfind(" ")
        cut = cut[:space] if space > low * 0.7 else cut
        return render(template, {**values, "notes": cut.rstrip() + ELLIPSIS})
    return _cut(render(template, {**values, "notes": ""}))


def split(text: str, max_parts: int) -> list[str]:
    """Numbered parts ("1/3 ...") each one SMS, cut at spaces; the last shortened if more would be needed."""
    if _fits(text):
        return [text]
    words, parts, current = text.split(" "), [], ""
    prefix = f"{max_parts}/{max_parts} "
    for word in words:
        candidate = f"{current} {word}" if current else word
        if _fits(prefix + candidate):
            current = candidate
            continue
        if current:
            parts.append(current)
        current = word
        while not _fits(prefix + current):  # one word longer than a part (a URL): cut it
            room = _cut(prefix + current)[len(prefix):-len(ELLIPSIS)]
            parts.append(room)
            current = current[len(room):]
    if current:
        parts.append(current)
    if len(parts) > max_parts:
        parts = [*parts[:max_parts - 1], _cut(prefix + " ".join(parts[max_parts - 1:]))[len(prefix):]]
    return [f"{i}/{len(parts)} {p}" for i, p in enumerate(parts, 1)]
