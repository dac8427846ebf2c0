"""Use cases: each takes a unit of work (stores + outbox) and the events or command."""
