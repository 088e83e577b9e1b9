"""Work-distribution scenarios: queue put+get and job put+claim+finish."""

from __future__ import annotations

from importlib import resources
from typing import Any

from bench.common import rate, serial_rate
from bench.thoonk_harness import FEED, PAYLOAD, Bench, Step
from thoonk_xmpp.thoonk import AsyncThoonk
from thoonk_xmpp.thoonk.scripts import source

# A bench-only finish: redis-benchmark cannot know which ids are claimed, so the
# script looks up the oldest claim itself (one ZRANGE more than the real finish,
# which only makes the ceiling lower) and runs the unchanged finish body with it.
# With nothing claimed (a rare random-id collision at put) it does nothing.
# KEYS[6] is feed.claimed and ARGV[3] the id in every job script call.
_FINISH_OLDEST_CLAIM = """\
local oldest = redis.call('ZRANGE', KEYS[6], 0, 0)[1]
if not oldest then return 0 end
local ARGV = {ARGV[1], ARGV[2], oldest, ARGV[4], ARGV[5], ARGV[6], ARGV[7]}
"""


def finish_oldest_claim_script() -> str:
    """The real job/finish source with the claimed id chosen inside the script."""
    full = source("job/finish")
    body = (resources.files("thoonk_xmpp.thoonk") / "lua" / "job" / "finish.lua").read_text("utf-8")
    assert full.endswith(body)
    return full[: len(full) - len(body)] + _FINISH_OLDEST_CLAIM + body


async def _fresh(bench: Bench, kind: str) -> None:
    await bench.fresh()
    async with AsyncThoonk.from_url(bench.url) as setup:
        await (setup.queue(FEED) if kind == "queue" else setup.job(FEED))


class QueuePutGet:
    """One put then one get per operation (each get finds an item: no waiting)."""

    async def ours(self, bench: Bench, callers: int) -> float:
        await _fresh(bench, "queue")
        clients = await bench.clients(callers)

        def worker(queue: Any) -> Step:
            async def put_get() -> int:
                await queue.put(PAYLOAD)
                await queue.get(timeout=5)
                return 1

            return put_get

        try:
            queues = [await c.queue(FEED) for c in clients]
            return await rate([worker(q) for q in queues], bench.seconds)
        finally:
            await bench.close(clients)

    async def ceiling(self, bench: Bench, callers: int) -> float:
        """redis-benchmark puts, then as many gets; the rate of the pair."""
        await _fresh(bench, "queue")
        put_ids: list[str] = []

        async def work(client: AsyncThoonk) -> None:
            queue = await client.queue(FEED)
            put_ids.append(await queue.put(PAYLOAD))
            await queue.get(timeout=5)

        calls = await bench.recorded(work)
        commands = [
            await bench.replay(calls["queue/put"], put_ids),
            await bench.replay(calls["queue/get"]),
        ]
        rates = await bench.chained_ceiling(commands, callers, lambda: _fresh(bench, "queue"))
        return serial_rate(*rates)


class JobPutClaimFinish:
    """One put, one claim (get) and one finish (no result) per operation."""

    async def ours(self, bench: Bench, callers: int) -> float:
        await _fresh(bench, "job")
        clients = await bench.clients(callers)

        def worker(job: Any) -> Step:
            async def put_claim_finish() -> int:
                await job.put(PAYLOAD)
                claimed = await job.get(timeout=5)
                await job.finish(claimed.id)
                return 1

            return put_claim_finish

        try:
            jobs = [await c.job(FEED) for c in clients]
            return await rate([worker(j) for j in jobs], bench.seconds)
        finally:
            await bench.close(clients)

    async def ceiling(self, bench: Bench, callers: int) -> float:
        """redis-benchmark puts, then claims, then finishes; the rate of the three."""
        await _fresh(bench, "job")
        put_ids: list[str] = []

        async def work(client: AsyncThoonk) -> None:
            job = await client.job(FEED)
            put_ids.append(await job.put(PAYLOAD))
            claimed = await job.get(timeout=5)
            await job.finish(claimed.id)

        calls = await bench.recorded(work)
        commands = [
            await bench.replay(calls["job/put"], put_ids),
            await bench.replay(calls["job/claim"]),
            await bench.replay(calls["job/finish"], script=finish_oldest_claim_script()),
        ]
        rates = await bench.chained_ceiling(commands, callers, lambda: _fresh(bench, "job"))
        return serial_rate(*rates)
