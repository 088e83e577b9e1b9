"""What the shared-delivery fault test measured (:mod:`tests.integration.shared_faults`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tests.integration.fault_load import Subscriber, ThoonkPublisher, XmppPublisher
from tests.integration.faults import Tally

Balancing = Literal["bare_source", "random"]


@dataclass
class Moments:
    """When things happened during the exercise (epoch seconds)."""

    killed_at: float = 0.0
    #: Every lease was the survivor's (it took the killed one's slots, caught up or not).
    took_over_at: float = 0.0
    #: The killed one was started again, and it served (its route at ejabberd is back).
    rejoin_at: float = 0.0
    back_at: float = 0.0
    #: The new instance held its share of the slots, the survivor the rest.
    rebalanced_at: float = 0.0


@dataclass
class SharedReport:
    """Everything the shared-delivery fault test asserts on."""

    balancing: Balancing
    stored: dict[str, float]  # id → score (epoch ms)
    node_of: dict[str, str]
    publishers: list[XmppPublisher]
    subscribers: list[Subscriber]
    #: Index of the instance each publisher's requests reached before the kill (None: random).
    served_by: list[int | None]
    thoonk: ThoonkPublisher
    tallies: list[Tally]
    moments: Moments
    #: Nodes whose slots moved at the kill and at the rejoin.
    moved_at_kill: set[str]
    moved_at_rejoin: set[str]
    rss_mb: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    def stored_at(self, item_id: str) -> float:
        return self.stored[item_id] / 1000

    def twice(self, moment: float, after: float, before: float) -> list[float]:
        """When each item some subscriber got twice was stored, in s after ``moment``,
        for those stored between ``after`` and ``before``."""
        return sorted(
            self.stored_at(i) - moment
            for t in self.tallies
            for i in t.duplicates
            if after <= self.stored_at(i) < before
        )

    def _twice_lines(self) -> list[str]:
        m, lines = self.moments, []
        between = (m.killed_at + m.rejoin_at) / 2
        for name, moment, after, before in (
            ("the kill", m.killed_at, 0.0, between),
            ("the rejoin", m.rejoin_at, between, float("inf")),
        ):
            times = self.twice(moment, after, before)
            if times:
                lines.append(
                    f"  {len(times)} duplicates (all subscribers) around {name}: stored"
                    f" {times[0]:+.2f} s to {times[-1]:+.2f} s from it"
                )
        return lines

    def _caught_up_lines(self) -> list[str]:
        """How soon the items stored while the killed instance's nodes had nobody
        arrived after the survivor took them."""
        m = self.moments
        gap = [
            i
            for i in self.stored
            if m.killed_at <= self.stored_at(i) <= m.took_over_at
            and self.node_of[i] in self.moved_at_kill
        ]
        last = max(
            (s.first_at[i] for s in self.subscribers for i in gap if i in s.first_at),
            default=m.took_over_at,
        )
        return [
            f"  {len(gap)} items stored on the killed instance's nodes between the kill and the"
            f" takeover; the last arrived {last - m.took_over_at:.2f} s after the takeover"
        ]

    @property
    def text(self) -> str:
        m = self.moments
        lines = [f"two instances, ejabberd balancing {self.balancing}: kill -9 one, start it again"]
        for n, (p, by) in enumerate(zip(self.publishers, self.served_by, strict=True)):
            unanswered_stored = p.unanswered & set(self.stored)
            lines.append(
                f"  XMPP publisher {n} (to instance {by if by is not None else 'any'}):"
                f" {len(p.sent_at)} sent, {len(p.acked)} acked, {len(p.errors)} errors"
                f" {dict(sorted(p.errors.items())[:5])}, {len(p.unanswered)} unanswered"
                f" ({len(unanswered_stored)} of them stored)"
            )
        lines += [
            f"  Thoonk publisher: {len(self.thoonk.acked)} acked, {len(self.thoonk.failed)} failed",
            f"  stored {len(self.stored)} on {len(set(self.node_of.values()))} nodes",
            *(t.line(f"subscriber {n}") for n, t in enumerate(self.tallies, 1)),
            f"  the survivor held every slot {m.took_over_at - m.killed_at:.2f} s after the kill;"
            f" the killed one served again {m.back_at - m.killed_at:.2f} s after it, slots"
            f" rebalanced {m.rebalanced_at - m.rejoin_at:.2f} s after its start",
            f"  nodes moved at the kill {sorted(self.moved_at_kill)},"
            f" at the rejoin {sorted(self.moved_at_rejoin)}",
            *self._caught_up_lines(),
            *self._twice_lines(),
            f"  survivor RSS: {self.rss_mb[0]:.1f} MB before the load, {self.rss_mb[1]:.1f} MB after",
            *self.notes,
        ]
        return "\n".join(lines)
