"""Our component with wall-time counters on the job-node path (bench only):
``python -m bench.queue_trace OUT.json run --config FILE``.

Wraps the coroutine methods named in :data:`TRACED` (those that exist) so each call's
wall time — its Redis round trips and waits included, unlike a CPU profile — is added
up, then runs the ``thoonk-xmpp`` command with the remaining arguments. At exit it
writes ``{"module:Class.method": [calls, seconds], ...}`` to OUT.json.
``bench/queue_bench.py --trace`` prints them beside the runs' own time: a step whose
seconds come near the run's is where a serial path spends it.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

#: The job-node path: the XMPP finish, the dispatcher's loop steps, the scripts they run.
TRACED = (
    "thoonk_xmpp.service.queueing:QueueOps.retract_queued",
    "thoonk_xmpp.service.dispatch:QueueDispatcher.dispatch",
    "thoonk_xmpp.service.dispatch:QueueDispatcher._tell_publishers",
    "thoonk_xmpp.service.queue_store:QueueStore.hand",
    "thoonk_xmpp.service.queue_store:QueueStore.done",
    "thoonk_xmpp.service.queue_store:QueueStore.finished",
    "thoonk_xmpp.service.store:NodeStore.states_of",
)

counters: dict[str, list[float]] = {}


def traced(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    counter = counters.setdefault(name, [0, 0.0])

    @functools.wraps(method)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            counter[0] += 1
            counter[1] += time.perf_counter() - began

    return timed


def install() -> list[str]:
    """Wrap every target found; the names not found."""
    missing = []
    for name in TRACED:
        module_name, _, qualified = name.partition(":")
        class_name, _, method_name = qualified.partition(".")
        try:
            owner = getattr(importlib.import_module(module_name), class_name)
            method = getattr(owner, method_name)
        except (ImportError, AttributeError):
            missing.append(name)
            continue
        setattr(owner, method_name, traced(name, method))
    return missing


def main() -> int:
    out = Path(sys.argv[1])
    missing = install()
    atexit.register(lambda: out.write_text(json.dumps({"counters": counters, "missing": missing})))
    from thoonk_xmpp.cli import main as thoonk_xmpp

    return thoonk_xmpp(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
