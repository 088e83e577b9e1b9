"""``Thoonk``: the blocking client, with thoonk.py's API.

A thin twin of :class:`~thoonk_xmpp.thoonk.client.AsyncThoonk`: each client
owns one private asyncio loop in a daemon thread running an ``AsyncThoonk``;
every blocking method submits the matching coroutine to that loop and waits
for it.  Results and errors are those of the asyncio API.

Handlers registered with :meth:`Thoonk.register_handler` are called in the
loop thread, so they must not call blocking methods of the same client (that
would wait for itself; it raises RuntimeError instead) and should return
quickly.  Hand work to another thread if it takes long.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar, overload

from .client import AsyncThoonk
from .codecs import TEXT, Codec
from .feed_config import ConfigArg, ConfigValue, FeedType
from .notices import Handler, NoticeKind
from .sync_feeds import Feed, Job, Queue, SortedFeed

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["Feed", "Job", "Queue", "SortedFeed", "Thoonk"]


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="thoonk-sync", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run ``coro`` on the loop and wait for its outcome."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "a blocking Thoonk method was called from a notice handler (the loop "
                "thread); it would wait for itself. Use client.aio there, or another thread."
            )
        if not self.loop.is_running():
            coro.close()
            raise RuntimeError("this Thoonk client is closed")
        future: Future[R] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            # e.g. KeyboardInterrupt during a blocking get(): do not leave it waiting.
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        if not self.loop.is_closed():
            self.loop.close()


class Thoonk:
    """A blocking connection to one Redis database holding Thoonk objects.

    ``Thoonk(host, port, db, listen=False, password=None)`` as in thoonk.py, or
    :meth:`from_url`.  Close it with :meth:`close` or use it as a context
    manager.  With ``listen=True`` (or after the first :meth:`register_handler`)
    live notices reach the registered handlers, this client's own creates,
    deletes and config changes included unless ``ignore_own_registry_notices=True``
    (see :class:`~thoonk_xmpp.thoonk.client.AsyncThoonk`).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        listen: bool = False,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(lambda: AsyncThoonk(host, port, db, listen=listen, password=password, **kwargs))

    @classmethod
    def from_url(
        cls,
        url: str,
        listen: bool = False,
        *,
        ignore_own_registry_notices: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Connect from a ``redis://``, ``rediss://`` or ``unix://`` URL."""
        client = cls.__new__(cls)
        client._start(
            lambda: AsyncThoonk.from_url(
                url,
                listen=listen,
                ignore_own_registry_notices=ignore_own_registry_notices,
                **kwargs,
            )
        )
        return client

    def _start(self, make: Any) -> None:
        self._runner = _LoopThread()

        async def connect() -> AsyncThoonk:
            aio: AsyncThoonk = make()
            try:
                await aio.connect()
            except BaseException:
                await aio.aclose()
                raise
            return aio

        try:
            #: The asyncio client behind this one; use it only from the loop thread.
            self.aio = self._runner.run(connect())
        except BaseException:
            self._runner.stop()
            raise

    @property
    def instance(self) -> str:
        """Random id sent in our registry notices."""
        return self.aio.instance

    def close(self) -> None:
        """Stop listening, close every connection and end the loop thread. Idempotent."""
        if self._runner.loop.is_running():
            try:
                self._runner.run(self.aio.aclose())
            finally:
                self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- notices -------------------------------------------------------------

    def register_handler(self, kind: str | NoticeKind, handler: Handler) -> None:
        """Call ``handler`` (in the loop thread) for each notice of ``kind``.

        Starts listening if the client was made with ``listen=False``.
        """
        self.aio.register_handler(kind, handler)
        if not self.aio.listener.running:
            self._runner.run(self.aio.listener.start())

    def remove_handler(self, kind: str | NoticeKind, handler: Handler) -> None:
        """Stop calling ``handler`` for ``kind``."""
        self.aio.remove_handler(kind, handler)

    # --- registry --------------------------------------------------------------

    def create_feed(self, name: str, config: ConfigArg | None = None) -> None:
        """Create an object; ``type`` defaults to ``feed``. Raises FeedExists.

        ``config`` is a mapping or a JSON object as text.
        """
        self._runner.run(self.aio.create_feed(name, config))

    def set_config(self, name: str, config: ConfigArg) -> None:
        """Update configuration fields; ``None`` deletes one. Raises FeedNotFound.

        ``config`` is a mapping or, as in the Thoonk docs, a JSON object as text.
        """
        self._runner.run(self.aio.set_config(name, config))

    def get_config(self, name: str) -> dict[str, str]:
        """The stored configuration of ``name``. Raises FeedNotFound."""
        return self._runner.run(self.aio.get_config(name))

    def delete_feed(self, name: str) -> None:
        """Delete an object and all its keys. Raises FeedNotFound."""
        self._runner.run(self.aio.delete_feed(name))

    def feed_exists(self, name: str) -> bool:
        """Whether an object of any type has this name."""
        return self._runner.run(self.aio.feed_exists(name))

    def get_feeds(self) -> list[str]:
        """Names of every object, sorted."""
        return self._runner.run(self.aio.get_feeds())

    def feed_type(self, name: str) -> FeedType:
        """The stored type of ``name``. Raises FeedNotFound."""
        return self._runner.run(self.aio.feed_type(name))

    # --- opening objects ---------------------------------------------------------

    @overload
    def feed(self, name: str, config: Mapping[str, ConfigValue] | None = None) -> Feed[str]: ...

    @overload
    def feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> Feed[T]: ...

    def feed(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> Feed[Any]:
        """Open the plain feed ``name``, creating it (or reconfiguring it with ``config``)."""
        return Feed(self._runner, self._runner.run(self.aio.feed(name, config, codec=codec)))

    @overload
    def sorted_feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None
    ) -> SortedFeed[str]: ...

    @overload
    def sorted_feed(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> SortedFeed[T]: ...

    def sorted_feed(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> SortedFeed[Any]:
        """Open the sorted feed ``name``, creating it if absent."""
        opened = self._runner.run(self.aio.sorted_feed(name, config, codec=codec))
        return SortedFeed(self._runner, opened)

    @overload
    def queue(self, name: str, config: Mapping[str, ConfigValue] | None = None) -> Queue[str]: ...

    @overload
    def queue(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> Queue[T]: ...

    def queue(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> Queue[Any]:
        """Open the queue ``name``, creating it if absent."""
        return Queue(self._runner, self._runner.run(self.aio.queue(name, config, codec=codec)))

    @overload
    def job(self, name: str, config: Mapping[str, ConfigValue] | None = None) -> Job[str]: ...

    @overload
    def job(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> Job[T]: ...

    def job(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> Job[Any]:
        """Open the job feed ``name``, creating it if absent."""
        return Job(self._runner, self._runner.run(self.aio.job(name, config, codec=codec)))

    @overload
    def list(
        self, name: str, config: Mapping[str, ConfigValue] | None = None
    ) -> SortedFeed[str]: ...

    @overload
    def list(
        self, name: str, config: Mapping[str, ConfigValue] | None = None, *, codec: Codec[T]
    ) -> SortedFeed[T]: ...

    def list(
        self,
        name: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        codec: Codec[Any] = TEXT,
    ) -> SortedFeed[Any]:
        """The Thoonk docs' ``thoonk.list(name)``: the old name of a sorted feed."""
        return self.sorted_feed(name, config, codec=codec)
