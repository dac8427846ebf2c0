"""`python -m aduan_kit.topics [--namespace NS]`: create every topic from the definition."""

from __future__ import annotations

import argparse
import asyncio
import os

from aduan_contracts.topics import ALL_TOPICS
from aduan_kit.messaging import ensure_topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--namespace", default=os.environ.get("ADUAN_TOPIC_NAMESPACE", ""))
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=int(os.environ.get("ADUAN_TOPIC_REPLICATION", "1")),
    )
    args = parser.parse_args()
    created = asyncio.run(
        ensure_topics(args.bootstrap, args.namespace, ALL_TOPICS, args.replication_factor)
    )
    print(f"topics: {len(created)} created, {2 * len(ALL_TOPICS) - len(created)} already there")


if __name__ == "__main__":
    main()
