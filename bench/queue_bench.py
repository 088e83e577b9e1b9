"""Jobs through XMPP workers against the same jobs done by Thoonk workers of ours:
``python -m bench.queue_bench [--quick] [--workers 1,4,16] [--jobs N] [--repeat R]
[--only thoonk|xmpp|batch] [--queue-requests Q] [--batch-requests B]``.

One Redis, one Prosody and our component (its own ``python -m thoonk_xmpp run``
process), all on free loopback ports in temp dirs. For each worker count N and each
repeat, two runs on a fresh job node each:

- **xmpp**: N XMPP clients (raw c2s connections, ``bench/queue_workers.py``) send
  directed presence to the service and subscribe to a job node (XEP-0254,
  ``pubsub#queue_requests`` 1, or ``--queue-requests``); each finishes every job handed
  to it at once, with a result: one job at a time.
- **batch**: the same XMPP workers as an efficient XMPP worker runs: subscribed with
  ``pubsub#queue_requests`` 16 (``--batch-requests``) and ``thoonkx#queue_batch`` (the
  items handed at once come in one event), finishing all the jobs of what it read in
  one go with one retract (several ``<item/>``s, each with its result).
- **thoonk**: N Thoonk workers of ours (one ``AsyncThoonk`` each) loop ``job.get`` then
  ``job.finish`` with the same result, on the same Redis, the component still running.

The same J jobs are put by a Thoonk app (``put_many``, 500 a call) once the workers
wait; a run lasts from the first put to the J-th ``job.finish`` notice heard by a
listening client, so both kinds are timed alike. Printed: the median jobs/s of the
repeats, the spread, xmpp/thoonk and batch/thoonk (aim: at least 0.5), CPU % of one core of each
process during the runs, with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.bridge_setup import PUBLISHER, ComponentProcess, CpuMeter, register_accounts
from bench.common import until
from bench.queue_report import Figures, Run, report, trace_report
from bench.queue_workers import ThoonkWorkers, XmppWorker
from bench.xmpp_load import RawClient, create_iq
from thoonk_xmpp.thoonk import BYTES, AsyncThoonk, Job
from tools.localservers import ProsodyServer, RedisServer

PASSWORD = "bench-password-1"
JOB_NODE = {"thoonkx#node_kind": "job"}
#: The kinds of run: Thoonk workers, XMPP workers one job at a time, XMPP workers batching.
KINDS = ("thoonk", "xmpp", "batch")


async def command_calls(app: AsyncThoonk) -> int:
    """Commands Redis has run so far (INFO commandstats, every command once)."""
    stats = await app.redis.info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())


class NoNagleProsody(ProsodyServer):
    """The test Prosody with ``network_settings = { nagle = false }``.

    With Prosody's default (Nagle on), a worker that just got its finish answered gets
    its next item only when its kernel acknowledges that answer, up to 40 ms later
    (delayed ACK): the two stanzas leave Prosody as separate small writes.
    """

    def write_config(self) -> Path:
        path = super().write_config()
        text = path.read_text()
        global_option = "network_settings = { nagle = false }\n\n"
        path.write_text(text.replace("VirtualHost", global_option + "VirtualHost", 1))
        return path


class WatchedComponent(ComponentProcess):
    """The component, optionally under cProfile or bench/queue_trace.py's counters."""

    #: What runs the component: ``python <runner> run --config FILE``.
    runner: tuple[str, ...] = ("-m", "thoonk_xmpp")

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.runner, "run", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
                start_new_session=True,
            )


class FinishCounter:
    """Counts ``job.finish`` notices of one node at a time (any worker's results)."""

    def __init__(self) -> None:
        self.node = ""
        self.count = 0

    def reset(self, node: str) -> None:
        self.node, self.count = node, 0

    def __call__(self, feed: str, job_id: str, result: object) -> None:
        if feed == self.node:
            self.count += 1


