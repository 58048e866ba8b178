"""The quixstreams peer of Paceline's scoring: what a user might build instead (issue 19).

Runs in its own venv (``make build/quix-venv/.installed``; quixstreams pins a pydantic that
ours conflicts with), started by :mod:`bench.quix_peer` as a subprocess. It imports only
quixstreams and the standard library.

The application, as a competent quixstreams user would write it:

1. **Deduplicate by event id** — a stateful filter on the input topic. quixstreams scopes
   state to the message key, and Paceline's key (tenant, type, record id) is a function of
   the event, so every copy of an event arrives under the same key and its id is found in
   that key's state: ``state.exists(event_id)`` drops a copy, ``state.set`` remembers a new
   id. The ids are kept forever (plain state has no TTL), as Paceline's events table does.
2. **Re-key by rep and day** — ``group_by`` (quixstreams' idiom for aggregating by another
   key): a repartition topic, so all events of one rep-day meet in one partition.
3. **Aggregate** — a stateful apply keeps ``{count, sum}`` per rep-day (the sum as a
   Decimal string: amount, or amount_paid for payments) and sends the updated totals to
   the output topic, keyed by rep-day, so downstream readers have durable results.

The day is the event's ``occurred_at`` in the tenant's zone (``--tz``, Paceline's default
Asia/Shanghai). Windowed aggregations (``tumbling_window(...).agg(Count(), Sum())``) were
not used: they close windows by event time after a grace period and drop later events,
align days to UTC epoch rather than the tenant's midnight, and Sum adds floats.

``processing_guarantee="exactly-once"``: each checkpoint is one Kafka transaction holding
the state changelogs, the repartition and output records and the consumer offsets. The
state store is RocksDB (quixstreams' default).

Progress for the harness goes to stdout, one JSON object per line, with
``time.monotonic()`` readings (CLOCK_MONOTONIC: comparable across processes):
``{"first": t}`` when the first input record is processed, and ``{"done": n, "t": t,
"offsets": {partition: offset}}`` when ``--expect`` events have been aggregated (the last
repartition offset aggregated per partition, so the harness can tell when the checkpoint
holding them has committed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from quixstreams import Application, State, message_context


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def build(args: argparse.Namespace) -> Application:
    """The application and its dataframe (registered with the application)."""
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=args.commit_interval,
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    source = app.topic(args.input, key_deserializer="str", value_deserializer="json")
    output = app.topic(args.output, key_serializer="str", value_serializer="json")
    zone = ZoneInfo(args.tz)
    expect: int = args.expect
    first = True
    aggregated = 0
    last_offsets: dict[int, int] = {}

    def new_event(envelope: dict[str, Any], state: State) -> bool:
        nonlocal first
        if first:
            first = False
            _say({"first": time.monotonic()})
        event_id = envelope["event"]["event_id"]
        if state.exists(event_id):
            return False
        state.set(event_id, 1)
        return True

    def slim(envelope: dict[str, Any]) -> dict[str, Any]:
        event = envelope["event"]
        day = datetime.fromisoformat(event["occurred_at"]).astimezone(zone).date()
        amount = event.get("amount") or event.get("amount_paid") or "0"
        return {"rep_id": event["rep_id"], "day": day.isoformat(), "amount": amount}

    def add(value: dict[str, Any], state: State) -> dict[str, Any]:
        nonlocal aggregated
        totals = state.get("totals") or {"count": 0, "sum": "0"}
        totals = {
            "count": totals["count"] + 1,
            "sum": str(Decimal(totals["sum"]) + Decimal(value["amount"])),
        }
        state.set("totals", totals)
        aggregated += 1
        ctx = message_context()
        last_offsets[ctx.partition] = ctx.offset
        if aggregated == expect:
            _say(
                {
                    "done": aggregated,
                    "t": time.monotonic(),
                    "topic": ctx.topic,
                    "offsets": last_offsets,
                }
            )
        return {"rep_id": value["rep_id"], "day": value["day"], **totals}

    sdf = app.dataframe(source)
    sdf = sdf.filter(new_event, stateful=True)
    sdf = sdf.apply(slim)
    sdf = sdf.group_by(lambda v: f"{v['rep_id']}|{v['day']}", name="rep_day")
    sdf = sdf.apply(add, stateful=True)
    sdf.to_topic(output)
    return app


def main() -> None:
    """Run the peer until SIGTERM (quixstreams then commits its last checkpoint)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--expect", type=int, required=True, help="unique events to aggregate")
    parser.add_argument("--commit-interval", type=float, default=5.0)
    parser.add_argument("--tz", default="Asia/Shanghai")
    args = parser.parse_args()
    build(args).run()


if __name__ == "__main__":
    main()
