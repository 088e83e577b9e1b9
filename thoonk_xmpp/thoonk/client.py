"""``AsyncThoonk``: the asyncio Thoonk client (registry, feed objects, notices)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from . import errors, feed_config, keys
from .codecs import TEXT, Codec
from .command_link import CommandLink
from .connection import HiredisPackingConnection
from .feed_config import ConfigArg, ConfigValue, FeedType
from .names import feed_name
from .notices import Handler, Listener, NoticeKind
from .replies import bdict, blist, optional_bytes
from .scripts import Scripts

if TYPE_CHECKING:
    from .feed import Feed
    from .job import Job
    from .queue import Queue
    from .sorted_feed import SortedFeed

T = TypeVar("T")

# Which stored types an opener accepts: an old client's config update may have
# reset `type` to "feed" on a list-based object (contract 15.8).
_LIST_TYPES = (FeedType.SORTED_FEED, FeedType.QUEUE, FeedType.JOB)


def _connection_defaults() -> dict[str, Any]:
    """Connection options for every client we build.

    No socket timeout: redis-py would wrap every send and read in a timer task,
    which costs more than the Redis work of a publish.  Dead peers are found by
    TCP keepalive and a PING before reusing a connection idle for 30 s; blocking
    waits carry their own server-side timeout.
    """
    return {
        "retry": _retry(),
        "socket_timeout": None,
        "socket_keepalive": True,
        "health_check_interval": 30,
    }


def _retry() -> Retry:
    """Reconnect and resend when a pooled connection went stale (e.g. Redis restarted).

    ``Redis.from_url`` gives its connections no retry at all, unlike ``Redis()``.
    """
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 5)


class AsyncThoonk:
    """A connection to one Redis database holding Thoonk objects.

    Use as ``async with AsyncThoonk(...) as thoonk:`` or call :meth:`aclose`.
    With ``listen=True`` the notice listener starts on entry and handlers
    registered with :meth:`register_handler` receive live notices.

    Create, delete and config handlers are called for this client's own
    actions too, as in thoonk.py and as the Thoonk docs promise ("a handler
    per created or deleted feed").  ``ignore_own_registry_notices=True``
    skips them, for an application that already acts on its own changes where
    it makes them (contract 15.8; sinks always get every notice).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        listen: bool = False,
        password: str | None = None,
        *,
        redis: aioredis.Redis | None = None,
        max_connections: int = 64,
        ignore_own_registry_notices: bool = False,
    ) -> None:
        #: Clients of the Sentinels the master is asked from (from_sentinel), closed with us.
        self._sentinels: list[aioredis.Redis] = []
        # from_pool: the client owns the pool and closes it in aclose().
        self.redis: aioredis.Redis = redis or aioredis.Redis.from_pool(
            aioredis.ConnectionPool(
                connection_class=HiredisPackingConnection,
                host=host,
                port=port,
                db=db,
                password=password,
                max_connections=max_connections,
                **_connection_defaults(),
            )
        )
        #: Random id sent in our registry notices; we ignore notices carrying it.
        self.instance = uuid.uuid4().hex
        #: The connection every Lua script runs on (shared by other packages' scripts).
        self.commands = CommandLink(self.redis)
        self.scripts = Scripts(self.commands)
        self.listener = Listener(self.redis, self.instance, ignore_own=ignore_own_registry_notices)
        self._listen = listen

    @classmethod
    def from_url(
        cls,
        url: str,
        listen: bool = False,
        *,
        ignore_own_registry_notices: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Connect from a ``redis://``, ``rediss://`` or ``unix://`` URL.

        Other keyword arguments go to the connection pool (``max_connections``, 100 by
        default) and its connections.  A command finding every connection in use waits
        for one rather than failing: a burst of requests (100 users subscribing at
        once) is served late, not refused with "Too many connections".
        """
        kwargs = {**_connection_defaults(), **kwargs}
        if url.startswith("redis://"):
            kwargs.setdefault("connection_class", HiredisPackingConnection)
        elif url.startswith("unix://"):
            kwargs.pop("socket_keepalive")  # a TCP option: Unix socket connections refuse it
        kwargs.setdefault("max_connections", 100)
        pool = aioredis.BlockingConnectionPool.from_url(url, timeout=None, **kwargs)
        return cls(
            redis=aioredis.Redis.from_pool(pool),
            listen=listen,
            ignore_own_registry_notices=ignore_own_registry_notices,
        )

    @classmethod
    def from_sentinel(
        cls,
        sentinels: Sequence[tuple[str, int]],
        master: str,
        listen: bool = False,
        *,
        db: int = 0,
        password: str | None = None,
        username: str | None = None,
        ignore_own_registry_notices: bool = False,
    ) -> Self:
        """Connect to the master that Redis Sentinels watching ``master`` name.

        Every connection (redis-py's and our own) asks the Sentinels which server is
        the master whenever it (re)connects, so after a failover the next command and
        the listener's next subscription reach the new master.
        """
        options = {**_connection_defaults(), "db": db, "password": password, "username": username}
        sentinel = Sentinel(list(sentinels), sentinel_kwargs={"socket_timeout": 5.0})
        client = cls(
            redis=sentinel.master_for(master, **options),
            listen=listen,
            ignore_own_registry_notices=ignore_own_registry_notices,
        )
        client._sentinels = list(sentinel.sentinels)
        return client

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Check that Redis answers; start the listener if ``listen`` was asked."""
        try:
            await self.redis.ping()
        except RedisConnectionError as exc:
            raise errors.ConnectionLost(f"cannot reach Redis: {exc}") from exc
        if self._listen:
            await self.listener.start()

    async def aclose(self) -> None:
        """Stop the listener and close every connection."""
        await self.listener.stop()
        await self.commands.aclose()
        await self.redis.aclose()
        for sentinel in self._sentinels:
            await sentinel.aclose()

    # --- notices -------------------------------------------------------------

    def register_handler(self, kind: str | NoticeKind, handler: Handler) -> None:
        """Call ``handler`` for each notice of ``kind`` (see :class:`NoticeKind`)."""
        self.listener.register_handler(kind, handler)

    def remove_handler(self, kind: str | NoticeKind, handler: Handler) -> None:
        """Stop calling ``handler`` for ``kind``."""
        self.listener.remove_handler(kind, handler)

    # --- registry --------------------------------------------------------------

    def _notice(self, name: str) -> bytes:
        return keys.join(keys.encode_name(name), self.instance.encode())

    async def create_feed(self, name: str, config: ConfigArg | None = None) -> None:
        """Create an object; ``type`` defaults to ``feed``. Raises FeedExists.

        ``config`` is a mapping or a JSON object as text.
        """
        name = feed_name(name)
        write, _ = feed_config.validate(name, dict(feed_config.as_mapping(name, config)))
        write.setdefault(feed_config.TYPE, FeedType.FEED.value)
        fields: list[str] = []
        for field, value in write.items():
            fields += (field, value)
        await self.scripts.run(
            "registry/create",
            name,
            (keys.FEEDS, keys.config(name)),
            (name, keys.NEWFEED, keys.CONFFEED, self._notice(name), *fields),
        )

    async def set_config(self, name: str, config: ConfigArg) -> None:
        """Update configuration fields; fields not given are kept, ``None`` deletes one.

        ``config`` is a mapping or, as in the Thoonk docs, a JSON object as text:
        ``set_config("news", '{"max_length": 3}')``.
        """
        name = feed_name(name)
        write, delete = feed_config.validate(name, feed_config.as_mapping(name, config))
        stored = await self.get_config(name)
        if feed_config.TYPE in write and stored.get(feed_config.TYPE, "feed") != write["type"]:
            raise errors.InvalidFeedConfig(
                name, feed_config.TYPE, "the type of an existing object cannot change"
            )
        fields: list[str] = []
        for field, value in write.items():
            fields += (field, value)
        await self.scripts.run(
            "registry/set_config",
            name,
            (keys.FEEDS, keys.config(name)),
            (name, keys.CONFFEED, self._notice(name), *fields, "--", *delete),
        )

    async def get_config(self, name: str) -> dict[str, str]:
        """The stored configuration of ``name``. Raises FeedNotFound."""
        name = feed_name(name)
        key = keys.config(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sismember(keys.FEEDS, name)
            pipe.type(key)
            exists, kind = await pipe.execute()
        if not exists:
            raise errors.FeedNotFound(name)
        if kind == b"string":
            return feed_config.decode(optional_bytes(await self.redis.get(key)))
        return feed_config.decode(bdict(await self.redis.hgetall(key)))

    async def delete_feed(self, name: str) -> None:
        """Delete an object and all its keys. Raises FeedNotFound."""
        name = feed_name(name)
        await self.scripts.run(
            "registry/delete",
            name,
            (keys.FEEDS, *keys.all_keys(name)),
            (name, keys.DELFEED, self._notice(name), keys.job_result(name, b"")),
        )

    async def feed_exists(self, name: str) -> bool:
        """Whether an object of any type has this name."""
        return bool(await self.redis.sismember(keys.FEEDS, feed_name(name)))

    async def get_feeds(self) -> list[str]:
        """Names of every object, sorted."""
        members = blist(list(await self.redis.smembers(keys.FEEDS)))
        return sorted(m.decode("utf-8", "surrogateescape") for m in members)

    async def feed_type(self, name: str) -> FeedType:
        """The type of ``name`` as stored (``feed`` when the field is missing)."""
        config = await self.get_config(name)
        try:
            return FeedType(config.get(feed_config.TYPE, FeedType.FEED.value))
        except ValueError:
            return FeedType.FEED

    # --- opening objects ---------------------------------------------------------

    async def _open(
        self, name: str, wanted: FeedType, config: Mapping[str, ConfigValue] | None
    ) -> str:
        """Create ``name`` as ``wanted`` if absent; check its type if present."""
        name = feed_name(name)
        try:
            await self.create_feed(name, {**(config or {}), feed_config.TYPE: wanted.value})
            return name
        except errors.FeedExists:
            pass
        stored = await self.feed_type(name)
        if stored != wanted:
            tolerated = (
                stored == FeedType.FEED
                and wanted in _LIST_TYPES
                and await self.redis.type(keys.ids(name)) in (b"list", b"none")
            )
            if not tolerated:
                raise errors.WrongFeedType(name, wanted.value, stored.value)
        if config:
            await self.set_config(name, {k: v for k, v in config.items() if k != feed_config.TYPE})
        return name

    @overload
    async def feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None
    ) -> Feed[str]: ...

    @overload
    async def feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> Feed[T]: ...

    async def feed(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> Feed[Any]:
        """Open the plain feed ``name``, creating it (or reconfiguring it with ``config``)."""
        from .feed import Feed

        return Feed(self, await self._open(name, FeedType.FEED, config), codec)

    @overload
    async def sorted_feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None
    ) -> SortedFeed[str]: ...

    @overload
    async def sorted_feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> SortedFeed[T]: ...

    async def sorted_feed(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> SortedFeed[Any]:
        """Open the sorted feed ``name``, creating it if absent."""
        from .sorted_feed import SortedFeed

        return SortedFeed(self, await self._open(name, FeedType.SORTED_FEED, config), codec)

    @overload
    async def queue(
        self, name: str, config: Mapping[str, ConfigValue] | None = None
    ) -> Queue[str]: ...

    @overload
    async def queue(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> Queue[T]: ...

    async def queue(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> Queue[Any]:
        """Open the queue ``name``, creating it if absent."""
        from .queue import Queue

        return Queue(self, await self._open(name, FeedType.QUEUE, config), codec)

    @overload
    async def job(self, name: str, config: Mapping[str, ConfigValue] | None = None) -> Job[str]: ...

    @overload
    async def job(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> Job[T]: ...

    async def job(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> Job[Any]:
        """Open the job feed ``name``, creating it if absent."""
        from .job import Job

        return Job(self, await self._open(name, FeedType.JOB, config), codec)

    @overload
    async def list(
        self, name: str, config: Mapping[str, ConfigValue] | None = None
    ) -> SortedFeed[str]: ...

    @overload
    async def list(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> SortedFeed[T]: ...

    async def list(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> SortedFeed[Any]:
        """The Thoonk docs' ``thoonk.list(name)``: the old name of a sorted feed.

        Opens (or creates) the sorted feed ``name``; stored as ``type=sorted_feed``,
        which is what every current Thoonk client understands.
        """
        return await self.sorted_feed(name, config, codec=codec)
