"""Operator settings: ``thoonk_xmpp.toml`` into frozen dataclasses.

Strict on purpose: an unknown table or key, or a value of the wrong type or out of
range, raises :class:`SettingsError` naming it as ``table.key``.  The component
secret (and a password in the Redis URL) never appears in ``repr()`` or in an
error message.

The component secret is taken from the first of: the ``THOONK_XMPP_SECRET``
environment variable, the file named by ``[component] secret_file``, or
``[component] secret`` (see :mod:`.component_secret`).

[pubsub] becomes the service's own :class:`ServicePolicy`, and
[pubsub.default_node] its :class:`NodeConfig` defaults, keyed by field name.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .component_secret import NOT_READ, SecretError, component_secret
from .component_secret import SECRET_ENV as SECRET_ENV  # re-exported
from .component_secret import SECRET_FILE_LIMIT as SECRET_FILE_LIMIT  # re-exported
from .service.delivery import DeliveryPolicy
from .service.model import NodeCreation
from .service.node_config import NodeConfig
from .service.policy import DEFAULT_MAX_STANZA_SIZE, PAYLOAD_ROOM, RequestLimits, ServicePolicy
from .settings_tables import SettingsError as SettingsError  # re-exported
from .settings_tables import Table, is_bare_jid, is_domain, port_number, positive

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("plain", "json")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True, slots=True)
class ComponentSettings:
    """[component]: how thoonk-xmpp reaches the XMPP server (XEP-0114)."""

    #: The component's address, e.g. ``pubsub.example.org``.
    jid: str
    #: The shared secret of the server's Component block.
    secret: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 5347
    #: Longest wait, in seconds, between attempts to reconnect to the server.
    reconnect_max_delay: float = 60.0
    #: When another instance holds the component JID (``conflict``), wait to take over
    #: from it instead of failing: one active instance and standbys (Prosody).
    standby: bool = False
    #: Where the secret came from: ``$THOONK_XMPP_SECRET``, ``file PATH`` or ``component.secret``.
    secret_source: str = "component.secret"
    #: No stanza sent is bigger (UTF-8 bytes): a server closes the link of a component
    #: that sends one over its limit (Prosody's component_stanza_size_limit: 512 KiB).
    max_stanza_size: int = DEFAULT_MAX_STANZA_SIZE
    #: Send an event once to the server's XEP-0033 service (ejabberd's mod_multicast),
    #: with its local recipients, ``multicast_limit`` at a time, where one is found
    #: (off by default: side by side on ejabberd 23.01 it was no faster at 10 and 100
    #: subscribers and somewhat faster at 50; bench/fanout_bench.py).
    multicast: bool = False
    multicast_limit: int = 20


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """[redis]: where the Thoonk feeds live."""

    url: str = field(default=DEFAULT_REDIS_URL, repr=False)
    #: Redis Sentinels (host, port) to ask for the master: then ``url`` gives only the
    #: password and database.
    sentinels: tuple[tuple[str, int], ...] = ()
    #: The name the Sentinels monitor the master under.
    sentinel_master: str = "mymaster"

    @property
    def redacted_url(self) -> str:
        """The URL with any password replaced by ``***``."""
        base, mark, query = self.url.partition("?")
        parts = urlsplit(base)
        if parts.password is not None:
            netloc = parts.netloc.rpartition("@")[2]
            base = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))
        # redis-py also reads ?password=… (the usual place in unix:// URLs)
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name == "password" for name, _ in pairs):
            query = urlencode([(n, "***" if n == "password" else v) for n, v in pairs], safe="*/")
        return base + mark + query

    def __repr__(self) -> str:
        return f"RedisSettings(url={self.redacted_url!r}, sentinels={self.sentinels!r})"


@dataclass(frozen=True, slots=True)
class LogSettings:
    """[log]."""

    #: One of :data:`LOG_LEVELS`.
    level: str = "info"
    #: One of :data:`LOG_FORMATS`: text lines, or one JSON object a line.
    format: str = "plain"


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """[metrics]: the Prometheus endpoint (off unless enabled)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9108
    #: Seconds between samples of Redis round trip and node and subscription counts.
    sample_interval: float = 30.0

    @property
    def url(self) -> str:
        """Where Prometheus scrapes (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything in ``thoonk_xmpp.toml``."""

    component: ComponentSettings
    redis: RedisSettings = field(default_factory=RedisSettings)
    pubsub: ServicePolicy = field(default_factory=ServicePolicy)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    limits: RequestLimits = field(default_factory=RequestLimits)

    @classmethod
    def from_toml(
        cls,
        path: str | Path,
        environ: Mapping[str, str] | None = None,
        *,
        secret_needed: bool = True,
    ) -> Settings:
        """Read and check a TOML settings file (a relative ``secret_file`` is beside it).

        Without ``secret_needed`` (commands that never talk to the XMPP server) the
        secret is not looked for: ``component.secret`` is empty.
        """
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except OSError as exc:
            raise SettingsError(None, f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(None, f"{path} is not valid TOML: {exc}") from None
        return cls.from_mapping(data, environ, Path(path).parent, secret_needed=secret_needed)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        base: Path | None = None,
        *,
        secret_needed: bool = True,
    ) -> Settings:
        """Check already-parsed TOML data; ``environ`` defaults to ``os.environ``."""
        tables = Table("", data, _KNOWN)
        component = _component(
            tables.table("component", required=True),
            (os.environ if environ is None else environ) if secret_needed else None,
            base or Path(),
        )
        return cls(
            component=component,
            redis=_redis(tables.table("redis")),
            pubsub=_pubsub(tables.table("pubsub"), component),
            log=_log(tables.table("log")),
            metrics=_metrics(tables.table("metrics")),
            delivery=_delivery(tables.table("delivery")),
            limits=_limits(tables.table("limits")),
        )


