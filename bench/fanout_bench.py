"""Fan-out under ejabberd, A/B in one run: ``python -m bench.fanout_bench [--quick]``.

One private Redis and ejabberd, S subscribers (logged in, available).  For each
subscriber count and each repeat, interleaved so that the machine's load hits all
alike, it measures notifications/s received by all subscribers while one publisher
keeps ``--window`` publish IQs outstanding:

- ``ejabberd``: ejabberd's own mod_pubsub (Mnesia), the reference of the aim;
- ours with each ``--variants`` entry: ``unicast`` (one message per subscriber on the
  component link) or ``multicast`` (``[component] multicast = true``, ``multicast_limit``
  100: one message per event through ejabberd's mod_multicast), our component restarted
  with those settings;

and three routing ceilings from a bare component on ejabberd's second component
listener sending prebuilt event messages (one item each, no retraction):
``uni`` one message per subscriber, ``mc`` one XEP-0033 message with every
subscriber as a bcc address, ``split`` half of each (the link's process and
mod_multicast's copying at once).  ``--publishers N`` publishers (each its own
account, ``--window`` IQs outstanding each) publish to the same node, which is open to
any publisher on both services; a target written ``NAME:K`` (``ejabberd:4``,
``multicast:4``) runs with K publishers instead, and its ratio is to ``ejabberd:K``
when that is measured too.  Our component answers one sender's requests one after
another, so one publisher measures that chain's round trip.  Both ours and ejabberd trim at
``max_items`` with a retraction per subscriber, so the message rate is twice the
notification rate; the ceilings send notifications only.

For each run it prints the CPU of ejabberd (the Erlang VM) and of our component,
and the share of each ejabberd scheduler thread (``/proc/<vm>/task``): work that one
Erlang process does alone (the component link's, or mod_multicast's) shows as one
busy scheduler.  The table gives medians and ratios to ejabberd measured in the same
run, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bench.bridge_bench import login, wait_component
from bench.bridge_measure import OURS_NODE_OPTIONS, Options, Result, drain
from bench.bridge_measure import _delivered as delivered
from bench.bridge_measure import _phases as phases
from bench.bridge_setup import (
    PUBLISHER,
    ComponentProcess,
    CpuMeter,
    Target,
    World,
    describe_cpu,
    ejabberd_world,
    new_password,
    register_accounts,
)
from bench.common import text_table
from bench.ejabberd_probe import Probe
from bench.xmpp_load import (
    Collector,
    RawClient,
    RawComponent,
    Window,
    create_iq,
    event_message,
    payload,
    publish_iq,
    subscribe_iq,
)

ADDRESS_NS = "http://jabber.org/protocol/address"
_TICK = os.sysconf("SC_CLK_TCK")


def scheduler_seconds(vm: int) -> dict[str, float]:
    """CPU seconds of each scheduler thread of the Erlang VM ``vm``."""
    found: dict[str, float] = {}
    for task in Path(f"/proc/{vm}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if "scheduler" in name or "dirty_cpu" in name:
            fields = stat.rpartition(")")[2].split()
            found[name] = (int(fields[11]) + int(fields[12])) / _TICK
    return found


class Schedulers:
    def __init__(self, vm: int) -> None:
        self.vm = vm
        self.start = scheduler_seconds(vm)
        self.began = time.monotonic()

    def describe(self) -> str:
        now, elapsed = scheduler_seconds(self.vm), time.monotonic() - self.began
        busy = sorted(
            ((now[k] - self.start.get(k, 0.0)) / elapsed, k) for k in now if k in self.start
        )
        return " ".join(f"{name} {100 * share:.0f}%" for share, name in reversed(busy) if share)


VARIANTS = {"unicast": "", "multicast": "multicast = true\nmulticast_limit = 100\n"}

_nodes = iter(range(1, 1 << 30))


async def prepare(target: Target, subscribers: int, options: Options) -> str:
    """A fresh node open to any publisher, subscribed by the first ``subscribers`` clients."""
    node = f"fanout-{target.name}-{subscribers}-{next(_nodes)}"
    config = {
        "pubsub#max_items": str(options.max_items),
        "pubsub#persist_items": "1",
        "pubsub#publish_model": "open",
    }
    if target.name == "ours":
        config |= options.ours_node_options
    await target.publisher.iq(create_iq(target.service, node, "%s", config))
    await asyncio.gather(
        *(
            client.iq(subscribe_iq(target.service, node, "%s", client.bare))
            for client in target.subscribers[:subscribers]
        )
    )
    return node


async def throughput(
    target: Target,
    publishers: list[RawClient],
    node: str,
    subscribers: int,
    collector: Collector,
    options: Options,
    probe: Probe | None = None,
) -> Result:
    """Publishes/s with ``window`` IQs outstanding per publisher, notifications/s meanwhile
    (and ``probe``'s report on ejabberd's processes, printed, in the middle of the run)."""
    phase = next(phases)
    collector.start(phase)

    def build(seq: int) -> bytes:
        return publish_iq(target.service, node, "%s", payload(phase, seq, options.pad))

    windows = [
        Window(client, build, options.window, options.items // len(publishers))
        for client in publishers
    ]
    meter = CpuMeter(target.processes)
    for window in windows:
        window.start()
    await asyncio.sleep(options.warmup)
    meter.begin()
    done0, got0, retracts0 = sum(w.done for w in windows), collector.count, collector.retracts
    began = time.monotonic()
    sampling = None
    if probe is not None:
        sampling = asyncio.ensure_future(probe.sample(0.1, int(options.seconds * 500)))
    await asyncio.wait([w.finished for w in windows], timeout=options.seconds)
    elapsed = time.monotonic() - began
    done1, got1, retracts1 = sum(w.done for w in windows), collector.count, collector.retracts
    cpu = meter.end()
    for window in windows:
        window.stop()
    await asyncio.wait_for(asyncio.gather(*(w.finished for w in windows)), 60)
    errors = [w.error for w in windows if w.error]
    if errors:
        raise RuntimeError(f"{target.name}: publish failed: {errors[0]}")
    expected = sum(w.done for w in windows) * subscribers
    await drain(collector, expected)
    if sampling is not None:
        print(await sampling, flush=True)
    return Result(
        publishes=(done1 - done0) / elapsed,
        notifications=(got1 - got0) / elapsed,
        retracts=(retracts1 - retracts0) / elapsed,
        missing=expected - collector.count,
        cpu=cpu,
    )


def multicast_message(sender: str, service: str, mid: str, item: str, jids: list[str]) -> str:
    addresses = "".join(f"<address type='bcc' jid='{jid}'/>" for jid in jids)
    return (
        f"<message from='{sender}' to='{service}' type='headline' id='{mid}'>"
        f"<addresses xmlns='{ADDRESS_NS}'>{addresses}</addresses>"
        "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
        f"<items node='ceiling'><item id='{mid}'>{item}</item></items></event></message>"
    )


async def ceiling(
    kind: str, raw: RawComponent, jids: list[str], collector: Collector, vm: int, items: int
) -> tuple[Result, str]:
    """Notifications/s a bare component gets delivered: ``uni``, ``mc`` or ``split``."""
    phase = next(phases)
    collector.start(phase)
    half = len(jids) // 2
    direct, grouped = {"uni": (jids, []), "mc": ([], jids), "split": (jids[:half], jids[half:])}[
        kind
    ]
    meter, schedulers = CpuMeter({"ejabberd": vm}), Schedulers(vm)
    meter.begin()
    start = time.monotonic_ns()
    for seq in range(items):
        item = payload(phase, seq, "x" * 40)
        text = "".join(
            event_message(raw.jid, jid, f"c{seq}-{k}", "ceiling", f"i{seq}", item)
            for k, jid in enumerate(direct)
        )
        if grouped:
            text += multicast_message(raw.jid, "multicast.localhost", f"m{seq}", item, grouped)
        await raw.send(text.encode())
    result = await delivered(collector, meter, start, items * len(jids))
    return result, schedulers.describe()


async def measure(args: argparse.Namespace, options: Options) -> dict[tuple[str, int], list[float]]:
    counts = [int(c) for c in args.subscribers.split(",")]
    users = [f"sub{n}" for n in range(1, max(counts) + 1)]
    most = max(_publishers(name, args.publishers) for name in args.variants.split(","))
    others = [f"publisher{n}" for n in range(2, most + 1)]
    password = new_password()
    rates: dict[tuple[str, int], list[float]] = {}
    with ejabberd_world() as world:
        server = world.home
        register_accounts(server, [PUBLISHER, *others, *users], password)
        collector = Collector()
        publisher, subscribers = await login(server, users, password, collector)
        publishers = [publisher]
        for user in others:
            publishers.append(RawClient(server.domain, user, password, None))
            await publishers[-1].login("127.0.0.1", server.c2s_port)
        vm = server.vm_pid()
        assert vm is not None and world.redis.process is not None
        probe = Probe(server) if args.probe else None
        raw = RawComponent(world.spare_jid, world.spare_secret)
        await raw.connect("127.0.0.1", world.spare_port)
        component: ComponentProcess | None = None
        running = ""
        clients: list[RawClient] = [*publishers, *subscribers]
        print(f"load average before: {os.getloadavg()}", flush=True)
        try:
            for repeat in range(args.repeat):
                for n in counts:
                    jids = [client.bare for client in subscribers[:n]]
                    names = [*args.variants.split(","), *args.ceilings.split(",")]
                    for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                        base = name.partition(":")[0]
                        senders = publishers[: _publishers(name, args.publishers)]
                        if name in ("uni", "mc", "split"):
                            result, busy = await ceiling(
                                name, raw, jids, collector, vm, options.relay_items
                            )
                            name = f"ceiling {name}"
                        else:
                            if base == "ejabberd":
                                target = Target(
                                    base, server, server.pubsub_jid, publisher, subscribers
                                )
                            else:
                                if component is None or running != base:
                                    component = _restart(component, world, options, base)
                                    running = base
                                await _ready(component, base, publisher, server.component_jid)
                                target = Target(
                                    "ours", server, server.component_jid, publisher, subscribers
                                )
                                target.processes["component"] = component.pid
                            target.processes |= {
                                "ejabberd": vm,
                                "redis": world.redis.process.pid,
                                "loadgen": os.getpid(),
                            }
                            node = await prepare(target, n, options)
                            schedulers = Schedulers(vm)
                            result = await throughput(
                                target, senders, node, n, collector, options, probe
                            )
                            busy = schedulers.describe()
                        rates.setdefault((name, n), []).append(result.notifications)
                        missing = f"  MISSING {result.missing}" if result.missing else ""
                        print(
                            f"[{repeat + 1}/{args.repeat}] subs={n:<3} {name:<14} notifications/s"
                            f" {result.notifications:>7,.0f} (+ retractions/s"
                            f" {result.retracts:,.0f}) publishes/s {result.publishes:,.0f}"
                            f"{missing} | cpu {describe_cpu(result.cpu)} | {busy}",
                            flush=True,
                        )
        except Exception:
            if component is not None:
                print(f"our component's log ends:\n{component.tail()}", flush=True)
            raise
        finally:
            if component is not None:
                component.stop()
            await raw.close()
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
            if probe is not None:
                probe.close()
        print(f"load average after: {os.getloadavg()}", flush=True)
    return rates


def _publishers(name: str, default: int) -> int:
    """How many publishers a target ``NAME`` or ``NAME:K`` runs with."""
    many = name.partition(":")[2]
    return int(many) if many else default


def _restart(
    old: ComponentProcess | None, world: World, options: Options, variant: str
) -> ComponentProcess:
    """Our component, started afresh with the settings of ``variant``."""
    if old is not None:
        old.stop()
    component = ComponentProcess(world.redis, world.home, options.max_items)
    config = component.config.read_text()
    config = config.replace("[component]\n", "[component]\n" + VARIANTS[variant], 1)
    if variant == "multicast":  # the log says whether it found the service (multicast_found)
        config = config.replace('level = "warning"', 'level = "info"')
    component.config.write_text(config)
    component.log.write_text("")  # this run's lines only
    component.start()
    return component


async def _ready(
    component: ComponentProcess, variant: str, client: RawClient, service: str
) -> None:
    """Our component answers (and, as the multicast variant, sends through the service)."""
    await wait_component(client, service, component)
    if variant == "multicast":
        await multicast_found(component)


async def multicast_found(component: ComponentProcess, timeout: float = 15.0) -> None:
    """Wait until the component sends through the server's XEP-0033 service; raise if it
    found none (the variant would measure unicast under the multicast name)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = component.log.read_text(errors="replace")
        if "(XEP-0033 multicast)" in text:
            return
        if "no multicast service found" in text:
            break
        component.check()
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the multicast variant found no multicast service:\n{component.tail()}")


