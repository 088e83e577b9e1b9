"""Profile our component process with py-spy while a benchmark run loads it."""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

#: py-spy raw frames look like ``function (path/to/file.py:123)``.
_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")
TOP = 20


def _function(frame: str) -> str:
    """``function (package/module.py)`` without the line number, paths shortened."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    name, path = match.groups()
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _plumbing(name: str) -> bool:
    """Frames every sample passes through (the event loop, ``main``)."""
    return any(
        part in name
        for part in ("asyncio/base_events.py", "asyncio/runners.py", "runpy", "thoonk_xmpp/cli/")
    ) or name.startswith(("<module> ", "Handle._run "))


def summarize(raw: Path) -> str:
    """Top functions by own time and by inclusive time from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "  (no samples)"
    out = [f"  {total} CPU samples at 200 Hz (idle time is not sampled); top by own time:"]
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(TOP)]
    out.append("  top by inclusive time (event loop and start-up frames left out):")
    shown = [(name, n) for name, n in inclusive.most_common() if not _plumbing(name)]
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in shown[:TOP]]
    return "\n".join(out)


async def profiled(
    pid: int, directory: str, label: str, work: Callable[[], Awaitable[None]]
) -> None:
    """Run ``work`` while py-spy samples ``pid``; print a summary, keep the raw file.

    ``directory`` must exist.
    """
    spy = shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed (pip install py-spy); no profile")
        return
    raw = Path(directory) / f"component-{label}.txt"
    process = await asyncio.create_subprocess_exec(
        spy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        "200",
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(raw),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(1.0)  # let py-spy attach
    try:
        await work()
    finally:
        process.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        _, err = await asyncio.wait_for(process.communicate(), 30)
    print(f"\nprofile of our component during {label} (py-spy, raw stacks in {raw}):")
    if not raw.exists():
        print(f"  py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")
        return
    print(summarize(raw))
