"""Bridge benchmark: our XEP-0114 component against the server's own pubsub, side by side.

``python -m bench.bridge_bench [--server prosody|ejabberd] [--quick] [--repeat N]
[--subscribers 1,10,100] [--items N]`` starts a private Redis and, with Prosody (the
default), two private Prosodys on free loopback ports (A: Prosody's pubsub in memory,
and the server our component connects to; B: Prosody's pubsub in its default file
storage); with ejabberd, one private ejabberd (our component beside ejabberd's own
mod_pubsub on Mnesia).  It registers a publisher (an admin: only admins create nodes
on Prosody's pubsub) and up to 100 subscribers on each server, and runs our component
as ``python -m thoonk_xmpp run`` in its own process.  For each subscriber count and
each target (ours and the server's pubsub services) it creates a fresh node with the
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
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench.bridge_measure import (
    OURS_NODE_OPTIONS,
    Options,
    Result,
    floor_latency,
    multicast_ceiling,
    paced,
    prepare,
    relay,
    routing_ceiling,
    throughput,
)
from bench.bridge_profile import profiled
from bench.bridge_report import References, print_report
from bench.bridge_setup import (
    PUBLISHER,
    ComponentProcess,
    Target,
    World,
    describe_cpu,
    ejabberd_world,
    new_password,
    prosody_world,
    register_accounts,
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
from tools.local_ejabberd import EjabberdServer
from tools.localservers import XmppServer

Samples = dict[tuple[str, int], list[Result]]


async def wait_component(client: RawClient, service: str, component: ComponentProcess) -> None:
    """Ping the component through the server until it answers (20 s at most)."""
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
    server: XmppServer, users: list[str], password: str, collector: Collector
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


async def measure(
    args: argparse.Namespace, options: Options
) -> tuple[Samples, Samples, str, References]:
    counts = sorted({int(c) for c in args.subscribers.split(",")})
    users = [f"sub{n}" for n in range(1, max(counts) + 1)]
    password = new_password()
    servers = ejabberd_world() if args.server == "ejabberd" else prosody_world()
    with servers as world:
        for server in _servers(world):
            register_accounts(server, [PUBLISHER, *users], password)
        component = ComponentProcess(world.redis, world.home, options.max_items)
        if args.multicast:  # info: the log says whether it found the service
            component.config.write_text(
                component.config.read_text()
                .replace("[component]\n", "[component]\nmulticast = true\nmulticast_limit = 100\n")
                .replace('level = "warning"', 'level = "info"')
            )
        component.start()
        refs = References(
            tuple(world.references),
            world.throughput_reference,
            world.latency_reference,
            world.spare_target,
        )
        try:
            samples, relays, placement = await _measure(
                args, options, counts, users, password, world, component
            )
            return samples, relays, placement, refs
        finally:
            component.stop()


def _servers(world: World) -> list[XmppServer]:
    """Every XMPP server of the world, the home server first."""
    found = [world.home]
    for server, _ in world.references.values():
        if server not in found:
            found.append(server)
    return found


async def _measure(
    args: argparse.Namespace,
    options: Options,
    counts: list[int],
    users: list[str],
    password: str,
    world: World,
    component: ComponentProcess,
) -> tuple[Samples, Samples, str]:
    collector = Collector()
    clients: list[RawClient] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    thoonk = AsyncThoonk.from_url(world.redis.url)
    redis = world.redis
    label = world.server_label
    try:
        logins: dict[int, tuple[RawClient, list[RawClient]]] = {}
        for server in _servers(world):
            publisher, subscribers = await login(server, users, password, collector)
            logins[id(server)] = publisher, subscribers
            clients += [publisher, *subscribers]
        home_publisher, home_subscribers = logins[id(world.home)]
        await wait_component(home_publisher, world.home.component_jid, component)
        if args.multicast:
            print(f"our component sends through {await multicast_found(component)}", flush=True)
        await thoonk.connect()
        floor = FloorProcess(world.spare_port, world.spare_jid, world.spare_secret, redis.port)
        closers.append(floor.stop)
        me = os.getpid()
        assert redis.process
        pids = {id(server): _pid(server) for server in _servers(world)}
        home_pid = pids[id(world.home)]
        targets = {
            "ours": Target(
                "ours",
                world.home,
                world.home.component_jid,
                home_publisher,
                home_subscribers,
                {
                    label: home_pid,
                    "component": component.pid,
                    "redis": redis.process.pid,
                    "loadgen": me,
                },
            ),
        }
        for name, (server, service) in world.references.items():
            publisher, subscribers = logins[id(server)]
            targets[name] = Target(
                name,
                server,
                service,
                publisher,
                subscribers,
                {label: pids[id(server)], "loadgen": me},
            )
        placement = (
            f"processes (no CPU pinning: the kernel spreads them over {os.cpu_count()} cores): "
            + ", ".join(
                f"{label} pid {pids[id(server)]} ({name})"
                for name, (server, _) in world.references.items()
            )
            + f", routes for our component: {label} pid {home_pid}, Redis pid {redis.process.pid}, "
            f"our component pid {component.pid} (python -m thoonk_xmpp run), "
            f"load generator pid {me} (publisher + all subscribers of every server on one "
            "asyncio loop, raw sockets scanned by regex, no XML parsing)"
        )
        print(placement, flush=True)
        names = ("ours", *world.references)
        spare = targets[world.spare_target]
        samples: Samples = {}
        relays: Samples = {}
        for repeat in range(args.repeat):
            for n in counts:
                shift = repeat % len(names)
                order = names[shift:] + names[:shift]
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
                result = await floor_latency(floor, spare, redis.process.pid, n, collector, options)
                relays.setdefault(("floor", n), []).append(result)
                print(
                    f"[{repeat + 1}/{args.repeat}] subs={n:<3} latency floor (bare component + one"
                    f" Redis round trip, beside {spare.name}): p50 {result.p50:.2f} ms p99"
                    f" {result.p99:.2f} ms"
                    f"{f'  MISSING {result.missing}' if result.missing else ''}"
                    f"  | cpu {describe_cpu(result.cpu)}",
                    flush=True,
                )
                raw = RawComponent(world.spare_jid, world.spare_secret)
                await raw.connect("127.0.0.1", world.spare_port)
                try:
                    result = await routing_ceiling(raw, spare, n, collector, options)
                finally:
                    await raw.close()
                relays.setdefault(("ceiling", n), []).append(result)
                print(
                    f"[{repeat + 1}/{args.repeat}] subs={n:<3} routing ceiling (raw component "
                    f"beside {spare.name}): notifications/s {result.notifications:,.0f}"
                    f"{f'  MISSING {result.missing}' if result.missing else ''}"
                    f"  | cpu {describe_cpu(result.cpu)}",
                    flush=True,
                )
                if args.multicast:
                    result = await _multicast_ceiling(world, spare, n, collector, options)
                    relays.setdefault(("multicast ceiling", n), []).append(result)
                    print(
                        f"[{repeat + 1}/{args.repeat}] subs={n:<3} multicast ceiling (raw "
                        f"component through multicast.{spare.server.domain}, beside {spare.name})"
                        f": notifications/s {result.notifications:,.0f}"
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


async def multicast_found(component: ComponentProcess, timeout: float = 20.0) -> str:
    """The XEP-0033 service our component sends through (its log says so); raise if it
    found none: the run would measure one message per subscriber under another name."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in component.log.read_text(errors="replace").splitlines():
            if line.endswith("(XEP-0033 multicast)"):
                return line.rpartition("sending events through ")[2].split()[0]
        component.check()
        await asyncio.sleep(0.05)
    raise RuntimeError(
        f"--multicast: our component found no multicast service:\n{component.tail()}"
    )


