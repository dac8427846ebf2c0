"""Aduan's benchmark and fault-injection harness (`make bench`, `make chaos`).

Run from the repository root: `uv run python -m bench.run --help`,
`uv run python -m bench.chaos --help`. The harness is an outside observer: it drives the
platform over HTTP (as channels and clients do), reads Kafka topics, and reads each
service's database read-only to reconcile. It never imports a service's internals to change
behaviour. See docs/performance.md and docs/reliability.md.
"""
