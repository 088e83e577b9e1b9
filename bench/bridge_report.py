"""The bridge benchmark's summary table: medians, ratios to both Prosody storages, aims."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

from bench.bridge_measure import OURS_NODE_OPTIONS, Options, Result
from bench.common import text_table

Samples = dict[tuple[str, int], list[Result]]

#: Aims printed beside the ratios.
THROUGHPUT_AIM = "ours >= prosody-file"
LATENCY_AIM = "ours <= 2x prosody-memory"


def _median(results: list[Result] | None, value: Callable[[Result], float]) -> float | None:
    if not results:
        return None
    return statistics.median(value(r) for r in results)


def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(ours: float | None, other: float | None) -> str:
    if ours is None or not other:
        return "-"
    return f"{ours / other:.2f}x"


def _spread(results: list[Result] | None, value: Callable[[Result], float]) -> str:
    if not results or len(results) < 2:
        return "-"
    values = [value(r) for r in results]
    middle = statistics.median(values)
    return f"±{(max(values) - min(values)) / middle / 2:.0%}" if middle else "-"


def _per_subscriber(n: int) -> Callable[[Result], float]:
    return lambda r: r.notifications / n


def rows(samples: Samples, relays: Samples, counts: list[int], options: Options) -> list[list[str]]:
    metrics: list[tuple[str, str, Callable[[Result], float], int, bool]] = [
        (f"publish IQs/s (window {options.window})", "throughput", lambda r: r.publishes, 0, True),
        ("notifications/s received", "throughput", lambda r: r.notifications, 0, True),
        (f"latency p50 ms (paced {options.paced_rate:g}/s)", "paced", lambda r: r.p50, 2, False),
        (f"latency p99 ms (paced {options.paced_rate:g}/s)", "paced", lambda r: r.p99, 2, False),
    ]
    lines: list[list[str]] = []
    for n in counts:
        for label, kind, value, digits, higher_better in metrics:
            ours_results = samples.get((f"ours:{kind}", n))
            ours = _median(ours_results, value)
            memory = _median(samples.get((f"prosody-memory:{kind}", n)), value)
            files = _median(samples.get((f"prosody-file:{kind}", n)), value)
            if higher_better:
                met = ours is not None and files is not None and ours >= files
                aim = f"{THROUGHPUT_AIM}: {'met' if met else 'MISSED'}"
            else:
                met = ours is not None and memory is not None and ours <= 2 * memory
                aim = f"{LATENCY_AIM}: {'met' if met else 'MISSED'}"
            lines.append(
                [
                    str(n),
                    label,
                    _number(ours, digits),
                    _spread(ours_results, value),
                    _number(memory, digits),
                    _number(files, digits),
                    _ratio(ours, memory),
                    _ratio(ours, files),
                    aim,
                ]
            )
        relay = relays.get(("relay", n))
        per_subscriber = _per_subscriber(n)
        items = _median(relay, per_subscriber)
        lines.append(
            [
                str(n),
                "Thoonk relay items/s to all subs",
                _number(items, 0),
                _spread(relay, per_subscriber),
            ]
            + ["-"] * 4
            + [""]
        )
        floor = relays.get(("floor", n))
        memory_paced = samples.get(("prosody-memory:paced", n))
        percentiles: list[tuple[str, Callable[[Result], float]]] = [
            ("p50", lambda r: r.p50),
            ("p99", lambda r: r.p99),
        ]
        for name, value in percentiles:
            floor_value = _median(floor, value)
            memory = _median(memory_paced, value)
            reachable = floor_value is not None and memory is not None and floor_value <= 2 * memory
            lines.append(
                [
                    str(n),
                    f"latency floor {name} ms (paced)",
                    _number(floor_value, 2),
                    _spread(floor, value),
                    _number(memory, 2),
                    "-",
                    _ratio(floor_value, memory),
                    "-",
                    ""
                    if floor is None
                    else f"2x aim {'reachable' if reachable else 'BELOW FLOOR'}",
                ]
            )
        ceiling = relays.get(("ceiling", n))
        lines.append(
            [
                str(n),
                "routing ceiling notifications/s",
                _number(_median(ceiling, lambda r: r.notifications), 0),
                _spread(ceiling, lambda r: r.notifications),
            ]
            + ["-"] * 4
            + [""]
        )
    return lines


def print_report(
    args: argparse.Namespace, options: Options, samples: Samples, relays: Samples, placement: str
) -> None:
    counts = sorted({n for _, n in samples})
    ours_extra = ", ".join(
        f"{var.removeprefix('pubsub#')}={v}" for var, v in OURS_NODE_OPTIONS.items()
    )
    print()
    print(
        f"Bridge benchmark: median of {args.repeat} run(s); every node pubsub#max_items="
        f"{options.max_items}, persist_items=1 (ours also {ours_extra}, like for like with "
        "Prosody, which sends no retraction on trim); "
        f"payloads ~{args.payload_bytes} bytes; one publisher "
        f"keeping {options.window} publish IQs outstanding for {options.seconds:g} s after "
        f"{options.warmup:g} s warm-up (at most {options.items} publishes); latency from "
        f"{options.paced_items} publishes at {options.paced_rate:g}/s, payload timestamp to "
        f"subscriber receipt; Thoonk relay: {options.relay_items} items in publish_many batches of "
        f"{options.relay_batch}, items/s = items delivered to every subscriber / (last "
        "notification - first publish)."
    )
    print(placement)
    header = (
        "subs",
        "metric",
        "ours",
        "spread",
        "prosody-mem",
        "prosody-file",
        "ours/mem",
        "ours/file",
        "aim",
    )
    print(text_table(header, rows(samples, relays, counts, options), left={1, 8}))
    print(
        "latency floor: a bare external component (bench/floor_component.py, its own process, no"
        " XML parser, raw RESP) that makes one Redis round trip per publish before answering and"
        " notifying; 'ours' column = the floor, ours/mem = floor / prosody-memory. When the floor"
        " is above 2x prosody-memory no Redis-backed component can meet the latency aim here."
        "\nrouting ceiling: the most notifications/s any external component gets through Prosody"
        " B (bare component sending prebuilt messages); the throughput aim at a subscriber count"
        " is out of reach when prosody-file's notifications/s are above it."
    )
    missing = sum(r.missing for results in (*samples.values(), *relays.values()) for r in results)
    if missing:
        print(f"WARNING: {missing} notifications never arrived (see the MISSING lines above)")
