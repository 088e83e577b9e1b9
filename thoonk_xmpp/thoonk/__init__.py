"""Thoonk for Python: feeds, sorted feeds, queues and jobs on Redis.

Wire-compatible with thoonk.py 1.0.1.0 and thoonk.js 0.5.x (generation 1 of
the Thoonk contract).  ``AsyncThoonk`` is the asyncio client, ``Thoonk`` its blocking twin.
"""

from .client import AsyncThoonk
from .codecs import BYTES, JSON, TEXT, BytesCodec, Codec, JSONCodec, TextCodec
from .errors import (
    ConnectionLost,
    Empty,
    FeedExists,
    FeedNotFound,
    InvalidFeedConfig,
    InvalidName,
    InvalidPosition,
    ItemNotFound,
    JobNotClaimed,
    JobNotStalled,
    ThoonkError,
    WrongFeedType,
)
from .feed import Feed
from .feed_config import FeedType
from .job import NO_RESULT, ClaimedJob, Job, JobCounts
from .notices import Listener, Notice, NoticeKind
from .queue import Priority, Queue
from .sorted_feed import SortedFeed
from .sync import Thoonk

__all__ = [
    "BYTES",
    "JSON",
    "NO_RESULT",
    "TEXT",
    "AsyncThoonk",
    "BytesCodec",
    "ClaimedJob",
    "Codec",
    "ConnectionLost",
    "Empty",
    "Feed",
    "FeedExists",
    "FeedNotFound",
    "FeedType",
    "InvalidFeedConfig",
    "InvalidName",
    "InvalidPosition",
    "ItemNotFound",
    "JSONCodec",
    "Job",
    "JobCounts",
    "JobNotClaimed",
    "JobNotStalled",
    "Listener",
    "Notice",
    "NoticeKind",
    "Priority",
    "Queue",
    "SortedFeed",
    "TextCodec",
    "Thoonk",
    "ThoonkError",
    "WrongFeedType",
]