_NODE_FIELDS = {f.name for f in dataclasses.fields(NodeConfig)}

#: The keys of each table, by dotted name ("" is the file's top level).
_KNOWN: dict[str, set[str]] = {
    "": {"component", "redis", "pubsub", "log", "metrics", "delivery", "limits"},
    "component": {
        "jid",
        "secret",
        "secret_file",
        "host",
        "port",
        "reconnect_max_delay",
        "standby",
        "max_stanza_size",
        "multicast",
        "multicast_limit",
    },
    "redis": {"url", "sentinels", "sentinel_master"},
    "pubsub": {
        "admins",
        "node_creation",
        "creators",
        "local_domains",
        "max_items_cap",
        "max_nodes_per_owner",
        "max_payload_size",
        "default_node",
        "max_archive_page",
    },
    "pubsub.default_node": _NODE_FIELDS,
    "log": {f.name for f in dataclasses.fields(LogSettings)},
    "metrics": {f.name for f in dataclasses.fields(MetricsSettings)},
    "delivery": {f.name for f in dataclasses.fields(DeliveryPolicy)},
    "limits": {f.name for f in dataclasses.fields(RequestLimits)},
}


def _component(table: Table, environ: Mapping[str, str] | None, base: Path) -> ComponentSettings:
    """[component]; the secret is looked for only with an ``environ`` to look in."""
    jid = table.text("jid")
    if not is_domain(jid):
        raise SettingsError(
            table.key("jid"), f"{jid!r} is not a domain JID such as pubsub.example.org"
        )
    secret, source = "", NOT_READ
    if environ is not None:
        try:
            secret, source = component_secret(table.data, environ, base)
        except SecretError as exc:
            raise SettingsError(exc.key, exc.problem) from None
    return ComponentSettings(
        jid=jid.lower(),
        secret=secret,
        host=table.text("host", "127.0.0.1"),
        port=port_number(table, 5347),
        reconnect_max_delay=table.number("reconnect_max_delay", 60.0, low=1, high=3600),
        standby=table.get("standby", bool, False),
        secret_source=source,
        max_stanza_size=table.integer("max_stanza_size", DEFAULT_MAX_STANZA_SIZE, low=16384),
        multicast=table.get("multicast", bool, False),
        multicast_limit=table.integer("multicast_limit", 20, low=2),
    )


def _log(table: Table) -> LogSettings:
    return LogSettings(
        level=table.choice("level", LOG_LEVELS, "info"),
        format=table.choice("format", LOG_FORMATS, "plain"),
    )


def _metrics(table: Table) -> MetricsSettings:
    return MetricsSettings(
        enabled=table.get("enabled", bool, False),
        host=table.text("host", "127.0.0.1"),
        port=port_number(table, 9108),
        sample_interval=table.number("sample_interval", 30.0, low=0.05, high=3600),
    )


def _redis(table: Table) -> RedisSettings:
    url = table.text("url", DEFAULT_REDIS_URL)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise SettingsError(table.key("url"), "is not a valid URL") from None
    usable = parts.path if parts.scheme == "unix" else parts.hostname
    if parts.scheme not in ("redis", "rediss", "unix") or not usable:
        raise SettingsError(
            table.key("url"),
            "must be redis://host[:port][/db], rediss://… or unix:///path/to/redis.sock",
        )
    sentinels: list[tuple[str, int]] = []
    for address in table.get("sentinels", list, []):
        host, colon, port = str(address).rpartition(":")
        if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
            raise SettingsError(table.key("sentinels"), 'must be a list of "host:port"')
        sentinels.append((host.strip("[]"), int(port)))
    master = table.text("sentinel_master", "mymaster")
    return RedisSettings(url=url, sentinels=tuple(sentinels), sentinel_master=master)


