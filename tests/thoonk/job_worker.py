"""A job worker process for test_job_kill: claims and finishes jobs until killed.

Run as ``python -m tests.thoonk.job_worker <redis url> <job feed> <seed>``. Each job
is finished with the result ``done:<item>``, which also records it in the feed's
set of stored results, in the same atomic step as the finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys

from thoonk_xmpp.thoonk import AsyncThoonk, JobNotClaimed


async def work(url: str, name: str, seed: int) -> None:
    rng = random.Random(seed)
    async with AsyncThoonk.from_url(url) as thoonk:
        job = await thoonk.job(name)
        while True:
            claimed = await job.get()
            await asyncio.sleep(rng.uniform(0, 0.01))  # the "work"
            # JobNotClaimed: the claim timed out and was reaped; another worker does it.
            with contextlib.suppress(JobNotClaimed):
                await job.finish(claimed.id, f"done:{claimed.item}")


if __name__ == "__main__":
    asyncio.run(work(sys.argv[1], sys.argv[2], int(sys.argv[3])))
