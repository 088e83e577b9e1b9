"""The typed reading of one TOML table of ``thoonk_xmpp.toml``, for :mod:`.settings`.

Every getter names the offending ``table.key`` in its :class:`SettingsError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A settings file that cannot be used; ``key`` is ``table.key`` when one is to blame."""

    def __init__(self, key: str | None, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key


class Table:
    """One TOML table: typed getters that name ``table.key`` in every error."""

    def __init__(self, name: str, data: Mapping[str, Any], known: Mapping[str, set[str]]) -> None:
        self.name = name
        self.data = data
        #: The keys of each table, by dotted name ("" is the file's top level).
        self.known = known
        for key in data:
            if key not in known[name]:
                what = "table" if not name else "key"
                raise SettingsError(self.key(key), f"unknown {what}")

    def key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def table(self, name: str, *, required: bool = False) -> Table:
        value = self.data.get(name)
        if value is None and not required:
            value = {}
        if not isinstance(value, dict):
            raise SettingsError(self.key(name), "missing table" if value is None else "not a table")
        return Table(self.key(name), value, self.known)

    def get(self, key: str, kind: type[T], default: T | None = None) -> T:
        value: Any = self.data.get(key, default)
        if value is None:
            raise SettingsError(self.key(key), "required")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # bool is a subclass of int in Python, never in TOML.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise SettingsError(self.key(key), f"must be {KIND_NAMES[kind]}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.get(key, str, default)
        if not value.strip():
            raise SettingsError(self.key(key), "must not be empty")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self.get(key, float, default)
        if not low <= value <= high:
            raise SettingsError(self.key(key), f"must be between {low:g} and {high:g}")
        return value

    def integer(self, key: str, default: int, *, low: int, high: int = 1 << 30) -> int:
        value = self.get(key, int, default)
        if not low <= value <= high:
            raise SettingsError(self.key(key), f"must be between {low} and {high}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise SettingsError(self.key(key), f"{value!r} is not one of {', '.join(choices)}")
        return value

    def jids(self, key: str, check: Callable[[str], bool], what: str) -> frozenset[str]:
        """A list of JIDs, lower-cased as JID preparation would."""
        values = self.get(key, list, [])
        if not all(isinstance(value, str) and check(value) for value in values):
            raise SettingsError(self.key(key), f"must be a list of {what}")
        return frozenset(value.lower() for value in values)


KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
}


def is_domain(text: str) -> bool:
    return bool(text) and not any(c in text for c in "@/ \t\n") and ".." not in text


def is_bare_jid(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    if at and not local:
        return False
    return is_domain(domain) and not any(c in local for c in "@/ \t\n")


def port_number(table: Table, default: int) -> int:
    port = table.get("port", int, default)
    if not 1 <= port <= 65535:
        raise SettingsError(table.key("port"), "must be between 1 and 65535")
    return port


def positive(table: Table, key: str) -> int | None:
    """An optional positive integer (leaving it out means no limit)."""
    if key not in table.data:
        return None
    value = table.get(key, int)
    if value < 1:
        raise SettingsError(table.key(key), "must be a positive integer")
    return value
