"""Alembic environment for workflow: the shared online-only runner."""

from aduan_kit.db import run_alembic_env
from aduan_workflow.adapters.tables import METADATA

run_alembic_env(METADATA)
