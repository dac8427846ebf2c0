"""Stores behind Protocols (asyncpg implementations), the schema and outbound clients."""