async def _multicast_ceiling(
    world: World, spare: Target, n: int, collector: Collector, options: Options
) -> Result:
    """The routing ceiling through the spare server's XEP-0033 service."""
    raw = RawComponent(world.spare_jid, world.spare_secret)
    await raw.connect("127.0.0.1", world.spare_port)
    try:
        service = f"multicast.{spare.server.domain}"
        return await multicast_ceiling(raw, service, spare, n, collector, options)
    finally:
        await raw.close()


def _pid(server: XmppServer) -> int:
    """The server's own process (for ejabberd the Erlang VM, not ejabberdctl)."""
    if isinstance(server, EjabberdServer):
        pid = server.vm_pid()
        assert pid is not None
        return pid
    process = getattr(server, "process", None)
    assert isinstance(process, subprocess.Popen)
    return process.pid


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
    parser.add_argument(
        "--server",
        choices=("prosody", "ejabberd"),
        default="prosody",
        help="the XMPP server our component runs on, beside that server's own pubsub",
    )
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
        "--multicast",
        action="store_true",
        help="our component sends through the server's XEP-0033 service (100 addresses a message)",
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
        ours_node_options=OURS_NODE_OPTIONS[args.server],
    )
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    samples, relays, placement, refs = asyncio.run(measure(args, options))
    print_report(args, options, samples, relays, placement, refs)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
