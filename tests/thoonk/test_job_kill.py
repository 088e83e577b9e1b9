"""Worker processes SIGKILLed at random moments lose no job.

Several ``job_worker`` processes claim and finish jobs while the test kills
random ones and starts replacements. Throughout, every job must be waiting,
claimed or finished (its result stored by the finish, atomically); afterwards
reaping the claims of the dead workers lets the survivors finish every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.thoonk.job import JobCounts
from tools.localservers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
NAME = "chaos"
JOBS = 2500
WORKERS = 4
KILLS = 14


class Workers:
    """The worker processes: spawned, killed, and all stopped at the end."""

    def __init__(self, url: str, logs: Path, rng: random.Random) -> None:
        self.url = url
        self.logs = logs
        self.rng = rng
        self.alive: list[asyncio.subprocess.Process] = []
        self.spawned = 0

    async def spawn(self) -> None:
        self.spawned += 1
        log = (self.logs / f"worker-{self.spawned}.log").open("wb")
        with log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.thoonk.job_worker",
                self.url,
                NAME,
                str(self.rng.randrange(1 << 30)),
                cwd=ROOT,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        self.alive.append(process)

    async def kill_one(self) -> None:
        victim = self.rng.choice(self.alive)
        self.alive.remove(victim)
        victim.send_signal(signal.SIGKILL)
        assert await victim.wait() == -signal.SIGKILL, self.crash_report()

    def check_alive(self) -> None:
        for process in self.alive:
            assert process.returncode is None, self.crash_report()

    def crash_report(self) -> str:
        texts = [p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log"))]
        return "a worker died by itself:\n" + "\n".join(t for t in texts if t)

    async def stop_all(self) -> None:
        for process in self.alive:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        self.alive.clear()


async def where_jobs_are(redis: aioredis.Redis) -> tuple[set[bytes], set[bytes], set[bytes]]:
    """Waiting, claimed and finished ids, read at one instant."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lrange(b"feed.ids:" + NAME.encode(), 0, -1)
        pipe.zrange(b"feed.claimed:" + NAME.encode(), 0, -1)
        pipe.smembers(b"thoonkx.job.results:" + NAME.encode())
        waiting, claimed, finished = await pipe.execute()
    return set(waiting), set(claimed), set(finished)


async def assert_nothing_lost(redis: aioredis.Redis, ids: set[bytes]) -> set[bytes]:
    waiting, claimed, finished = await where_jobs_are(redis)
    lost = ids - waiting - claimed - finished
    assert not lost, f"{len(lost)} jobs are neither waiting, claimed nor finished"
    return finished


@pytest.mark.slow
async def test_sigkilled_workers_lose_no_job(
    redis_server: RedisServer, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    rng = random.Random(20111007)
    workers = Workers(redis_server.url, tmp_path, rng)
    async with asyncio.timeout(55), AsyncThoonk.from_url(redis_server.url) as thoonk:
        job = await thoonk.job(NAME, {"timeout": 0.5})
        payloads = [f"job-{n}" for n in range(JOBS)]
        put = await job.put_many(payloads)
        ids = {i.encode() for i in put}
        try:
            for _ in range(WORKERS):
                await workers.spawn()
            # Chaos: kill a random worker at a random moment, start a new one.
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.05, 0.4))
                workers.check_alive()
                await workers.kill_one()
                await assert_nothing_lost(redis_client, ids)
                await workers.spawn()
            # Claims of killed workers stay claimed until reaped; survivors finish the rest.
            reaper = asyncio.create_task(job.run_reaper(interval=0.1))
            try:
                while len(await assert_nothing_lost(redis_client, ids)) < JOBS:
                    workers.check_alive()
                    await asyncio.sleep(0.1)
            finally:
                reaper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reaper
        finally:
            await workers.stop_all()

        assert await job.counts() == JobCounts(0, 0, 0, 0)
        waiting, claimed, finished = await where_jobs_are(redis_client)
        assert (waiting, claimed, finished) == (set(), set(), ids)
        for job_id, payload in zip(put, payloads, strict=True):
            assert await job.get_result(job_id, block=False) == (payload, f"done:{payload}")
        # Finishes counted at least once per job (a reaped claim may finish twice).
        assert int(await redis_client.get(b"feed.finishes:" + NAME.encode())) >= JOBS
        assert workers.spawned == WORKERS + KILLS
