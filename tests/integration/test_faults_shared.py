"""Two instances on one component JID under ejabberd (``[delivery] shared = true``), one
killed with kill -9 under load and started again (rig: :mod:`tests.integration.shared_faults`).

Two XMPP publishers (40/s each, four requests in flight), a Thoonk publisher (40/s)
and three subscribers (bare JIDs) on 16 nodes, 8 delivered by each instance.
Asserted, with exact accounting of every id:

- every item Redis stored (every acknowledged one among them) reached every subscriber,
  and no subscriber got an item Redis never stored; none came three times;
- an item came twice only if it was stored in the moments before the kill (the committed
  watermark lags by ``margin`` plus up to two mark intervals; four are allowed) on a node
  whose slot moved then; never at the hand-back (the instance letting slots go records
  what it sent, and the one taking them sends only the rest);
- no publish answered with an error was stored;
- a publish that got no answer was either stored before the kill (in flight on the
  killed instance's link: stored, answer lost) or never stored; with ``bare_source``
  only the publisher whose requests go to the killed instance lost any, and got answers
  again once it was back; with ``random`` only requests in flight at the kill;
- the survivor held every slot within ``lease_time`` plus two renewals; the restarted
  instance took its share back; the survivor's memory grew by less than 40 MB.

What a publisher sees when the instance its requests reach dies is measured, not
assumed: with ``domain_balancing`` (``bare_source``, ``component_number: 2``) ejabberd
keeps the dead instance's place and drops the stanzas hashed to it, without an error,
until an instance connects again; with random balancing it sends them to the survivor.
Run with ``-s`` to see the figures (they are in the failure messages too).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.fault_load import XmppPublisher
from tests.integration.faults import MARGIN, MARK_INTERVAL
from tests.integration.shared_faults import LEASE_INTERVAL, LEASE_TIME, SharedRig
from tests.integration.shared_report import Balancing, SharedReport

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

#: Growth of the survivor's resident memory that counts as unbounded.
RSS_GROWTH_MB = 40.0
#: How long before a kill an item may have been stored and still be sent again (as in
#: test_faults.py).
UNCERTAIN = MARGIN + 4 * MARK_INTERVAL
#: How long after a kill an item may have been stored and still come twice (clocks).
NOTICED_WITHIN = 0.5
#: How long after a kill ejabberd may still route a stanza to the dead link (it sees the
#: connection close at once; this is for a busy machine).
ROUTE_GONE_WITHIN = 1.0
#: The survivor holds a dead instance's slots once its lease expired and the survivor
#: renewed: within lease_time plus a renewal, and one more for a busy machine.
TAKEOVER_WITHIN = LEASE_TIME + 2 * LEASE_INTERVAL


class SentTwice(AssertionError):
    """Some subscriber received an item twice outside the moments before the kill."""


class StoredButRefused(AssertionError):
    """A publish answered with an error was stored anyway."""


def check(report: SharedReport, killed: int) -> None:
    """The accounting (module docstring); the class-specific failures last."""
    figures = report.text
    m = report.moments
    stored = set(report.stored)
    for publisher in report.publishers:
        assert publisher.acked <= stored, f"acknowledged but not stored\n{figures}"
    assert report.thoonk.acked <= stored, f"acknowledged but not stored\n{figures}"
    for tally in report.tallies:
        assert not tally.missing, f"stored items never delivered\n{figures}"
        assert not tally.unknown, f"events for items never stored\n{figures}"
        assert all(c == 1 for c in tally.duplicates.values()), f"sent 3 times\n{figures}"
    before, after = report.rss_mb
    assert after - before < RSS_GROWTH_MB, f"memory grew\n{figures}"
    assert m.took_over_at - m.killed_at <= TAKEOVER_WITHIN, f"slow takeover\n{figures}"
    assert report.moved_at_kill, f"the killed instance delivered none of the nodes\n{figures}"
    assert report.moved_at_rejoin, f"no node moved back when it returned\n{figures}"
    for publisher, by in zip(report.publishers, report.served_by, strict=True):
        _check_unanswered(report, publisher, by, killed, figures)
    outside = sorted(i for t in report.tallies for i in t.duplicates if not _uncertain(report, i))
    if outside:
        raise SentTwice(f"sent twice, not stored just before the kill: {outside[:10]}\n{figures}")
    refused = sorted(set().union(*(p.errors for p in report.publishers)) & stored)
    if refused:
        raise StoredButRefused(f"error answers for stored items {refused[:10]}\n{figures}")
    # nothing here is the publishers' fault: a kill costs answers, never an error
    assert not any(p.errors for p in report.publishers), f"error answers\n{figures}"


def _uncertain(report: SharedReport, item_id: str) -> bool:
    """Whether ``item_id`` may come twice: stored just before the kill, on a node whose
    slot moved then."""
    m, at = report.moments, report.stored_at(item_id)
    at_kill = m.killed_at - UNCERTAIN <= at <= m.killed_at + NOTICED_WITHIN
    return at_kill and report.node_of[item_id] in report.moved_at_kill


def _check_unanswered(
    report: SharedReport, publisher: XmppPublisher, by: int | None, killed: int, figures: str
) -> None:
    """Every request without an answer is accounted for (module docstring)."""
    m = report.moments
    if by is not None and by != killed:
        assert not publisher.unanswered, f"the survivor left requests unanswered\n{figures}"
        return
    # the last request that was in flight at the kill went at most STALLED s before it
    in_flight_from = m.killed_at - XmppPublisher.STALLED
    # bare_source: dropped until the instance is back; random: only those in flight
    away_until = (m.back_at if by == killed else m.killed_at) + ROUTE_GONE_WITHIN
    for item_id in publisher.unanswered:
        sent = publisher.sent_at[item_id]
        if item_id in report.stored:
            assert in_flight_from <= sent <= m.killed_at, (
                f"{item_id} stored, unanswered, sent {sent - m.killed_at:+.2f} s from the kill\n"
                f"{figures}"
            )
        else:
            assert in_flight_from <= sent <= away_until, (
                f"{item_id} lost, sent {sent - m.killed_at:+.2f} s from the kill\n{figures}"
            )
    if by == killed:
        answered_again = [i for i in publisher.acked if publisher.sent_at[i] > m.back_at]
        assert answered_again, f"no answer once the killed instance was back\n{figures}"


@pytest.mark.parametrize("balancing", ["bare_source", "random"])
async def test_two_instances_sharing_the_jid_one_killed_under_load(
    tmp_path: Path, balancing: Balancing
) -> None:
    async with SharedRig.open(tmp_path, balancing) as rig:
        killed = rig.served_by[0] if rig.served_by[0] is not None else 0
        report = await rig.exercise(killed)
        check(report, killed)
