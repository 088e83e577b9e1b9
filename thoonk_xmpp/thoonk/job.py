"""Job feed: work items claimed by one worker each, then finished, cancelled or stalled.

A job is always in exactly one place: waiting (``feed.ids``), claimed
(``feed.claimed``, scored with the claim time), stalled (``feed.stalled``) or
gone (finished/retracted). Claiming moves a job from waiting to claimed in one
script, so a worker killed at any instant cannot lose it; a claim held longer
than the feed's ``timeout`` config (seconds) is given back by :meth:`Job.reap`,
with the same moves as a cancel (contract §15.7).

Results: ``finish(id, result)`` publishes ``job.finish`` like the original
clients and also keeps ``[request, result]`` under a key of our own.
:meth:`Job.get_result` listens on ``job.finish`` while it waits (the only place
thoonk.py and thoonk.js workers announce a result) and reads the kept results,
so it works for any worker, and for ours also after the finish.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    NamedTuple,
    NoReturn,
    TypeAlias,
    TypeVar,
)

from . import feed_config, keys
from .codecs import Codec
from .errors import ConnectionLost, Empty
from .names import decode_id, item_id
from .notice_connection import NoticeConnection
from .queue import PriorityPuts, deadline_after, wait_for_list
from .replies import blist, integer, optional_bytes
from .resp import RespConnectionError

if TYPE_CHECKING:
    from .client import AsyncThoonk

T = TypeVar("T")

log = logging.getLogger(__name__)


class _NoResult(Enum):
    NO_RESULT = "NO_RESULT"


#: Default of :meth:`Job.finish`: finish without a result (and without a notice).
NO_RESULT: Final = _NoResult.NO_RESULT
#: The type of NO_RESULT, for annotations.
NoResult: TypeAlias = Literal[_NoResult.NO_RESULT]


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


def _chosen_result(value: Any, result: Any) -> Any:
    """The result finish() sends (NO_RESULT for none), from its two spellings."""
    if value is NO_RESULT:
        return result
    if result is NO_RESULT or result is True:
        return value
    if result is False:
        return NO_RESULT
    raise TypeError(
        "finish(id, value, result=...): with a value given, result is the flag True or "
        f"False, not {result!r}; pass the result either as value or as result="
    )


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

    async def get(self, timeout: float | None = None, *, block: bool = True) -> ClaimedJob[T]:
        """Claim the next job, waiting up to ``timeout`` seconds (None or 0: forever).

        ``timeout=0`` waits forever as in thoonk.py; ``block=False`` claims only a
        job already waiting. Raises Empty when none came in time. Cancelling a
        waiting ``get`` loses nothing.
        """
        deadline = deadline_after(timeout, block)
        while True:
            claimed = await self._run("job/claim", self._keys, (keys.job_claim_channel(self.name),))
            if claimed is not None:
                raw_id, item, failures = claimed
                return ClaimedJob(decode_id(raw_id), self._decode(item), int(failures))
            if not await wait_for_list(self.redis, self._ids, deadline):
                raise Empty(self.name, timeout if block else 0)

    async def finish(
        self,
        id: str,
        value: T | NoResult = NO_RESULT,
        result: T | bool | NoResult = NO_RESULT,
        timeout: float | None = None,
    ) -> None:
        """Mark a claimed job done. Raises JobNotClaimed (and changes nothing) otherwise.

        Every spelling of the Thoonk docs and of thoonk.py works::

            await job.finish(id)                            # no result, no notice
            await job.finish(id, "answer")                  # thoonk.py 1.0.1.0
            await job.finish(id, result="answer")
            await job.finish(id, "answer", result=True)     # the Thoonk README
            await job.finish(id, "answer", result=True, timeout=5)

        With a positional ``value``, ``result`` is the README's flag: ``True``
        (or left out) sends ``value`` as the result, ``False`` finishes without
        one. Without ``value``, ``result`` is the result itself.

        With a result: subscribers get a ``finish`` notice, and
        :meth:`get_result` can read ``(request, result)`` for ``timeout``
        seconds (None: until the feed is deleted).
        """
        raw = item_id(id)
        keep = "" if timeout is None else str(max(1, round(_seconds("timeout", timeout) * 1000)))
        chosen = _chosen_result(value, result)
        if chosen is NO_RESULT:
            flag, encoded = "0", b""
        else:
            flag, encoded = "1", self.codec.encode(chosen)
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

    async def get_result(
        self, id: str, timeout: float | None = None, *, block: bool = True
    ) -> tuple[T, T]:
        """``(request, result)`` of a job finished with a result; waits for the finish.

        While it waits it listens on ``job.finish:<feed>``, where every Thoonk
        worker (thoonk.py, thoonk.js, ours) announces a result, so any worker's
        result is heard. Results of our own workers are also kept (see
        :meth:`finish`), so those are found after the finish too; a result that
        another client's worker announced before this call is gone. Waits up to
        ``timeout`` seconds (None or 0: forever, as in the Thoonk docs);
        ``block=False`` only looks at kept results. Raises Empty if no result
        came in time, at once if the job is neither waiting, claimed nor stalled
        and no result of it is kept. Reading does not consume the result.
        """
        raw = item_id(id)
        key = keys.job_result(self.name, raw)
        deadline = deadline_after(timeout, block)
        if not block:
            kept = self._kept(blist(await self.redis.lrange(key, 0, 1)))
            if kept is None:
                raise Empty(self.name, 0)
            return kept
        loop = asyncio.get_running_loop()
        heard: asyncio.Future[bytes] = loop.create_future()
        # Read before subscribing: thoonk.js and thoonk.py workers delete the request
        # with the same transaction that announces the result.
        request = optional_bytes(await self.redis.hget(self._items, raw))

        def on_finish(channel: bytes, payload: bytes) -> None:
            finished, result = keys.split(payload)
            if finished == raw and not heard.done():
                heard.set_result(result)

        try:
            connection = await NoticeConnection.open(
                self.redis, lambda: NoticeConnection(on_finish)
            )
        except RespConnectionError as exc:
            raise ConnectionLost(str(exc)) from exc
        try:
            await connection.subscribe((), (keys.finish_channel(self.name),))
            # Read only once subscribed: a job still stored now is finished later,
            # and its finish notice (sent in the same script as the HDEL) reaches us.
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lrange(key, 0, 1)
                pipe.hexists(self._items, raw)
                stored, pending = await pipe.execute()
            kept = self._kept(blist(stored))
            if kept is not None:
                return kept
            if request is None:
                raise Empty(
                    self.name, timeout, f"job {id!r} is not pending and no result of it is kept"
                )
            await asyncio.wait(
                (heard, connection.closed),
                timeout=_result_wait(deadline, loop.time(), bool(pending)),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if heard.done():
                return self._decode(request), self._decode(heard.result())
            if connection.closed.done():
                raise ConnectionLost(str(connection.closed.exception()))
            raise Empty(self.name, timeout)
        except RespConnectionError as exc:
            raise ConnectionLost(str(exc)) from exc
        finally:
            connection.close()
            if not heard.done():
                heard.cancel()

    def _kept(self, stored: list[bytes]) -> tuple[T, T] | None:
        if len(stored) != 2:
            return None
        return self._decode(stored[0]), self._decode(stored[1])

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


#: Seconds get_result waits for the notice of a job finished while it subscribed.
_FINISH_NOTICE_WAIT = 1.0


def _result_wait(deadline: float | None, now: float, pending: bool) -> float | None:
    """How long get_result waits for a finish notice (None: for ever).

    A job no longer pending was finished since the request was read: its notice is
    on its way if it was sent after the subscription (gone if before), so only a moment.
    """
    remaining = None if deadline is None else max(0.0, deadline - now)
    if pending:
        return remaining
    return min(remaining or _FINISH_NOTICE_WAIT, _FINISH_NOTICE_WAIT)
