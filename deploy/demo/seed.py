"""Demo content for a local `make up`: Jakarta-style complaints filed through intake's real
channels, some moved along the lifecycle by the demo officers, so the portal's list, map and
statistics and each console queue have something to show.

    uv run python deploy/demo/seed.py            # after `make up`

1. Runs the gateway's `python -m aduan_gateway.cli demo-seed --yes-this-is-a-demo` (demo
   agencies, the Jakarta category catalogue with each category's agency and a couple of
   routes by area — potholes in Jakarta Selatan go to its Suku Dinas, rubbish in Kecamatan
   Gambir to the kecamatan — one account per role; password `demo-aduan-2026`). The
   catalogue is created in the gateway, which owns it, and reaches intake, the portal and
   workflow through its topic; the complaints are filed once intake lists every category
   they use.
2. Files 25 complaints through intake's HTTP web form (`/v1/channels/web`), its staff entry
   (`/v1/channels/staff/reports`, as `demo-tiket`: call centre, walk-in, letter; dated up to
   four months back so the trend has a shape) and its SMTP listener (e-mail).
3. Moves most of them through the privacy gateway's action API as the demo users: dispatch
   (ticket-admin; auto-routing does it for routed categories), accept and follow-up with a
   photo (agency officer), validate / reject / order field verification (validator).

Everything is marked as demo data where people look: titles start with "[DEMO]", texts end
with a demo note, reporters are "Warga Demo NN" with example.org / 0812-0000 contacts, agencies
and users say DEMO. Idempotent: every complaint has a fixed channel id (web submission id,
staff entry id, e-mail Message-ID), so a re-run files nothing new, and a report already at
(or past) its target status is left alone.

Addresses come from the same variables `deploy/scripts/services.sh` uses
(ADUAN_INTAKE_PORT, ADUAN_GATEWAY_PORT, ADUAN_INTAKE_SMTP_PORT), or the flags below.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import smtplib
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from PIL import Image, ImageDraw

DEMO_PASSWORD = "demo-aduan-2026"  # noqa: S105 - published on purpose (demo accounts only)
NAMESPACE = uuid.UUID("5b1f4c1e-7d0a-4a59-9a59-6164756e6465")  # fixed: ids stay the same
DEMO_NOTE = "\n\n(Data demo untuk percobaan Aduan — bukan laporan nyata.)"
OFFICERS = {
    "dinas-bina-marga": "demo-binamarga",
    "dinas-sda": "demo-sda",
    # Potholes in Jakarta Selatan are routed to its Suku Dinas (a route by area, issue 19).
    "sudin-bina-marga-jaksel": "demo-sudin-jaksel",
}
# How far along each status is (for "already at or past the target").
PROGRESS = {
    "received": 0,
    "coordination": 1,
    "dispatched": 2,
    "in_progress": 3,
    "followup_rejected": 4,
    "awaiting_validation": 5,
    "field_verification": 6,
    "completed": 7,
}
FINAL = {"completed", "rejected", "merged"}
# Targets on the straight path; the others (rejected, followup_rejected, field_verification)
# are side branches reached by one particular action.
LINEAR = {"coordination", "dispatched", "in_progress", "awaiting_validation", "completed"}


# Invented reporters with example.org / 0812-0000 contacts. Their names must not be words of
# the complaints: the gateway redacts the reporter's name wherever it appears in the text.
REPORTERS = (
    "Budi Santoso",
    "Siti Rahayu",
    "Ahmad Wibowo",
    "Dewi Lestari",
    "Rudi Hartono",
    "Rina Susanti",
    "Joko Prasetyo",
    "Maya Anggraini",
    "Hendra Gunawan",
    "Lina Marlina",
    "Eko Saputra",
    "Fitri Handayani",
    "Dedi Kurniawan",
    "Yuni Astuti",
    "Bambang Setiadi",
)


@dataclass(frozen=True)
class Demo:
    n: int
    channel: str  # web | email | call_centre | walk_in | letter
    title: str
    text: str
    category: str | None
    area: str
    address: str
    lat: float
    lon: float
    public: bool
    target: str = "received"
    agency: str | None = None  # dispatch target when the category has no routing
    days_ago: int = 0  # staff entries only (the call or letter date)
    photo: bool = False

    @property
    def channel_id(self) -> uuid.UUID:
        # The content is part of the id: re-seeding files each demo complaint once, and a
        # demo whose words changed in a newer version is filed anew rather than refused as
        # "submission id used for a different complaint" by a database an older seed filled.
        content = f"{self.channel}\0{self.title}\0{self.text}\0{self.category}"
        return uuid.uuid5(NAMESPACE, f"aduan-demo-{self.n:02d}-{content}")

    @property
    def reporter_name(self) -> str:
        return REPORTERS[(self.n - 1) % len(REPORTERS)]

    @property
    def email(self) -> str:
        return f"{self.reporter_name.lower().replace(' ', '.')}.demo{self.n:02d}@example.org"

    @property
    def phone(self) -> str:
        return f"0812-0000-{self.n:04d}"


DEMOS: tuple[Demo, ...] = (
    Demo(
        1,
        "web",
        "Jalan berlubang di Jl. Kebon Sirih",
        "Lubang besar di tengah jalan depan sekolah, sudah dua motor jatuh minggu ini.",
        "jalan-rusak",
        "Gambir",
        "Jl. Kebon Sirih",
        -6.1862,
        106.8341,
        True,
        "completed",
        photo=True,
    ),
    Demo(
        2,
        "web",
        "Aspal mengelupas di Jl. Cikini Raya",
        "Aspal mengelupas sepanjang 20 meter, berbahaya saat hujan karena licin.",
        "jalan-rusak",
        "Menteng",
        "Jl. Cikini Raya",
        -6.1915,
        106.8405,
        True,
        "in_progress",
    ),
    Demo(
        3,
        "web",
        "Genangan setinggi lutut di Jl. Tanah Abang II",
        "Setiap hujan deras air menggenang setinggi lutut dan tidak surut sampai pagi.",
        "banjir",
        "Tanah Abang",
        "Jl. Tanah Abang II",
        -6.1768,
        106.8177,
        True,
        "awaiting_validation",
        photo=True,
    ),
    Demo(
        4,
        "web",
        "Saluran air tersumbat sampah di Tebet Timur",
        "Got di depan rumah warga tersumbat sampah plastik, air meluap ke jalan.",
        "saluran",
        "Tebet",
        "Jl. Tebet Timur Dalam",
        -6.2335,
        106.8546,
        True,
        "completed",
    ),
    Demo(
        5,
        "web",
        "Parkir liar menutup trotoar di Jl. Sabang",
        "Mobil parkir di atas trotoar setiap sore, pejalan kaki terpaksa turun ke jalan.",
        "parkir-liar",
        "Menteng",
        "Jl. H. Agus Salim (Sabang)",
        -6.1849,
        106.8262,
        True,
        "dispatched",
    ),
    Demo(
        6,
        "web",
        "Tumpukan sampah di pinggir Kali Ciliwung",
        "Sampah rumah tangga menumpuk di bantaran kali dekat jembatan, bau menyengat.",
        "sampah",
        "Jatinegara",
        "Jl. Jatinegara Barat",
        -6.2186,
        106.8664,
        True,
        "received",
    ),
    Demo(
        7,
        "web",
        "Sampah menumpuk di dekat jembatan Jatinegara",
        "Tumpukan sampah di bantaran Ciliwung belum diangkut sejak minggu lalu.",
        "sampah",
        "Jatinegara",
        "Jl. Jatinegara Barat",
        -6.2183,
        106.8667,
        True,
        "received",
    ),
    Demo(
        8,
        "web",
        "Lampu jalan mati di Jl. Kemang Raya",
        "Tiga lampu penerangan jalan mati, jalan sangat gelap dan rawan jambret.",
        None,
        "Mampang Prapatan",
        "Jl. Kemang Raya",
        -6.2607,
        106.8135,
        False,
        "dispatched",
        agency="dinas-bina-marga",
    ),
    Demo(
        9,
        "web",
        "Trotoar rusak di Jl. Sudirman",
        "Paving block trotoar lepas dan berlubang di depan halte, membahayakan lansia.",
        "jalan-rusak",
        "Tanah Abang",
        "Jl. Jend. Sudirman",
        -6.2088,
        106.8206,
        True,
        "completed",
    ),
    Demo(
        10,
        "web",
        "Banjir di underpass Kemayoran",
        "Underpass tergenang setelah hujan satu jam, kendaraan mogok di tengah.",
        "banjir",
        "Kemayoran",
        "Underpass Kemayoran",
        -6.1627,
        106.8553,
        True,
        "field_verification",
    ),
    Demo(
        11,
        "email",
        "Pungutan liar di kantor kelurahan",
        "Petugas meminta uang tambahan untuk pengurusan surat pengantar di kelurahan.",
        None,
        "Senen",
        "Kelurahan Kwitang",
        -6.1819,
        106.8429,
        False,
    ),
    Demo(
        12,
        "email",
        "Pohon tumbang menutup jalan di Kebayoran Baru",
        "Pohon besar tumbang setelah angin kencang dan menutup separuh jalan.",
        None,
        "Kebayoran Baru",
        "Jl. Wijaya I",
        -6.2454,
        106.8043,
        False,
    ),
    Demo(
        13,
        "email",
        "Air PAM tidak mengalir tiga hari",
        "Air bersih tidak mengalir sejak tiga hari lalu di seluruh RT 05.",
        None,
        "Cengkareng",
        "Jl. Kamal Raya",
        -6.1447,
        106.7357,
        False,
    ),
    Demo(
        14,
        "call_centre",
        "Jalan amblas di Jl. Daan Mogot",
        "Penelepon melaporkan badan jalan amblas sekitar satu meter di lajur kiri.",
        "jalan-rusak",
        "Grogol Petamburan",
        "Jl. Daan Mogot",
        -6.1665,
        106.7867,
        True,
        "completed",
        days_ago=110,
    ),
    Demo(
        15,
        "call_centre",
        "Saluran tertutup beton di Kelapa Gading",
        "Penelepon: saluran air ditutup beton oleh pemilik ruko, air tidak mengalir.",
        "saluran",
        "Kelapa Gading",
        "Jl. Boulevard Raya",
        -6.1580,
        106.9057,
        True,
        "completed",
        days_ago=85,
    ),
    Demo(
        16,
        "call_centre",
        "Genangan di Jl. Pluit Raya",
        "Penelepon melaporkan genangan setinggi 30 cm yang tidak surut dua hari.",
        "banjir",
        "Penjaringan",
        "Jl. Pluit Raya",
        -6.1275,
        106.7946,
        True,
        "completed",
        days_ago=60,
    ),
    Demo(
        17,
        "call_centre",
        "Parkir liar di depan pasar Tanah Abang",
        "Penelepon: bajaj dan mobil parkir dua lapis, jalan macet total tiap pagi.",
        "parkir-liar",
        "Tanah Abang",
        "Jl. KH. Mas Mansyur",
        -6.1866,
        106.8131,
        True,
        "dispatched",
        days_ago=20,
    ),
    Demo(
        18,
        "walk_in",
        "Jalan rusak di Gg. Mawar, Pasar Minggu",
        "Warga datang ke loket: jalan gang rusak berat, ambulans tidak bisa masuk.",
        "jalan-rusak",
        "Pasar Minggu",
        "Jl. Raya Ragunan, Gg. Mawar",
        -6.2944,
        106.8237,
        True,
        "completed",
        days_ago=45,
    ),
    Demo(
        19,
        "walk_in",
        "Saluran mampet di Duren Sawit",
        "Warga datang ke loket: saluran di depan musala mampet dan berbau.",
        "saluran",
        "Duren Sawit",
        "Jl. Kolonel Sugiono",
        -6.2333,
        106.9109,
        False,
        "in_progress",
        days_ago=12,
    ),
    Demo(
        20,
        "walk_in",
        "Sampah liar di lahan kosong Cakung",
        "Warga datang ke loket: lahan kosong dijadikan tempat buang sampah liar.",
        "sampah",
        "Cakung",
        "Jl. Raya Bekasi KM 22",
        -6.1853,
        106.9393,
        True,
        "rejected",
        days_ago=30,
    ),
    Demo(
        21,
        "letter",
        "Surat: perbaikan jalan lingkungan Cilandak",
        "Surat RW 07 memohon perbaikan jalan lingkungan yang rusak sejak musim hujan.",
        "jalan-rusak",
        "Cilandak",
        "Jl. Cilandak KKO",
        -6.2906,
        106.8073,
        True,
        "completed",
        days_ago=95,
    ),
    Demo(
        22,
        "letter",
        "Surat: normalisasi saluran di Tanjung Priok",
        "Surat warga memohon pengerukan saluran yang dangkal dan sering meluap.",
        "saluran",
        "Tanjung Priok",
        "Jl. Enggano",
        -6.1095,
        106.8823,
        True,
        "followup_rejected",
        days_ago=25,
    ),
    Demo(
        23,
        "web",
        "Genangan di depan stasiun Palmerah",
        "Genangan air di depan pintu masuk stasiun membuat penumpang kesulitan lewat.",
        "banjir",
        "Palmerah",
        "Jl. Palmerah Timur",
        -6.2075,
        106.7975,
        True,
        "completed",
    ),
    Demo(
        24,
        "web",
        "Jalan bergelombang di Pulo Gadung",
        "Jalan bergelombang dan retak di kawasan industri, truk sering oleng.",
        "jalan-rusak",
        "Pulo Gadung",
        "Jl. Rawa Gelam",
        -6.1930,
        106.9054,
        False,
        "awaiting_validation",
    ),
    Demo(
        25,
        "call_centre",
        "Penerangan taman mati di Senayan",
        "Penelepon: lampu taman mati sejak seminggu, taman gelap di malam hari.",
        None,
        "Kebayoran Baru",
        "Jl. Asia Afrika",
        -6.2240,
        106.8000,
        True,
        "coordination",
        # Old enough that its triage deadline has passed: the queue shows an overdue badge.
        days_ago=14,
    ),
)


def photo(seed: int, point: tuple[float, float] | None = None) -> bytes:
    """A small JPEG that looks like a street scene (road, pothole, curb); with `point`, EXIF
    carries the capture place and time, as a phone camera's would (the evidence check)."""
    img = Image.new("RGB", (480, 320), (135, 180, 220))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 150, 480, 320), fill=(90 + seed % 30, 90, 95))
    draw.rectangle((0, 140, 480, 155), fill=(200, 200, 190))
    draw.ellipse((150 + seed % 60, 210, 300 + seed % 60, 265), fill=(40, 38, 36))
    draw.text((12, 12), f"Aduan DEMO #{seed:02d}", fill=(20, 20, 20))
    exif = Image.Exif()
    if point is not None:
        lat, lon = point

        def dms(v: float) -> tuple[float, float, float]:
            v = abs(v)
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 2))

        exif.get_ifd(0x8825).update(
            {1: "S" if lat < 0 else "N", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
        )
        taken = datetime.now(UTC) + timedelta(hours=7) - timedelta(minutes=5)
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


class Seeder:
    def __init__(self, intake: str, gateway: str, smtp_port: int, client: httpx.AsyncClient):
        self.intake, self.gateway, self.smtp_port, self.client = intake, gateway, smtp_port, client
        self.tokens: dict[str, str] = {}
        self.filed = self.duplicates = self.mailed = self.moves = 0
        # Category -> agency, from the gateway's catalogue (auto-routing's source too).
        self.routes: dict[str, str] = {}

    async def catalogue(self) -> None:
        """Read the routes from the gateway's catalogue, then wait until intake lists every
        category the demo files into (it reads the catalogue from the topic, a moment after
        demo-seed created it): a complaint filed earlier would be refused."""
        r = await self.client.get(f"{self.gateway}/v1/categories")
        if r.status_code != 200:
            raise SystemExit(f"gateway categories: {r.status_code} {r.text}")
        self.routes = {c["code"]: c["agency_id"] for c in r.json() if c.get("agency_id")}
        wanted = {d.category for d in DEMOS if d.category}
        listed: set[str] = set()
        for _ in range(300):
            answer = await self.client.get(f"{self.intake}/v1/categories")
            if answer.status_code == 200:
                listed = {c["code"] for c in answer.json()}
                if wanted <= listed:
                    return
            await asyncio.sleep(0.2)
        raise SystemExit(f"intake does not list the categories {sorted(wanted - listed)}")

    async def token(self, username: str) -> str:
        if username not in self.tokens:
            r = await self.client.post(
                f"{self.gateway}/v1/auth/login",
                json={"username": username, "password": DEMO_PASSWORD},
            )
            if r.status_code != 200:
                raise SystemExit(f"cannot log in as {username}: {r.status_code} {r.text}")
            self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    async def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(username)}"}

    # --- filing --------------------------------------------------------------------------

    def _count(self, status_code: int) -> None:
        if status_code == 201:
            self.filed += 1
        else:
            self.duplicates += 1

    async def file(self, demo: Demo) -> str | None:
        """File one complaint on its channel; the report id (None for e-mail, which answers
        with a receipt code only)."""
        text = demo.text + DEMO_NOTE
        title = f"[DEMO] {demo.title}"
        if demo.channel == "web":
            form = {
                "title": title,
                "text": text,
                "category": demo.category or "",
                "name": demo.reporter_name,
                "contact": demo.email,
                "public": "on" if demo.public else "",
                "lat": str(demo.lat),
                "lon": str(demo.lon),
                "address": demo.address,
                "area": demo.area,
                "submission_id": str(demo.channel_id),
            }
            files = (
                {"photos": (f"demo-{demo.n:02d}.jpg", photo(demo.n), "image/jpeg")}
                if demo.photo
                else None
            )
            r = await self.client.post(
                f"{self.intake}/v1/channels/web",
                data=form,
                files=files,
                headers={"Accept": "application/json"},
            )
        elif demo.channel == "email":
            return await asyncio.to_thread(self._mail, demo, title, text)
        else:
            received = datetime.now(UTC).replace(hour=2, minute=30, second=0, microsecond=0)
            body: dict[str, Any] = {
                "channel": demo.channel,
                "entry_id": str(demo.channel_id),
                "text": text,
                "title": title,
                "category": demo.category,
                "location": {
                    "lat": demo.lat,
                    "lon": demo.lon,
                    "address": demo.address,
                    "area": demo.area,
                },
                "reporter": {"name": demo.reporter_name, "contact": demo.phone},
                "public": demo.public,
                "received_at": (received - timedelta(days=demo.days_ago)).isoformat(),
            }
            r = await self.client.post(
                f"{self.intake}/v1/channels/staff/reports",
                json=body,
                headers=await self.auth("demo-tiket"),
            )
        if r.status_code not in (200, 201):
            raise SystemExit(
                f"demo {demo.n:02d} ({demo.channel}) refused: {r.status_code} {r.text}"
            )
        self._count(r.status_code)
        return str(r.json()["report_id"])

    def _mail(self, demo: Demo, title: str, text: str) -> None:
        msg = EmailMessage()
        msg["From"] = f"{demo.reporter_name} <{demo.email}>"
        msg["To"] = "pengaduan@aduan.localhost"
        msg["Subject"] = title
        msg["Message-ID"] = (
            f"<aduan-demo-{demo.n:02d}-{demo.channel_id.hex[:12]}@demo.aduan.localhost>"
        )
        msg.set_content(f"{text}\n\nLokasi: {demo.address}, {demo.area}, Jakarta")
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(demo.email)
            smtp.rcpt("pengaduan@aduan.localhost")
            code, answer = smtp.data(msg.as_bytes())
        if code != 250:
            raise SystemExit(f"demo {demo.n:02d} (e-mail) refused: {code} {answer!r}")
        # Intake answers the same Message-ID again with the same receipt, so a re-run does
        # not file it twice (the answer does not say which it was).
        self.mailed += 1

    # --- lifecycle -----------------------------------------------------------------------

    async def view(self, report_id: str, user: str = "demo-validator") -> dict[str, Any] | None:
        r = await self.client.get(
            f"{self.gateway}/v1/reports/{report_id}", headers=await self.auth(user)
        )
        return r.json() if r.status_code == 200 else None

    async def wait_view(
        self,
        report_id: str,
        ok: Callable[[dict[str, Any]], bool],
        user: str,
        what: str,
        tries: int = 300,
    ) -> dict[str, Any]:
        """The gateway's view of the report once `ok` holds (the platform is asynchronous:
        the view follows workflow's events a moment after an action was accepted)."""
        last: dict[str, Any] | None = None
        for _ in range(tries):
            last = await self.view(report_id, user)
            if last is not None and ok(last):
                return last
            await asyncio.sleep(0.2)
        raise SystemExit(f"report {report_id}: timed out waiting for {what}; last: {last}")

    async def act(self, report_id: str, user: str, action: str, **kw: Any) -> int | None:
        """One action; the report's new version, or None when workflow refused it because
        the report moved meanwhile (auto-routing, a concurrent run): re-read and decide."""
        r = await self.client.post(
            f"{self.gateway}/v1/reports/{report_id}/{action}", headers=await self.auth(user), **kw
        )
        if r.status_code == 409:
            await asyncio.sleep(0.3)
            return None
        if r.status_code != 200:
            raise SystemExit(f"{action} on {report_id} as {user}: {r.status_code} {r.text}")
        self.moves += 1
        return int(r.json()["version"])

    async def move(self, demo: Demo, report_id: str) -> None:
        """Step the report towards `demo.target`, one action per status, re-reading after each."""
        target = demo.target
        seen = 0  # the version our last accepted action produced
        for _ in range(16):

            def caught_up(v: dict[str, Any], seen: int = seen) -> bool:
                return int(v["status_version"]) >= seen

            view = await self.wait_view(report_id, caught_up, "demo-validator", f"v{seen}")
            status = view["status"]
            version = view["status_version"]
            if status == target or status in FINAL:
                return
            if target in LINEAR and PROGRESS.get(status, 99) >= PROGRESS[target]:
                return  # at or past the target (e.g. a later run of the lifecycle)
            agency = view.get("agency_id") or demo.agency or self.routes.get(demo.category or "")
            officer = OFFICERS.get(agency or "")
            body: dict[str, Any] = {"expected_version": version}
            if status in ("received", "coordination") and target == "rejected":
                body["reason"] = "Lokasi di luar wilayah layanan (data demo)."
                done = await self.act(report_id, "demo-tiket", "reject", json=body)
            elif status == "received" and target == "coordination":
                body["note"] = "Perlu koordinasi antar dinas (data demo)."
                done = await self.act(report_id, "demo-tiket", "coordinate", json=body)
            elif status in ("received", "coordination"):
                if agency is None:
                    return
                if demo.category in self.routes and status == "received":
                    # Auto-routing dispatches routed categories by itself; give it a moment
                    # before dispatching by hand (either way the report ends dispatched).
                    try:
                        await self.wait_view(
                            report_id,
                            lambda v: v["status"] != "received",
                            "demo-validator",
                            "auto-routing",
                            tries=50,
                        )
                        continue
                    except SystemExit:
                        pass
                body |= {"agency_id": agency, "note": "Mohon ditindaklanjuti (data demo)."}
                done = await self.act(report_id, "demo-tiket", "dispatch", json=body)
            elif officer is None:
                return  # no demo officer for this agency (Satpol PP): stays dispatched
            elif status == "dispatched":
                # The officer sees the report once the gateway knows its agency.
                await self.wait_view(report_id, lambda v: True, officer, "officer's view")
                done = await self.act(report_id, officer, "accept", json=body)
            elif status == "in_progress":
                done = await self.act(
                    report_id,
                    officer,
                    "follow-ups",
                    data={
                        "note": "Sudah ditangani petugas di lapangan (data demo).",
                        "expected_version": str(version),
                    },
                    files={
                        "photos": (
                            "tindak-lanjut.jpg",
                            photo(demo.n + 50, (demo.lat, demo.lon)),
                            "image/jpeg",
                        )
                    },
                )
            elif status == "followup_rejected":
                return  # only reached as a target
            elif status == "awaiting_validation" and target == "followup_rejected":
                body["reason"] = "Foto tidak menunjukkan lokasi yang dilaporkan (data demo)."
                done = await self.act(report_id, "demo-validator", "reject-follow-up", json=body)
            elif status == "awaiting_validation" and target == "field_verification":
                body["note"] = "Mohon dicek langsung ke lokasi (data demo)."
                done = await self.act(report_id, "demo-validator", "field-verification", json=body)
            elif status == "awaiting_validation":
                body["note"] = "Tindak lanjut sesuai laporan (data demo)."
                done = await self.act(report_id, "demo-validator", "validate", json=body)
            else:
                return
            seen = done or 0
        raise SystemExit(f"report {report_id} did not reach {target}")

    async def one(self, demo: Demo, gate: asyncio.Semaphore) -> None:
        async with gate:
            report_id = await self.file(demo)
            if report_id is not None and demo.target != "received":
                await self.move(demo, report_id)


