"""The reporter-key store the gateway and the notifier share (aduan_kit.keystore): a key is
stored once, and a shredded key never comes back."""

from __future__ import annotations

import base64
from uuid import uuid4

import pytest
from sqlalchemy import MetaData

from aduan_contracts.events import ReporterKeyIssued
from aduan_kit.crypto import new_key
from aduan_kit.db import ensure_database, make_engine
from aduan_kit.keystore import (
    add_keys,
    key_bytes,
    key_states,
    reporter_keys_table,
    shred_keys,
    shredded_among,
)
from aduan_testing.helpers import connect_raw
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_a_shredded_key_never_comes_back(isolated: Isolation) -> None:
    url = isolated.database("keystore")
    await ensure_database(url)
    metadata = MetaData()
    reporter_keys_table(metadata)
    engine = make_engine(url)
    async with engine.begin() as c:
        await c.run_sync(metadata.create_all)
    await engine.dispose()
    conn = await connect_raw(url)
    try:
        kept, erased, early = uuid4(), uuid4(), uuid4()
        issued = ReporterKeyIssued(key_id=kept, key=base64.b64encode(new_key()).decode())
        keys = {kept: key_bytes(issued), erased: new_key()}
        await add_keys(conn, keys)
        # Redelivered "issued" with other bytes: the first stays.
        await add_keys(conn, {kept: new_key()})
        # Shredded, twice in one call (a batch may hold a redelivery), then issued again.
        await shred_keys(conn, [erased, erased])
        await add_keys(conn, {erased: new_key()})
        # Shredded before its "issued" ever arrived: the tombstone comes first and wins.
        await shred_keys(conn, [early])
        await add_keys(conn, {early: new_key()})
        states = await key_states(conn, [kept, erased, early, uuid4()])
        assert states == {kept: keys[kept], erased: None, early: None}
        assert await shredded_among(conn, [kept, erased, early]) == {erased, early}
        assert await key_states(conn, []) == {} and await shredded_among(conn, []) == set()
    finally:
        await conn.close()
