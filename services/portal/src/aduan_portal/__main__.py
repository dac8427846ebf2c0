"""`python -m aduan_portal`: Settings() -> build() -> serve()."""

from aduan_kit.runtime import serve
from aduan_portal.bootstrap import build
from aduan_portal.config import Settings


def main() -> None:
    settings = Settings()
    app, _ = build(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
