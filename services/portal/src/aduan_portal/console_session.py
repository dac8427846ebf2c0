"""Officer console sessions: a random id in an HttpOnly cookie, everything else in Redis.

The browser holds only an opaque session id; the gateway's access and refresh tokens, the
officer's role and agency and the CSRF token stay server-side under the portal's Redis
prefix, keyed by a hash of the id (a Redis dump alone does not yield a usable cookie).
Sessions expire after `console_session_ttl_s` of inactivity.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from redis.asyncio import Redis

__all__ = [
    "COOKIE_NAME",
    "DRAFT_COOKIE_NAME",
    "LOGIN_COOKIE_NAME",
    "ConsoleSession",
    "Draft",
    "Flash",
    "SessionStore",
    "csrf_matches",
    "new_token",
]

COOKIE_NAME = "aduan_console"
# Before login there is no session: the login form's CSRF token is a double-submit cookie.
LOGIN_COOKIE_NAME = "aduan_console_login"
# A form's text kept when its action was cut off by an expired session (see `keep_draft`).
DRAFT_COOKIE_NAME = "aduan_console_draft"
DRAFT_TTL_S = 3600
DRAFT_MAX_CHARS = 10_000
DRAFT_OWNER_GRACE_S = 86_400

FlashKind = Literal["success", "error", "info"]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class Flash:
    kind: FlashKind
    text: str


@dataclass
class ConsoleSession:
    """One signed-in officer. `access_expires_at` is epoch seconds (refresh a bit before)."""

    session_id: str
    access_token: str
    refresh_token: str
    access_expires_at: float
    user_id: str
    username: str
    role: str
    agency_id: str | None
    csrf_token: str
    flashes: list[Flash] = field(default_factory=list)
    # Report id -> the version an accepted action produced. The gateway's read model applies
    # workflow's event a moment after the reply, so until a read shows this version the
    # report page says the change is being applied (and refreshes itself).
    # Bounded: if the change never shows (e.g. the gateway lags badly), stop waiting.
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)

    def flash(self, kind: FlashKind, text: str) -> None:
        self.flashes.append(Flash(kind, text))

    def expect(self, report_id: str, version: int, within_s: float = 20.0) -> None:
        self.pending[report_id] = (version, time.time() + within_s)

    def awaiting(self, report_id: str, shown_version: int) -> tuple[bool, bool]:
        """(still waiting for a newer version than shown, session changed)."""
        entry = self.pending.get(report_id)
        if entry is None:
            return False, False
        version, deadline = entry
        if shown_version < version and time.time() < deadline:
            return True, False
        del self.pending[report_id]
        return False, True

    def pop_flashes(self) -> list[Flash]:
        shown, self.flashes = self.flashes, []
        return shown


class SessionStore:
    """Console sessions in Redis: one hash per session with a sliding TTL.

    The tokens (`auth`) and the page state (`state`: flashes, pending changes) are separate
    fields, written separately: a page that saves its flash messages must never write back
    the tokens it loaded, or a refresh done meanwhile by a parallel request (a page's photo
    requests) would be undone and the rotated-away refresh token used again, which the
    gateway treats as theft and answers by revoking the whole session.
    """

    def __init__(self, redis: Callable[[], Redis], prefix: str, ttl_s: int) -> None:
        # A getter: the runtime opens Redis in its lifespan, after this store is built.
        self._redis = redis
        self._prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, session_id: str, kind: str = "session") -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()
        return f"{self._prefix}console:{kind}:{digest}"

    async def create(
        self,
        *,
        access_token: str,
        refresh_token: str,
        expires_in: int,
        user_id: str,
        username: str,
        role: str,
        agency_id: str | None,
    ) -> ConsoleSession:
        session = ConsoleSession(
            session_id=new_token(),
            access_token=access_token,
            refresh_token=refresh_token,
            access_expires_at=time.time() + expires_in,
            user_id=user_id,
            username=username,
            role=role,
            agency_id=agency_id,
            csrf_token=new_token(),
        )
        key = self._key(session.session_id)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "who": json.dumps(
                        {
                            "user_id": user_id,
                            "username": username,
                            "csrf_token": session.csrf_token,
                        }
                    ),
                    "auth": _auth_json(session),
                    "state": _state_json(session),
                },
            )
            pipe.expire(key, self.ttl_s)
            # Who owned this session id, kept a day past the session: an action cut off by
            # an expired session keeps its text for that officer only (`keep_draft`).
            pipe.set(
                self._key(session.session_id, "owner"), user_id, ex=self.ttl_s + DRAFT_OWNER_GRACE_S
            )
            await pipe.execute()
        return session

    async def load(self, session_id: str | None) -> ConsoleSession | None:
        # A cookie longer than any we issue is not worth a Redis round trip.
        if not session_id or len(session_id) > 128:
            return None
        key = self._key(session_id)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.expire(key, self.ttl_s)  # sliding: each request extends the session
            pipe.expire(self._key(session_id, "owner"), self.ttl_s + DRAFT_OWNER_GRACE_S)
            raw, _, _ = await pipe.execute()
        fields = {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}
        if not {"who", "auth", "state"} <= fields.keys():
            return None  # absent, or a half-written leftover of a session ended meanwhile
        who, auth, state = (json.loads(fields[k]) for k in ("who", "auth", "state"))
        return ConsoleSession(
            session_id=session_id,
            **who,
            **auth,
            flashes=[Flash(f["kind"], f["text"]) for f in state.get("flashes", [])],
            pending={k: (int(v[0]), float(v[1])) for k, v in state.get("pending", {}).items()},
        )

    async def save(self, session: ConsoleSession) -> None:
        """Save the page state (flashes, pending changes) only; never the tokens."""
        await self._write(session, "state", _state_json(session))

    async def save_auth(self, session: ConsoleSession) -> None:
        """Save new tokens after a refresh."""
        await self._write(session, "auth", _auth_json(session))

    async def _write(self, session: ConsoleSession, field_name: str, value: str) -> None:
        key = self._key(session.session_id)
        redis = self._redis()
        # Only into a live session: a write must not resurrect one that was signed out.
        if await redis.exists(key):
            await redis.hset(key, field_name, value)

    async def delete(self, session_id: str) -> None:
        await self._redis().delete(self._key(session_id))

    async def keep_draft(
        self, session_id: str | None, form: str, fields: dict[str, str]
    ) -> str | None:
        """Keep the text of a form whose action did not happen (the session had expired),
        for the officer who owned that session; a draft id, or None when there is nothing to
        keep or no known owner (a cookie we never issued: nothing is stored for it)."""
        fields = {k: v[:DRAFT_MAX_CHARS] for k, v in fields.items() if v.strip()}
        if not session_id or len(session_id) > 128 or not fields:
            return None
        owner = await self._redis().get(self._key(session_id, "owner"))
        if owner is None:
            return None
        draft_id = new_token()
        user_id = owner.decode() if isinstance(owner, bytes) else owner
        value = json.dumps({"user_id": user_id, "form": form, "fields": fields})
        await self._redis().set(self._key(draft_id, "draft"), value, ex=DRAFT_TTL_S)
        return draft_id

    async def take_draft(
        self, draft_id: str | None, user_id: str, form_prefix: str
    ) -> Draft | None:
        """The kept draft if it is this officer's and for this page (read once, then gone)."""
        if not draft_id or len(draft_id) > 128:
            return None
        key = self._key(draft_id, "draft")
        raw = await self._redis().get(key)
        if raw is None:
            return None
        data = json.loads(raw)
        if data.get("user_id") != user_id or not str(data.get("form", "")).startswith(form_prefix):
            return None  # another officer signed in on this browser: not theirs to read
        await self._redis().delete(key)
        return Draft(form=data["form"][len(form_prefix) :], fields=data["fields"])

    async def lock_refresh(self, session_id: str, hold_s: int = 15) -> bool:
        """One refresh per session at a time (the refresh token rotates on each use)."""
        got = await self._redis().set(self._key(session_id, "refreshing"), "1", nx=True, ex=hold_s)
        return bool(got)

    async def unlock_refresh(self, session_id: str) -> None:
        await self._redis().delete(self._key(session_id, "refreshing"))


@dataclass
class Draft:
    """Text typed into a form whose action did not happen: `form` is the action's path
    under the report ("actions/reject", "follow-ups"), `fields` the text by field name."""

    form: str
    fields: dict[str, str]

    def value(self, form: str, field_name: str) -> str:
        return self.fields.get(field_name, "") if form == self.form else ""


def _auth_json(session: ConsoleSession) -> str:
    return json.dumps(
        {
            "access_token": session.access_token,
            "refresh_token": session.refresh_token,
            "access_expires_at": session.access_expires_at,
            "role": session.role,
            "agency_id": session.agency_id,
        }
    )


def _state_json(session: ConsoleSession) -> str:
    return json.dumps(
        {
            "flashes": [asdict(f) for f in session.flashes],
            "pending": {k: list(v) for k, v in session.pending.items()},
        }
    )
