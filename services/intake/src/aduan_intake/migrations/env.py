"""Alembic environment: the shared online runner (see aduan_kit.db)."""

from aduan_kit.db import run_alembic_env

run_alembic_env()
