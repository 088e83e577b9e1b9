"""Helpers shared by the benchmarks: timed caller loops, redis-benchmark, medians and tables.

Nothing here knows Thoonk: the Thoonk benchmark and a later bridge benchmark
both build on it.  Numbers are medians of repeated runs because the machine
is small and shared; ratios compare our rate with a ceiling measured on the
same server with the same number of connections.
"""

from __future__ import annotations

import asyncio
import csv
import io
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tools.localservers import require

#: One call of the operation under test; returns how many units it completed.
Step = Callable[[], Awaitable[int]]


async def rate(
    steps: Sequence[Step],
    seconds: float,
    *,
    warmup: float = 0.2,
    counter: Callable[[], int] | None = None,
) -> float:
    """Units per second completed by ``steps`` running concurrently, one task each.

    Every task loops over its step; units finished during ``warmup`` are not
    counted, and the window is measured, not assumed.  With ``counter`` the
    units are read from it (e.g. notices received) instead of from the steps.
    """
    counted = 0
    counting = False
    stop = False

    async def loop(step: Step) -> None:
        nonlocal counted
        while not stop:
            done = await step()
            if counting:
                counted += done

    tasks = [asyncio.create_task(loop(step)) for step in steps]
    try:
        await asyncio.sleep(warmup)
        before = counter() if counter else 0
        counting = True
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        counting = False
        elapsed = time.perf_counter() - start
        if counter:
            counted = counter() - before
        stop = True
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return counted / elapsed


async def redis_benchmark(
    port: int,
    command: Sequence[str | bytes],
    *,
    clients: int,
    requests: int,
    pipeline: int = 1,
    keyspace: int | None = 2_000_000_000,
) -> float:
    """Requests per second that ``redis-benchmark`` reaches with ``command``.

    ``__rand_int__`` in an argument becomes a fresh 12-digit number per call
    when ``keyspace`` is set.  Commands are always given explicitly: named
    tests (``-t publish``) are ignored by some versions.
    """
    binary = require("redis-benchmark", "redis-tools")
    args: list[str | bytes] = [binary, "-h", "127.0.0.1", "-p", str(port), "-c", str(clients)]
    args += ["-n", str(requests), "-P", str(pipeline), "--csv"]
    if keyspace is not None:
        args += ["-r", str(keyspace)]
    args += command
    process = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    text = out.decode()
    rows = list(csv.reader(io.StringIO(text)))
    if process.returncode or len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        raise RuntimeError(f"redis-benchmark failed: {text!r} {err.decode()!r}")
    return float(rows[1][1])


async def calibrated_redis_benchmark(
    port: int,
    command: Sequence[str | bytes],
    *,
    clients: int,
    seconds: float,
    pipeline: int = 1,
    keyspace: int | None = 2_000_000_000,
    reset: Callable[[], Awaitable[None]] | None = None,
) -> float:
    """Like :func:`redis_benchmark`, with a request count sized to last about ``seconds``.

    A short probe run sizes the real one; ``reset`` (if given) runs between
    them so that the real run starts from the same data as ours did.
    """
    probe = max(200, 50 * clients * pipeline)
    first = await redis_benchmark(
        port, command, clients=clients, requests=probe, pipeline=pipeline, keyspace=keyspace
    )
    if reset is not None:
        await reset()
    requests = max(probe, int(first * seconds))
    return await redis_benchmark(
        port, command, clients=clients, requests=requests, pipeline=pipeline, keyspace=keyspace
    )


async def chained_redis_benchmark(
    port: int,
    commands: Sequence[Sequence[str | bytes]],
    *,
    clients: int,
    seconds: float,
    keyspace: int | None = 2_000_000_000,
    reset: Callable[[], Awaitable[None]] | None = None,
) -> list[float]:
    """Rates of commands that each consume what the one before produced (put, then get).

    Each stage is probed, ``reset`` runs, then the stages run in order, each
    sized to about ``seconds`` but never asking for more than the stage before
    it produced (a get on an empty queue would be cheaper work).
    """
    probe = max(200, 50 * clients)
    probes = [
        await redis_benchmark(port, c, clients=clients, requests=probe, keyspace=keyspace)
        for c in commands
    ]
    if reset is not None:
        await reset()
    budget = max(probe, int(max(probes) * seconds))
    rates: list[float] = []
    for command, first in zip(commands, probes, strict=True):
        budget = min(budget, max(probe, int(first * seconds))) if rates else budget
        rates.append(
            await redis_benchmark(
                port, command, clients=clients, requests=budget, keyspace=keyspace
            )
        )
    return rates


def serial_rate(*rates: float) -> float:
    """Rate of a composite operation whose parts run one after another."""
    return 1.0 / sum(1.0 / r for r in rates)


@dataclass
class Row:
    """One line of a report: our samples and the ceiling samples for one operation."""

    operation: str
    callers: int
    unit: str = "ops/s"
    aim: float | None = None
    ours: list[float] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)

    @property
    def ours_median(self) -> float | None:
        return statistics.median(self.ours) if self.ours else None

    @property
    def ceiling_median(self) -> float | None:
        return statistics.median(self.ceiling) if self.ceiling else None

    @property
    def ratio(self) -> float | None:
        """Median of the per-run ratios (each run's ours and ceiling were measured
        back to back, so noise that hits both cancels); else ratio of medians."""
        if self.ours and len(self.ours) == len(self.ceiling) and all(self.ceiling):
            return statistics.median(o / c for o, c in zip(self.ours, self.ceiling, strict=True))
        ours, ceiling = self.ours_median, self.ceiling_median
        if ours is None or not ceiling:
            return None
        return ours / ceiling


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _spread(values: Sequence[float]) -> str:
    """Relative spread (max - min) / median, a hint of how noisy a median is."""
    if len(values) < 2:
        return "-"
    middle = statistics.median(values)
    return f"±{(max(values) - min(values)) / middle / 2:.0%}" if middle else "-"


def table(rows: Sequence[Row]) -> str:
    """A plain-text table: operation, callers, ours, ceiling, ratio and the aim."""
    header = ("operation", "callers", "unit", "ours", "spread", "ceiling", "ratio", "aim")
    lines: list[tuple[str, ...]] = []
    for row in rows:
        ratio = row.ratio
        if row.aim is None:
            aim = ""
        elif ratio is None:
            aim = f">={row.aim:.0%}"
        else:
            aim = f">={row.aim:.0%} {'met' if ratio >= row.aim else 'MISSED'}"
        lines.append(
            (
                row.operation,
                str(row.callers),
                row.unit,
                _number(row.ours_median),
                _spread(row.ours),
                _number(row.ceiling_median),
                "-" if ratio is None else f"{ratio:.0%}",
                aim,
            )
        )
    return text_table(header, lines, left={0, 2, 7})


def text_table(header: Sequence[str], lines: Sequence[Sequence[str]], left: set[int]) -> str:
    """Plain-text columns: cells in ``left`` are left-aligned, the others right-aligned."""
    rows = [tuple(header), *(tuple(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


async def until(holds: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Return once ``holds()`` (polled every 5 ms); RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
