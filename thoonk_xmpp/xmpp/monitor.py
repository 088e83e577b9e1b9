"""The running bridge's metrics: the endpoint, the gauges read at scrape time, the sampler.

Counters move where things happen (the component's request path, the
bridge's send path); what is cheap to read is read when Prometheus scrapes;
what costs a Redis round trip is sampled every ``sample_interval`` seconds,
never per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from redis.exceptions import RedisError

from thoonk_xmpp.metrics import Metrics, MetricsEndpoint
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.settings import MetricsSettings
from thoonk_xmpp.thoonk import ThoonkError

from .component import PubSubComponent

log = logging.getLogger(__name__)

#: Longest a sample may take before Redis counts as down (a hung server never answers).
SAMPLE_TIMEOUT: Final = 10.0


class Monitor:
    """Serves one bridge's :class:`Metrics`: :meth:`start`, then :meth:`aclose`."""

    def __init__(
        self,
        metrics: Metrics,
        settings: MetricsSettings,
        service: PubSubService,
        router: EventRouter,
        component: PubSubComponent,
    ) -> None:
        self.metrics = metrics
        self.settings = settings
        self.service = service
        self.endpoint = MetricsEndpoint(metrics, settings.host, settings.port)
        self._sampling: asyncio.Task[None] | None = None
        metrics.link_up.set_function(lambda: float(component.connected.is_set()))
        metrics.outbox.set_function(lambda: float(component.outbox_depth))
        metrics.notices_queued.set_function(lambda: float(router.backlog[0]))
        metrics.events_queued.set_function(lambda: float(router.backlog[1]))
        ledger = router.ledger
        metrics.delivery_gap.set_function(lambda: float(ledger.gap))
        metrics.items_deferred.set_function(lambda: float(ledger.dropped))
        metrics.items_caught_up.set_function(lambda: float(ledger.caught_up_total))
        metrics.events_held.set_function(lambda: float(router.held))
        metrics.slots_delivered.set_function(lambda: float(len(router.slots)))
        self.router = router

    async def start(self) -> None:
        """Open the endpoint (:class:`OSError` if the port is taken) and start sampling."""
        self.endpoint.start()
        self._sampling = asyncio.create_task(self._sample_forever(), name="metrics-sampler")
        log.info("metrics at %s", self.settings.url)

    async def aclose(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
            try:
                await self._sampling
            except asyncio.CancelledError:
                pass
            except Exception:  # the sampler died: that must not stop the bridge's shutdown
                log.exception("the metrics sampler had failed")
            self._sampling = None
        # shutdown() waits for the server's poll loop: not on the event loop's thread
        await asyncio.to_thread(self.endpoint.close)

    async def _sample_forever(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:
                log.exception("metrics sample failed")
            await asyncio.sleep(self.settings.sample_interval)

    async def sample(self) -> None:
        """Time a Redis PING, then count nodes and subscriptions."""
        metrics = self.metrics
        started = time.perf_counter()
        try:
            async with asyncio.timeout(SAMPLE_TIMEOUT):
                await self.service.thoonk.redis.ping()
                metrics.redis_seconds.observe(time.perf_counter() - started)
                nodes, subscriptions = await self.service.store.totals()
                instances = len(await self.router.instances())
        except (RedisError, ThoonkError, OSError, TimeoutError) as exc:
            metrics.redis_up.set(0)
            log.debug("metrics sample failed: %s", exc or "timed out")
            return
        metrics.redis_up.set(1)
        metrics.nodes.set(nodes)
        metrics.subscriptions.set(subscriptions)
        if self.router.ledger.policy.shared:
            metrics.instances.set(instances)
