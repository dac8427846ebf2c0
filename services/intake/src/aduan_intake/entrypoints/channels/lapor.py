"""LAPOR! SP4N: a scheduled pull of the national system's report records.

LAPOR! publishes no open API specification; the record shape below follows the fields its
complaint form and report pages show (tracking number, title, content, category, location,
"rahasia" = secret, "anonim" = anonymous, reporter) and lives in one function,
`normalize_lapor_record`, so a deployment adapts it in one place:

    GET {lapor_api_url}?updated_since=<cursor>&limit=<n>[&cursor=<next>]
    Authorization: Bearer {lapor_api_token}
    -> {"data": [record, ...], "meta": {"next_cursor": "..." | null}}

Upsert by the record's `id`: a re-pull of an unchanged record files nothing; a record whose
content changed since it was filed becomes a `ReportAmended` on the same report (once per
`updated_at`). The cursor (the newest `updated_at` seen) is kept in `sync_cursors`; the
next pull asks from that instant inclusive, and the exactly-once filing makes the overlap
harmless. Several intake replicas may pull at once: filing dedupes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.values import GeoPoint, Location
from aduan_intake.adapters.catalogue import known_category
from aduan_intake.adapters.tables import SYNC_CURSORS
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import ChannelContext
from aduan_intake.service.filing import SubmissionConflict
from aduan_kit.catalogue import Catalogue
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.tasks import cancel_and_wait

__all__ = ["LaporPuller", "PullResult", "normalize_lapor_record"]

log = get_logger(__name__)

SOURCE = "lapor"
_MAX_PAGES = 1000  # a runaway `next_cursor` loop must end


def _str(record: Mapping[str, Any], key: str, max_len: int) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise InvalidField(key, "must be a string")
    text = str(value).strip()
    return text[:max_len] or None


def _timestamp(record: Mapping[str, Any], key: str) -> datetime:
    raw = record.get(key)
    if not isinstance(raw, str):
        raise InvalidField(key, "must be an ISO 8601 timestamp")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField(key, "must be an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        raise InvalidField(key, "must carry a timezone")
    return value.astimezone(UTC)


def normalize_lapor_record(
    record: Mapping[str, Any], default_region: str = "ID", catalogue: Catalogue | None = None
) -> NormalizedReport:
    """One LAPOR! record as a normalized report; `InvalidField` when it cannot be filed.
    LAPOR!'s `kategori` is kept only when it is an active code of our catalogue; otherwise
    the report is triaged (LAPOR!'s own labels are not ours to turn into categories)."""
    record_id = _str(record, "id", 128)
    if not record_id:
        raise InvalidField("id", "is required")
    text = _str(record, "isi", 10000)
    if not text:
        raise InvalidField("isi", "is required")
    location = None
    raw_loc = record.get("lokasi")
    if isinstance(raw_loc, Mapping):
        point = None
        lat, lon = raw_loc.get("latitude"), raw_loc.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise InvalidField("lokasi", "coordinates out of range")
            point = GeoPoint(lat=float(lat), lon=float(lon))
        area = ", ".join(
            str(raw_loc[k]).strip() for k in ("kelurahan", "kecamatan", "kota") if raw_loc.get(k)
        )
        address = _str(raw_loc, "alamat", 500)
        if point or address or area:
            location = Location(point=point, address=address, area=area[:200] or None)
    reporter = None
    pelapor = record.get("pelapor")
    # "anonim": the reporter asked LAPOR! not to pass on who they are; we keep nothing.
    if isinstance(pelapor, Mapping) and not record.get("anonim"):
        contact = None
        for key in ("email", "telepon"):
            raw = pelapor.get(key)
            if isinstance(raw, str) and raw.strip():
                with contextlib.suppress(ValueError):
                    contact = normalize_contact(raw, default_region).value
                    break
        nik = re.sub(r"\D", "", _str(pelapor, "nik", 32) or "")
        identity = ReporterIdentity(
            name=_str(pelapor, "nama", 200),
            contact=contact,
            handle=_str(pelapor, "user_id", 256),
            # Kept only to hide them where the reporter typed them in the text (sealed).
            nik=nik if len(nik) == 16 else None,
            address=_str(pelapor, "alamat", 500),
            reply={"lapor_tracking_id": _str(record, "tracking_id", 64) or record_id},
        )
        reporter = identity if not identity.is_empty else None
    return NormalizedReport.build(
        channel=Channel.LAPOR,
        channel_message_id=record_id,
        text=text,
        title=_str(record, "judul", 300),
        category_hint=known_category(catalogue or Catalogue(), _str(record, "kategori", 100)),
        location=location,
        reporter=reporter,
        # LAPOR!'s default is a public report, but nobody chose "public" for Aduan: a
        # synced report stays private (SPEC privacy rule 1).
        privacy=Privacy.PRIVATE,
        received_at=_timestamp(record, "created_at"),
    )


class PullResult:
    def __init__(self) -> None:
        self.filed = 0
        self.duplicates = 0
        self.amended = 0
        self.refused = 0


class LaporPuller:
    def __init__(
        self, ctx: ChannelContext, sessions: Callable[[], async_sessionmaker[AsyncSession]]
    ) -> None:
        self.ctx = ctx
        self._sessions = sessions
        self._task: asyncio.Task[None] | None = None

    async def _cursor(self) -> str | None:
        async with self._sessions()() as session:
            value: str | None = await session.scalar(
                select(SYNC_CURSORS.c.cursor).where(SYNC_CURSORS.c.source == SOURCE)
            )
        return value

    async def _save_cursor(self, cursor: str) -> None:
        async with transaction(self._sessions()) as session:
            stmt = insert(SYNC_CURSORS).values(source=SOURCE, cursor=cursor)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[SYNC_CURSORS.c.source],
                    # Never move backwards when two replicas pull at once (ISO 8601 UTC
                    # strings order like the instants they name).
                    set_={"cursor": stmt.excluded.cursor, "updated_at": datetime.now(UTC)},
                    where=SYNC_CURSORS.c.cursor < stmt.excluded.cursor,
                )
            )

    async def _fetch(self, since: str | None, page: str | None) -> tuple[list[Any], str | None]:
        settings = self.ctx.settings
        assert settings.lapor_api_url is not None
        params: dict[str, str | int] = {"limit": settings.lapor_page_limit}
        if since:
            params["updated_since"] = since
        if page:
            params["cursor"] = page
        headers = {"Accept": "application/json"}
        if settings.lapor_api_token is not None:
            headers["Authorization"] = f"Bearer {settings.lapor_api_token.get_secret_value()}"
        response = await self.ctx.http.get(settings.lapor_api_url, params=params, headers=headers)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ValueError("LAPOR! answered without a 'data' list")
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        nxt = meta.get("next_cursor") if meta else None
        return body["data"], (str(nxt) if nxt else None)

    async def _apply(self, record: Any, result: PullResult) -> str | None:
        """File or amend one record; returns its `updated_at` (UTC ISO) for the cursor."""
        if not isinstance(record, Mapping):
            result.refused += 1
            return None
        try:
            report = normalize_lapor_record(
                record, self.ctx.settings.default_phone_region, self.ctx.catalogue
            )
            updated = _timestamp(record, "updated_at") if record.get("updated_at") else None
        except ValueError as exc:  # InvalidField, or a value the contracts refuse
            # A record we cannot read is skipped (and counted), never half-filed; the pull
            # goes on, since blocking every later record on one bad one helps nobody.
            result.refused += 1
            log.warning(
                "lapor record refused", field=getattr(exc, "field", None), error=type(exc).__name__
            )
            return None
        stamp = (updated or report.received_at).isoformat()
        try:
            filed = await self.ctx.filer.file(report)
        except SubmissionConflict:
            # Same LAPOR! id, new content: the record was edited there since we filed it.
            target = await self.ctx.filer.report_for_message(
                Channel.LAPOR, report.channel_message_id
            )
            if target is None:  # pragma: no cover - the conflict proves the row exists
                raise
            amended = await self.ctx.filer.amend(
                report_id=target[0],
                receipt_code=target[1],
                channel=Channel.LAPOR,
                channel_message_id=f"{report.channel_message_id}@{stamp}",
                text=report.text,
                photos=(),
                received_at=updated or report.received_at,
                sender=report.reporter,
            )
            if not amended.duplicate:
                result.amended += 1
            else:
                result.duplicates += 1
            return stamp
        if filed.duplicate:
            result.duplicates += 1
        else:
            result.filed += 1
        return stamp

    async def pull_once(self) -> PullResult:
        result = PullResult()
        since = await self._cursor()
        page: str | None = None
        newest = since
        for _ in range(_MAX_PAGES):
            records, page = await self._fetch(since, page)
            for record in records:
                stamp = await self._apply(record, result)
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
            # Saved per page: a crash mid-pull resumes near where it stopped.
            if newest and newest != since:
                await self._save_cursor(newest)
            if not page:
                break
        log.info(
            "lapor pull done",
            filed=result.filed,
            duplicates=result.duplicates,
            amended=result.amended,
            refused=result.refused,
        )
        return result

    async def _loop(self) -> None:
        interval = self.ctx.settings.lapor_poll_interval_s
        while True:
            try:
                await self.pull_once()
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("lapor pull failed; will retry", error=type(exc).__name__)
            except Exception as exc:
                # The type only: database errors quote their parameters (personal data).
                log.error("lapor pull failed; will retry", error=type(exc).__name__)
            await asyncio.sleep(interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="lapor-pull")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
