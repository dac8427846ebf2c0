"""`make up` signs with this installation's secrets, not the repository's (issue 13, hole 9):
in development a secret nobody set is generated once under `.run/secrets` (mode 0600) and
shared by the gateway and intake; a token minted with the published placeholder is refused;
a secret set explicitly wins; production still refuses the placeholders;
`ENVIRONMENT=test` keeps them for tests."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from aduan_contracts.enums import Role
from aduan_gateway.auth import AuthError, decode_access_token, issue_access_token
from aduan_gateway.config import DEV_JWT_SECRET, DEV_PSEUDONYM_SECRET
from aduan_gateway.config import Settings as GatewaySettings
from aduan_intake.config import DEV_CONTACT_PEPPER
from aduan_intake.config import Settings as IntakeSettings
from aduan_kit.localsecrets import DEFAULT_SECRETS_DIR, installation_secret

PROD_DB = "postgresql+asyncpg://aduan:s3cret@db.internal:5432/aduan"


def test_development_secrets_are_this_installations_own(tmp_path: Path) -> None:
    where = str(tmp_path / "secrets")
    gateway = GatewaySettings(environment="development", secrets_dir=where)
    intake = IntakeSettings(environment="development", secrets_dir=where)
    public = {DEV_JWT_SECRET, DEV_PSEUDONYM_SECRET, DEV_CONTACT_PEPPER}
    assert not public & {gateway.jwt_secret, gateway.pseudonym_secret, intake.contact_pepper}
    # One signing key for the installation: the gateway's tokens verify in intake.
    assert intake.jwt_secret == gateway.jwt_secret
    assert len({gateway.jwt_secret, gateway.pseudonym_secret, intake.contact_pepper}) == 3
    # Made once, read after: a restart keeps sessions and pseudonyms.
    again = GatewaySettings(environment="development", secrets_dir=where)
    assert (again.jwt_secret, again.pseudonym_secret) == (
        gateway.jwt_secret,
        gateway.pseudonym_secret,
    )
    for name in ("jwt_secret", "pseudonym_secret", "contact_pepper"):
        mode = stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    # The attack: a token minted with the secret published in the repository.
    forged = issue_access_token(DEV_JWT_SECRET, "x", Role.ADMINISTRATOR)
    with pytest.raises(AuthError):
        decode_access_token(gateway.jwt_secret, forged)


def test_explicit_secrets_win_and_production_refuses_placeholders(tmp_path: Path) -> None:
    where = tmp_path / "secrets"
    given = GatewaySettings(environment="development", secrets_dir=str(where), jwt_secret="j" * 40)
    assert given.jwt_secret == "j" * 40 and not (where / "jwt_secret").exists()
    # Even the placeholder, when set on purpose (a test handing its secret to a CLI run).
    placeholder = GatewaySettings(
        environment="development", secrets_dir=str(where), jwt_secret=DEV_JWT_SECRET
    )
    assert placeholder.jwt_secret == DEV_JWT_SECRET
    with pytest.raises(ValidationError, match="development JWT secret"):
        GatewaySettings(environment="production", database_url=PROD_DB, pseudonym_secret="p" * 40)
    with pytest.raises(ValidationError, match="development pseudonym secret"):
        GatewaySettings(environment="production", database_url=PROD_DB, jwt_secret="j" * 40)
    with pytest.raises(ValidationError, match="development contact pepper"):
        IntakeSettings(environment="production", database_url=PROD_DB, jwt_secret="j" * 40)
    # Tests keep the placeholders inside their isolation, and write nothing.
    elsewhere = tmp_path / "untouched"
    test = GatewaySettings(environment="test", secrets_dir=str(elsewhere))
    assert test.jwt_secret == DEV_JWT_SECRET and not elsewhere.exists()


def test_concurrent_first_starts_agree_on_one_secret(tmp_path: Path) -> None:
    seen: list[str] = []

    def start() -> None:
        seen.append(installation_secret("jwt_secret", tmp_path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen[0]) >= 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jwt_secret"]  # no leftovers


def test_secrets_live_under_run_which_git_ignores() -> None:
    root = Path(__file__).resolve().parents[2]
    assert Path(DEFAULT_SECRETS_DIR) == root / ".run" / "secrets"
    assert ".run/" in (root / ".gitignore").read_text().splitlines()
