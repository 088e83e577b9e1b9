"""Item serializers: how a feed turns Python values into stored bytes and back.

Items are bytes on the wire.  A feed opened without a codec speaks ``str``
(UTF-8; bytes are accepted on the way in).  ``BYTES`` keeps raw bytes and
``JSON`` stores any JSON-serialisable value.
"""

from __future__ import annotations

import json
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Codec(Protocol[T]):
    """Converts items of type ``T`` to bytes and back."""

    def encode(self, value: T) -> bytes: ...

    def decode(self, data: bytes) -> T: ...


class TextCodec:
    """UTF-8 text; undecodable bytes from other writers survive as surrogates."""

    def encode(self, value: str | bytes) -> bytes:
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise TypeError(f"a text feed stores str or bytes, not {type(value).__name__}")
        return value.encode("utf-8", "surrogateescape")

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8", "surrogateescape")


class BytesCodec:
    """Raw bytes, untouched."""

    def encode(self, value: bytes) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"a bytes feed stores bytes, not {type(value).__name__}")
        return bytes(value)

    def decode(self, data: bytes) -> bytes:
        return data


class JSONCodec(Generic[T_co]):
    """JSON documents (compact separators, UTF-8)."""

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


TEXT = TextCodec()
BYTES = BytesCodec()
JSON: JSONCodec[Any] = JSONCodec()
