"""Thoonk library benchmark: our asyncio client against ``redis-benchmark`` on the same Redis.

``python -m bench.thoonk_bench [--quick] [--repeat N] [--seconds S]`` starts a
private redis-server on a free loopback port and, for 1 and 16 concurrent
callers (16 = 16 connections), measures our rate for each operation and its
ceiling: ``redis-benchmark`` replaying the very EVALSHA calls our client sent
(same scripts, keys and argument sizes; new ids from ``__rand_int__``) with
the same number of connections.  ours/ceiling is what Python and redis-py
cost on top of the Redis work.  Each number is the median of --repeat runs,
ours and the ceiling interleaved so that noise hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from bench.common import Row, table
from bench.thoonk_feeds import BATCH, MAX_LENGTH, Publish, notices_ceiling, notices_ours
from bench.thoonk_harness import Bench
from bench.thoonk_work import JobPutClaimFinish, QueuePutGet
from tools.localservers import RedisServer

#: Aims printed beside the ratios, for AIM_CALLERS connections.
AIM_CALLERS = 16
AIM_SINGLE = 0.30
AIM_BATCH = 0.70

Measure = Callable[[Bench, int], Awaitable[float]]


@dataclass(frozen=True)
class Operation:
    name: str
    unit: str
    aim: float
    ours: Measure
    ceiling: Measure


def operations() -> list[Operation]:
    plain = Publish()
    bounded = Publish({"max_length": MAX_LENGTH})
    many = Publish(batch=BATCH)
    queue = QueuePutGet()
    job = JobPutClaimFinish()
    return [
        Operation("feed publish", "ops/s", AIM_SINGLE, plain.ours, plain.ceiling),
        Operation(
            f"feed publish max_length={MAX_LENGTH}",
            "ops/s",
            AIM_SINGLE,
            bounded.ours,
            bounded.ceiling,
        ),
        Operation(f"feed publish_many x{BATCH}", "items/s", AIM_BATCH, many.ours, many.ceiling),
        Operation(
            f"  same, ceiling publish -P {BATCH}",
            "items/s",
            AIM_BATCH,
            many.ours,
            many.pipelined_ceiling,
        ),
        Operation("queue put+get", "ops/s", AIM_SINGLE, queue.ours, queue.ceiling),
        Operation("job put+claim+finish", "ops/s", AIM_SINGLE, job.ours, job.ceiling),
        Operation("notices to a listener", "notices/s", AIM_SINGLE, notices_ours, notices_ceiling),
    ]


async def run(args: argparse.Namespace) -> list[Row]:
    callers = [int(c) for c in args.callers.split(",")]
    chosen = [op for op in operations() if not args.only or any(o in op.name for o in args.only)]
    rows = {
        (op.name, n): Row(op.name, n, op.unit, op.aim if n == AIM_CALLERS else None)
        for op in chosen
        for n in callers
    }
    with RedisServer() as server:
        admin = aioredis.Redis.from_url(server.url)
        bench = Bench(
            server,
            admin,
            args.seconds,
            shared=args.clients == "shared",
            options=dict(_option(o) for o in args.client_option),
        )
        try:
            for repeat in range(args.repeat):
                # An operation listed twice (two ceilings) is measured once per repeat.
                measured: dict[tuple[object, int], float] = {}
                for op in chosen:
                    for n in callers:
                        row = rows[(op.name, n)]
                        key = (op.ours, n)
                        if key not in measured:
                            measured[key] = await op.ours(bench, n)
                        row.ours.append(measured[key])
                        row.ceiling.append(await op.ceiling(bench, n))
                        print(
                            f"[{repeat + 1}/{args.repeat}] {op.name:<32} callers={n:<2} "
                            f"ours {row.ours[-1]:>10,.0f}  ceiling {row.ceiling[-1]:>10,.0f}",
                            flush=True,
                        )
        finally:
            await admin.aclose()
    return list(rows.values())


def _option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as none, true, false, a number or else text."""
    key, _, raw = text.partition("=")
    words: dict[str, Any] = {"none": None, "true": True, "false": False}
    if raw.lower() in words:
        return key, words[raw.lower()]
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return key, kind(raw)
    return key, raw


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.thoonk_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short run per number")
    parser.add_argument("--repeat", type=int, help="runs per number, median reported (3)")
    parser.add_argument("--seconds", type=float, help="length of one run (2; quick: 0.5)")
    parser.add_argument("--callers", default="1,16", help="comma-separated caller counts")
    parser.add_argument(
        "--clients",
        choices=("per-caller", "shared"),
        default="per-caller",
        help="one AsyncThoonk per caller (default) or one shared by all callers",
    )
    parser.add_argument(
        "--client-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="redis client argument for the callers, e.g. socket_timeout=none",
    )
    parser.add_argument("--only", action="append", help="only operations whose name has this")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.seconds is None:
        args.seconds = 0.5 if args.quick else 2.0
    started = time.monotonic()
    rows = asyncio.run(run(args))
    options = "".join(f" {o}" for o in args.client_option)
    print(
        f"\nThoonk library: median of {args.repeat} run(s) of {args.seconds:g} s, "
        f"clients {args.clients}{options}.\nceiling = redis-benchmark sending the same "
        "EVALSHA calls with as many connections; ratio = median over runs of ours/ceiling "
        "(each pair measured back to back)."
    )
    print(table(rows))
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
