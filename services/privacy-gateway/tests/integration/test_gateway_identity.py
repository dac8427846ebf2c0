"""Identity on real PostgreSQL: argon2 passwords, login, rotating and revocable refresh
tokens, administrators' user management, the CLI, OIDC tokens from a JWKS URL, and the
access log's verify command detecting a tampered row."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select, text

from aduan_contracts.enums import Role
from aduan_gateway.adapters.readmodel import append_access_log
from aduan_gateway.adapters.tables import REFRESH_TOKENS, USERS
from aduan_gateway.auth import decode_access_token, issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_kit.db import transaction
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

PASSWORD = "kata-sandi-yang-panjang-1"


class Api:
    def __init__(self, client: httpx.AsyncClient, settings: Settings, app: Any) -> None:
        self.client, self.settings, self.app = client, settings, app

    def bearer(self, role: Role, agency: str | None = None, sub: str = "x") -> dict[str, str]:
        token = issue_access_token(self.settings.jwt_secret, sub, role, agency_id=agency)
        return {"Authorization": f"Bearer {token}"}


def _settings(iso: Isolation, **extra: Any) -> Settings:
    return Settings(
        kafka_bootstrap_servers=iso.kafka,
        database_url=iso.database("gateway"),
        redis_url=iso.redis_url,
        redis_prefix=iso.redis_prefix,
        topic_namespace=iso.namespace,
        environment="test",
        **extra,
    )


@pytest_asyncio.fixture
async def api(isolated: Isolation, jwks_server: str) -> AsyncIterator[Api]:
    settings = _settings(
        isolated, oidc_jwks_url=jwks_server, oidc_issuer="https://idp.test", oidc_audience="aduan"
    )
    app, _ = build(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Api(client, settings, app)


# --- a stand-in OpenID provider: only its JWKS document, served over real HTTP --------------

_IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(_IDP_KEY.public_key()))
    jwk |= {"kid": "idp-1", "use": "sig", "alg": "RS256"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert self.path == "/.well-known/jwks.json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _idp_token(key: Any = _IDP_KEY, **claims: Any) -> str:
    base = {
        "sub": "kc-123",
        "iss": "https://idp.test",
        "aud": "aduan",
        "exp": 4_000_000_000,
        "aduan_role": "validator",
        "name": "Vina",
    }
    return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": "idp-1"})


async def test_login_refresh_rotation_reuse_and_logout(api: Api) -> None:
    admin = api.bearer(Role.ADMINISTRATOR)
    r = await api.client.post(
        "/v1/admin/agencies", json={"agency_id": "dbm", "name": "Dinas Bina Marga"}, headers=admin
    )
    assert r.status_code == 201
    r = await api.client.post(
        "/v1/admin/agencies", json={"agency_id": "dbm", "name": "again"}, headers=admin
    )
    assert r.status_code == 409
    # Only administrators manage accounts.
    r = await api.client.post(
        "/v1/admin/users",
        json={"username": "vina", "password": PASSWORD, "role": "validator"},
        headers=api.bearer(Role.VALIDATOR),
    )
    assert r.status_code == 403
    r = await api.client.post(
        "/v1/admin/users",
        json={
            "username": "sari",
            "password": PASSWORD,
            "role": "agency-officer",
            "agency_id": "nope",
        },
        headers=admin,
    )
    assert r.status_code == 400 and "unknown agency" in r.json()["detail"]
    r = await api.client.post(
        "/v1/admin/users",
        json={
            "username": "sari",
            "password": PASSWORD,
            "role": "agency-officer",
            "agency_id": "dbm",
            "display_name": "Sari Dewi",
        },
        headers=admin,
    )
    assert r.status_code == 201
    user_id = r.json()["user_id"]

    async with api.app.state.runtime.sessions() as session:
        stored = (await session.execute(select(USERS.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    bad = await api.client.post("/v1/auth/login", json={"username": "sari", "password": "wrong"})
    nobody = await api.client.post(
        "/v1/auth/login", json={"username": "nobody", "password": PASSWORD}
    )
    assert bad.status_code == nobody.status_code == 401
    assert bad.json() == nobody.json()  # no user enumeration

    r = await api.client.post("/v1/auth/login", json={"username": "sari", "password": PASSWORD})
    assert r.status_code == 200
    pair = r.json()
    principal = decode_access_token(api.settings.jwt_secret, pair["access_token"])
    assert (principal.subject, principal.role, principal.agency_id, principal.name) == (
        user_id,
        Role.AGENCY_OFFICER,
        "dbm",
        "Sari Dewi",
    )
    assert pair["expires_in"] == api.settings.jwt_ttl_s
    async with api.app.state.runtime.sessions() as session:
        hashes = (await session.execute(select(REFRESH_TOKENS.c.token_hash))).scalars().all()
    assert pair["refresh_token"] not in hashes  # stored hashed only

    r = await api.client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != pair["refresh_token"]
    # The first refresh token was used: replaying it revokes the whole session.
    r = await api.client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401 and "already used" in r.json()["detail"]
    r = await api.client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401

    # Logout revokes.
    r = await api.client.post("/v1/auth/login", json={"username": "sari", "password": PASSWORD})
    third = r.json()
    assert (
        await api.client.post("/v1/auth/logout", json={"refresh_token": third["refresh_token"]})
    ).status_code == 204
    r = await api.client.post("/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert r.status_code == 401


async def test_oidc_tokens_from_the_jwks_url(api: Api) -> None:
    list_url = "/v1/reports"
    ok = await api.client.get(list_url, headers={"Authorization": f"Bearer {_idp_token()}"})
    assert ok.status_code == 200
    forged = _idp_token(key=_OTHER_KEY)
    r = await api.client.get(list_url, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    r = await api.client.get(
        list_url, headers={"Authorization": f"Bearer {_idp_token(aud='someone-else')}"}
    )
    assert r.status_code == 401
    r = await api.client.get(
        list_url, headers={"Authorization": f"Bearer {_idp_token(aduan_role='reporter')}"}
    )
    assert r.status_code == 401
    r = await api.client.get(
        list_url, headers={"Authorization": f"Bearer {_idp_token(aduan_role=None)}"}
    )
    assert r.status_code == 401

    # Unit heads (issue 19): the provider says so in `aduan_unit_head`; only a head reads
    # the sub-units.
    admin = api.bearer(Role.ADMINISTRATOR)
    for unit in (
        {"unit_id": "kec-x", "name": "Kecamatan X", "kind": "kecamatan", "parent_id": None},
        {"unit_id": "kel-x1", "name": "Kelurahan X1", "kind": "kelurahan", "parent_id": "kec-x"},
    ):
        made = await api.client.post("/v1/admin/units", json=unit, headers=admin)
        assert made.status_code == 201, made.text

    async def units(**claims: Any) -> set[str]:
        token = _idp_token(aduan_role="agency-officer", aduan_agency="kec-x", **claims)
        r = await api.client.get("/v1/units", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return {u["unit_id"] for u in r.json()}

    assert await units() == {"kec-x"}
    assert await units(aduan_unit_head="yes") == {"kec-x"}
    assert await units(aduan_unit_head=True) == {"kec-x", "kel-x1"}
    assert await units(aduan_unit_head="true") == {"kec-x", "kel-x1"}


def _cli(
    settings: Settings, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["ADUAN_GATEWAY_DATABASE_URL"] = settings.database_url
    env["ADUAN_GATEWAY_JWT_SECRET"] = settings.jwt_secret
    if password:
        env["ADUAN_GATEWAY_NEW_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "aduan_gateway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_creates_agency_and_user_and_verify_detects_tampering(api: Api) -> None:
    s = api.settings
    made = await asyncio.to_thread(_cli, s, "agency", "create", "--id", "dlh", "--name", "DLH")
    assert made.returncode == 0, made.stderr
    made = await asyncio.to_thread(
        _cli,
        s,
        "user",
        "create",
        "--username",
        "budi",
        "--role",
        "agency-officer",
        "--agency",
        "dlh",
        "--name",
        "Budi",
        "--token",
        password=PASSWORD,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert decode_access_token(s.jwt_secret, token).agency_id == "dlh"
    r = await api.client.post("/v1/auth/login", json={"username": "budi", "password": PASSWORD})
    assert r.status_code == 200

    sessions = api.app.state.runtime.sessions
    report = uuid4()
    for i in range(3):
        async with transaction(sessions) as session:
            await append_access_log(
                session, f"officer-{i}", Role.VALIDATOR, None, report, ("text",)
            )
    ok = await asyncio.to_thread(_cli, s, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "3 rows verified" in ok.stdout

    async with transaction(sessions) as session:
        ids = (await session.execute(text("SELECT id FROM access_log ORDER BY id"))).scalars().all()
        with pytest.raises(Exception, match="append-only"):
            async with session.begin_nested():
                await session.execute(text("DELETE FROM access_log"))
    # Someone with the database owner's rights edits the middle row behind the trigger.
    async with transaction(sessions) as session:
        await session.execute(text("ALTER TABLE access_log DISABLE TRIGGER access_log_no_change"))
        await session.execute(
            text("UPDATE access_log SET subject = 'someone-else' WHERE id = :id"), {"id": ids[1]}
        )
        await session.execute(text("ALTER TABLE access_log ENABLE TRIGGER access_log_no_change"))
    broken = await asyncio.to_thread(_cli, s, "audit", "verify")
    assert broken.returncode == 1
    assert f"row id {ids[1]}" in broken.stderr