class Bench:
    """The servers, the clients and the two kinds of run."""

    def __init__(
        self, redis: RedisServer, prosody: ProsodyServer, jobs: int, runner: tuple[str, ...]
    ) -> None:
        self.redis = redis
        self.prosody = prosody
        self.jobs = jobs
        self.component = WatchedComponent(redis, prosody, max_items=jobs)
        self.component.runner = runner
        #: Seconds of all timed runs (from the first put to the last finish).
        self.timed = 0.0
        #: How many jobs each XMPP worker holds at once (pubsub#queue_requests).
        self.queue_requests = 1
        #: The same for the batch runs (thoonkx#queue_batch, one retract for many).
        self.batch_requests = 16
        self.counter = FinishCounter()
        self.publisher = RawClient(prosody.domain, PUBLISHER, PASSWORD, None)
        self.workers: list[XmppWorker] = []
        self.runs = 0

    async def start(self, workers: int) -> AsyncThoonk:
        users = [f"worker{n}" for n in range(workers)]
        register_accounts(self.prosody, [PUBLISHER, *users], PASSWORD)
        self.component.start()
        await self.publisher.login("127.0.0.1", self.prosody.c2s_port)
        for user in users:
            worker = XmppWorker(self.prosody.domain, user, PASSWORD)
            await worker.login("127.0.0.1", self.prosody.c2s_port)
            self.workers.append(worker)
        app = AsyncThoonk.from_url(self.redis.url, listen=True)
        await app.connect()
        app.register_handler("finish", self.counter)
        await self._create("warm-up")  # waits for the component's session
        return app

    async def _create(self, node: str) -> None:
        service = self.prosody.component_jid
        for _ in range(200):
            with contextlib.suppress(Exception):
                await self.publisher.iq(create_iq(service, node, "%s", JOB_NODE), 2.0)
                return
            self.component.check()
            await asyncio.sleep(0.05)
        raise RuntimeError(f"could not create {node}:\n{self.component.tail()}")

    async def _timed(self, app: AsyncThoonk, node: str) -> tuple[float, dict[str, float], float]:
        """jobs/s, CPU use and Redis commands a job, from the first put to the last finish."""
        job = Job(app, node, BYTES)
        self.counter.reset(node)
        items = [f"<j xmlns='urn:x-queue-bench'>{n}</j>".encode() for n in range(self.jobs)]
        meter = self._meter()
        calls = await command_calls(app)
        meter.begin()
        began = time.perf_counter()
        for start in range(0, self.jobs, 500):
            await job.put_many(items[start : start + 500])
        await until(lambda: self.counter.count >= self.jobs, f"{self.jobs} jobs of {node}", 600)
        elapsed = time.perf_counter() - began
        self.timed += elapsed
        cpu = meter.end()
        calls = await command_calls(app) - calls - 1  # less this INFO
        return self.jobs / elapsed, cpu, calls / self.jobs

    def _meter(self) -> CpuMeter:
        assert self.prosody.process is not None and self.redis.process is not None
        return CpuMeter(
            {
                "component": self.component.pid,
                "prosody": self.prosody.process.pid,
                "redis": self.redis.process.pid,
                "bench": os.getpid(),
            }
        )

    async def xmpp_run(self, app: AsyncThoonk, workers: int, batch: bool = False) -> Run:
        self.runs += 1
        node = f"{'b' if batch else 'x'}{workers}-{self.runs}"
        await self._create(node)
        busy = self.workers[:workers]
        requests = self.batch_requests if batch else self.queue_requests
        for worker in busy:
            await worker.work_on(self.prosody.component_jid, node, requests, batch)
            worker.forget_times()
        rate, cpu, calls = await self._timed(app, node)
        errors = [e for w in self.workers for e in w.errors]
        if errors:
            raise RuntimeError(f"{len(errors)} finishes refused, first: {errors[0]}")
        answer = statistics.median(t for w in busy for t in w.answer_times)
        wait = statistics.median(t for w in busy for t in w.wait_times)
        return Run(rate, cpu, calls, (answer * 1000, wait * 1000))

    async def thoonk_run(self, app: AsyncThoonk, workers: int) -> Run:
        self.runs += 1
        node = f"t{workers}-{self.runs}"
        await self._create(node)
        pool = ThoonkWorkers(self.redis.url, node, workers)
        await pool.start()
        try:
            rate, cpu, calls = await self._timed(app, node)
        finally:
            await pool.stop()
        return Run(rate, cpu, calls)

    async def close(self) -> None:
        for client in [self.publisher, *self.workers]:
            await client.close()
        self.component.stop()