def _pubsub(table: Table, component: ComponentSettings) -> ServicePolicy:
    creation = NodeCreation(table.choice("node_creation", tuple(NodeCreation), "local"))
    creators = table.jids("creators", is_bare_jid, "bare JIDs")
    if creators and creation is not NodeCreation.LIST:
        raise SettingsError(table.key("creators"), 'only used with node_creation = "list"')
    # By default users of the parent domain (example.org for pubsub.example.org) are local.
    parent = component.jid.partition(".")[2]
    local_domains = table.jids("local_domains", is_domain, "domains")
    if "local_domains" not in table.data:
        local_domains = frozenset({parent} if parent else ())
    cap: int | None = None
    if "max_items_cap" in table.data:
        cap = table.get("max_items_cap", int)
        if cap < 1:
            raise SettingsError(table.key("max_items_cap"), "must be a positive integer")
    return ServicePolicy(
        admins=table.jids("admins", is_bare_jid, "bare JIDs"),
        node_creation=creation,
        local_domains=local_domains,
        creators=creators,
        max_items_cap=cap,
        max_nodes_per_owner=positive(table, "max_nodes_per_owner"),
        max_payload_size=_max_payload_size(table, component.max_stanza_size),
        max_archive_page=table.integer("max_archive_page", 50, low=1, high=1000),
        defaults=_node_defaults(table.table("default_node"), cap),
    )


def _max_payload_size(table: Table, max_stanza_size: int) -> int:
    """Half the stanza limit unless set: room for the envelope, escaping and base64."""
    value = positive(table, "max_payload_size") or max_stanza_size // 2
    if value > max_stanza_size - PAYLOAD_ROOM:
        problem = f"must leave {PAYLOAD_ROOM} bytes below component.max_stanza_size"
        raise SettingsError(table.key("max_payload_size"), problem)
    return value


def _node_defaults(table: Table, cap: int | None) -> NodeConfig:
    hints = typing.get_type_hints(NodeConfig)
    values: dict[str, Any] = {}
    for name in table.data:
        hint = hints[name]
        if name == "max_items" and isinstance(table.data[name], str):
            if table.data[name] != "max":
                raise SettingsError(table.key(name), 'must be a positive integer or "max"')
            values[name] = None
        elif isinstance(hint, type) and issubclass(hint, StrEnum):
            values[name] = hint(table.choice(name, tuple(hint), ""))
        elif hint in (bool, str):
            values[name] = table.get(name, hint)
        elif hint == tuple[str, ...]:  # a list of texts (roster_groups_allowed)
            texts = table.get(name, list)
            if not all(isinstance(text, str) and text for text in texts):
                raise SettingsError(table.key(name), "must be a list of non-empty strings")
            values[name] = tuple(texts)
        else:  # int | None: a positive limit; leaving it out means none
            values[name] = table.get(name, int)
            if values[name] < 1:
                raise SettingsError(table.key(name), "must be a positive integer")
    max_items = values.get("max_items")
    if cap is not None and max_items is not None and max_items > cap:
        raise SettingsError(table.key("max_items"), f"must not exceed pubsub.max_items_cap ({cap})")
    return NodeConfig(**values)


def _delivery(table: Table) -> DeliveryPolicy:
    default = DeliveryPolicy()

    def count(key: str, value: int) -> int:
        got = table.get(key, int, value)
        if not 1 <= got <= 10_000_000:
            raise SettingsError(table.key(key), "must be between 1 and 10000000")
        return got

    policy = DeliveryPolicy(
        mark_interval=table.number("mark_interval", default.mark_interval, low=0.05, high=60),
        margin=table.number("margin", default.margin, low=0, high=600),
        catch_up_items=count("catch_up_items", default.catch_up_items),
        catch_up_age=table.number("catch_up_age", default.catch_up_age, low=1, high=30 * 86400),
        held_events=count("held_events", default.held_events),
        in_flight=table.number("in_flight", default.in_flight, low=0, high=60),
        shared=table.get("shared", bool, default.shared),
        lease_time=table.number("lease_time", default.lease_time, low=1, high=600),
        lease_interval=table.number("lease_interval", default.lease_interval, low=0.1, high=60),
    )
    if policy.lease_interval * 2 > policy.lease_time:
        raise SettingsError(table.key("lease_interval"), "must be at most half of lease_time")
    return policy


def _limits(table: Table) -> RequestLimits:
    default = RequestLimits()
    return RequestLimits(
        pending_per_sender=positive(table, "pending_per_sender") or default.pending_per_sender,
        pending=positive(table, "pending") or default.pending,
        rate=table.number("rate", default.rate, low=0, high=1_000_000),
        burst=positive(table, "burst") or default.burst,
    )
