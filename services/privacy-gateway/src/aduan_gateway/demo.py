"""Demo data for a local `make up`: agencies, categories with routing, and one account per
staff role, all marked DEMO, all with one published password. Idempotent: what exists is
left exactly as it is (an administrator's later edits survive a re-run)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Role
from aduan_contracts.values import Actor
from aduan_gateway.categories import Category, put_category
from aduan_gateway.identity import create_agency, create_user
from aduan_gateway.tables import CATEGORIES, USERS

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

DEMO_AGENCIES = (
    ("dinas-bina-marga", "Dinas Bina Marga (DEMO)"),
    ("dinas-sda", "Dinas Sumber Daya Air (DEMO)"),
    ("satpol-pp", "Satpol PP (DEMO)"),
)

# `sampah` has no agency on purpose: it lands in the ticket-admin's triage queue, so the
# demo shows manual dispatch as well as auto-routing.
DEMO_CATEGORIES = (
    Category("jalan-rusak", "Jalan rusak", "Damaged road", "dinas-bina-marga"),
    Category("banjir", "Banjir / genangan", "Flooding", "dinas-sda"),
    Category("saluran", "Saluran air tersumbat", "Blocked drain", "dinas-sda"),
    Category("parkir-liar", "Parkir liar", "Illegal parking", "satpol-pp"),
    Category("sampah", "Sampah", "Rubbish", None),
)

# (username, role, agency, display name)
DEMO_USERS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("demo-admin", Role.ADMINISTRATOR, None, "Admin DEMO"),
    ("demo-tiket", Role.TICKET_ADMIN, None, "Admin Tiket DEMO"),
    ("demo-validator", Role.VALIDATOR, None, "Validator DEMO"),
    ("demo-binamarga", Role.AGENCY_OFFICER, "dinas-bina-marga", "Petugas Bina Marga DEMO"),
    ("demo-sda", Role.AGENCY_OFFICER, "dinas-sda", "Petugas SDA DEMO"),
)

_SEEDER = Actor(id="demo-seed", role=Role.ADMINISTRATOR, display_name="demo-seed (DEMO)")


async def seed_demo(session: AsyncSession, routing_topic: str) -> list[str]:
    """Create whatever demo data is missing; returns one line per thing created."""
    created: list[str] = []
    for agency_id, name in DEMO_AGENCIES:
        if await create_agency(session, agency_id, name):
            created.append(f"agency {agency_id}")
    for category in DEMO_CATEGORIES:
        exists = await session.scalar(
            select(CATEGORIES.c.code).where(CATEGORIES.c.code == category.code)
        )
        if exists is None:
            await put_category(session, routing_topic, _SEEDER, category)
            created.append(f"category {category.code} -> {category.agency_id or '(triage)'}")
    for username, role, agency, display_name in DEMO_USERS:
        taken = await session.scalar(select(USERS.c.user_id).where(USERS.c.username == username))
        if taken is None:
            await create_user(session, username, DEMO_PASSWORD, role, agency, display_name)
            created.append(f"user {username} ({role.value})")
    # Reply templates for the console's forms (marked DEMO); imported here because the
    # templates' module is the HTTP side, which the CLI need not load otherwise.
    from aduan_gateway.api_templates import seed_demo_reply_templates

    created += await seed_demo_reply_templates(session)
    return created
