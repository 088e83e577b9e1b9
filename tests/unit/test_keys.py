"""keys.py is the wire contract: every name spelled out here as the contract spells it."""

from __future__ import annotations

import pytest

from thoonk_xmpp.thoonk import keys


def test_registry_names() -> None:
    assert keys.FEEDS == b"feeds"
    assert keys.REGISTRY_CHANNELS == (b"newfeed", b"delfeed", b"conffeed")
    assert keys.SEP == b"\x00"


def test_keys_of_every_type() -> None:
    assert keys.config("n") == b"feed.config:n"
    assert keys.ids("n") == b"feed.ids:n"
    assert keys.items("n") == b"feed.items:n"
    assert keys.publishes("n") == b"feed.publishes:n"
    assert keys.idincr("n") == b"feed.idincr:n"
    assert keys.published("n") == b"feed.published:n"
    assert keys.claimed("n") == b"feed.claimed:n"
    assert keys.cancelled("n") == b"feed.cancelled:n"
    assert keys.stalled("n") == b"feed.stalled:n"
    assert keys.finishes("n") == b"feed.finishes:n"
    assert keys.running("n") == b"feed.running:n"


def test_channels() -> None:
    assert keys.publish_channel("n") == b"feed.publish:n"
    assert keys.edit_channel("n") == b"feed.edit:n"
    assert keys.retract_channel("n") == b"feed.retract:n"
    assert keys.position_channel("n") == b"feed.position:n"
    assert keys.finish_channel("n") == b"job.finish:n"
    # thoonk.py's job notices reuse key names as channel names.
    assert keys.job_put_channel("n") == keys.publishes("n") == b"feed.publishes:n"
    assert keys.job_claim_channel("n") == keys.claimed("n") == b"feed.claimed:n"
    assert keys.feed_channels("n") == (
        b"feed.publish:n",
        b"feed.edit:n",
        b"feed.retract:n",
        b"feed.position:n",
        b"job.finish:n",
    )


def test_delete_covers_the_union_of_every_type() -> None:
    owned = set(keys.all_keys("n"))
    contract = {
        b"feed.config:n",
        b"feed.ids:n",
        b"feed.items:n",
        b"feed.publishes:n",
        b"feed.idincr:n",
        b"feed.published:n",
        b"feed.claimed:n",
        b"feed.cancelled:n",
        b"feed.stalled:n",
        b"feed.finishes:n",
        b"feed.running:n",
    }
    assert contract <= owned
    # Anything else must be ours, under the thoonkx. prefix.
    assert all(k.startswith(b"thoonkx.") for k in owned - contract)
    assert keys.FEEDS not in owned


def test_names_are_utf8_and_kept_whole() -> None:
    assert keys.ids("nöws") == "feed.ids:nöws".encode()
    assert keys.ids(b"raw\xff") == b"feed.ids:raw\xff"
    assert keys.items("a:b:c") == b"feed.items:a:b:c"
    assert keys.encode_name("\udcff") == b"\xff"  # surrogateescape round trip


@pytest.mark.parametrize(
    ("channel", "parsed"),
    [
        (b"feed.publish:n", ("publish", b"n")),
        (b"feed.edit:a:b", ("edit", b"a:b")),
        (b"feed.retract:", ("retract", b"")),
        (b"feed.position:n", ("position", b"n")),
        (b"job.finish:n", ("finish", b"n")),
        (b"feed.publishes:n", ("job_put", b"n")),
        (b"feed.claimed:n", ("job_claim", b"n")),
        (b"thoonkx.purge:n", ("purge", b"n")),
        (b"thoonkx.trim:n", ("trim", b"n")),
        (b"feed.ids:n", None),
        (b"newfeed", None),
        (b"event.feed.publish:n", None),
    ],
)
def test_parse_channel(channel: bytes, parsed: tuple[str, bytes] | None) -> None:
    assert keys.parse_channel(channel) == parsed


def test_every_parsed_prefix_is_subscribed() -> None:
    assert set(keys.NOTICE_PATTERNS) == {prefix + b"*" for prefix in keys.CHANNEL_KINDS}


def test_payload_split_at_first_nul_only() -> None:
    assert keys.join(b"id", b"it\x00em") == b"id\x00it\x00em"
    assert keys.split(b"id\x00it\x00em") == (b"id", b"it\x00em")
    assert keys.split(b"only") == (b"only", b"")
    assert keys.split(b"\x00") == (b"", b"")


def test_state_notice_payload_carries_its_facts() -> None:
    assert keys.state_payload("inst") == b"inst"
    payload = keys.state_payload("inst", (("pending", "a@x/r", "s1"), ("none", "b@x", "s2")))
    assert payload == b"inst\x00pending\x00a@x/r\x00s1\x00none\x00b@x\x00s2"
    instance, rest = keys.split(payload)
    assert instance == b"inst"
    assert keys.state_facts(rest) == [("pending", "a@x/r", "s1"), ("none", "b@x", "s2")]
    assert keys.state_facts(b"") == []
    assert keys.state_facts(b"cut\x00short") == []


def test_positions() -> None:
    assert keys.BEGIN == b"begin:"
    assert keys.END == b":end"
    assert keys.before(b"42") == b":42"
    assert keys.after(b"42") == b"42:"


def test_our_own_keys_are_prefixed() -> None:
    ours = [
        keys.job_result("n", "id"),
        keys.job_results("n"),
        keys.purge_channel("n"),
        keys.trim_channel("n"),
        keys.node_subscriptions("n"),
        keys.node_affiliations("n"),
        keys.jid_subscriptions("a@b"),
        keys.jid_affiliations("a@b"),
        keys.node_tombstone("n"),
    ]
    assert all(k.startswith(b"thoonkx.") for k in ours)
    assert len(set(ours)) == len(ours)
    assert keys.job_result("n", "id") == b"thoonkx.job.result:n\x00id"
