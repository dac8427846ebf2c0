"""`python -m aduan_gateway`: run the privacy gateway (HTTP on ADUAN_GATEWAY_PORT, 8000)."""

from __future__ import annotations

from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_kit.runtime import serve


def main() -> None:
    settings = Settings()
    app, _ = build(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
