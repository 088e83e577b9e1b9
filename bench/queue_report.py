"""What bench/queue_bench.py prints: the runs' figures, the table with the ratios, and
where the time goes (CPU per process and per job, Redis commands a job, the XMPP
workers' waits, bench/queue_trace.py's counters)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import text_table

AIM = 0.5


@dataclass(frozen=True)
class Run:
    rate: float
    cpu: dict[str, float]
    calls: float
    latency: tuple[float, float] | None = None


@dataclass
class Figures:
    """Every run's jobs/s and CPU use, by (kind, workers)."""

    rates: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, int], list[dict[str, float]]] = field(default_factory=dict)
    #: Redis commands per job (scripts count once), and (answer ms, wait ms) of XMPP runs.
    calls: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    latency: dict[tuple[str, int], list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, kind: str, workers: int, run: Run) -> None:
        self.rates.setdefault((kind, workers), []).append(run.rate)
        self.cpu.setdefault((kind, workers), []).append(run.cpu)
        self.calls.setdefault((kind, workers), []).append(run.calls)
        if run.latency is not None:
            self.latency.setdefault((kind, workers), []).append(run.latency)

    def median(self, kind: str, workers: int) -> float:
        return statistics.median(self.rates[(kind, workers)])

    def spread(self, kind: str, workers: int) -> str:
        values = self.rates[(kind, workers)]
        if len(values) < 2:
            return "-"
        return f"±{(max(values) - min(values)) / 2 / statistics.median(values):.0%}"

    def cpu_text(self, kind: str, workers: int) -> str:
        """Each process's CPU as % of one core and in ms a job (medians over the runs)."""
        runs = self.cpu[(kind, workers)]
        rates = self.rates[(kind, workers)]
        parts = []
        for name in runs[0]:
            percent = statistics.median(run[name] for run in runs)
            per_job = statistics.median(
                10 * run[name] / rate for run, rate in zip(runs, rates, strict=True)
            )
            parts.append(f"{name} {percent:.0f}% {per_job:.2f}")
        total = statistics.median(
            10 * sum(run.values()) / rate for run, rate in zip(runs, rates, strict=True)
        )
        return " ".join(parts) + f"; all {total:.2f} ms a job"


def report(figures: Figures, counts: Sequence[int]) -> str:
    if "thoonk" not in {kind for kind, _ in figures.rates} or len(figures.rates) < 2 * len(counts):
        rates = "\n".join(
            f"  {kind:6s} {n:2d} workers: {figures.median(kind, n):,.0f} jobs/s"
            for kind, n in figures.rates
        )
        return rates + "\n" + details(figures, counts)
    lines = []
    header = ["workers", "thoonk jobs/s"]
    for kind in ("xmpp", "batch"):
        if (kind, counts[0]) in figures.rates:
            header += [f"{kind} jobs/s", f"{kind}/thoonk", f"aim ≥{AIM}"]
    for workers in counts:
        thoonk = figures.median("thoonk", workers)
        line = [str(workers), f"{thoonk:,.0f} {figures.spread('thoonk', workers)}"]
        for kind in ("xmpp", "batch"):
            if (kind, workers) not in figures.rates:
                continue
            rate = figures.median(kind, workers)
            ratio = rate / thoonk
            line += [
                f"{rate:,.0f} {figures.spread(kind, workers)}",
                f"{ratio:.2f}",
                "met" if ratio >= AIM else "MISSED",
            ]
        lines.append(line)
    return text_table(header, lines, set()) + "\n" + details(figures, counts)


def details(figures: Figures, counts: Sequence[int]) -> str:
    """Where the time goes: CPU per process, Redis commands per job, XMPP worker waits."""
    out = ["CPU (% of one core, ms a job) and Redis commands a job, medians:"]
    for workers in counts:
        for kind in ("thoonk", "xmpp", "batch"):
            if (kind, workers) not in figures.rates:
                continue
            calls = statistics.median(figures.calls[(kind, workers)])
            out.append(
                f"  {kind:6s} {workers:2d} workers: {figures.cpu_text(kind, workers)}; "
                f"{calls:.1f} Redis commands a job"
            )
    for workers in counts:
        for kind in ("xmpp", "batch"):
            pairs = zip(
                figures.rates.get((kind, workers), []),
                figures.rates.get(("thoonk", workers), []),
                strict=False,
            )
            ratios = " ".join(f"{rate / thoonk:.2f}" for rate, thoonk in pairs)
            if ratios:
                out.append(f"  {kind}/thoonk {workers:2d} workers, run by run: {ratios}")
    for (kind, workers), runs in sorted(figures.latency.items()):
        answer = statistics.median(a for a, _ in runs)
        wait = statistics.median(w for _, w in runs)
        out.append(
            f"  {kind:5s} {workers:2d} workers, per finish IQ at a worker: items -> finish "
            f"answered {answer:.1f} ms, answer -> next items {wait:.1f} ms"
        )
    return "\n".join(out)


def trace_report(path: Path, timed: float, jobs: int) -> str:
    """bench/queue_trace.py's counters beside the runs' own time."""
    found = json.loads(path.read_text())
    out = [f"component wall time by step over {timed:.1f} s of runs ({jobs} jobs):"]
    for name, (calls, seconds) in sorted(found["counters"].items(), key=lambda kv: -kv[1][1]):
        mean = 1000 * seconds / calls if calls else 0.0
        out.append(
            f"  {name.partition(':')[2]:40s} {calls:7d} calls ({calls / jobs:5.2f} a job) "
            f"mean {mean:6.2f} ms, {seconds:6.2f} s = {seconds / timed:4.0%} of the runs"
        )
    out.extend(f"  (not found: {name})" for name in found["missing"])
    return "\n".join(out)
