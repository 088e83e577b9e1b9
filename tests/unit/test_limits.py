"""The request gate: waiting requests bounded per sender and in all, a rate per sender."""

from __future__ import annotations

from thoonk_xmpp.service.policy import RequestLimits
from thoonk_xmpp.xmpp.errors import Overloaded, RateLimited, spec_for
from thoonk_xmpp.xmpp.limits import RequestGate


def test_waiting_requests_are_bounded_per_sender_and_in_all() -> None:
    gate = RequestGate(RequestLimits(pending_per_sender=2, pending=3))
    assert gate.admit("a@x/1") is None
    assert gate.admit("a@x/1") is None
    refusal = gate.admit("a@x/1")
    assert isinstance(refusal, Overloaded)
    assert (spec_for(refusal).type, spec_for(refusal).condition) == ("wait", "resource-constraint")
    assert gate.admit("b@x/1") is None
    assert isinstance(gate.admit("c@x/1"), Overloaded)  # three wait in all
    gate.release("a@x/1")
    assert gate.admit("c@x/1") is None
    for sender in ("a@x/1", "b@x/1", "c@x/1"):
        gate.release(sender)
    assert gate.pending == 0


def test_a_sender_past_its_burst_is_refused_until_tokens_come_back() -> None:
    slow = RequestGate(RequestLimits(rate=0.001, burst=2))
    assert slow.admit("a@x/1") is None
    assert slow.admit("a@x/1") is None
    refusal = slow.admit("a@x/1")
    assert isinstance(refusal, RateLimited)
    assert (spec_for(refusal).type, spec_for(refusal).condition) == ("wait", "policy-violation")
    assert slow.admit("b@x/1") is None  # each sender has its own allowance
    assert slow.pending == 3  # the refused one is not counted


def test_no_rate_limit_by_default() -> None:
    gate = RequestGate(RequestLimits(pending_per_sender=10_000))
    for _ in range(1000):
        assert gate.admit("a@x/1") is None