def report(rates: dict[tuple[str, int], list[float]], counts: list[int]) -> str:
    lines = []
    for n in counts:
        for (name, count), values in rates.items():
            if count != n:
                continue
            suffix = name.partition(":")[2]
            reference = statistics.median(
                rates.get((f"ejabberd:{suffix}", n)) or rates[("ejabberd", n)]
            )
            middle = statistics.median(values)
            spread = (max(values) - min(values)) / middle / 2 if middle and len(values) > 1 else 0
            lines.append(
                [
                    str(n),
                    name,
                    f"{middle:,.0f}",
                    f"±{spread:.0%}",
                    f"{middle / reference:.2f}x" if not name.startswith("ceiling") else "-",
                ]
            )
    return text_table(
        ["subs", "target", "notifications/s", "spread", "/ ejabberd"], lines, left={1}
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, one repeat")
    parser.add_argument("--repeat", type=int, help="runs per number, median reported (3; quick 1)")
    parser.add_argument("--subscribers", default="10,50,100", help="comma-separated counts")
    parser.add_argument(
        "--variants",
        default="ejabberd,unicast,multicast",
        help="targets: ejabberd (its mod_pubsub), ours unicast or multicast; NAME:K for K publishers",
    )
    parser.add_argument(
        "--publishers", type=int, default=1, help="publishers, each its own account (1)"
    )
    parser.add_argument(
        "--ceilings", default="uni,mc,split", help="bare-component ceilings (uni,mc,split)"
    )
    parser.add_argument(
        "--window", type=int, default=16, help="publish IQs outstanding per publisher (16)"
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="sample ejabberd's Erlang processes during each run (bench/ejabberd_probe.erl)",
    )
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    options = Options(
        window=args.window,
        seconds=1.5 if args.quick else 3.0,
        warmup=0.5,
        items=5000 if args.quick else 20000,
        paced_items=1,
        paced_rate=1.0,
        relay_items=200 if args.quick else 500,
        relay_batch=20,
        max_items=20,
        pad="x" * 40,
        ours_node_options=OURS_NODE_OPTIONS["ejabberd"],
    )
    started = time.monotonic()
    rates = asyncio.run(measure(args, options))
    print(report(rates, [int(c) for c in args.subscribers.split(",")]))
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
