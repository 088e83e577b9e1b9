"""Job feed: work items claimed by one worker each, then finished, cancelled or stalled.

A job is always in exactly one place: waiting (``feed.ids``), claimed
(``feed.claimed``, scored with the claim time), stalled (``feed.stalled``) or
gone (finished/retracted). Claiming moves a job from waiting to claimed in one
script, so a worker killed at any instant cannot lose it; a claim held longer
than the feed's ``timeout`` config (seconds) is given back by :meth:`Job.reap`,
with the same moves as a cancel (contract §15.7).

Results: ``finish(id, result)`` publishes ``job.finish`` like the original
clients and also keeps ``[request, result]`` under a key of our own, so
:meth:`Job.get_result` works whether it is called before or after the finish.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Final, Generic, Literal, NamedTuple, NoReturn, TypeVar

from . import feed_config, keys
from .codecs import Codec
from .errors import ConnectionLost, Empty
from .names import decode_id, item_id
from .queue import PriorityPuts, deadline_after, wait_for_list
from .replies import blist, integer, optional_bytes

if TYPE_CHECKING:
    from .client import AsyncThoonk

T = TypeVar("T")

log = logging.getLogger(__name__)


class _NoResult(Enum):
    NO_RESULT = "NO_RESULT"


#: Default of :meth:`Job.finish`: finish without a result (and without a notice).
NO_RESULT: Final = _NoResult.NO_RESULT


class ClaimedJob(NamedTuple, Generic[T]):
    """A job handed to this worker: ``job_id, item, failures = await job.get()``."""

    #: The job id, for finish/cancel/stall.
    id: str
    #: The payload given to put().
    item: T
    #: How many times a claim of this job was cancelled or timed out.
    failures: int


@dataclass(frozen=True, slots=True)
class JobCounts:
    """How many jobs are in each state."""

    #: Waiting to be claimed.
    available: int
    #: Claimed and not yet finished, cancelled or stalled.
    claimed: int
    #: Stalled, waiting for retry() or retract().
    stalled: int
    #: Every job not finished or retracted.
    total: int


def _seconds(what: str, value: float) -> float:
    if not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


class Job(PriorityPuts[T]):
    """A Thoonk job feed (``type=job``). Open with ``await thoonk.job(name)``.

    Config field ``timeout`` (seconds) sets how long a claim may last before
    :meth:`reap` (or a :meth:`run_reaper` task) gives the job back.
    """

    type_name = "job"

    def __init__(self, thoonk: AsyncThoonk, name: str, codec: Codec[T]) -> None:
        super().__init__(thoonk, name, codec)
        self._config = keys.config(name)
        self._claimed = keys.claimed(name)
        self._cancelled = keys.cancelled(name)
        self._stalled = keys.stalled(name)
        self._keys = (
            keys.FEEDS,
            self._ids,
            self._config,
            self._items,
            keys.published(name),
            self._claimed,
            self._cancelled,
            self._stalled,
            keys.publishes(name),
            keys.finishes(name),
        )

    # --- producing: put and put_many come from PriorityPuts, which calls _put ---------

    async def _put(self, push: str, args: list[bytes]) -> None:
        await self._run("job/put", self._keys, (keys.job_put_channel(self.name), push, *args))

    # --- working ------------------------------------------------------------------------

    async def get(self, timeout: float | None = None) -> ClaimedJob[T]:
        """Claim the next job, waiting up to ``timeout`` seconds (None: forever).

        ``timeout=0`` claims only a job already waiting. Raises Empty when none
        came in time. Cancelling a waiting ``get`` loses nothing.
        """
        deadline = deadline_after(timeout)
        while True:
            claimed = await self._run("job/claim", self._keys, (keys.job_claim_channel(self.name),))
            if claimed is not None:
                raw_id, item, failures = claimed
                return ClaimedJob(decode_id(raw_id), self._decode(item), int(failures))
            if not await wait_for_list(self.redis, self._ids, deadline):
                raise Empty(self.name, timeout)

    async def finish(
        self,
        id: str,
        result: T | Literal[_NoResult.NO_RESULT] = NO_RESULT,
        timeout: float | None = None,
    ) -> None:
        """Mark a claimed job done. Raises JobNotClaimed (and changes nothing) otherwise.

        With a ``result``: subscribers get a ``finish`` notice, and
        :meth:`get_result` can read ``(request, result)`` for ``timeout``
        seconds (None: until the feed is deleted).
        """
        raw = item_id(id)
        keep = "" if timeout is None else str(max(1, round(_seconds("timeout", timeout) * 1000)))
        if result is NO_RESULT:
            flag, encoded = "0", b""
        else:
            flag, encoded = "1", self.codec.encode(result)
        await self._run(
            "job/finish",
            (*self._keys, keys.job_result(self.name, raw), keys.job_results(self.name)),
            (
                keys.finish_channel(self.name),
                raw,
                flag,
                encoded,
                keep,
                keys.job_result(self.name, b""),
            ),
        )

    async def cancel(self, id: str) -> None:
        """Give up a claim: the job waits again, its failure count + 1. Raises JobNotClaimed."""
        await self._run("job/cancel", self._keys, (item_id(id),))

    async def stall(self, id: str) -> None:
        """Set a claimed job aside until :meth:`retry`. Raises JobNotClaimed."""
        await self._run("job/stall", self._keys, (item_id(id),))

    async def retry(self, id: str) -> None:
        """Put a stalled job back in line. Raises JobNotStalled."""
        await self._run("job/retry", self._keys, (item_id(id),))

    async def retract(self, id: str) -> None:
        """Delete a job in any state. Raises ItemNotFound if there is no such job."""
        await self._run("job/retract", self._keys, (item_id(id),))

    async def get_result(self, id: str, timeout: float | None = None) -> tuple[T, T]:
        """``(request, result)`` of a job finished with a result; waits for the finish.

        Waits up to ``timeout`` seconds (None: forever; 0: only look) and raises
        Empty if the job was not finished with a result by then (or its result
        expired). Reading does not consume the result.
        """
        key = keys.job_result(self.name, item_id(id))
        deadline = deadline_after(timeout)
        while True:
            stored = blist(await self.redis.lrange(key, 0, 1))
            if len(stored) == 2:
                return self._decode(stored[0]), self._decode(stored[1])
            if not await wait_for_list(self.redis, key, deadline):
                raise Empty(self.name, timeout)

    # --- claim timeouts ------------------------------------------------------------------

    async def reap(self, timeout: float | None = None, limit: int | None = None) -> list[str]:
        """Requeue jobs claimed more than ``timeout`` seconds ago (default: config ``timeout``).

        Each counts a failure, as a cancel does. Atomic, so several processes
        may reap one feed at once. Returns the requeued ids (none when no
        timeout is configured); ``limit`` caps how many one call handles.
        """
        seconds = "" if timeout is None else repr(_seconds("timeout", timeout))
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a positive int or None, got {limit!r}")
        requeued = await self._run(
            "job/reap", self._keys, (seconds, -1 if limit is None else limit)
        )
        return self._ids_text(blist(requeued))

    async def run_reaper(self, interval: float = 1.0, timeout: float | None = None) -> NoReturn:
        """Call :meth:`reap` every ``interval`` seconds until the task is cancelled.

        Start it with ``asyncio.create_task(job.run_reaper())``. A lost Redis
        connection is logged and the next round tries again.
        """
        _seconds("interval", interval)
        while True:
            try:
                requeued = await self.reap(timeout)
            except ConnectionLost as exc:
                log.warning("job %r: reaper could not reach Redis: %s", self.name, exc)
            else:
                if requeued:
                    log.info("job %r: requeued %d overdue claims", self.name, len(requeued))
            await asyncio.sleep(interval)

    async def _claim_timeout(self, timeout: float | None) -> float | None:
        if timeout is not None:
            return _seconds("timeout", timeout)
        configured = (await self.thoonk.get_config(self.name)).get(feed_config.TIMEOUT)
        try:
            seconds = float(configured) if configured else None
        except ValueError:
            return None
        return seconds if seconds is not None and 0 < seconds < math.inf else None

    async def get_overdue_ids(self, timeout: float | None = None) -> list[str]:
        """Claimed jobs held longer than ``timeout`` seconds (default: config ``timeout``)."""
        seconds = await self._claim_timeout(timeout)
        if seconds is None:
            return []
        now_s, now_us = await self.redis.time()
        cutoff = int(now_s) * 1000 + int(now_us) // 1000 - math.floor(seconds * 1000)
        return self._ids_text(
            blist(await self.redis.zrangebyscore(self._claimed, "-inf", f"({cutoff}"))
        )

    # --- reading ---------------------------------------------------------------------------

    async def get_ids(self) -> list[str]:
        """Ids of every job not finished or retracted, in any state (unordered)."""
        return self._ids_text(blist(await self.redis.hkeys(self._items)))

    async def get_available_ids(self) -> list[str]:
        """Ids of the waiting jobs, in the order they will be claimed."""
        return self._ids_text(blist(await self.redis.lrange(self._ids, 0, -1))[::-1])

    async def get_claimed_ids(self) -> list[str]:
        """Ids of the claimed jobs, oldest claim first."""
        return self._ids_text(blist(await self.redis.zrange(self._claimed, 0, -1)))

    async def get_stalled_ids(self) -> list[str]:
        """Ids of the stalled jobs, sorted."""
        return sorted(self._ids_text(blist(list(await self.redis.smembers(self._stalled)))))

    async def get_failure_count(self, id: str) -> int:
        """How many times claims of this job were cancelled or timed out."""
        return integer(optional_bytes(await self.redis.hget(self._cancelled, item_id(id))))

    async def counts(self) -> JobCounts:
        """The number of jobs in each state, read at one instant."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.llen(self._ids)
            pipe.zcard(self._claimed)
            pipe.scard(self._stalled)
            pipe.hlen(self._items)
            available, claimed, stalled, total = await pipe.execute()
        return JobCounts(integer(available), integer(claimed), integer(stalled), integer(total))

    async def failure_total(self) -> int:
        """Cancelled or timed-out claims, summed over the jobs not finished or retracted."""
        return sum(integer(n) for n in blist(await self.redis.hvals(self._cancelled)))

    async def count(self) -> int:
        """Number of jobs not finished or retracted."""
        return integer(await self.redis.hlen(self._items))
