"""The portal's stores on PostgreSQL (asyncpg, set-based) behind the use cases' Protocols."""
