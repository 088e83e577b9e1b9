"""Feed configuration: the ``feed.config:<name>`` hash, validated before it is written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum

from .errors import InvalidFeedConfig

ConfigValue = str | int | float | bool | None
#: What create_feed()/set_config() accept: a mapping, or a JSON object as text (the Thoonk docs).
ConfigArg = Mapping[str, ConfigValue] | str | bytes


class FeedType(StrEnum):
    """The ``type`` field: which kind of object a name holds."""

    FEED = "feed"
    SORTED_FEED = "sorted_feed"
    QUEUE = "queue"
    JOB = "job"
    #: thoonk.py-only queue of Python pickles; recognised, never created by us.
    PYQUEUE = "pyqueue"


#: Fields whose value we check; any other field is stored as given.
MAX_LENGTH = "max_length"
TIMEOUT = "timeout"
TYPE = "type"
#: Ours: ``"false"`` makes a plain feed notify-only (publish notices, nothing stored).
PERSIST = "persist"


def _text(value: ConfigValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _positive_int(feed: str, field: str, value: str) -> str:
    if not value.isdigit() or int(value) < 1:
        raise InvalidFeedConfig(feed, field, f"must be a positive integer, got {value!r}")
    return str(int(value))


def _positive_number(feed: str, field: str, value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise InvalidFeedConfig(feed, field, f"must be a positive number of seconds, got {value!r}")
    return value


def validate(feed: str, config: Mapping[str, ConfigValue]) -> tuple[dict[str, str], list[str]]:
    """Check ``config`` and split it into fields to write and fields to delete.

    ``None`` or ``""`` for ``max_length``/``timeout`` means "unset" (the field is
    deleted: a stored ``"0"`` would make thoonk.js keep a single item).
    """
    write: dict[str, str] = {}
    delete: list[str] = []
    for field, raw in config.items():
        if not isinstance(field, str) or not field or "\x00" in field:
            raise InvalidFeedConfig(feed, str(field), "field names are non-empty text without NUL")
        if raw is None or (raw == "" and field in (MAX_LENGTH, TIMEOUT)):
            delete.append(field)
            continue
        value = _text(raw)
        if field == TYPE:
            try:
                value = FeedType(value).value
            except ValueError:
                known = ", ".join(t.value for t in FeedType)
                raise InvalidFeedConfig(
                    feed, field, f"must be one of {known}, got {value!r}"
                ) from None
        elif field == MAX_LENGTH:
            value = _positive_int(feed, field, value)
        elif field == TIMEOUT:
            value = _positive_number(feed, field, value)
        elif field == PERSIST and value not in ("true", "false"):
            raise InvalidFeedConfig(feed, field, f"must be true or false, got {value!r}")
        write[field] = value
    return write, delete


def as_mapping(feed: str, config: ConfigArg | None) -> Mapping[str, ConfigValue]:
    """``config`` as a mapping; a JSON text (``'{"max_length": 3}'``) is parsed first."""
    if config is None:
        return {}
    if not isinstance(config, str | bytes):
        return config
    try:
        loaded = json.loads(config)
    except ValueError as exc:
        raise InvalidFeedConfig(feed, "(config)", f"not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise InvalidFeedConfig(feed, "(config)", "a JSON config must be an object")
    for field, value in loaded.items():
        if not isinstance(value, str | int | float | bool | None):
            raise InvalidFeedConfig(
                feed, field, f"must be a string, number, boolean or null, got {value!r}"
            )
    return loaded


def decode(raw: Mapping[bytes, bytes] | bytes | None) -> dict[str, str]:
    """A stored config as text: a hash, or a JSON string written by pre-2011-11 thoonk.py."""
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        try:
            loaded = json.loads(raw)
        except ValueError:
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {str(k): _text(v) for k, v in loaded.items()}
    return {
        k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
        for k, v in raw.items()
    }
