"""Which failures the dead-letter middleware retries until a dependency is back (never
dead-lettering a valid message during an outage) and which it counts toward the DLQ."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from aduan_kit.messaging import is_transient


class FakePgError(Exception):
    """Stands in for an asyncpg error: only its `sqlstate` matters here."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(inner: BaseException) -> DBAPIError:
    """As SQLAlchemy raises it: the driver's error as `orig` and as the cause."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise DBAPIError("SELECT 1", {}, exc) from exc
    except DBAPIError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        wrapped(FakePgError("57P01")),  # admin shutdown: `pg_ctl stop -m immediate`
        wrapped(FakePgError("57P03")),  # cannot connect now: the server is starting up
        wrapped(FakePgError("08006")),  # connection failure
        wrapped(FakePgError("40P01")),  # deadlock detected
        wrapped(ConnectionRefusedError()),
        DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        # A raw statement (or BEGIN) on a pooled connection whose server went away.
        asyncpg.exceptions.InterfaceError("connection is closed"),
        wrapped(asyncpg.exceptions.InterfaceError("connection is closed")),
    ],
)
def test_outages_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad field"),
        RuntimeError("handler bug"),
        FileNotFoundError("a missing file is about the message, not an outage"),
        IntegrityError("INSERT", {}, FakePgError("23505")),  # unique violation
        wrapped(FakePgError("22P02")),  # invalid text representation
        # Misuse of a connection is a bug, not an outage.
        asyncpg.exceptions.InterfaceError("cannot perform operation: another one is in progress"),
    ],
)
def test_message_and_code_errors_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)
