"""`python -m aduan_notifier`: Settings() -> build() -> serve()."""

from aduan_kit.runtime import serve
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings


def main() -> None:
    settings = Settings()
    app, _ = build(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
