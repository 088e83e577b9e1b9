"""Delivery bookkeeping: how far events went out, and what a catch-up must send again.

Events are sent as notices arrive, but notices are fire-and-forget: none
reaches a listener that is reconnecting to Redis, and an event made while the
link to the XMPP server is down cannot be sent.  So the router keeps, in
Redis, a watermark per slot of nodes (:data:`SLOTS` slots, nodes hashed onto
them): every item scored at or below it was delivered.  After any gap (start,
XMPP link back, notice subscription renewed, a slot taken over) the router
sends the items stored above the watermark (:mod:`.catch_up`).

The watermark moves by marks: every ``mark_interval`` the :class:`Ledger`
publishes a mark (Redis time) on this instance's mark channel.  Pub/sub keeps
order, so once the mark has come back through the notice subscription and
through the router's queues with no gap meanwhile, every notice published
before it was handed to the sink: its time, less ``margin`` (thoonk.js and
thoonk.py store an item before publishing its notice), is committed with the
next mark.

Within one process the ledger also remembers what it sent lately, so a
catch-up after a Redis blip does not repeat items already delivered, and a
live notice for an item a catch-up just sent is not delivered twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

#: Nodes are spread over this many slots; each slot is delivered by one instance.
SLOTS: Final = 64


def slot_of(node: str) -> int:
    """The slot of a node: a stable hash of its name (the same in every process)."""
    digest = hashlib.sha1(node.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:2], "big") % SLOTS


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How delivery is tracked and how far a catch-up reaches back."""

    #: Seconds between delivery marks (how stale a committed watermark may be).
    mark_interval: float = 0.5
    #: Seconds subtracted from a mark before it is committed.
    margin: float = 1.0
    #: Newest items a catch-up sends per node at most.
    catch_up_items: int = 10_000
    #: Oldest item a catch-up sends, in seconds before now.
    catch_up_age: float = 3600.0
    #: Events other than items (retract, purge, config, delete) kept while the link is down.
    held_events: int = 10_000
    #: Seconds before a lost XMPP link within which what was sent is sent again.
    in_flight: float = 0.25
    #: Several instances share the Redis: each delivers the slots it leases.
    shared: bool = False
    #: Seconds a lease lasts unless renewed (how soon a dead instance's slots move).
    lease_time: float = 5.0
    #: Seconds between lease renewals.
    lease_interval: float = 1.0


#: node → item id → (CRC-32 of the item, mark count and monotonic time when recorded)
_Seen = dict[str, dict[str, tuple[int, int, float]]]


