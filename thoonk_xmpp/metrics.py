"""Every figure thoonk-xmpp exports to Prometheus, declared in one place.

A :class:`Metrics` holds one bridge's metrics on its own ``CollectorRegistry``
(never the process-wide default), so several bridges in one process, as in the
tests, never collide.  Adding a metric is one declaration in
:meth:`Metrics.__init__` plus the line that moves it.

With ``[metrics] enabled = false`` no :class:`Metrics` exists: the code that
would move one checks an attribute for ``None`` and does nothing else.
The thoonk and service layers never import this module (``lint-imports``).
"""

from __future__ import annotations

import threading
import time
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server

#: Every metric name starts with this.
PREFIX: Final = "thoonk_xmpp_"

#: Request latencies: a publish takes well under a millisecond; the timeout is 15 s.
REQUEST_BUCKETS: Final = (
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
)  # fmt: skip
#: Redis round trips on loopback take tens of microseconds.
REDIS_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0,
)  # fmt: skip


class Metrics:
    """One bridge's metrics.  Names are listed, with their meaning, in README.md."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # --- requests (moved as each IQ is answered) --------------------------------------
        self.requests = Counter(
            PREFIX + "requests",
            "IQ requests answered, by verb and outcome: result, or the XMPP error condition",
            ("verb", "outcome"),
            registry=r,
        )
        self.request_seconds = Histogram(
            PREFIX + "request_duration_seconds",
            "Time from taking an IQ request up to sending its answer, by verb",
            ("verb",),
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        # --- notifications -----------------------------------------------------------------
        self.notifications_sent = Counter(
            PREFIX + "notifications_sent",
            "Notification messages written to the XMPP server",
            registry=r,
        )
        self.notifications_dropped = Counter(
            PREFIX + "notifications_dropped",
            "Notification messages dropped because the XMPP link was down",
            registry=r,
        )
        self.notices_queued = Gauge(
            PREFIX + "notices_queued",
            "Thoonk notices waiting to be routed to subscribers (read at scrape time)",
            registry=r,
        )
        self.events_queued = Gauge(
            PREFIX + "events_queued",
            "Routed events waiting to be sent as notifications (read at scrape time)",
            registry=r,
        )
        self.outbox = Gauge(
            PREFIX + "outbox_stanzas",
            "Stanzas queued for the next write to the XMPP server (read at scrape time)",
            registry=r,
        )
        # --- the XMPP link -----------------------------------------------------------------
        self.link_up = Gauge(
            PREFIX + "xmpp_link_up",
            "1 while the component session with the XMPP server is up, else 0",
            registry=r,
        )
        self.reconnects = Counter(
            PREFIX + "xmpp_reconnects",
            "Component sessions re-established after losing the XMPP server",
            registry=r,
        )
        # --- sampled every [metrics] sample_interval ----------------------------------------
        self.redis_seconds = Histogram(
            PREFIX + "redis_ping_seconds",
            "Round trip of a Redis PING, sampled every sample_interval",
            buckets=REDIS_BUCKETS,
            registry=r,
        )
        self.redis_up = Gauge(
            PREFIX + "redis_up",
            "1 if the last sampled Redis PING was answered, else 0",
            registry=r,
        )
        self.nodes = Gauge(
            PREFIX + "nodes",
            "Nodes (Thoonk feeds) in Redis, sampled every sample_interval",
            registry=r,
        )
        self.subscriptions = Gauge(
            PREFIX + "subscriptions",
            "Subscriptions to all nodes, sampled every sample_interval",
            registry=r,
        )
        self.instances = Gauge(
            PREFIX + "delivery_instances",
            "Live instances sharing delivery ([delivery] shared), sampled every sample_interval",
            registry=r,
        )
        # --- delivery across gaps (read at scrape time) ----------------------------------------
        self.delivery_gap = Gauge(
            PREFIX + "delivery_gap",
            "1 while events wait for a catch-up (link or notices lost), else 0",
            registry=r,
        )
        self.items_deferred = Gauge(
            PREFIX + "items_deferred",
            "Items not sent during gaps since start (the catch-ups send them)",
            registry=r,
        )
        self.items_caught_up = Gauge(
            PREFIX + "items_caught_up",
            "Items sent by catch-ups since start",
            registry=r,
        )
        self.events_held = Gauge(
            PREFIX + "events_held",
            "Retract, purge, delete and config events held while the XMPP link is down",
            registry=r,
        )
        self.slots_delivered = Gauge(
            PREFIX + "slots_delivered",
            "Slots of nodes (of 64) whose events this instance sends",
            registry=r,
        )

        # (verb, outcome) → the two children it moves: labels() costs more than inc()
        self._answer_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def answered(self, verb: str, outcome: str, started: float) -> None:
        """Count one answered request; ``started`` is its ``time.perf_counter()`` at intake."""
        elapsed = time.perf_counter() - started
        children = self._answer_children.get((verb, outcome))
        if children is None:
            children = (self.requests.labels(verb, outcome), self.request_seconds.labels(verb))
            self._answer_children[verb, outcome] = children
        children[0].inc()
        children[1].observe(elapsed)


class MetricsEndpoint:
    """The HTTP endpoint Prometheus scrapes (any path answers; ``/metrics`` by convention)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on ``host:port``; raises :class:`OSError` if that is not possible."""
        self._server, self._thread = start_http_server(
            self.port, self.host, registry=self.metrics.registry
        )

    def close(self) -> None:
        """Stop listening and wait for the server's thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
