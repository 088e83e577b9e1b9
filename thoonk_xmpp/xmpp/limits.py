"""Admission of requests: bounded waiting, per sender and in all, and a rate per sender.

Requests are never timed out once taken (see :mod:`thoonk_xmpp.service.outcomes`),
so while Redis is slow or away they wait; these bounds keep that waiting from
growing without limit.  A request over a bound is answered at once and
changes nothing: ``resource-constraint`` (type wait) when too many are waiting,
``policy-violation`` (type wait) when its sender is over its rate.
"""

from __future__ import annotations

import time

from thoonk_xmpp.service.errors import PubSubError
from thoonk_xmpp.service.policy import RequestLimits

from .errors import Overloaded, RateLimited

#: Senders whose rate is tracked; the idlest are forgotten past this many.
_TRACKED = 10_000


class RequestGate:
    """Counts requests waiting for their answer and spends each sender's rate tokens."""

    def __init__(self, limits: RequestLimits) -> None:
        self.limits = limits
        self.pending = 0
        self._pending_of: dict[str, int] = {}
        # sender → (tokens left, monotonic time they were counted)
        self._tokens: dict[str, tuple[float, float]] = {}

    def admit(self, sender: str) -> PubSubError | None:
        """Take a request of ``sender`` (then :meth:`release` it), or the error refusing it."""
        limits = self.limits
        if self.pending >= limits.pending:
            return Overloaded("in all", limits.pending)
        mine = self._pending_of.get(sender, 0)
        if mine >= limits.pending_per_sender:
            return Overloaded("from you", limits.pending_per_sender)
        if limits.rate > 0 and not self._spend(sender):
            return RateLimited(limits.rate)
        self.pending += 1
        self._pending_of[sender] = mine + 1
        return None

    def release(self, sender: str) -> None:
        """A request of ``sender`` was answered."""
        self.pending -= 1
        left = self._pending_of[sender] - 1
        if left:
            self._pending_of[sender] = left
        else:
            del self._pending_of[sender]

    def _spend(self, sender: str) -> bool:
        limits = self.limits
        now = time.monotonic()
        tokens, then = self._tokens.pop(sender, (float(limits.burst), now))
        tokens = min(float(limits.burst), tokens + (now - then) * limits.rate)
        spent = tokens >= 1.0
        self._tokens[sender] = (tokens - 1.0 if spent else tokens, now)  # newest last
        if len(self._tokens) > _TRACKED:
            del self._tokens[next(iter(self._tokens))]
        return spent
