"""`python -m aduan_workflow`: run the workflow service (settings from ADUAN_WORKFLOW_*)."""

from __future__ import annotations

from aduan_kit.runtime import serve
from aduan_workflow.bootstrap import build
from aduan_workflow.config import Settings


def main() -> None:
    settings = Settings()
    app, _ = build(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