@dataclass(frozen=True)
class Plan:
    counts: Sequence[int]
    kinds: Sequence[str]
    jobs: int
    repeat: int
    nagle: bool
    profile: Path | None
    trace: Path | None
    queue_requests: int
    batch_requests: int

    @property
    def runner(self) -> tuple[str, ...]:
        if self.profile is not None:
            return ("-m", "cProfile", "-o", str(self.profile), "-m", "thoonk_xmpp")
        if self.trace is not None:
            return ("-m", "bench.queue_trace", str(self.trace))
        return ("-m", "thoonk_xmpp")


async def run(plan: Plan) -> tuple[Figures, float]:
    """Every run's figures, and the seconds all runs took together."""
    figures = Figures()
    server = ProsodyServer if plan.nagle else NoNagleProsody
    counts = plan.counts
    with RedisServer() as redis, server(admins=(f"{PUBLISHER}@localhost",)) as prosody:
        bench = Bench(redis, prosody, plan.jobs, plan.runner)
        bench.queue_requests = plan.queue_requests
        bench.batch_requests = plan.batch_requests
        try:
            app = await bench.start(max(counts))
            try:
                for round_ in range(plan.repeat):
                    for workers in counts:
                        for kind in plan.kinds:
                            if kind == "thoonk":
                                result = await bench.thoonk_run(app, workers)
                            else:
                                result = await bench.xmpp_run(app, workers, kind == "batch")
                            figures.add(kind, workers, result)
                            print(
                                f"  run {round_ + 1}: {kind:6s} {workers:2d} workers "
                                f"{result.rate:9,.0f} jobs/s",
                                flush=True,
                            )
            finally:
                await app.aclose()
        finally:
            await bench.close()
    return figures, bench.timed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.queue_bench")
    parser.add_argument("--quick", action="store_true", help="500 jobs a run, one repeat")
    parser.add_argument("--workers", default="1,4,16", help="worker counts (default 1,4,16)")
    parser.add_argument("--jobs", type=int, default=2000, help="jobs a run (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument(
        "--only", choices=KINDS, help="one kind of run only (xmpp: one job at a time)"
    )
    parser.add_argument(
        "--prosody-nagle",
        action="store_true",
        help="keep Prosody's default Nagle (the bench sets network_settings nagle = false)",
    )
    parser.add_argument(
        "--queue-requests",
        type=int,
        default=1,
        help="jobs each XMPP worker holds at once: pubsub#queue_requests (default 1)",
    )
    parser.add_argument(
        "--batch-requests",
        type=int,
        default=16,
        help="pubsub#queue_requests of the XMPP workers of the batch runs (default 16)",
    )
    parser.add_argument("--profile", type=Path, help="run the component under cProfile here")
    parser.add_argument(
        "--trace",
        type=Path,
        help="count the component's job-node steps (bench/queue_trace.py; --only xmpp or batch)",
    )
    options = parser.parse_args(argv)
    counts = [int(n) for n in options.workers.split(",")]
    jobs, repeat = (min(options.jobs, 500), 1) if options.quick else (options.jobs, options.repeat)
    kinds = [options.only] if options.only else list(KINDS)
    profile = options.profile.resolve() if options.profile else None
    trace = options.trace.resolve() if options.trace else None
    plan = Plan(
        counts,
        kinds,
        jobs,
        repeat,
        options.prosody_nagle,
        profile,
        trace,
        options.queue_requests,
        options.batch_requests,
    )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    nagle = "on (Prosody's default)" if plan.nagle else "off"
    print(f"{jobs} jobs a run, {repeat} repeat(s), workers {counts}, Prosody Nagle {nagle}")
    print(
        f"XMPP workers' queue_requests: {options.queue_requests} one job at a time, "
        f"{options.batch_requests} batched",
        flush=True,
    )
    figures, timed = asyncio.run(run(plan))
    print(report(figures, counts))
    if trace is not None:
        runs = sum(len(rates) for rates in figures.rates.values())
        print(trace_report(trace, timed, jobs * runs))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after", flush=True)
    if profile is not None:
        print(f"component profile (cProfile, {profile}), by own time:")
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
