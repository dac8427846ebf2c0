"""`python -m aduan_gateway.cli token --sub u1 --role validator [--agency dbm] [--name ...]`:
print an access token signed with this environment's ADUAN_GATEWAY_JWT_SECRET, for local
use and smoke tests (there is no login flow yet)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aduan_contracts.enums import Role
from aduan_gateway.auth import issue_access_token
from aduan_gateway.config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aduan_gateway.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print an access token")
    token.add_argument("--sub", required=True, help="subject (user id)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--agency", default=None, help="agency id (agency officers)")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    args = parser.parse_args(argv)

    settings = Settings()
    if args.command == "token":
        print(
            issue_access_token(
                settings.jwt_secret,
                subject=args.sub,
                role=Role(args.role),
                agency_id=args.agency,
                name=args.name,
                ttl_s=args.ttl or settings.jwt_ttl_s,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
