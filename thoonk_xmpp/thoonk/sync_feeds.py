"""Blocking twins of Feed, SortedFeed, Queue and Job (see :mod:`.sync`).

Each method runs the asyncio method of the same name on the client's private
loop and waits for it; arguments, results and errors are the same.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .base import FeedObject
from .codecs import Codec
from .job import NO_RESULT

if TYPE_CHECKING:
    # Named in the quoted base-class arguments below, which ruff does not read.
    from . import feed, job, queue, sorted_feed  # noqa: F401

T = TypeVar("T")
R = TypeVar("R")
O_co = TypeVar("O_co", bound=FeedObject[Any], covariant=True)


class Runner(Protocol):
    """What runs a coroutine to completion for a blocking caller."""

    def run(self, coro: Coroutine[Any, Any, R]) -> R: ...


class _Blocking(Generic[O_co, T]):
    """Shared part: the wrapped asyncio object and the calls every type has."""

    def __init__(self, runner: Runner, aio: O_co) -> None:
        self._runner = runner
        #: The asyncio object behind this one (use it only on the client's loop).
        self.aio: O_co = aio

    def __repr__(self) -> str:
        return f"<blocking {type(self.aio).__name__} {self.name!r}>"

    @property
    def name(self) -> str:
        return self.aio.name

    @property
    def codec(self) -> Codec[T]:
        return self.aio.codec

    def get_item(self, item_id: str) -> T | None:
        """The item stored under ``item_id``, or None."""
        return self._runner.run(self.aio.get_item(item_id))

    def get_items(self, item_ids: Sequence[str]) -> list[T | None]:
        """The items stored under ``item_ids`` (None where absent), in one round trip."""
        return self._runner.run(self.aio.get_items(item_ids))

    def has_id(self, item_id: str) -> bool:
        """Whether an item with this id is stored."""
        return self._runner.run(self.aio.has_id(item_id))

    def exists(self) -> bool:
        """Whether the object is still registered."""
        return self._runner.run(self.aio.exists())

    def delete_feed(self) -> None:
        """Delete this object and everything in it (thoonk.py's ``feed.delete_feed()``)."""
        self._runner.run(self.aio.thoonk.delete_feed(self.name))


class Feed(_Blocking["feed.Feed[T]", T]):
    """Blocking plain feed; see :class:`thoonk_xmpp.thoonk.feed.Feed`."""

    def publish(self, item: T, id: str | None = None) -> str:
        """Publish ``item``; republishing an existing ``id`` edits it. Returns the id."""
        return self._runner.run(self.aio.publish(item, id))

    def publish_many(self, entries: Iterable[T | tuple[T, str | None]]) -> list[str]:
        """Publish several items (or ``(item, id)`` pairs) atomically. Returns the ids."""
        return self._runner.run(self.aio.publish_many(list(entries)))

    def retract(self, id: str) -> None:
        """Remove an item. Raises ItemNotFound if absent."""
        self._runner.run(self.aio.retract(id))

    def retract_many(self, ids: Iterable[str], *, announce: bool = False) -> None:
        """Remove several items atomically; all must exist or nothing changes."""
        self._runner.run(self.aio.retract_many(list(ids), announce=announce))

    def purge(self) -> list[str]:
        """Retract every item. Returns the ids removed."""
        return self._runner.run(self.aio.purge())

    def trim(self) -> list[str]:
        """Drop the oldest items beyond ``max_length`` now. Returns the ids removed."""
        return self._runner.run(self.aio.trim())

    def get_ids(self) -> list[str]:
        """Item ids, oldest first."""
        return self._runner.run(self.aio.get_ids())

    def get_all(self) -> dict[str, T]:
        """Every item keyed by id, oldest first."""
        return self._runner.run(self.aio.get_all())

    def count(self) -> int:
        """Number of items."""
        return self._runner.run(self.aio.count())

    def get_range(self, start: int, stop: int) -> list[tuple[str, T]]:
        """Items with rank ``start``..``stop`` inclusive (negative counts from newest)."""
        return self._runner.run(self.aio.get_range(start, stop))

    def rank(self, id: str) -> int | None:
        """Position of ``id`` from the oldest (0), or None."""
        return self._runner.run(self.aio.rank(id))

    def published_ms(self, id: str) -> int | None:
        """When ``id`` was last published or edited (epoch ms), or None."""
        return self._runner.run(self.aio.published_ms(id))


class SortedFeed(_Blocking["sorted_feed.SortedFeed[T]", T]):
    """Blocking sorted feed; see :class:`thoonk_xmpp.thoonk.sorted_feed.SortedFeed`."""

    def append(self, item: T) -> str:
        """Add ``item`` at the end. Returns its new id."""
        return self._runner.run(self.aio.append(item))

    def publish(self, item: T) -> str:
        """Same as :meth:`append`."""
        return self._runner.run(self.aio.publish(item))

    def append_many(self, items: Iterable[T]) -> list[str]:
        """Append several items in order, atomically. Returns their ids."""
        return self._runner.run(self.aio.append_many(list(items)))

    def prepend(self, item: T) -> str:
        """Add ``item`` at the beginning. Returns its new id."""
        return self._runner.run(self.aio.prepend(item))

    def publish_before(self, before_id: str, item: T) -> str:
        """Insert ``item`` just before ``before_id``. Returns its id."""
        return self._runner.run(self.aio.publish_before(before_id, item))

    def publish_after(self, after_id: str, item: T) -> str:
        """Insert ``item`` just after ``after_id``. Returns its id."""
        return self._runner.run(self.aio.publish_after(after_id, item))

    def edit(self, id: str, item: T) -> None:
        """Replace item ``id`` in place. Raises ItemNotFound if absent."""
        self._runner.run(self.aio.edit(id, item))

    def move(self, rel_position: str, id: str) -> None:
        """Move ``id`` to ``"begin:"``, ``":end"``, ``":<rel>"`` or ``"<rel>:"``."""
        self._runner.run(self.aio.move(rel_position, id))

    def move_first(self, id: str) -> None:
        """Move item ``id`` to the beginning."""
        self._runner.run(self.aio.move_first(id))

    def move_last(self, id: str) -> None:
        """Move item ``id`` to the end."""
        self._runner.run(self.aio.move_last(id))

    def move_before(self, rel_id: str, id: str) -> None:
        """Move item ``id`` just before ``rel_id``."""
        self._runner.run(self.aio.move_before(rel_id, id))

    def move_after(self, rel_id: str, id: str) -> None:
        """Move item ``id`` just after ``rel_id``."""
        self._runner.run(self.aio.move_after(rel_id, id))

    def retract(self, id: str) -> None:
        """Remove item ``id``. Raises ItemNotFound if absent."""
        self._runner.run(self.aio.retract(id))

    def get_ids(self) -> list[str]:
        """Item ids in feed order."""
        return self._runner.run(self.aio.get_ids())

    def get_all(self) -> dict[str, T]:
        """Every item keyed by id, in feed order."""
        return self._runner.run(self.aio.get_all())

    def count(self) -> int:
        """Number of items."""
        return self._runner.run(self.aio.count())

    def publish_many(
        self,
        entries: Iterable[tuple[T, str | None]],
        *,
        mode: sorted_feed.Mode = "end",
        pivot: str | None = None,
    ) -> list[str]:
        """Publish ``(item, id)`` pairs atomically: stored ids edited, new ones placed."""
        return self._runner.run(self.aio.publish_many(list(entries), mode=mode, pivot=pivot))

    def retract_many(self, ids: Iterable[str], *, announce: bool = False) -> None:
        """Remove several items atomically; all must exist or nothing changes."""
        self._runner.run(self.aio.retract_many(list(ids), announce=announce))

    def purge(self) -> list[str]:
        """Retract every item. Returns the ids removed."""
        return self._runner.run(self.aio.purge())

    def get_range(self, start: int, stop: int) -> list[tuple[str, T]]:
        """Items at places ``start``..``stop`` inclusive in feed order."""
        return self._runner.run(self.aio.get_range(start, stop))

    def rank(self, id: str) -> int | None:
        """Place of ``id`` in feed order (0 is first), or None."""
        return self._runner.run(self.aio.rank(id))

    def published_ms(self, id: str) -> int | None:
        """Always None: a sorted feed keeps no publication times."""
        return self._runner.run(self.aio.published_ms(id))


class Queue(_Blocking["queue.Queue[T]", T]):
    """Blocking queue; see :class:`thoonk_xmpp.thoonk.queue.Queue`."""

    NORMAL = False
    HIGH = True

    def put(self, item: T, priority: bool = False) -> str:
        """Add ``item`` (``priority=True``: before every waiting item). Returns its id."""
        return self._runner.run(self.aio.put(item, priority))

    def put_many(self, items: Iterable[T], priority: bool = False) -> list[str]:
        """Add several items atomically; they come out in the order given."""
        return self._runner.run(self.aio.put_many(list(items), priority))

    def get(self, timeout: float | None = None, *, block: bool = True) -> T:
        """Take the next item, waiting up to ``timeout`` s (None or 0: forever). Raises Empty.

        ``block=False``: take an item only if one is waiting.
        """
        return self._runner.run(self.aio.get(timeout, block=block))

    def get_ids(self) -> list[str]:
        """Ids of the waiting items, in the order they will be taken."""
        return self._runner.run(self.aio.get_ids())

    def count(self) -> int:
        """Number of waiting items."""
        return self._runner.run(self.aio.count())

    length = count


class Job(_Blocking["job.Job[T]", T]):
    """Blocking job feed; see :class:`thoonk_xmpp.thoonk.job.Job`."""

    NORMAL = False
    HIGH = True

    def put(self, item: T, priority: bool = False) -> str:
        """Add a job (``priority=True``: before every waiting job). Returns its id."""
        return self._runner.run(self.aio.put(item, priority))

    def put_many(self, items: Iterable[T], priority: bool = False) -> list[str]:
        """Add several jobs atomically; they are claimed in the order given."""
        return self._runner.run(self.aio.put_many(list(items), priority))

    def get(self, timeout: float | None = None, *, block: bool = True) -> job.ClaimedJob[T]:
        """Claim the next job: ``(id, item, failures)``. Raises Empty after ``timeout`` s.

        ``timeout`` None or 0 waits forever (thoonk.py); ``block=False`` does not wait.
        """
        return self._runner.run(self.aio.get(timeout, block=block))

    def finish(
        self,
        id: str,
        value: T | job.NoResult = NO_RESULT,
        result: T | bool | job.NoResult = NO_RESULT,
        timeout: float | None = None,
    ) -> None:
        """Mark a claimed job done, optionally with a result (sent as a finish notice).

        ``finish(id)``, ``finish(id, value)``, ``finish(id, result=value)`` and the
        README's ``finish(id, value, result=True, timeout=5)``; see the asyncio twin.
        """
        self._runner.run(self.aio.finish(id, value, result, timeout))

    def cancel(self, id: str) -> None:
        """Give up a claim; the job waits again. Raises JobNotClaimed."""
        self._runner.run(self.aio.cancel(id))

    def stall(self, id: str) -> None:
        """Set a claimed job aside until :meth:`retry`. Raises JobNotClaimed."""
        self._runner.run(self.aio.stall(id))

    def retry(self, id: str) -> None:
        """Put a stalled job back in line. Raises JobNotStalled."""
        self._runner.run(self.aio.retry(id))

    def retract(self, id: str) -> None:
        """Delete a job in any state. Raises ItemNotFound."""
        self._runner.run(self.aio.retract(id))

    def get_result(
        self, id: str, timeout: float | None = None, *, block: bool = True
    ) -> tuple[T, T]:
        """``(request, result)`` of a job finished with a result, by any Thoonk worker.

        Waits up to ``timeout`` s (None or 0: forever); ``block=False`` only looks
        at results kept by our workers. Raises Empty.
        """
        return self._runner.run(self.aio.get_result(id, timeout, block=block))

    def reap(self, timeout: float | None = None, limit: int | None = None) -> list[str]:
        """Requeue jobs claimed longer than ``timeout`` s (default: config). Returns ids."""
        return self._runner.run(self.aio.reap(timeout, limit))

    def get_overdue_ids(self, timeout: float | None = None) -> list[str]:
        """Claimed jobs held longer than ``timeout`` s (default: config ``timeout``)."""
        return self._runner.run(self.aio.get_overdue_ids(timeout))

    def get_ids(self) -> list[str]:
        """Ids of every job not finished or retracted."""
        return self._runner.run(self.aio.get_ids())

    def get_available_ids(self) -> list[str]:
        """Ids of the waiting jobs, in claim order."""
        return self._runner.run(self.aio.get_available_ids())

    def get_claimed_ids(self) -> list[str]:
        """Ids of the claimed jobs, oldest claim first."""
        return self._runner.run(self.aio.get_claimed_ids())

    def get_stalled_ids(self) -> list[str]:
        """Ids of the stalled jobs, sorted."""
        return self._runner.run(self.aio.get_stalled_ids())

    def get_failure_count(self, id: str) -> int:
        """How many times claims of this job were cancelled or timed out."""
        return self._runner.run(self.aio.get_failure_count(id))

    def counts(self) -> job.JobCounts:
        """The number of jobs in each state."""
        return self._runner.run(self.aio.counts())

    def failure_total(self) -> int:
        """Cancelled or timed-out claims, summed over the jobs not finished or retracted."""
        return self._runner.run(self.aio.failure_total())

    def count(self) -> int:
        """Number of jobs not finished or retracted."""
        return self._runner.run(self.aio.count())
