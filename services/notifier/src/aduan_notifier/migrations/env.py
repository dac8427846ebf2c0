from aduan_kit.db import run_alembic_env

run_alembic_env()
