"""`python -m aduan_gateway.cli ...`: local administration of the gateway.

    token --sub u1 --role validator [--agency dbm] [--name ...]   print an access token
    agency create --id dbm --name "Dinas Bina Marga"               create an agency
    user create --username sari --role agency-officer --agency dbm [--name ...] [--token]
                                                                   create a user (password
                                                                   from ADUAN_GATEWAY_NEW_PASSWORD
                                                                   or asked for)
    demo-seed [--yes-this-is-a-demo]                               create demo agencies,
                                                                   categories and users
                                                                   (idempotent; refused unless
                                                                   the flag or
                                                                   ADUAN_GATEWAY_DEMO_SEED_ALLOWED=1)
    audit verify                                                   check the access log's
                                                                   hash chain; non-zero exit
                                                                   and the first bad row id
                                                                   when it was tampered with

Tokens are signed with this environment's ADUAN_GATEWAY_JWT_SECRET; the database is
ADUAN_GATEWAY_DATABASE_URL (migrated first).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from aduan_contracts.enums import Role
from aduan_contracts.topics import CATEGORIES
from aduan_gateway.adapters.identity import IdentityError, create_agency, create_user
from aduan_gateway.adapters.readmodel import verify_access_log
from aduan_gateway.auth import issue_access_token
from aduan_gateway.config import Settings
from aduan_gateway.demo import DEMO_PASSWORD, SEED_ALLOWED_ENV, seed_demo
from aduan_kit.db import make_engine, make_sessionmaker, migrate, transaction


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aduan_gateway.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print an access token")
    token.add_argument("--sub", required=True, help="subject (user id)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--agency", default=None, help="agency id (agency officers)")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")

    agency = commands.add_parser("agency", help="manage agencies").add_subparsers(
        dest="action", required=True
    )
    agency_create = agency.add_parser("create", help="create an agency")
    agency_create.add_argument("--id", required=True, dest="agency_id")
    agency_create.add_argument("--name", required=True)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    user_create = user.add_parser("create", help="create a user")
    user_create.add_argument("--username", required=True)
    user_create.add_argument(
        "--role",
        required=True,
        choices=[
            r.value
            for r in (Role.AGENCY_OFFICER, Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR)
        ],
    )
    user_create.add_argument("--agency", default=None)
    user_create.add_argument("--name", default=None, help="display name")
    user_create.add_argument("--token", action="store_true", help="also print an access token")

    audit = commands.add_parser("audit", help="access log").add_subparsers(
        dest="action", required=True
    )
    audit.add_parser("verify", help="verify the access log's hash chain")

    demo = commands.add_parser("demo-seed", help="create demo data (never in production)")
    demo.add_argument(
        "--yes-this-is-a-demo",
        action="store_true",
        dest="demo_confirmed",
        help=f"allow seeding (or set {SEED_ALLOWED_ENV}=1)",
    )
    return parser


async def _with_db(settings: Settings, args: argparse.Namespace) -> int:
    await migrate(settings.database_url, "aduan_gateway:migrations")
    engine = make_engine(settings.database_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        if args.command == "agency":
            async with transaction(sessions) as session:
                created = await create_agency(session, args.agency_id, args.name)
            print(f"agency {args.agency_id} {'created' if created else 'already exists'}")
            return 0
        if args.command == "demo-seed":
            topic = CATEGORIES.qualified(settings.topic_namespace)
            async with transaction(sessions) as session:
                made = await seed_demo(session, topic)
            for line in made:
                print(f"created {line}")
            print(
                f"demo data: {len(made)} created"
                + ("" if made else " (everything was already there)")
                + f"; demo password: {DEMO_PASSWORD}"
            )
            return 0
        if args.command == "user":
            password = os.environ.get("ADUAN_GATEWAY_NEW_PASSWORD") or getpass.getpass(
                "password (12+ characters): "
            )
            async with transaction(sessions) as session:
                user = await create_user(
                    session, args.username, password, Role(args.role), args.agency, args.name
                )
            print(f"user {user.username} created with id {user.user_id}")
            if args.token:
                print(
                    issue_access_token(
                        settings.jwt_secret,
                        user.user_id,
                        user.role,
                        agency_id=user.agency_id,
                        name=user.display_name,
                        ttl_s=settings.jwt_ttl_s,
                    )
                )
            return 0
        async with sessions() as session:
            checked, bad = await verify_access_log(session)
        if bad is not None:
            print(
                f"access log BROKEN at row id {bad} ({checked} rows before it verified)",
                file=sys.stderr,
            )
            return 1
        print(f"access log intact: {checked} rows verified")
        return 0
    except IdentityError as exc:
        print(f"refused: {exc.reason}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    if args.command == "demo-seed" and not (
        args.demo_confirmed or os.environ.get(SEED_ALLOWED_ENV) == "1"
    ):
        # The demo password is public: seeding must be a deliberate act, never a default.
        print(
            f"refused: demo-seed creates accounts with a published password; pass "
            f"--yes-this-is-a-demo or set {SEED_ALLOWED_ENV}=1",
            file=sys.stderr,
        )
        return 2
    if args.command == "demo-seed" and settings.environment == "production":
        print("refused: no demo data in production", file=sys.stderr)
        return 2
    return asyncio.run(_with_db(settings, args))


if __name__ == "__main__":
    sys.exit(main())
