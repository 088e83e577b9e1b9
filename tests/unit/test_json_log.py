"""[log] format: JSON lines (time, level, logger, message, extra fields) or plain text."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from thoonk_xmpp.xmpp.json_log import JsonFormatter
from thoonk_xmpp.xmpp.runner import configure_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("thoonk_xmpp.test", logging.WARNING, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    entry.created = 1796000000.25
    return entry


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    line = JsonFormatter().format(record("refused %s\nnext", "publish", verb="publish", node=None))

    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-30T00:53:20.250Z",
        "level": "warning",
        "logger": "thoonk_xmpp.test",
        "message": "refused publish\nnext",
        "verb": "publish",
        "node": None,
    }


def test_exceptions_and_unserialisable_extras_become_text() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        entry = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "failed", None, exc_info=sys.exc_info()
        )
    entry.__dict__["where"] = object()

    parsed = json.loads(JsonFormatter().format(entry))

    assert parsed["message"] == "failed"
    assert "RuntimeError: boom" in parsed["exception"]
    assert parsed["where"].startswith("<object object")


@pytest.mark.parametrize("level", ["debug", "info"])
def test_configure_logging_json_writes_json_lines(level: str) -> None:
    stream = io.StringIO()
    configure_logging(level, stream, format="json")

    logging.getLogger("thoonk_xmpp.x").info("serving %s", "pubsub.localhost", extra={"n": 3})
    logging.getLogger("thoonk_xmpp.x").debug("detail")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "serving pubsub.localhost"
    assert lines[0]["level"] == "info"
    assert lines[0]["logger"] == "thoonk_xmpp.x"
    assert lines[0]["n"] == 3
    assert len(lines) == (2 if level == "debug" else 1)


def test_configure_logging_plain_writes_text_lines() -> None:
    stream = io.StringIO()
    configure_logging("info", stream)

    logging.getLogger("thoonk_xmpp.x").info("serving %s", "pubsub.localhost")

    assert stream.getvalue().endswith(" INFO thoonk_xmpp.x: serving pubsub.localhost\n")
