"""Simulated citizens and agency desks for the demo, through the real HTTP API.

Citizens file complaints in Indonesian every few seconds, mostly by Open311 (the demo's api_key), some by
SMS and social media (signed webhooks); now and then two people report the same pothole, and every ten
minutes a burst of flood reports from one district shows a surge. The agencies' desks answer through
/api/complaints: most in time, a quarter late, so the wall shows clocks running out and breaches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field

import aiohttp

from command_center.config import Config
from command_center.signing import sign
from processors.complaints.config import ComplaintsSettings

logger = logging.getLogger(__name__)

TEXTS = {
    "jalan-rusak": ["Jalan berlubang cukup dalam, membahayakan pengendara motor", "Aspal retak dan amblas setelah hujan",
                    "Jalan rusak parah di depan sekolah, mohon segera diperbaiki"],
    "banjir": ["Genangan air setinggi lutut, saluran tersumbat", "Banjir masuk ke rumah warga setelah hujan deras",
               "Sungai meluap ke jalan kampung"],
    "sampah": ["Sampah menumpuk di TPS dan belum diangkut tiga hari", "Bau sampah menyengat dari pinggir jalan",
               "Warga membuang sampah di selokan"],
    "lampu-jalan": ["Lampu PJU mati sepanjang jalan, gelap dan rawan", "Lampu jalan berkedip-kedip sejak minggu lalu"],
    "layanan-ktp": ["Antrean KTP-el sangat panjang, blanko habis", "Perekaman KK belum selesai sudah satu bulan"],
    "pohon-tumbang": ["Pohon tumbang menutup jalan setelah angin kencang", "Dahan besar roboh menimpa kabel listrik"],
}
PLACES = ["Jl. Kaliurang km 7", "Jl. Magelang km 9", "Jl. Gejayan", "Jl. Palagan Tentara Pelajar", "Jl. Godean km 5",
          "Jl. Solo km 11", "Jl. Monjali", "Jl. Turi", "Jl. Damai", "Jl. Seturan Raya"]
BURST_EVERY_S = 600
NEXT_STEP = {"": ("respond", "Laporan diterima, petugas dijadwalkan ke lokasi."),
             "respond": ("feedback", "Petugas sudah meninjau lokasi; perbaikan dijadwalkan."),
             "feedback": ("close", "Sudah ditangani. Terima kasih atas laporannya.")}
NAMES = ["Budi", "Siti", "Agus", "Dewi", "Rina", "Joko", "Wahyu", "Lestari"]


@dataclass
class _Desk:
    """When each complaint will be answered, and what has been done."""

    plan: dict[str, float] = field(default_factory=dict)
    stage: dict[str, str] = field(default_factory=dict)


class SimulatedComplaints:
    """An async context manager running the citizens and the desks until stopped."""

    def __init__(self, config: Config, *, api_key: str = "demo-open311", operator_token: str = "demo-operator",
                 ingest_token: str = "demo-ingest") -> None:
        self.config = config
        self.base = config.site.public_url.rstrip("/")
        self.api_key, self.operator, self.ingest = api_key, operator_token, ingest_token
        self.rng = random.Random(311)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._last: tuple[str, float, float] | None = None
        self._desk = _Desk()

    async def __aenter__(self) -> SimulatedComplaints:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._tasks = [asyncio.create_task(self._citizens(), name="sim-citizens"),
                       asyncio.create_task(self._desks(), name="sim-desks")]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _point(self, area_id: str | None = None) -> tuple[str, float, float]:
        areas = [a for a in self.config.areas if a.center is not None]
        area = next((a for a in areas if a.id == area_id), None) or self.rng.choice(areas)
        assert area.center is not None
        return area.id, area.center.lat + self.rng.gauss(0, 0.008), area.center.long + self.rng.gauss(0, 0.008)

    async def _post(self, path: str, **kwargs: object) -> None:
        assert self._session is not None
        try:
            async with self._session.post(f"{self.base}{path}", **kwargs) as response:  # type: ignore[arg-type]
                if response.status >= 400:
                    logger.info("simulated citizen refused", extra={"path": path, "status": response.status,
                                                                    "body": (await response.text())[:200]})
        except aiohttp.ClientError as err:
            logger.warning("simulated citizen could not reach the API", extra={"error": str(err)})

    async def _open311(self, service: str, lat: float, long: float, text: str) -> None:
        await self._post("/open311/v2/requests.json", data={
            "api_key": self.api_key, "service_code": service, "lat": f"{lat:.6f}", "long": f"{long:.6f}",
            "address_string": self.rng.choice(PLACES), "description": text,
            "first_name": self.rng.choice(NAMES), "phone": f"08{self.rng.randint(10**9, 10**10 - 1)}"})

    async def _webhook(self, path: str, body: dict[str, object]) -> None:
        raw = json.dumps(body).encode()
        await self._post(path, data=raw, headers={"Content-Type": "application/json",
                                                  **sign(self.config.webhook_secret, raw)})

    async def _citizens(self) -> None:
        await asyncio.sleep(4)  # the API first
        if not any(a.center for a in self.config.areas) or not any(s.code in TEXTS for s in ComplaintsSettings.of(self.config).services):
            logger.info("no areas or known services configured: no simulated citizens")
            return
        next_burst = time.time() + 90
        while True:
            services = [s.code for s in ComplaintsSettings.of(self.config).services if s.code in TEXTS]
            service = self.rng.choice(services)
            text = self.rng.choice(TEXTS[service])
            roll = self.rng.random()
            if self._last and roll < 0.12:  # a neighbour reports the same thing
                service, lat, long = self._last
                await self._open311(service, lat + 0.0001, long + 0.0001, self.rng.choice(TEXTS[service]))
            elif roll < 0.75:
                _, lat, long = self._point()
                self._last = (service, lat, long)
                await self._open311(service, lat, long, text)
            elif roll < 0.9:
                await self._webhook("/webhooks/sms", {"message_id": f"sms-{time.time_ns()}", "from": "081234567890",
                                                      "text": f"{text} #{self.rng.choice(PLACES)}"})
            else:
                _, lat, long = self._point()
                await self._webhook("/webhooks/social", {"platform": "x", "post_id": str(time.time_ns()),
                                                         "author": "@warga_sleman", "text": text, "lat": lat,
                                                         "long": long})
            if time.time() >= next_burst and "banjir" in TEXTS:
                next_burst = time.time() + BURST_EVERY_S
                for _ in range(8):  # a flood: a surge of reports from one district
                    _, lat, long = self._point("depok")
                    await self._open311("banjir", lat + self.rng.gauss(0, 0.01), long, self.rng.choice(TEXTS["banjir"]))
                    await asyncio.sleep(1)
            await asyncio.sleep(self.rng.uniform(6, 15))

    async def _desks(self) -> None:
        """Answer open complaints: respond, then give feedback and close; one in four too late."""
        assert self._session is not None
        headers = {"Authorization": f"Bearer {self.operator}"}
        while True:
            await asyncio.sleep(5)
            try:
                async with self._session.get(f"{self.base}/api/complaints?status=open&days=1&limit=500",
                                             headers=headers) as response:
                    complaints = (await response.json()).get("complaints", []) if response.status == 200 else []
            except (aiohttp.ClientError, ValueError):
                continue
            now = time.time()
            for c in complaints:
                if c.get("duplicate_of"):
                    continue
                late = self.rng.random() < 0.25
                due = self._desk.plan.setdefault(c["id"], now + (self.rng.uniform(200, 420) if late else
                                                                 self.rng.uniform(30, 150)))
                if now < due:
                    continue
                step = NEXT_STEP.get(self._desk.stage.get(c["id"], ""))
                if step is None:
                    continue  # closed a moment ago: the list has not caught up
                action, notes = step
                await self._post(f"/api/complaints/{c['id']}/{action}", json={"status_notes": notes}, headers=headers)
                self._desk.stage[c["id"]] = action
                self._desk.plan[c["id"]] = now + self.rng.uniform(60, 240)
