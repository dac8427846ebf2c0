"""Secrets of one local installation (`make up`, `python -m aduan_<service>`), made once.

The services' development defaults for their secrets (the JWT signing key, the pseudonym
secret, the contact pepper) are in the repository, so a running demo signed tokens anyone
could mint. In development, a secret left at its public default is replaced by one read from
`.run/secrets/<name>` at the repository root, generated there on first use (384 random bits,
file mode 0600, `.run/` is never committed). Every service of the installation reads the same
file, so the gateway's tokens still verify in intake; deleting a file rotates that secret at
the next start. Tests run with `ENVIRONMENT=test` and pass their own secrets (or keep the
public defaults inside their isolation); production refuses the public defaults outright.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["DEFAULT_SECRETS_DIR", "installation_secret"]

# libs/kit/src/aduan_kit/localsecrets.py -> the repository root's `.run/secrets`.
DEFAULT_SECRETS_DIR = str(Path(__file__).resolve().parents[4] / ".run" / "secrets")
_MIN_LENGTH = 32


def installation_secret(name: str, directory: str | Path = DEFAULT_SECRETS_DIR) -> str:
    """The secret `name` of this installation, generated on first use.

    Concurrent first starts (five services at once) agree: each writes a candidate to a
    private temporary file and hard-links it into place, which succeeds for exactly one;
    everyone then reads the file that won."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a secret name: {name!r}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    if not path.exists():
        candidate = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
            # Another process may have been first: its secret is the installation's.
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    value = path.read_text().strip()
    if len(value) < _MIN_LENGTH:
        raise ValueError(
            f"{path} holds no usable secret (at least {_MIN_LENGTH} characters); "
            "delete it to have a new one made"
        )
    return value
