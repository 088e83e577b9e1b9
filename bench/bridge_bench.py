"""Bridge benchmark: our XEP-0114 component against Prosody's own mod_pubsub, side by side.

``python -m bench.bridge_bench [--quick] [--repeat N] [--subscribers 1,10,100] [--items N]``
starts a private Redis and two private Prosodys on free loopback ports (A: Prosody's
pubsub in memory, and the server our component connects to; B: Prosody's pubsub in
its default file storage), registers a publisher (an admin: only admins create
nodes on Prosody's pubsub) and up to 100 subscribers on each, and runs our component
as ``python -m thoonk_xmpp run`` in its own process.  For each subscriber count and
each target (ours, prosody-memory, prosody-file) it creates a fresh node with the
same ``pubsub#max_items``, subscribes the clients (each logged in and available),
then measures publish IQs/s from one publisher keeping ``--window`` IQs outstanding,
notifications/s received by all subscribers meanwhile, and publish → notification
latency (p50/p99, payload timestamp, measured at the subscribers) at a light paced
load.  For ours it also measures items/s relayed from plain Thoonk ``publish_many``
calls into the node's feed.  Medians of --repeat runs, targets interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench.bridge_measure import (
    Options,
    Result,
    floor_latency,
    paced,
    prepare,
    relay,
    routing_ceiling,
    throughput,
)
from bench.bridge_profile import profiled
from bench.bridge_report import print_report
from bench.bridge_setup import (
    PUBLISHER,
    ComponentProcess,
    Target,
    describe_cpu,
    new_password,
    register_accounts,
    servers,
)
from bench.floor_component import FloorProcess
from bench.xmpp_load import (
    Collector,
    RawClient,
    RawComponent,
    XMPPError,
    connect_all,
    ping_iq,
)
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.localservers import ProsodyServer, RedisServer

TARGETS = ("ours", "prosody-memory", "prosody-file")

Samples = dict[tuple[str, int], list[Result]]


async def wait_component(client: RawClient, service: str, component: ComponentProcess) -> None:
    """Ping the component through Prosody until it answers (20 s at most)."""
    deadline = time.monotonic() + 20
    while True:
        component.check()
        try:
            await client.iq(ping_iq(service, "%s"), timeout=2)
            return
        except (XMPPError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"our component never answered:\n{component.tail()}") from None
            await asyncio.sleep(0.2)


async def login(
    server: ProsodyServer, users: list[str], password: str, collector: Collector
) -> tuple[RawClient, list[RawClient]]:
    publisher = RawClient(server.domain, PUBLISHER, password, None)
    await publisher.login("127.0.0.1", server.c2s_port)
    accounts = [(user, password) for user in users]
    subscribers = await connect_all(
        "127.0.0.1", server.c2s_port, server.domain, accounts, collector
    )
    return publisher, subscribers


def _detail(label: str, result: Result, kind: str) -> str:
    if kind == "paced":
        numbers = f"latency p50 {result.p50:.2f} ms p99 {result.p99:.2f} ms"
    else:
        numbers = (
            f"publishes/s {result.publishes:,.0f}  notifications/s {result.notifications:,.0f}"
            f" (+ retractions/s {result.retracts:,.0f})"
            f"  loaded latency p50 {result.p50:.1f} ms p99 {result.p99:.1f} ms"
            f"  drain {result.drain:.1f} s"
        )
    missing = f"  MISSING {result.missing}" if result.missing else ""
    return f"{label} {kind:<10} {numbers}{missing}  | cpu {describe_cpu(result.cpu)}"


async def measure(args: argparse.Namespace, options: Options) -> tuple[Samples, Samples, str]:
    counts = sorted({int(c) for c in args.subscribers.split(",")})
    users = [f"sub{n}" for n in range(1, max(counts) + 1)]
    password = new_password()
    with servers(options.max_items) as (redis, memory, files):
        for server in (memory, files):
            register_accounts(server, [PUBLISHER, *users], password)
        component = ComponentProcess(redis, memory, options.max_items)
        component.start()
        try:
            return await _measure(
                args, options, counts, users, password, redis, memory, files, component
            )
        finally:
            component.stop()


async def _measure(
    args: argparse.Namespace,
    options: Options,
    counts: list[int],
    users: list[str],
    password: str,
    redis: RedisServer,
    memory: ProsodyServer,
    files: ProsodyServer,
    component: ComponentProcess,
) -> tuple[Samples, Samples, str]:
    collector = Collector()
    clients: list[RawClient] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    thoonk = AsyncThoonk.from_url(redis.url)
    try:
        pub_a, subs_a = await login(memory, users, password, collector)
        pub_b, subs_b = await login(files, users, password, collector)
        clients += [pub_a, *subs_a, pub_b, *subs_b]
        await wait_component(pub_a, memory.component_jid, component)
        await thoonk.connect()
        floor = FloorProcess(files.component_port, files.component_jid, files.secret, redis.port)
        closers.append(floor.stop)
        me = os.getpid()
        assert memory.process and files.process and redis.process
        a, b = memory.process.pid, files.process.pid
        targets = {
            "ours": Target(
                "ours",
                memory,
                memory.component_jid,
                pub_a,
                subs_a,
                {
                    "prosody": a,
                    "component": component.pid,
                    "redis": redis.process.pid,
                    "loadgen": me,
                },
            ),
            "prosody-memory": Target(
                "prosody-memory",
                memory,
                memory.pubsub_jid,
                pub_a,
                subs_a,
                {"prosody": a, "loadgen": me},
            ),
            "prosody-file": Target(
                "prosody-file",
                files,
                files.pubsub_jid,
                pub_b,
                subs_b,
                {"prosody": b, "loadgen": me},
            ),
        }
        placement = (
            f"processes (no CPU pinning: the kernel spreads them over {os.cpu_count()} cores): "
            f"Prosody A pid {a} (memory pubsub + routes for our component), "
            f"Prosody B pid {b} (file pubsub), Redis pid {redis.process.pid}, "
            f"our component pid {component.pid} (python -m thoonk_xmpp run), "
            f"load generator pid {me} (publisher + all subscribers of both servers on one "
            "asyncio loop, raw sockets scanned by regex, no XML parsing)"
        )
        print(placement, flush=True)
        samples: Samples = {}
        relays: Samples = {}
        for repeat in range(args.repeat):
            for n in counts:
                order = TARGETS[repeat % 3 :] + TARGETS[: repeat % 3]
                for name in order:
                    target = targets[name]
                    node = await prepare(target, n, options)
                    for kind, run in (("throughput", throughput), ("paced", paced)):
                        result = await run(target, node, n, collector, options)
                        samples.setdefault((f"{name}:{kind}", n), []).append(result)
                        label = f"[{repeat + 1}/{args.repeat}] subs={n:<3} {name:<14}"
                        print(_detail(label, result, kind), flush=True)
                target = targets["ours"]
                node = await prepare(target, n, options)
                result = await relay(thoonk, target, node, n, collector, options)
                relays.setdefault(("relay", n), []).append(result)
                print(
                    f"[{repeat + 1}/{args.repeat}] subs={n:<3} ours Thoonk relay: "
                    f"Thoonk publishes/s {result.publishes:,.0f}, items/s delivered to all "
                    f"{result.notifications / n:,.0f} ({result.notifications:,.0f} notifications/s"
                    f" + retractions/s {result.retracts:,.0f})"
                    f"{f'  MISSING {result.missing}' if result.missing else ''}"
                    f"  | cpu {describe_cpu(result.cpu)}",
                    flush=True,
                )
                result = await floor_latency(
                    floor, targets["prosody-file"], redis.process.pid, n, collector, options
                )
                relays.setdefault(("floor", n), []).append(result)
                print(
                    f"[{repeat + 1}/{args.repeat}] subs={n:<3} latency floor (bare component + one"
                    f" Redis round trip, on Prosody B): p50 {result.p50:.2f} ms p99"
                    f" {result.p99:.2f} ms"
                    f"{f'  MISSING {result.missing}' if result.missing else ''}"
                    f"  | cpu {describe_cpu(result.cpu)}",
                    flush=True,
                )
                raw = RawComponent(files.component_jid, files.secret)
                await raw.connect("127.0.0.1", files.component_port)
                try:
                    result = await routing_ceiling(
                        raw, targets["prosody-file"], n, collector, options
                    )
                finally:
                    await raw.close()
                relays.setdefault(("ceiling", n), []).append(result)
                print(
                    f"[{repeat + 1}/{args.repeat}] subs={n:<3} routing ceiling (raw component on "
                    f"Prosody B): notifications/s {result.notifications:,.0f}"
                    f"{f'  MISSING {result.missing}' if result.missing else ''}"
                    f"  | cpu {describe_cpu(result.cpu)}",
                    flush=True,
                )
        if args.profile:
            target = targets["ours"]
            n = max(counts)
            await profiled(
                component.pid,
                args.profile,
                "xmpp-publish",
                lambda: _profile_publish(target, n, collector, options),
            )
            await profiled(
                component.pid,
                args.profile,
                "thoonk-relay",
                lambda: _profile_relay(thoonk, target, n, collector, options),
            )
        return samples, relays, placement
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
        for close in closers:
            with contextlib.suppress(Exception):
                await close()
        with contextlib.suppress(Exception):
            await thoonk.aclose()


async def _profile_publish(target: Target, n: int, collector: Collector, options: Options) -> None:
    node = await prepare(target, n, options)
    await throughput(target, node, n, collector, options)


async def _profile_relay(
    thoonk: AsyncThoonk, target: Target, n: int, collector: Collector, options: Options
) -> None:
    node = await prepare(target, n, options)
    await relay(thoonk, target, node, n, collector, options)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bridge_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short run per number")
    parser.add_argument("--repeat", type=int, help="runs per number, median reported (3; quick 1)")
    parser.add_argument("--subscribers", default="1,10,100", help="comma-separated counts")
    parser.add_argument(
        "--items", type=int, help="most publishes in one throughput run (20000; quick 5000)"
    )
    parser.add_argument("--seconds", type=float, help="throughput window (3; quick 1.5)")
    parser.add_argument("--window", type=int, default=16, help="publish IQs outstanding (16)")
    parser.add_argument(
        "--max-items", type=int, default=20, help="pubsub#max_items of every node (20)"
    )
    parser.add_argument(
        "--paced-rate", type=float, default=25.0, help="publishes/s of latency runs"
    )
    parser.add_argument("--paced-items", type=int, help="publishes per latency run (100; quick 40)")
    parser.add_argument(
        "--relay-items", type=int, help="items per Thoonk relay burst (2000; quick 500)"
    )
    parser.add_argument(
        "--payload-bytes", type=int, default=100, help="about how big each payload is"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="then profile our component with py-spy, keep the output in DIR",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeat = args.repeat or (1 if quick else 3)
    base = len("<t xmlns='urn:x-bridge-bench'>1 1 1234567890123</t>")
    options = Options(
        window=args.window,
        seconds=args.seconds or (1.5 if quick else 3.0),
        warmup=0.5,
        items=args.items or (5000 if quick else 20000),
        paced_items=args.paced_items or (40 if quick else 100),
        paced_rate=args.paced_rate,
        relay_items=args.relay_items or (500 if quick else 2000),
        relay_batch=20,
        max_items=args.max_items,
        pad="x" * max(0, args.payload_bytes - base - 1),
    )
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    samples, relays, placement = asyncio.run(measure(args, options))
    print_report(args, options, samples, relays, placement)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