def gateway_seed() -> None:
    """The gateway's own demo data (accounts, agencies, the category catalogue)."""
    done = subprocess.run(
        [sys.executable, "-m", "aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"gateway demo-seed failed:\n{done.stdout}{done.stderr}")
    print(done.stdout.strip())


async def wait_for(url: str, what: str, client: httpx.AsyncClient) -> None:
    for _ in range(150):
        try:
            if (await client.get(f"{url}/health")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"{what} does not answer at {url}/health: run `make up` first")


async def seed(intake: str, gateway: str, smtp_port: int, parallel: int) -> Seeder:
    async with httpx.AsyncClient(timeout=30) as client:
        await wait_for(intake, "intake", client)
        await wait_for(gateway, "the privacy gateway", client)
        seeder = Seeder(intake, gateway, smtp_port, client)
        await seeder.catalogue()
        gate = asyncio.Semaphore(parallel)
        await asyncio.gather(*(seeder.one(d, gate) for d in DEMOS))
        return seeder


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--intake", default=f"http://127.0.0.1:{env('ADUAN_INTAKE_PORT', '8001')}")
    parser.add_argument(
        "--gateway", default=f"http://127.0.0.1:{env('ADUAN_GATEWAY_PORT', '8000')}"
    )
    parser.add_argument("--smtp-port", type=int, default=int(env("ADUAN_INTAKE_SMTP_PORT", "2525")))
    parser.add_argument("--parallel", type=int, default=6, help="complaints handled at once")
    parser.add_argument(
        "--skip-gateway-seed", action="store_true", help="demo accounts exist already"
    )
    args = parser.parse_args(argv)
    if not args.skip_gateway_seed:
        gateway_seed()
    seeder = asyncio.run(seed(args.intake, args.gateway, args.smtp_port, args.parallel))
    print(
        f"demo complaints: {len(DEMOS)} ({seeder.filed} filed now, {seeder.duplicates} "
        f"already there, {seeder.mailed} e-mailed), {seeder.moves} lifecycle steps taken.\n"
        f"Console logins (password {DEMO_PASSWORD}): "
        "demo-tiket, demo-binamarga, demo-sda, demo-sudin-jaksel, demo-validator, demo-admin;\n"
        "units (issue 19): demo-sudin-jakpus, demo-kel-gambir (officers), "
        "demo-sudin-jakpus-head, demo-kec-gambir-head (unit heads: see their sub-units)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
