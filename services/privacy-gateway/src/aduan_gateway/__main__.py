"""`python -m aduan_gateway`: run the privacy gateway (HTTP on ADUAN_GATEWAY_PORT, 8000)."""

from __future__ import annotations

from aduan_gateway.config import Settings
from aduan_kit.runtime import serve


def main() -> None:
    # A factory, so that ADUAN_GATEWAY_HTTP_WORKERS > 1 can build one app per worker
    # process (`make up` and the bench run two: the gateway's reads then use both cores).
    serve("aduan_gateway.bootstrap:create_app", Settings())


if __name__ == "__main__":
    main()
