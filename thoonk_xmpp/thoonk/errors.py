"""Errors raised by the Thoonk library.

Every error leaves Redis unchanged.  The tree::

    ThoonkError
    ├── InvalidName (ValueError)          empty name, NUL in a name or id
    ├── InvalidFeedConfig (ValueError)    bad config field value; names the field
    ├── FeedExists (ValueError)           create of a name already in use
    ├── FeedNotFound (LookupError)        no object of that name
    ├── WrongFeedType (TypeError)         e.g. a queue operation on a plain feed
    ├── ItemNotFound (LookupError)        no item with that id (also move/insert pivots)
    ├── JobNotClaimed (LookupError)       finish/cancel/stall of a job not claimed
    ├── JobNotStalled (LookupError)       retry of a job not stalled
    ├── InvalidPosition (ValueError)      unparsable relative position, move onto itself
    ├── Empty (TimeoutError)              get()/get_result() timed out
    └── ConnectionLost (ConnectionError)  Redis went away mid-operation
"""

from __future__ import annotations


def _show(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return repr(value.decode("utf-8", "backslashreplace"))
    return repr(value)


class ThoonkError(Exception):
    """Base of every Thoonk error."""


class InvalidName(ThoonkError, ValueError):
    """A feed name or item id that Thoonk cannot store."""

    def __init__(self, what: str, value: str | bytes, reason: str) -> None:
        self.what = what
        self.value = value
        super().__init__(f"invalid {what} {_show(value)}: {reason}")


class InvalidFeedConfig(ThoonkError, ValueError):
    """A configuration value that is not acceptable; ``field`` names it."""

    def __init__(self, feed: str, field: str, reason: str) -> None:
        self.feed = feed
        self.field = field
        super().__init__(f"feed {_show(feed)}: config field {field!r}: {reason}")


class FeedExists(ThoonkError, ValueError):
    """create_feed() of a name that is already taken."""

    def __init__(self, feed: str) -> None:
        self.feed = feed
        super().__init__(f"feed {_show(feed)} already exists")


class FeedNotFound(ThoonkError, LookupError):
    """No feed, queue or job of that name exists."""

    def __init__(self, feed: str) -> None:
        self.feed = feed
        super().__init__(f"feed {_show(feed)} does not exist")


class WrongFeedType(ThoonkError, TypeError):
    """The object exists but is of another type than the operation needs."""

    def __init__(self, feed: str, expected: str, actual: str) -> None:
        self.feed = feed
        self.expected = expected
        self.actual = actual
        super().__init__(f"feed {_show(feed)} is a {actual}, not a {expected}")


class ItemNotFound(ThoonkError, LookupError):
    """No item with that id in the feed."""

    def __init__(self, feed: str, item_id: str | bytes) -> None:
        self.feed = feed
        self.item_id = item_id
        super().__init__(f"feed {_show(feed)} has no item {_show(item_id)}")


class JobNotClaimed(ThoonkError, LookupError):
    """finish/cancel/stall of a job that is not claimed."""

    def __init__(self, feed: str, job_id: str | bytes) -> None:
        self.feed = feed
        self.job_id = job_id
        super().__init__(f"job {_show(job_id)} of {_show(feed)} is not claimed")


class JobNotStalled(ThoonkError, LookupError):
    """retry of a job that is not stalled."""

    def __init__(self, feed: str, job_id: str | bytes) -> None:
        self.feed = feed
        self.job_id = job_id
        super().__init__(f"job {_show(job_id)} of {_show(feed)} is not stalled")


class InvalidPosition(ThoonkError, ValueError):
    """A relative position that cannot be used (syntax, or relative to itself)."""

    def __init__(self, feed: str, position: str | bytes, reason: str) -> None:
        self.feed = feed
        self.position = position
        super().__init__(f"feed {_show(feed)}: position {_show(position)}: {reason}")


class Empty(ThoonkError, TimeoutError):
    """A blocking get timed out with nothing to return."""

    def __init__(self, feed: str, timeout: float | None, reason: str | None = None) -> None:
        self.feed = feed
        self.timeout = timeout
        super().__init__(f"{_show(feed)}: {reason}" if reason else _waited(feed, timeout))


def _waited(feed: str, timeout: float | None) -> str:
    if timeout is None or timeout == 0:
        return f"nothing waiting in {_show(feed)}"
    return f"nothing from {_show(feed)} within {timeout} s"


class ConnectionLost(ThoonkError, ConnectionError):
    """Redis could not be reached or dropped the connection."""
