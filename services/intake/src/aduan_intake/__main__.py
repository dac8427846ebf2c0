"""`python -m aduan_intake`: Settings() -> build() -> serve()."""

from __future__ import annotations

from aduan_intake.bootstrap import build
from aduan_intake.config import Settings
from aduan_kit.runtime import serve


def main() -> None:
    settings = Settings()
    app, _ = build(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
