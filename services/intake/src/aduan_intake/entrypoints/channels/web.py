"""The public web form channel: an accessible HTML form and its POST.

The form carries a fresh `submission_id` in a hidden field, so a double click, a browser
retry or a proxy replay of the same post files one report and shows the same receipt.
"""

from __future__ import annotations

import html
import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.values import (
    AREA_CODE_PATTERN,
    GeoPoint,
    Location,
    normalize_receipt_code,
)
from aduan_intake.adapters.catalogue import checked_category
from aduan_intake.adapters.photos import PhotoError
from aduan_intake.admission import Overloaded, overloaded_response
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import (
    BodyTooLarge,
    ChannelContext,
    FieldError,
    FiledReceipt,
    ProblemBody,
    asks_for_html,
    field_error,
    prefers_json,
    problem,
    rate_limited,
    read_body,
    sender_address,
    too_large,
)
from aduan_intake.service.filing import RateLimited, SubmissionConflict
from aduan_kit.catalogue import Catalogue

__all__ = ["normalize_web_form", "render_form", "render_receipt", "router"]

# Where the form is served and posted (its page, the refusal pages' links, the door's check).
FORM_PATH = "/v1/channels/web"

TEXT_MIN, TEXT_MAX = 10, 5000
PUBLIC_VALUES = frozenset({"on", "true", "1"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Control characters other than tab and newline have no place in a complaint, and NUL
# breaks PostgreSQL text downstream.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- normalization (no I/O) -----------------------------------------------------------------


def _clean(value: str) -> str:
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _optional(form: Mapping[str, str], field: str, max_len: int) -> str | None:
    value = _clean(form.get(field, ""))
    if not value:
        return None
    if len(value) > max_len:
        raise InvalidField(field, f"must be at most {max_len} characters")
    return value


def _coordinate(form: Mapping[str, str], field: str, bound: float) -> float | None:
    raw = form.get(field, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidField(field, "must be a decimal number") from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise InvalidField(field, f"must be between -{bound:g} and {bound:g}")
    return value


def normalize_web_form(
    form: Mapping[str, str],
    received_at: datetime,
    default_phone_region: str = "ID",
    catalogue: Catalogue | None = None,
) -> NormalizedReport:
    """Turn the posted fields into a normalized report; raise `InvalidField` naming the
    first field that cannot be accepted. A category, when given, must be an active code of
    `catalogue` (none given: the ticket-admin triages the report)."""
    text = _clean(form.get("text", ""))
    if not text:
        raise InvalidField("text", "is required")
    if len(text) < TEXT_MIN:
        raise InvalidField("text", f"must be at least {TEXT_MIN} characters")
    if len(text) > TEXT_MAX:
        raise InvalidField("text", f"must be at most {TEXT_MAX} characters")

    title = _optional(form, "title", 300)
    category = checked_category(catalogue or Catalogue(), _optional(form, "category", 100))
    name = _optional(form, "name", 200)
    raw_contact = _optional(form, "contact", 254)
    contact = None
    if raw_contact is not None:
        try:
            contact = normalize_contact(raw_contact, default_phone_region).value
        except ValueError as exc:
            raise InvalidField("contact", str(exc)) from None

    lat = _coordinate(form, "lat", 90)
    lon = _coordinate(form, "lon", 180)
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidField(missing, "is required when the other coordinate is given")
    point = GeoPoint(lat=lat, lon=lon) if lat is not None and lon is not None else None
    address = _optional(form, "address", 500)
    area = _optional(form, "area", 200)
    # The kelurahan chosen in the portal's area box: a Kemendagri code, checked against the
    # list when the report is filed (an unknown code is ignored and the words decide).
    area_code = _optional(form, "area_code", 13)
    if area_code is not None and not re.fullmatch(AREA_CODE_PATTERN, area_code):
        raise InvalidField("area_code", "is not a Kemendagri area code like 31.71.01.1001")
    location = (
        Location(point=point, address=address, area=area, area_code=area_code)
        if point or address or area or area_code
        else None
    )

    language_raw = form.get("language", "").strip().lower() or "id"
    if language_raw not in ("id", "en"):
        raise InvalidField("language", "must be 'id' or 'en'")
    language: Literal["id", "en"] = "id" if language_raw == "id" else "en"

    submission_raw = form.get("submission_id", "").strip()
    if submission_raw:
        try:
            submission_id = str(uuid.UUID(submission_raw))
        except ValueError:
            raise InvalidField("submission_id", "must be a UUID") from None
    else:
        # No id means no way to recognise a retry: this post files a report of its own.
        submission_id = str(uuid.uuid4())

    follows_raw = form.get("follows", "").strip()
    follows = None
    if follows_raw:
        try:
            follows = uuid.UUID(follows_raw)
        except ValueError:
            raise InvalidField("follows", "must be the id of a public report") from None

    # Private unless the box was explicitly ticked (SPEC privacy rule 1).
    public = form.get("public", "").strip().lower() in PUBLIC_VALUES
    identity = ReporterIdentity(name=name, contact=contact)
    return NormalizedReport.build(
        channel=Channel.WEB,
        channel_message_id=submission_id,
        text=text,
        title=title,
        category_hint=category,
        location=location,
        reporter=None if identity.is_empty else identity,
        privacy=Privacy.PUBLIC if public else Privacy.PRIVATE,
        language=language,
        received_at=received_at,
        follows=follows,
    )


# --- pages ----------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#111}
label{display:block;margin-top:1rem;font-weight:600}
label small,.hint{font-weight:400;color:#444}
input,textarea,select{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
input[type=checkbox]{width:auto}
fieldset{margin-top:1rem}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit}
:focus{outline:3px solid #1a5fb4;outline-offset:2px}
.code{font-size:2rem;font-family:monospace;letter-spacing:.1em}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="id">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _label(for_id: str, indonesian: str, english: str, optional: bool = False) -> str:
    tag = ' <small>(opsional / <span lang="en">optional</span>)</small>' if optional else ""
    return f'<label for="{for_id}">{indonesian} <small lang="en">{english}</small>{tag}</label>'


def _category_options(catalogue: Catalogue) -> str:
    # Only the catalogue's active categories: the form offers codes, never free text.
    options = ['<option value="" selected>Tidak tahu / lainnya &mdash; Not sure / other</option>']
    for c in catalogue.active():
        options.append(
            f'<option value="{html.escape(c.code)}">{html.escape(c.name_id)} '
            f"&mdash; {html.escape(c.name_en)}</option>"
        )
    return "\n".join(options)


def render_form(
    submission_id: str, action: str = FORM_PATH, catalogue: Catalogue | None = None
) -> str:
    sid = html.escape(submission_id)
    options = _category_options(catalogue or Catalogue())
    body = f"""<h1>Sampaikan Aduan <small lang="en">Submit a complaint</small></h1>
<p>Laporan Anda <strong>privat</strong> kecuali Anda memilih untuk menampilkannya ke publik.
<small lang="en">Your report is private unless you choose to make it public.</small></p>
<form method="post" action="{html.escape(action)}" accept-charset="utf-8"
 enctype="multipart/form-data">
<input type="hidden" name="submission_id" value="{sid}">
{_label("title", "Judul", "Title", optional=True)}
<input id="title" name="title" type="text" maxlength="300">
{_label("text", "Isi aduan", "Complaint")}
<textarea id="text" name="text" rows="8" required minlength="{TEXT_MIN}"
 maxlength="{TEXT_MAX}" aria-describedby="text-hint"></textarea>
<p id="text-hint" class="hint">Ceritakan masalahnya, {TEXT_MIN}&ndash;{TEXT_MAX} karakter.
<small lang="en">Describe the problem, {TEXT_MIN}&ndash;{TEXT_MAX} characters.</small></p>
{_label("category", "Kategori", "Category", optional=True)}
<select id="category" name="category">
{options}
</select>
<fieldset>
<legend>Lokasi <small lang="en">Location</small></legend>
{_label("address", "Alamat", "Address", optional=True)}
<input id="address" name="address" type="text" maxlength="500" autocomplete="street-address">
{_label("area", "Kelurahan / kecamatan", "Area", optional=True)}
<input id="area" name="area" type="text" maxlength="200">
{_label("lat", "Garis lintang", "Latitude", optional=True)}
<input id="lat" name="lat" type="number" step="any" min="-90" max="90">
{_label("lon", "Garis bujur", "Longitude", optional=True)}
<input id="lon" name="lon" type="number" step="any" min="-180" max="180">
</fieldset>
{_label("photos", "Foto", "Photos", optional=True)}
<input id="photos" name="photos" type="file" accept="image/jpeg,image/png,image/webp" multiple
 aria-describedby="photos-hint">
<p id="photos-hint" class="hint">JPEG, PNG atau WebP. Data lokasi dan perangkat di foto dihapus.
<small lang="en">JPEG, PNG or WebP. Location and device data in photos are removed.</small></p>
<fieldset>
<legend>Data pelapor <small lang="en">About you</small></legend>
<p class="hint">Nama dan kontak Anda tidak ditampilkan kepada petugas atau publik.
<small lang="en">Your name and contact are not shown to officers or the public.</small></p>
{_label("name", "Nama", "Name", optional=True)}
<input id="name" name="name" type="text" maxlength="200" autocomplete="name">
{_label("contact", "Nomor telepon atau e-mail", "Phone number or e-mail", optional=True)}
<input id="contact" name="contact" type="text" maxlength="254" autocomplete="tel"
 aria-describedby="contact-hint">
<p id="contact-hint" class="hint">Untuk mengabari perkembangan aduan Anda.
<small lang="en">So we can tell you how your complaint progresses.</small></p>
</fieldset>
{_label("language", "Bahasa balasan", "Reply language")}
<select id="language" name="language">
<option value="id" selected>Bahasa Indonesia</option>
<option value="en" lang="en">English</option>
</select>
<p><input id="public" name="public" type="checkbox" value="on">
<label for="public" style="display:inline">Tampilkan aduan ini di portal publik
<small lang="en">Show this complaint on the public portal</small></label></p>
<button type="submit">Kirim <small lang="en">Send</small></button>
</form>"""
    return _page("Sampaikan Aduan", body)


def render_receipt(receipt_code: str, duplicate: bool) -> str:
    code = html.escape(receipt_code)
    again = (
        "<p>Aduan ini sudah kami terima sebelumnya. "
        '<small lang="en">We had already received this complaint.</small></p>'
        if duplicate
        else ""
    )
    body = f"""<h1>Aduan diterima <small lang="en">Complaint received</small></h1>
{again}<p>Nomor tanda terima Anda <small lang="en">Your receipt code</small>:</p>
<p class="code" role="status" aria-live="polite">{code}</p>
<p>Simpan nomor ini untuk memantau aduan Anda.
<small lang="en">Keep this code to track your complaint.</small></p>"""
    return _page(f"Aduan diterima {receipt_code}", body)


# What a browser's person reads when the form is refused (the JSON `error` code → Indonesian
# and English); the form is bilingual, so is this page. Field names as the form labels them.
_FIELD_LABELS = {
    "text": ("Isi aduan", "Complaint"),
    "title": ("Judul", "Title"),
    "category": ("Kategori", "Category"),
    "address": ("Alamat", "Address"),
    "area": ("Kelurahan / kecamatan", "Area"),
    "area_code": ("Kelurahan / kecamatan", "Area"),
    "lat": ("Garis lintang", "Latitude"),
    "lon": ("Garis bujur", "Longitude"),
    "photos": ("Foto", "Photos"),
    "name": ("Nama", "Name"),
    "contact": ("Nomor telepon atau e-mail", "Phone number or e-mail"),
    "language": ("Bahasa balasan", "Reply language"),
    "public": ("Tampilkan di portal publik", "Show on the public portal"),
    "follows": ("Aduan yang sama", "Same complaint"),
    "submission_id": ("Formulir", "Form"),
}
_GENERIC_FIELD = ("Isian formulir", "A form field")
# The validation reasons the form's fields give, in Indonesian; others get a plain request
# to check the field (the English line keeps the exact reason).
_REASONS_ID = (
    (re.compile(r"is required"), "wajib diisi"),
    (re.compile(r"must be at least (\d+) characters"), r"minimal \1 karakter"),
    (re.compile(r"must be at most (\d+) characters"), r"maksimal \1 karakter"),
)
_FIX = (
    "Tekan tombol <strong>Kembali</strong> di peramban untuk memperbaiki isian Anda (yang sudah "
    'Anda ketik tetap ada), atau <a href="{form}">buka formulir baru</a>. <small lang="en">'
    "Press your browser's <strong>Back</strong> button to correct it (what you typed is kept), "
    'or <a href="{form}">open a new form</a>.</small>'
)
_LATER = (
    "Tekan tombol <strong>Kembali</strong> di peramban (yang sudah Anda ketik tetap ada) dan "
    'kirim lagi setelah itu. <small lang="en">Press your browser\'s <strong>Back</strong> '
    "button (what you typed is kept) and send it again then.</small>"
)
_NEW_FORM = (
    '<a href="{form}">Buka formulir baru</a> dan salin isi aduan Anda ke sana. <small lang="en">'
    '<a href="{form}">Open a new form</a> and copy your complaint into it.</small>'
)


def _wait_words(retry_after_s: str | None) -> tuple[str, str]:
    """'42 detik' / '42 seconds'; whole minutes past two."""
    try:
        seconds = max(1, int(retry_after_s or "1"))
    except ValueError:
        seconds = 60
    if seconds <= 120:
        return f"{seconds} detik", f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} menit", f"{minutes} minutes"


def _sentence(reason: str) -> str:
    reason = re.sub(
        r"(\d{6,}) bytes", lambda m: f"{int(m.group(1)) / 1_048_576:.0f} MB", reason.strip()
    )
    return html.escape(reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else "."))


def render_refusal(
    status: int,
    error: str,
    reason: str,
    retry_after_s: str | None,
    field: str | None,
) -> str:
    """The page a browser gets instead of the JSON refusal: what went wrong in both
    languages, what to do next, and the way back to the form. Nothing was filed."""
    wait_id, wait_en = _wait_words(retry_after_s)
    then = _LATER
    if error == "rate_limited":
        heading = ("Terlalu banyak kiriman", "Too many submissions")
        say = (
            "Terlalu banyak aduan dikirim dari jaringan internet ini dalam waktu singkat "
            "(jaringan yang sama bisa dipakai banyak orang). "
            f"Silakan kirim lagi dalam {wait_id}.",
            "Too many complaints were sent from this internet connection in a short time "
            f"(many people may share it). Please send it again in {wait_en}.",
        )
    elif status == 503:
        heading = ("Sedang sibuk", "Busy right now")
        say = (
            "Layanan sedang menerima terlalu banyak aduan sekaligus; aduan Anda belum tercatat. "
            f"Silakan kirim lagi dalam {wait_id} (aduan yang sama tidak akan tercatat dua kali).",
            "The service is taking too many complaints at once; yours was not filed. Please "
            f"send it again in {wait_en} (the same complaint is never filed twice).",
        )
    elif error == "invalid_field":
        label_id, label_en = _FIELD_LABELS.get(field or "", _GENERIC_FIELD)
        said_id = next(
            (m.expand(id_) for rx, id_ in _REASONS_ID if (m := rx.fullmatch(reason))), None
        )
        heading = ("Isian belum benar", "Something to correct")
        say = (
            f"<strong>{html.escape(label_id)}</strong>: "
            + (f"{html.escape(said_id)}." if said_id else "mohon periksa kembali isian ini."),
            f"<strong>{html.escape(label_en)}</strong>: {_sentence(reason)}",
        )
        then = _FIX
    elif error == "submission_id_reused":
        heading = ("Formulir sudah terpakai", "Form already used")
        say = (
            "Aduan dari formulir ini sudah terkirim dengan isi yang berbeda; satu formulir "
            "untuk satu aduan.",
            "A complaint was already sent from this form with different content; one form "
            "for one complaint.",
        )
        then = _NEW_FORM
    elif error in ("body_too_large", "invalid_photo"):
        heading = ("Foto tidak dapat diterima", "Photo not accepted")
        say = (
            "Foto terlalu besar, terlalu banyak, atau bukan gambar JPEG, PNG atau WebP yang "
            "dapat dibaca.",
            _sentence(reason),
        )
        then = _FIX
    else:
        heading = ("Aduan belum terkirim", "Complaint not sent")
        say = (
            "Formulir tidak dapat dibaca. Silakan kirim lagi dari formulir.",
            "The form could not be read. Please send it again from the form.",
        )
        then = _NEW_FORM
    body = (
        f'<h1>{heading[0]} <small lang="en">{heading[1]}</small></h1>\n'
        f'<p role="alert">{say[0]} <small lang="en">{say[1]}</small></p>\n'
        f"<p>{then.format(form=FORM_PATH)}</p>"
    )
    return _page(heading[0], body)


def for_browser(request: Request, answer: Response) -> Response:
    """A refusal as a page when a browser posted the form (it asked for HTML first); the
    same status and Retry-After. Anything else goes out as it is."""
    if answer.status_code < 400 or not asks_for_html(request.headers.get("accept")):
        return answer
    try:
        problem_body = json.loads(bytes(answer.body))
    except ValueError:
        return answer
    if not isinstance(problem_body, dict):
        return answer
    headers = {"Cache-Control": "no-store"}
    retry = answer.headers.get("retry-after")
    if retry:
        headers["Retry-After"] = retry
    page = render_refusal(
        answer.status_code,
        str(problem_body.get("error", "")),
        str(problem_body.get("reason", "")),
        retry,
        problem_body.get("field"),
    )
    return HTMLResponse(page, status_code=answer.status_code, headers=headers)


def busy_page(scope: Scope, retry_after_s: int) -> bytes | None:
    """For intake's door (`PostsInProgress`): the busy page for a browser's post of the web
    form, None for anything else (which gets the JSON)."""
    if scope.get("path") != FORM_PATH or not asks_for_html(Headers(scope=scope).get("accept")):
        return None
    return render_refusal(503, "overloaded", "", str(retry_after_s), None).encode()


# --- HTTP -----------------------------------------------------------------------------------


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix=FORM_PATH, tags=["channel: web form"])
    settings = ctx.settings

    @api.get("", response_class=HTMLResponse)
    async def web_form() -> HTMLResponse:
        """The complaint form (HTML), with a fresh submission id."""
        # Not rate limited: a static page costs less than the Redis round trip, and it
        # stays available when Redis is not.
        return HTMLResponse(
            render_form(str(uuid.uuid4()), catalogue=ctx.catalogue),
            headers={"Cache-Control": "no-store"},
        )

    @api.post(
        "",
        status_code=201,
        responses={
            200: {"model": FiledReceipt, "description": "already filed (duplicate post)"},
            201: {"model": FiledReceipt, "description": "filed; HTML receipt unless JSON asked"},
            400: {"model": ProblemBody},
            409: {"model": ProblemBody},
            413: {"model": ProblemBody},
            415: {"model": ProblemBody},
            422: {"model": FieldError},
            429: {"model": ProblemBody},
        },
    )
    async def submit_web_form(request: Request) -> Response:
        """File a complaint posted from the web form (urlencoded or multipart). A browser
        that is refused gets a page saying why in Indonesian and English, not the JSON."""
        try:
            answer = await file_web_form(request)
        except Overloaded as exc:
            answer = overloaded_response(request, exc)
        return for_browser(request, answer)

    async def file_web_form(request: Request) -> Response:
        # Counted now, answered with the filing's group (or before its photos are stored):
        # a sender already refused is refused here, before the body is read.
        gate = ctx.limiter.later(
            "web", sender_address(request, settings.trust_forwarded_for, settings.trusted_proxies)
        )
        if gate.refused:
            return ctx.too_many(gate.refused)

        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in FORM_TYPES:
            return problem(
                415,
                "unsupported_media_type",
                "post the form as application/x-www-form-urlencoded or multipart/form-data",
            )
        try:
            await read_body(request, settings.max_body_bytes)
        except BodyTooLarge:
            return too_large(settings.max_body_bytes)
        try:
            # Small text parts keep a hostile post from filling memory; photos are bounded
            # by the body limit and checked one by one below.
            form = await request.form(
                max_files=settings.photo_max_count, max_fields=32, max_part_size=64 * 1024
            )
        except StarletteHTTPException as exc:
            return problem(400, "invalid_form", str(exc.detail))
        fields: dict[str, str] = {}
        uploads: list[tuple[str | None, bytes]] = []
        try:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields[name] = value
                elif name == "photos":
                    # A browser sends an empty part when no file was chosen.
                    if value.filename or value.size:
                        uploads.append((value.content_type, await value.read()))
                else:
                    return field_error(InvalidField(name, "must be text, not a file"))
        finally:
            # The spooled temporary files behind file parts are ours to close.
            await form.close()

        try:
            report = normalize_web_form(
                fields, datetime.now(UTC), settings.default_phone_region, ctx.catalogue
            )
        except InvalidField as exc:
            return field_error(exc)
        if uploads and not (verdict := await gate.verdict()).allowed:
            return ctx.too_many(verdict)
        if uploads and not await ctx.filer.known(report.channel, report.channel_message_id):
            try:
                photos = [await ctx.photos.store(data, "web", ctype) for ctype, data in uploads]
            except PhotoError as exc:
                return problem(exc.status, "invalid_photo", exc.reason)
            report = report.model_copy(update={"photos": tuple(photos)})

        try:
            filed = await ctx.filer.file(report, gate)
        except RateLimited as exc:
            return ctx.too_many(exc.verdict)
        except SubmissionConflict:
            return problem(
                409,
                "submission_id_reused",
                "this submission_id was already used for a different complaint",
            )

        status = 200 if filed.duplicate else 201
        if prefers_json(request.headers.get("accept")):
            return JSONResponse(FiledReceipt.of(filed).model_dump(mode="json"), status_code=status)
        return HTMLResponse(
            render_receipt(filed.receipt_code, filed.duplicate),
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    @api.post(
        "/answers",
        status_code=201,
        responses={
            200: {"model": AnswerReceipt, "description": "already received (duplicate post)"},
            201: {"model": AnswerReceipt, "description": "the answer is on its way"},
            404: {"model": ProblemBody, "description": "no report with this receipt code"},
            409: {"model": ProblemBody},
            422: {"model": FieldError},
            429: {"model": ProblemBody},
        },
    )
    async def answer_question(body: AnswerBody, request: Request) -> Response:
        """The reporter's answer to an officer's question, from the page the question's
        link opens (the portal posts it here). Added to the report as `ReportAmended` with
        `in_reply_to`, exactly once per `submission_id`. The gateway keeps it only when the
        question is this report's: the question id, sent only to the reporter, is what
        lets them write into the report; a receipt code alone does not."""
        verdict = await ctx.limiter.hit(
            "web", sender_address(request, settings.trust_forwarded_for, settings.trusted_proxies)
        )
        if not verdict.allowed:
            return rate_limited(verdict.retry_after_s, ctx.limiter.limit, ctx.limiter.window_s)
        text = " ".join(body.text.split())
        if len(text) < 2:
            return field_error(InvalidField("text", "write an answer"))
        code = normalize_receipt_code(body.receipt_code)
        target = None if code is None else await ctx.filer.report_for_receipt(code)
        if target is None:
            return problem(404, "unknown_receipt_code", "no report has this receipt code")
        try:
            filed = await ctx.filer.amend(
                report_id=target[0],
                receipt_code=target[1],
                channel=Channel.WEB,
                channel_message_id=f"answer:{body.submission_id}",
                text=text,
                photos=(),
                received_at=datetime.now(UTC),
                in_reply_to=body.question_id,
            )
        except SubmissionConflict:
            return problem(
                409,
                "submission_id_reused",
                "this submission_id was already used for a different answer",
            )
        answer = AnswerReceipt(receipt_code=filed.receipt_code, duplicate=filed.duplicate)
        return JSONResponse(answer.model_dump(), status_code=200 if filed.duplicate else 201)

    return api


class AnswerBody(BaseModel):
    """An answer to an officer's question (JSON)."""

    model_config = ConfigDict(extra="forbid")

    receipt_code: str = Field(min_length=4, max_length=32)
    question_id: uuid.UUID
    submission_id: uuid.UUID = Field(description="one per answer form: a resend files once")
    text: str = Field(min_length=1, max_length=4000)


class AnswerReceipt(BaseModel):
    receipt_code: str
    duplicate: bool
