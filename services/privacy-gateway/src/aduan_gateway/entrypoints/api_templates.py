"""Reply templates (issue 14): ready texts, in Indonesian and English, that administrators
keep for the words officers write most often — a follow-up note, a return ("not ours"), a
rejection, a question to the reporter. Every staff role reads the active ones (the console
offers them in the matching form, to edit before sending); only administrators create,
change and retire them. A retired template stays in the table (its words were sent) and
can be brought back by an edit.

Written like the other catalogue changes (categories, agencies): administrators only,
each change stamped with who made it and when (`updated_by`, `updated_at`) and logged by
template id and kind — never a template's words in a log line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Role
from aduan_gateway.adapters.tables import REPLY_TEMPLATES
from aduan_gateway.auth import CurrentUser, Principal
from aduan_gateway.domain.views import OFFICER_ROLES
from aduan_gateway.entrypoints.deps import SessionsDep, require_role
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger

__all__ = [
    "BODY_LIMITS",
    "DEMO_REPLY_TEMPLATES",
    "TEMPLATE_KINDS",
    "TITLE_LIMIT",
    "ReplyTemplateBody",
    "ReplyTemplateView",
    "seed_demo_reply_templates",
    "template_problems",
    "templates_router",
]

log = get_logger(__name__)

TemplateKind = Literal["followup", "return", "reject", "question"]
TEMPLATE_KINDS: tuple[str, ...] = get_args(TemplateKind)

TITLE_LIMIT = 120
# A template must fit the form it fills: the gateway's own limits on a follow-up note, a
# reason, and a question to the reporter (which also wants 10 characters at least).
BODY_LIMITS: dict[str, tuple[int, int]] = {
    "followup": (3, 5000),
    "return": (3, 2000),
    "reject": (3, 2000),
    "question": (10, 1000),
}

_ADMIN = frozenset({Role.ADMINISTRATOR})
_NOT_FOUND = "no such reply template"
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "the role may not do this"},
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "blank or too long fields, or an unknown kind (each named)"}
}


class ReplyTemplateBody(BaseModel):
    """A template as an administrator writes it. Checked by `template_problems` (not by
    field constraints) so that every problem is named in one answer, the body limits
    following the kind."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=40, description="followup, return, reject or question")
    title: str = Field(max_length=10_000, description=f"at most {TITLE_LIMIT} characters")
    body_id: str = Field(max_length=10_000, description="the text in Indonesian")
    body_en: str = Field(max_length=10_000, description="the text in English")
    active: bool | None = Field(
        default=None, description="on an edit: bring a retired template back (true)"
    )


class ReplyTemplateView(BaseModel):
    model_config = ConfigDict(frozen=True)

    template_id: UUID
    kind: TemplateKind
    title: str
    body_id: str
    body_en: str
    active: bool
    updated_by: str
    updated_at: datetime


def template_problems(body: ReplyTemplateBody) -> list[dict[str, Any]]:
    """Every reason the template is refused, in FastAPI's validation-error shape (the
    console reads `loc` and `msg` into one sentence)."""
    problems: list[dict[str, Any]] = []

    def refuse(field: str, msg: str) -> None:
        problems.append({"loc": ["body", field], "msg": msg, "type": "value_error"})

    if body.kind not in TEMPLATE_KINDS:
        refuse("kind", f"unknown kind; one of {', '.join(TEMPLATE_KINDS)}")
    title = body.title.strip()
    if not title:
        refuse("title", "must not be blank")
    elif len(title) > TITLE_LIMIT:
        refuse("title", f"at most {TITLE_LIMIT} characters")
    least, most = BODY_LIMITS.get(body.kind, (3, 2000))
    for field in ("body_id", "body_en"):
        text = getattr(body, field).strip()
        if not text:
            refuse(field, "must not be blank")
        elif len(text) < least:
            refuse(field, f"at least {least} characters for a {body.kind}")
        elif len(text) > most:
            refuse(field, f"at most {most} characters for a {body.kind}")
    return problems


def _checked(body: ReplyTemplateBody) -> dict[str, str]:
    problems = template_problems(body)
    if problems:
        raise HTTPException(status_code=422, detail=problems)
    return {
        "kind": body.kind,
        "title": body.title.strip(),
        "body_id": body.body_id.strip(),
        "body_en": body.body_en.strip(),
    }