class Ledger:
    """What this instance delivered since its last committed watermark, and its marks."""

    def __init__(self, policy: DeliveryPolicy) -> None:
        self.policy = policy
        #: True from a gap (link or notices lost) until a catch-up has run.
        self.gap = False
        #: Whether events can reach their recipients (the XMPP link is up).
        self.link_up = True
        #: Items not sent because of a gap (a catch-up sends them), in all.
        self.dropped = 0
        #: Items sent by catch-ups, in all.
        self.caught_up_total = 0
        self._dropped_since_gap = 0
        self._gap_began = time.monotonic()
        self._gaps = 0
        self._marks = 0
        # mark time → (its number, the gap count when it was published)
        self._issued: dict[int, tuple[int, int]] = {}
        # marks that came back before the call that published them returned
        self._early: set[int] = set()
        self._to_commit: int | None = None
        #: The time of the newest mark of ours that went through the router.
        self.passed = 0
        self._sent: _Seen = {}
        self._caught: _Seen = {}
        # (node, id) of a caught-up item → notices queued before its read
        self._older: dict[tuple[str, str], int] = {}
        self._order: deque[tuple[int, str, str, bool]] = deque()

    # --- gaps -----------------------------------------------------------------------

    def begin_gap(self, *, link_lost: bool = False) -> None:
        """Events can no longer be delivered in order (the link or the notices were lost).

        When the XMPP link was lost, what was handed on in its last ``in_flight``
        seconds may not have reached its recipients: that is forgotten, so the catch-up
        sends it again.  So even when the server closed the link in order: we notice a
        close only when our loop next reads the socket, and what we wrote meanwhile
        went nowhere; a server shutting down may also close the sessions it would have
        routed our last stanzas to.
        """
        if not self.gap:
            self.gap = True
            self._gaps += 1
            self._gap_began = time.monotonic()
            self._dropped_since_gap = 0
        if link_lost:
            self._forget_sent_since(time.monotonic() - self.policy.in_flight)

    def end_gap(self) -> tuple[float, int]:
        """A catch-up is about to run: (seconds the gap lasted, items dropped in it)."""
        self.gap = False
        return time.monotonic() - self._gap_began, self._dropped_since_gap

    def drop(self) -> None:
        self.dropped += 1
        self._dropped_since_gap += 1

    # --- marks -------------------------------------------------------------------------

    @property
    def gaps(self) -> int:
        """How many gaps began so far: read it before publishing a mark."""
        return self._gaps

    def mark_issued(self, at_ms: int, gaps: int) -> None:
        """A mark was published at ``at_ms``, when :attr:`gaps` was ``gaps``.

        The mark may have come back through the notice subscription already (the
        listener can read it before the publishing call returns): it passes now.
        """
        self._marks += 1
        self._issued[at_ms] = (self._marks, gaps)
        early, self._early = self._early, {t for t in self._early if t > at_ms}
        if at_ms in early:
            self.mark_passed(at_ms)

    def mark_passed(self, at_ms: int) -> None:
        """A mark of ours went through the router: commit it unless a gap came between."""
        issued = self._issued.pop(at_ms, None)
        if issued is None:
            if at_ms > self.passed:
                self._early.add(at_ms)  # back before mark_issued: it passes there
            return
        self.passed = max(self.passed, at_ms)
        number, gaps = issued
        for older in [t for t in self._issued if t < at_ms]:
            del self._issued[older]  # lost with an old subscription: never coming
        if gaps != self._gaps or self.gap:
            return
        self._to_commit = at_ms - round(self.policy.margin * 1000)
        self._prune(number)

    def take_commit(self) -> int | None:
        """The watermark to commit with the next mark, once."""
        commit, self._to_commit = self._to_commit, None
        return commit

    def _prune(self, passed: int) -> None:
        """Forget items sent before the marks that the committed watermark covers."""
        covered = self.policy.margin / max(self.policy.mark_interval, 1e-3)
        keep_from = passed - int(covered) - 2
        order = self._order
        while order and order[0][0] < keep_from:
            _, node, item_id, caught = order.popleft()
            seen = (self._caught if caught else self._sent).get(node)
            if seen is not None and seen.get(item_id, (0, keep_from, 0.0))[1] < keep_from:
                del seen[item_id]
                if caught:
                    self._older.pop((node, item_id), None)
                if not seen:
                    del (self._caught if caught else self._sent)[node]

    # --- items ---------------------------------------------------------------------------

    def sent(self, node: str, item_id: str, digest: int) -> None:
        """An item was handed to the sink while the link was up."""
        self._remember(self._sent, node, item_id, digest, caught=False)

    def caught_up(self, node: str, item_id: str, digest: int, older_than: int) -> None:
        """A catch-up sends this item as read when ``older_than`` notices had been queued:
        its live notice, if it comes, is not sent again, nor any older one of its id."""
        self._remember(self._caught, node, item_id, digest, caught=True)
        self._older[(node, item_id)] = older_than

    def was_sent(self, node: str, item_id: str, digest: int) -> bool:
        """Whether this very item (same id and content) was sent lately."""
        return self._sent.get(node, {}).get(item_id, (None, 0, 0.0))[0] == digest

    def take_caught(
        self, node: str, item_id: str, digest: int, position: int | None = None
    ) -> bool:
        """Whether a live notice is one a catch-up made needless: the very item it sent,
        or one of its id queued before its read (``position``: the notice's place in the
        routing queue; an older edit would otherwise follow the newer content)."""
        seen = self._caught.get(node)
        if seen is None or item_id not in seen:
            return False
        older_than = self._older.get((node, item_id), 0)
        if position is not None and position <= older_than:
            return True
        same = seen[item_id][0] == digest
        del seen[item_id]
        self._older.pop((node, item_id), None)
        return same

    def sent_in(self, slots: frozenset[int]) -> list[tuple[str, str, int]]:
        """(node, item id, CRC-32) of every item of these slots' nodes handed to the sink
        lately while the link was up (live or by a catch-up): what a hand-over records.
        Not what a catch-up only read: it may not have gone out yet, or a lost link may
        have lost it (that forgets only sends)."""
        return [
            (node, item_id, digest)
            for node, items in self._sent.items()
            if slot_of(node) in slots
            for item_id, (digest, _, _) in items.items()
        ]

    def sent_by_others(self, sent: list[tuple[str, str, int]]) -> None:
        """Items the instance that handed slots over to this one had sent (a catch-up of
        those slots skips them)."""
        for node, item_id, digest in sent:
            self.sent(node, item_id, digest)

    def forget(self, node: str, item_id: str | None = None) -> None:
        """An item (or all of a node) was retracted: a later item of the same id and
        content is new, not one already sent."""
        for seen in (self._sent, self._caught):
            if item_id is None:
                seen.pop(node, None)
            elif node in seen:
                seen[node].pop(item_id, None)

    def _remember(self, seen: _Seen, node: str, item_id: str, digest: int, *, caught: bool) -> None:
        seen.setdefault(node, {})[item_id] = (digest, self._marks, time.monotonic())
        self._order.append((self._marks, node, item_id, caught))

    def _forget_sent_since(self, moment: float) -> None:
        """Forget items handed on after ``moment``: they may not have left before the loss."""
        for node in list(self._sent):
            seen = self._sent[node]
            for item_id in [i for i, (_, _, at) in seen.items() if at > moment]:
                del seen[item_id]
            if not seen:
                del self._sent[node]
