"""The notifier's move to the shared reporter-key store (revision 0005, aduan_kit.keystore):
its base64 text keys become bytes, and tombstones stay tombstones."""

from __future__ import annotations

import base64
from uuid import uuid4

import pytest

from aduan_kit.crypto import new_key
from aduan_kit.db import migrate
from aduan_kit.keystore import key_states, shredded_among
from aduan_testing.helpers import connect_raw
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_the_notifier_keys_become_bytes_and_tombstones_stay(isolated: Isolation) -> None:
    url = isolated.database("ntkeys")
    await migrate(url, "aduan_notifier:migrations", "0004")
    kept, erased, key = uuid4(), uuid4(), new_key()
    conn = await connect_raw(url)
    try:
        # As the notifier stored them before: base64 text; a tombstone's key NULL.
        await conn.execute(
            "INSERT INTO reporter_keys (key_id, key) VALUES ($1, $2)",
            kept,
            base64.b64encode(key).decode(),
        )
        await conn.execute(
            "INSERT INTO reporter_keys (key_id, key, shredded_at) VALUES ($1, NULL, now())",
            erased,
        )
        await migrate(url, "aduan_notifier:migrations")
        assert await key_states(conn, [kept, erased]) == {kept: key, erased: None}
        assert await shredded_among(conn, [kept, erased]) == {erased}
        # The columns are the store's own now.
        received = await conn.fetchval("SELECT count(received_at) FROM reporter_keys")
        assert received == 2
    finally:
        await conn.close()
