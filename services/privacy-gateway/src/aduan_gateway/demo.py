"""Demo data for a local `make up`: agencies as a small unit tree with real Jakarta area
codes (issue 19: Dinas Bina Marga over its Suku Dinas of Jakarta Pusat and Selatan;
Kecamatan Gambir over Kelurahan Gambir), the Jakarta category catalogue (with a few routes
by area), and accounts for every staff role (unit heads and a kelurahan officer among
them), all marked DEMO, all with one published password. Idempotent: what exists is left
exactly as it is (an administrator's later edits survive a re-run); an agency an older
seed made is only given its place in the tree while it still has none."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Role
from aduan_contracts.values import Actor
from aduan_gateway.adapters.identity import create_agency, create_user
from aduan_gateway.adapters.tables import AGENCIES, CATEGORIES, USERS
from aduan_gateway.service.categories import AreaRoute, Category, put_category

__all__ = [
    "DEMO_AGENCIES",
    "DEMO_CATEGORIES",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "SEED_ALLOWED_ENV",
    "seed_demo",
]

# Published in the README on purpose: hence the explicit opt-in before seeding.
DEMO_PASSWORD = "demo-aduan-2026"  # noqa: S105
SEED_ALLOWED_ENV = "ADUAN_GATEWAY_DEMO_SEED_ALLOWED"

# (unit id, name, kind, parent, areas covered): real Kemendagri codes (aduan_areas).
DEMO_AGENCIES: tuple[tuple[str, str, str, str | None, tuple[str, ...]], ...] = (
    ("dinas-bina-marga", "Dinas Bina Marga (DEMO)", "dinas", None, ("31",)),
    ("dinas-sda", "Dinas Sumber Daya Air (DEMO)", "dinas", None, ("31",)),
    ("satpol-pp", "Satpol PP (DEMO)", "other", None, ("31",)),
    # Units responsible for a place (issue 19), routed to by the categories' area routes;
    # a report overdue at one is flagged to its parent.
    (
        "sudin-bina-marga-jakpus",
        "Suku Dinas Bina Marga Jakarta Pusat (DEMO)",
        "suku-dinas",
        "dinas-bina-marga",
        ("31.71",),
    ),
    (
        "sudin-bina-marga-jaksel",
        "Suku Dinas Bina Marga Jakarta Selatan (DEMO)",
        "suku-dinas",
        "dinas-bina-marga",
        ("31.74",),
    ),
    ("kecamatan-gambir", "Kecamatan Gambir (DEMO)", "kecamatan", None, ("31.71.01",)),
    (
        "kelurahan-gambir",
        "Kelurahan Gambir (DEMO)",
        "kelurahan",
        "kecamatan-gambir",
        ("31.71.01.1001",),
    ),
)

# Real Kemendagri codes (aduan_areas): Kota Jakarta Selatan, Kecamatan Gambir (Jakarta
# Pusat). Jakarta Selatan rather than Pusat for the Suku Dinas: the console's browser tests
# file potholes in Menteng (Jakarta Pusat) and expect Dinas Bina Marga's officer to take them.
JAKARTA_SELATAN = "31.74"
KECAMATAN_GAMBIR = "31.71.01"
KELURAHAN_GAMBIR = "31.71.01.1001"

# The Jakarta categories the demo uses (deploy/demo/seed.py files into them): the one
# catalogue, published to every reader through the topic like an administrator's change.
# `sampah` and `pohon-tumbang` have no agency on purpose: they land in the ticket-admin's
# triage queue, so the demo shows manual dispatch as well as auto-routing.
DEMO_CATEGORIES = (
    Category(
        "jalan-rusak",
        "Jalan rusak / berlubang",
        "Damaged road or pothole",
        "dinas-bina-marga",
        description_id="Jalan berlubang, aspal mengelupas, trotoar rusak.",
        description_en="Potholes, peeling asphalt, broken pavements.",
        keywords=("jalan", "lubang", "berlubang", "aspal", "trotoar", "pothole", "road"),
        group="Infrastruktur",
        # In Jakarta Selatan its Suku Dinas takes potholes; elsewhere the province Dinas.
        area_routes=(AreaRoute(area_code=JAKARTA_SELATAN, agency_id="sudin-bina-marga-jaksel"),),
    ),
    Category(
        "lampu-jalan",
        "Lampu jalan mati",
        "Street light out",
        "dinas-bina-marga",
        description_id="Penerangan jalan umum mati atau berkedip.",
        description_en="A street light that is out or flickering.",
        keywords=("lampu", "penerangan", "pju", "gelap", "streetlight"),
        group="Infrastruktur",
    ),
    Category(
        "banjir",
        "Banjir / genangan",
        "Flooding",
        "dinas-sda",
        description_id="Banjir atau genangan air di jalan dan permukiman.",
        description_en="Flooding or standing water on roads and in neighbourhoods.",
        keywords=("banjir", "genangan", "tergenang", "flood"),
        group="Air dan banjir",
    ),
    Category(
        "saluran",
        "Saluran air tersumbat",
        "Blocked drain",
        "dinas-sda",
        description_id="Got, selokan atau saluran air tersumbat.",
        description_en="A blocked drain, gutter or channel.",
        keywords=("got", "selokan", "saluran", "drainase", "tersumbat", "drain"),
        group="Air dan banjir",
    ),
    Category(
        "sampah",
        "Sampah tidak diangkut",
        "Uncollected rubbish",
        None,
        description_id="Sampah tidak diangkut atau dibuang sembarangan.",
        description_en="Uncollected rubbish or illegal dumping.",
        keywords=("sampah", "tps", "rubbish", "waste"),
        group="Lingkungan",
        # Only Gambir's rubbish has a unit; the rest still waits in triage. Kelurahan
        # Gambir's own is its kelurahan's (the most specific rule wins).
        area_routes=(
            AreaRoute(area_code=KECAMATAN_GAMBIR, agency_id="kecamatan-gambir"),
            AreaRoute(area_code=KELURAHAN_GAMBIR, agency_id="kelurahan-gambir"),
        ),
    ),
    Category(
        "pohon-tumbang",
        "Pohon tumbang / rawan tumbang",
        "Fallen or dangerous tree",
        None,
        description_id="Pohon tumbang atau rawan tumbang.",
        description_en="A fallen tree or one about to fall.",
        keywords=("pohon", "dahan", "tumbang", "tree"),
        group="Lingkungan",
    ),
    Category(
        "parkir-liar",
        "Parkir liar",
        "Illegal parking",
        "satpol-pp",
        description_id="Kendaraan parkir di trotoar, bahu jalan atau tempat terlarang.",
        description_en="Vehicles parked on pavements, road shoulders or where forbidden.",
        keywords=("parkir", "parking"),
        group="Ketertiban",
    ),
    Category(
        "ketertiban-umum",
        "Gangguan ketertiban umum",
        "Public order disturbance",
        "satpol-pp",
        description_id="PKL di trotoar, kebisingan, gangguan ketertiban lain.",
        description_en="Street vendors on pavements, noise, other disturbances.",
        keywords=("pkl", "bising", "ketertiban", "noise"),
        group="Ketertiban",
    ),
)

# (username, role, agency, display name[, unit head])
DEMO_USERS: tuple[tuple[str, Role, str | None, str] | tuple[str, Role, str, str, bool], ...] = (
    ("demo-admin", Role.ADMINISTRATOR, None, "Admin DEMO"),
    ("demo-tiket", Role.TICKET_ADMIN, None, "Admin Tiket DEMO"),
    ("demo-validator", Role.VALIDATOR, None, "Validator DEMO"),
    ("demo-binamarga", Role.AGENCY_OFFICER, "dinas-bina-marga", "Petugas Bina Marga DEMO"),
    ("demo-sda", Role.AGENCY_OFFICER, "dinas-sda", "Petugas SDA DEMO"),
    (
        "demo-sudin-jaksel",
        Role.AGENCY_OFFICER,
        "sudin-bina-marga-jaksel",
        "Petugas Sudin Bina Marga Jakarta Selatan DEMO",
    ),
    (
        "demo-sudin-jakpus",
        Role.AGENCY_OFFICER,
        "sudin-bina-marga-jakpus",
        "Petugas Sudin Bina Marga Jakarta Pusat DEMO",
    ),
    (
        "demo-sudin-jakpus-head",
        Role.AGENCY_OFFICER,
        "sudin-bina-marga-jakpus",
        "Kepala Sudin Bina Marga Jakarta Pusat DEMO",
        True,
    ),
    # A unit head over a kelurahan: reads Kelurahan Gambir's reports too, and sees what is
    # overdue there flagged to the kecamatan.
    (
        "demo-kec-gambir-head",
        Role.AGENCY_OFFICER,
        "kecamatan-gambir",
        "Camat Gambir DEMO",
        True,
    ),
    ("demo-kel-gambir", Role.AGENCY_OFFICER, "kelurahan-gambir", "Petugas Kelurahan Gambir DEMO"),
)

_SEEDER = Actor(id="demo-seed", role=Role.ADMINISTRATOR, display_name="demo-seed (DEMO)")


async def seed_demo(session: AsyncSession, categories_topic: str) -> list[str]:
    """Create whatever demo data is missing; returns one line per thing created."""
    created: list[str] = []
    for agency_id, name, kind, parent, areas in DEMO_AGENCIES:
        if await create_agency(session, agency_id, name):
            created.append(f"agency {agency_id}")
        # Its place in the tree, unless it has one already (an administrator's tree wins).
        placed = await session.execute(
            update(AGENCIES)
            .where(
                AGENCIES.c.agency_id == agency_id,
                AGENCIES.c.parent_id.is_(None),
                AGENCIES.c.kind == "other",
                AGENCIES.c.area_codes == [],
            )
            .values(kind=kind, parent_id=parent, area_codes=list(areas))
            .returning(AGENCIES.c.agency_id)
        )
        if placed.first() is not None:
            created.append(f"unit {agency_id} ({kind}) under {parent or '(root)'}")
    for category in DEMO_CATEGORIES:
        exists = await session.scalar(
            select(CATEGORIES.c.code).where(CATEGORIES.c.code == category.code)
        )
        if exists is None:
            await put_category(session, categories_topic, _SEEDER, category)
            created.append(f"category {category.code} -> {category.agency_id or '(triage)'}")
            created += [
                f"route {category.code} x {r.area_code} -> {r.agency_id}"
                for r in category.area_routes
            ]
    for username, role, agency, display_name, *head in DEMO_USERS:
        taken = await session.scalar(select(USERS.c.user_id).where(USERS.c.username == username))
        if taken is None:
            unit_head = bool(head and head[0])
            await create_user(
                session, username, DEMO_PASSWORD, role, agency, display_name, unit_head=unit_head
            )
            created.append(f"user {username} ({role.value}{', unit head' if unit_head else ''})")
    # Reply templates for the console's forms (marked DEMO); imported here because the
    # templates' module is the HTTP side, which the CLI need not load otherwise.
    from aduan_gateway.entrypoints.api_templates import seed_demo_reply_templates

    created += await seed_demo_reply_templates(session)
    return created
