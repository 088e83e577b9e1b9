"""Several instances under ejabberd: ``python -m bench.instances_bench [--quick]``.

For 1, 2 and 4 instances of our component sharing one component domain (ejabberd's
``domain_balancing`` with ``component_number`` = the instances, each instance with
``[delivery] shared = true``), S subscribers on each of several nodes, a Thoonk app
publishes items in batches; the figure is notifications/s received by all subscribers,
and the ratio to one instance, measured in the same run. The machine's load average is
printed: on 2 shared cores, instances compete with ejabberd and the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Sequence

from bench.bridge_setup import ComponentProcess, CpuMeter, describe_cpu, register_accounts
from bench.common import until
from bench.xmpp_load import Collector, RawClient, connect_all, create_iq, payload, subscribe_iq
from thoonk_xmpp.thoonk import AsyncThoonk
from tools.local_ejabberd import EjabberdServer
from tools.localservers import RedisServer

PUBLISHER = "publisher"
PASSWORD = "bench-password-1"


async def run(instances: int, subscribers: int, nodes: int, items: int) -> float:
    """Notifications/s received with ``instances`` components sharing the domain.

    Prints the CPU each process used meanwhile (% of one core): on a machine whose
    cores are all busy, more instances only split the same CPU between them.
    """
    users = [f"sub{n}" for n in range(subscribers)]
    balanced = instances if instances > 1 else None  # ejabberd wants 2 or more there
    with RedisServer() as redis, EjabberdServer(component_number=balanced) as server:
        register_accounts(server, [PUBLISHER, *users], PASSWORD)
        components = [ComponentProcess(redis, server, max_items=items) for _ in range(instances)]
        for n, component in enumerate(components):
            component.dir = server.dir / f"component-{n}"
            component.dir.mkdir(exist_ok=True)
            component.config = component.dir / "thoonk_xmpp.toml"
            component.log = component.dir / "component.log"
            text = (server.dir / "component" / "thoonk_xmpp.toml").read_text()
            component.config.write_text(text + "[delivery]\nshared = true\n")
            component.start()
        collector = Collector()
        publisher = RawClient(server.domain, PUBLISHER, PASSWORD, None)
        await publisher.login("127.0.0.1", server.c2s_port)
        clients = await connect_all(
            "127.0.0.1", server.c2s_port, server.domain, [(u, PASSWORD) for u in users], collector
        )
        names = [f"spread-{n}" for n in range(nodes)]
        try:
            for name in names:
                for _ in range(400):  # every instance's session
                    with contextlib.suppress(Exception):
                        await publisher.iq(create_iq(server.component_jid, name, "%s", {}), 2.0)
                        break
                    await asyncio.sleep(0.05)
                for client in clients:
                    await client.iq(subscribe_iq(server.component_jid, name, "%s", client.bare))
            await asyncio.sleep(3.0)  # leases settle (lease_interval 1 s)
            vm = server.vm_pid()
            assert vm is not None and redis.process is not None
            pids = {"ejabberd": vm, "redis": redis.process.pid, "loadgen": os.getpid()}
            pids |= {f"component-{n}": c.pid for n, c in enumerate(components)}
            meter = CpuMeter(pids)
            async with AsyncThoonk.from_url(redis.url) as app:
                feeds = [await app.feed(name) for name in names]
                collector.start(1)
                meter.begin()
                began = time.perf_counter()
                for start in range(0, items, 50):
                    for feed in feeds:
                        await feed.publish_many(
                            [payload(1, seq) for seq in range(start, min(start + 50, items))]
                        )
                expected = items * nodes * subscribers
                await until(lambda: collector.count >= expected, "every notification")
                rate = expected / (time.perf_counter() - began)
                use = meter.end()
                print(
                    f"  {instances} instance(s) cpu: {describe_cpu(use)}"
                    f" (total {sum(use.values()):.0f}% of {os.cpu_count()} cores)",
                    flush=True,
                )
                return rate
        finally:
            for client in [publisher, *clients]:
                await client.close()
            for component in components:
                component.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instances_bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--instances", default="1,2,4")
    options = parser.parse_args(argv)
    items = 100 if options.quick else 300
    counts = [int(n) for n in options.instances.split(",")]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rates: dict[int, float] = {}
    for count in counts:
        rates[count] = asyncio.run(run(count, options.subscribers, nodes=8, items=items))
        ratio = rates[count] / rates[counts[0]]
        print(
            f"  {count} instance(s): {rates[count]:10,.0f} notifications/s"
            f"  ({ratio:.2f}x {counts[0]} instance)",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f} after", flush=True)


if __name__ == "__main__":
    main()
