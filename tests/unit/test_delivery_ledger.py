"""The delivery ledger's marks: a mark that went through commits its time less the margin.

A mark may come back through the notice subscription before the call that
published it returns (the listener reads on its own connection): it must
still count, or under steady load the watermark would stay behind for good.
"""

from __future__ import annotations

from thoonk_xmpp.service.delivery import DeliveryPolicy, Ledger

MARGIN_MS = 1000


def ledger() -> Ledger:
    ready = Ledger(DeliveryPolicy(margin=MARGIN_MS / 1000))
    ready.begin_gap()
    ready.end_gap()
    return ready


def test_a_mark_that_passes_after_it_was_issued_is_committed() -> None:
    marks = ledger()
    gaps = marks.gaps
    marks.mark_issued(10_000, gaps)
    marks.mark_passed(10_000)
    assert marks.take_commit() == 10_000 - MARGIN_MS
    assert marks.take_commit() is None
    assert marks.passed == 10_000


def test_a_mark_that_passes_before_its_publishing_call_returned_is_committed() -> None:
    marks = ledger()
    gaps = marks.gaps
    marks.mark_passed(10_000)  # the listener read it first
    assert marks.take_commit() is None
    marks.mark_issued(10_000, gaps)
    assert marks.take_commit() == 10_000 - MARGIN_MS
    assert marks.passed == 10_000


def test_a_gap_while_the_mark_was_published_voids_it_even_when_it_came_back_early() -> None:
    marks = ledger()
    gaps = marks.gaps
    marks.begin_gap()  # the subscription was renewed meanwhile
    marks.end_gap()
    marks.mark_passed(10_000)
    marks.mark_issued(10_000, gaps)
    assert marks.take_commit() is None
    assert marks.passed == 10_000


def test_an_early_mark_that_is_never_issued_is_forgotten_once_a_newer_one_is() -> None:
    marks = ledger()
    marks.mark_passed(10_000)  # its publishing call failed after all
    marks.mark_issued(10_500, marks.gaps)
    marks.mark_issued(10_000, marks.gaps)  # too late to count as an early pass
    assert marks.take_commit() is None
    marks.mark_passed(10_500)
    assert marks.take_commit() == 10_500 - MARGIN_MS