def _view(row: Any) -> ReplyTemplateView:
    return ReplyTemplateView(
        template_id=row.template_id,
        kind=row.kind,
        title=row.title,
        body_id=row.body_id,
        body_en=row.body_en,
        active=row.active,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def _save(
    session: AsyncSession, template_id: UUID, values: dict[str, Any], user: Principal
) -> ReplyTemplateView | None:
    row = (
        await session.execute(
            update(REPLY_TEMPLATES)
            .where(REPLY_TEMPLATES.c.template_id == template_id)
            .values(**values, updated_by=user.subject, updated_at=func.now())
            .returning(*REPLY_TEMPLATES.c)
        )
    ).first()
    return _view(row) if row is not None else None


def templates_router() -> APIRouter:
    router = APIRouter(tags=["reply templates"])

    @router.get(
        "/v1/reply-templates",
        response_model=list[ReplyTemplateView],
        responses={**_AUTH_ERRORS, 422: {"description": "unknown kind"}},
    )
    async def list_templates(
        user: CurrentUser,
        sessions: SessionsDep,
        kind: Annotated[TemplateKind | None, Query()] = None,
        include_retired: Annotated[
            bool, Query(description="administrators: retired templates too")
        ] = False,
    ) -> list[ReplyTemplateView]:
        """Reply templates, by kind then title (any staff role; the active ones only,
        unless an administrator asks for the retired ones too)."""
        require_role(user, OFFICER_ROLES, "read reply templates")
        query = select(REPLY_TEMPLATES).order_by(
            REPLY_TEMPLATES.c.kind, REPLY_TEMPLATES.c.title, REPLY_TEMPLATES.c.template_id
        )
        if kind is not None:
            query = query.where(REPLY_TEMPLATES.c.kind == kind)
        if not (include_retired and user.role is Role.ADMINISTRATOR):
            query = query.where(REPLY_TEMPLATES.c.active.is_(True))
        async with sessions() as session:
            return [_view(r) for r in await session.execute(query)]

    @router.post(
        "/v1/reply-templates",
        response_model=ReplyTemplateView,
        status_code=status.HTTP_201_CREATED,
        responses={**_AUTH_ERRORS, **_INVALID},
    )
    async def create_template(
        body: Annotated[ReplyTemplateBody, Body()], user: CurrentUser, sessions: SessionsDep
    ) -> ReplyTemplateView:
        """Create a reply template (administrators)."""
        require_role(user, _ADMIN, "manage reply templates")
        values = _checked(body)
        template_id = uuid4()
        async with transaction(sessions) as session:
            row = (
                await session.execute(
                    REPLY_TEMPLATES.insert()
                    .values(
                        template_id=template_id,
                        **values,
                        active=body.active is not False,
                        updated_by=user.subject,
                    )
                    .returning(*REPLY_TEMPLATES.c)
                )
            ).one()
        log.info("reply template created", template_id=str(template_id), kind=body.kind)
        return _view(row)

    @router.put(
        "/v1/reply-templates/{template_id}",
        response_model=ReplyTemplateView,
        responses={**_AUTH_ERRORS, **_INVALID, 404: {"description": _NOT_FOUND}},
    )
    async def edit_template(
        template_id: UUID,
        body: Annotated[ReplyTemplateBody, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
    ) -> ReplyTemplateView:
        """Replace a template's kind, title and texts (administrators); `active: true`
        brings a retired one back."""
        require_role(user, _ADMIN, "manage reply templates")
        values: dict[str, Any] = _checked(body)
        if body.active is not None:
            values["active"] = body.active
        async with transaction(sessions) as session:
            saved = await _save(session, template_id, values, user)
        if saved is None:
            raise HTTPException(status_code=404, detail=_NOT_FOUND)
        log.info("reply template changed", template_id=str(template_id), kind=saved.kind)
        return saved

    @router.post(
        "/v1/reply-templates/{template_id}/retire",
        response_model=ReplyTemplateView,
        responses={**_AUTH_ERRORS, 404: {"description": _NOT_FOUND}},
    )
    async def retire_template(
        template_id: UUID, user: CurrentUser, sessions: SessionsDep
    ) -> ReplyTemplateView:
        """Retire a template (administrators): no longer offered, kept for the record.
        Retiring a retired one changes nothing but the stamp."""
        require_role(user, _ADMIN, "manage reply templates")
        async with transaction(sessions) as session:
            saved = await _save(session, template_id, {"active": False}, user)
        if saved is None:
            raise HTTPException(status_code=404, detail=_NOT_FOUND)
        log.info("reply template retired", template_id=str(template_id), kind=saved.kind)
        return saved

    return router


# --- demo data ------------------------------------------------------------------------------

# For `make up`'s demo (aduan_gateway.demo.seed_demo): two or three per kind, marked DEMO.
# (kind, title, Indonesian, English)
DEMO_REPLY_TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    (
        "followup",
        "Perbaikan selesai (DEMO)",
        "Perbaikan telah selesai dikerjakan oleh petugas di lokasi. Foto sesudah perbaikan "
        "terlampir.",
        "The repair has been completed by our officers on site. Photos taken after the "
        "repair are attached.",
    ),
    (
        "followup",
        "Pembersihan saluran (DEMO)",
        "Saluran telah dibersihkan dari sampah dan endapan; aliran air kembali lancar.",
        "The drain has been cleared of rubbish and silt; water flows freely again.",
    ),
    (
        "followup",
        "Penertiban dilakukan (DEMO)",
        "Petugas telah melakukan penertiban di lokasi dan akan memantau kembali minggu ini.",
        "Officers have enforced the rules on site and will check again this week.",
    ),
    (
        "return",
        "Bukan wewenang instansi kami (DEMO)",
        "Lokasi ini bukan wewenang instansi kami. Mohon didisposisikan ke instansi yang "
        "mengelola wilayah atau aset tersebut.",
        "This location is not under our agency's authority. Please dispatch the report to "
        "the agency that manages this area or asset.",
    ),
    (
        "return",
        "Aset milik pihak swasta (DEMO)",
        "Aset yang dilaporkan milik pihak swasta, bukan aset pemerintah daerah.",
        "The reported asset is privately owned, not a city asset.",
    ),
    (
        "reject",
        "Laporan tidak lengkap (DEMO)",
        "Laporan tidak dapat diproses karena lokasi dan uraian masalah kurang jelas. "
        "Silakan kirim laporan baru dengan lokasi yang tepat.",
        "The report cannot be processed because the location and the problem are not "
        "clear. Please file a new report with the exact location.",
    ),
    (
        "reject",
        "Bukan pengaduan layanan publik (DEMO)",
        "Laporan ini bukan pengaduan tentang layanan publik kota sehingga tidak dapat kami "
        "tindak lanjuti.",
        "This report is not a complaint about a city public service, so we cannot act on it.",
    ),
    (
        "reject",
        "Tindak lanjut belum sesuai (DEMO)",
        "Foto tindak lanjut belum menunjukkan masalah telah selesai. Mohon lengkapi "
        "dengan foto sesudah perbaikan di lokasi yang sama.",
        "The follow-up photos do not show the problem solved. Please add photos taken "
        "after the repair at the same place.",
    ),
    (
        "question",
        "Minta lokasi lebih tepat (DEMO)",
        "Terima kasih atas laporan Anda. Bisakah Anda menyebutkan patokan terdekat "
        "(nomor rumah, nama toko, atau tiang listrik) agar petugas mudah menemukan "
        "lokasinya?",
        "Thank you for your report. Could you tell us the nearest landmark (house number, "
        "shop name or lamp post) so our officers can find the place?",
    ),
    (
        "question",
        "Sejak kapan masalah terjadi (DEMO)",
        "Sejak kapan masalah ini terjadi, dan apakah masih terjadi sampai sekarang?",
        "Since when has this problem occurred, and is it still happening now?",
    ),
)


async def seed_demo_reply_templates(session: AsyncSession, seeder: str = "demo-seed") -> list[str]:
    """Create the demo templates whose title is not there yet (idempotent: an
    administrator's later edits survive a re-run); one line per template created."""
    created: list[str] = []
    for kind, title, body_id, body_en in DEMO_REPLY_TEMPLATES:
        exists = await session.scalar(
            select(REPLY_TEMPLATES.c.template_id).where(REPLY_TEMPLATES.c.title == title)
        )
        if exists is None:
            await session.execute(
                REPLY_TEMPLATES.insert().values(
                    template_id=uuid4(),
                    kind=kind,
                    title=title,
                    body_id=body_id,
                    body_en=body_en,
                    updated_by=seeder,
                )
            )
            created.append(f"reply template {kind}: {title}")
    return created
