"""The bridge benchmark's summary table: medians, ratios to the server's own pubsub, aims."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.bridge_measure import Options, Result
from bench.common import text_table

Samples = dict[tuple[str, int], list[Result]]


@dataclass(frozen=True)
class References:
    """The server's own pubsub services measured beside ours, and which one each aim uses."""

    names: tuple[str, ...]
    #: Aims: ours publishes at least as fast as ``throughput``, and its latency is at most
    #: twice ``latency``'s.
    throughput: str
    latency: str
    #: The reference whose server and clients the latency floor and routing ceiling use.
    spare: str


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


def rows(
    samples: Samples, relays: Samples, counts: list[int], options: Options, refs: References
) -> list[list[str]]:
    metrics: list[tuple[str, str, Callable[[Result], float], int, bool]] = [
        (f"publish IQs/s (window {options.window})", "throughput", lambda r: r.publishes, 0, True),
        ("notifications/s received", "throughput", lambda r: r.notifications, 0, True),
        (f"latency p50 ms (paced {options.paced_rate:g}/s)", "paced", lambda r: r.p50, 2, False),
        (f"latency p99 ms (paced {options.paced_rate:g}/s)", "paced", lambda r: r.p99, 2, False),
    ]
    blank = ["-"] * (2 * len(refs.names))
    lines: list[list[str]] = []
    for n in counts:
        for label, kind, value, digits, higher_better in metrics:
            ours_results = samples.get((f"ours:{kind}", n))
            ours = _median(ours_results, value)
            theirs = {
                name: _median(samples.get((f"{name}:{kind}", n)), value) for name in refs.names
            }
            if higher_better:
                other = theirs[refs.throughput]
                met = ours is not None and other is not None and ours >= other
                aim = f"ours >= {refs.throughput}: {'met' if met else 'MISSED'}"
            else:
                other = theirs[refs.latency]
                met = ours is not None and other is not None and ours <= 2 * other
                aim = f"ours <= 2x {refs.latency}: {'met' if met else 'MISSED'}"
            lines.append(
                [str(n), label, _number(ours, digits), _spread(ours_results, value)]
                + [_number(theirs[name], digits) for name in refs.names]
                + [_ratio(ours, theirs[name]) for name in refs.names]
                + [aim]
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
                *blank,
                "",
            ]
        )
        floor = relays.get(("floor", n))
        reference_paced = samples.get((f"{refs.latency}:paced", n))
        percentiles: list[tuple[str, Callable[[Result], float]]] = [
            ("p50", lambda r: r.p50),
            ("p99", lambda r: r.p99),
        ]
        for name, value in percentiles:
            floor_value = _median(floor, value)
            reference = _median(reference_paced, value)
            reachable = (
                floor_value is not None and reference is not None and floor_value <= 2 * reference
            )
            lines.append(
                [str(n), f"latency floor {name} ms (paced)", _number(floor_value, 2)]
                + [_spread(floor, value)]
                + [_number(reference, 2) if ref == refs.latency else "-" for ref in refs.names]
                + [
                    _ratio(floor_value, reference) if ref == refs.latency else "-"
                    for ref in refs.names
                ]
                + ["" if floor is None else f"2x aim {'reachable' if reachable else 'BELOW FLOOR'}"]
            )
        ceiling = relays.get(("ceiling", n))
        lines.append(
            [
                str(n),
                "routing ceiling notifications/s",
                _number(_median(ceiling, lambda r: r.notifications), 0),
                _spread(ceiling, lambda r: r.notifications),
                *blank,
                "",
            ]
        )
        multicast = relays.get(("multicast ceiling", n))
        if multicast:
            lines.append(
                [
                    str(n),
                    "multicast ceiling notifications/s",
                    _number(_median(multicast, lambda r: r.notifications), 0),
                    _spread(multicast, lambda r: r.notifications),
                    *blank,
                    "",
                ]
            )
    return lines


def print_report(
    args: argparse.Namespace,
    options: Options,
    samples: Samples,
    relays: Samples,
    placement: str,
    refs: References,
) -> None:
    counts = sorted({n for _, n in samples})
    ours_extra = ", ".join(
        f"{var.removeprefix('pubsub#')}={v}" for var, v in options.ours_node_options.items()
    )
    print()
    print(
        f"Bridge benchmark: median of {args.repeat} run(s); every node pubsub#max_items="
        f"{options.max_items}, persist_items=1 (ours also {ours_extra}, like for like with "
        f"{args.server}, which sends {'a' if args.server == 'ejabberd' else 'no'} retraction"
        " on trim); "
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
        *refs.names,
        *(f"ours/{name}" for name in refs.names),
        "aim",
    )
    lines = rows(samples, relays, counts, options, refs)
    print(text_table(header, lines, left={1, len(header) - 1}))
    print(
        "latency floor: a bare external component (bench/floor_component.py, its own process, no"
        " XML parser, raw RESP) that makes one Redis round trip per publish before answering and"
        f" notifying; 'ours' column = the floor, ours/{refs.latency} = floor / {refs.latency}."
        f" When the floor is above 2x {refs.latency} no Redis-backed component can meet the"
        " latency aim here."
        f"\nrouting ceiling: the most notifications/s any external component gets through the"
        f" {args.server} of {refs.spare} (bare component sending prebuilt messages); the"
        " throughput aim at a subscriber count is out of reach when"
        f" {refs.throughput}'s notifications/s are above it."
    )
    if args.multicast:
        print(
            "ours: our component with [component] multicast = true, multicast_limit = 100: one"
            f" message per event for every 100 subscribers to the {args.server}'s XEP-0033"
            " service, which copies it to each (Prosody: mod_thoonk_multicast)."
            "\nmulticast ceiling: the routing ceiling's bare component sending one such message"
            " per item instead of one per subscriber."
        )
    missing = sum(r.missing for results in (*samples.values(), *relays.values()) for r in results)
    if missing:
        print(f"WARNING: {missing} notifications never arrived (see the MISSING lines above)")
