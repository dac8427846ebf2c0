"""Stores and outbound clients: the schema (`tables`), reporter keys (`keyring`), photos,
the Redis rate limit and the category catalogue reader."""
