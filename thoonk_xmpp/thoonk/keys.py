"""Every Redis key, channel name and message framing Thoonk uses.

This module is the wire contract (thoonk-contract.md, generation 1): nothing
else in the package spells a key or a channel.  Names are ``bytes`` because
that is what travels to Redis; feed names are UTF-8 encoded.

Keys of our own that the original clients never read carry the ``thoonkx.``
prefix, so that an old client's key scan cannot mistake them for its own.
"""

from __future__ import annotations

import zlib
from typing import Final

#: Separator of two-part notice payloads (``<id>\\0<item>``).
SEP: Final = b"\x00"

#: Set of the names of every object of every type.
FEEDS: Final = b"feeds"

#: Registry channels: ``<name>\\0<instance>``.
NEWFEED: Final = b"newfeed"
DELFEED: Final = b"delfeed"
CONFFEED: Final = b"conffeed"
REGISTRY_CHANNELS: Final = (NEWFEED, DELFEED, CONFFEED)

# Per-object channel prefixes.  ``feed.publishes:`` and ``feed.claimed:`` are
# key names that thoonk.py also uses as channels for job put and claim.
_PUBLISH: Final = b"feed.publish:"
_EDIT: Final = b"feed.edit:"
_RETRACT: Final = b"feed.retract:"
_POSITION: Final = b"feed.position:"
_FINISH: Final = b"job.finish:"
_JOB_PUT: Final = b"feed.publishes:"
_JOB_CLAIM: Final = b"feed.claimed:"
# Ours (never read by the original clients).
_PURGE: Final = b"thoonkx.purge:"
_TRIM: Final = b"thoonkx.trim:"
_STATE: Final = b"thoonkx.state:"
_NOTIFY: Final = b"thoonkx.notify:"
_MARK: Final = b"thoonkx.mark:"
_READY: Final = b"thoonkx.ready:"

#: Patterns that catch every per-object notice of every feed.
NOTICE_PATTERNS: Final = (
    _PUBLISH + b"*",
    _EDIT + b"*",
    _RETRACT + b"*",
    _POSITION + b"*",
    _FINISH + b"*",
    _JOB_PUT + b"*",
    _JOB_CLAIM + b"*",
    _PURGE + b"*",
    _TRIM + b"*",
    _STATE + b"*",
    _NOTIFY + b"*",
    _MARK + b"*",
    _READY + b"*",
)

#: Channel prefix → notice kind name, for parsing received messages.
CHANNEL_KINDS: Final = {
    _PUBLISH: "publish",
    _EDIT: "edit",
    _RETRACT: "retract",
    _POSITION: "position",
    _FINISH: "finish",
    _JOB_PUT: "job_put",
    _JOB_CLAIM: "job_claim",
    _PURGE: "purge",
    _TRIM: "trim",
    _STATE: "state",
    _NOTIFY: "notify",
    _MARK: "mark",
    _READY: "ready",
}


def encode_name(name: str | bytes) -> bytes:
    """A feed name as the bytes used inside keys and channels."""
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")


def _key(prefix: bytes, name: str | bytes) -> bytes:
    return prefix + encode_name(name)


# --- keys of every type ----------------------------------------------------


def config(name: str | bytes) -> bytes:
    """Hash of configuration fields (``type``, ``max_length``, ...)."""
    return _key(b"feed.config:", name)


def ids(name: str | bytes) -> bytes:
    """Zset (feed) or list (sorted feed, queue, job) of item ids."""
    return _key(b"feed.ids:", name)


def items(name: str | bytes) -> bytes:
    """Hash id → item."""
    return _key(b"feed.items:", name)


def publishes(name: str | bytes) -> bytes:
    """Counter of publishes/puts (also thoonk.py's job-put channel)."""
    return _key(_JOB_PUT, name)


# --- sorted feed -----------------------------------------------------------


def idincr(name: str | bytes) -> bytes:
    """Counter that hands out sorted-feed item ids."""
    return _key(b"feed.idincr:", name)


# --- job -----------------------------------------------------------------


def published(name: str | bytes) -> bytes:
    """Zset id → put time (ms) of jobs not finished or stalled."""
    return _key(b"feed.published:", name)


def claimed(name: str | bytes) -> bytes:
    """Zset id → claim time (ms) (also thoonk.py's job-claim channel)."""
    return _key(_JOB_CLAIM, name)


def cancelled(name: str | bytes) -> bytes:
    """Hash id → number of cancels (failures)."""
    return _key(b"feed.cancelled:", name)


def stalled(name: str | bytes) -> bytes:
    """Set of stalled job ids."""
    return _key(b"feed.stalled:", name)


def finishes(name: str | bytes) -> bytes:
    """Counter of finished jobs."""
    return _key(b"feed.finishes:", name)


def running(name: str | bytes) -> bytes:
    """Listed by thoonk.py's schema, never written; deleted with the feed."""
    return _key(b"feed.running:", name)


def job_result(name: str | bytes, job_id: str | bytes) -> bytes:
    """Ours: list ``[request, result]`` of a finished job, kept for get_result."""
    return _key(b"thoonkx.job.result:", name) + SEP + encode_name(job_id)


def job_results(name: str | bytes) -> bytes:
    """Ours: set of job ids that have a stored result (for cleanup on delete)."""
    return _key(b"thoonkx.job.results:", name)


def all_keys(name: str | bytes) -> tuple[bytes, ...]:
    """Every key any type of object may own: what delete removes (contract §9).

    The set of kept job results comes last: the delete script reads it from there.
    """
    return (
        config(name),
        ids(name),
        items(name),
        publishes(name),
        idincr(name),
        published(name),
        claimed(name),
        cancelled(name),
        stalled(name),
        finishes(name),
        running(name),
        queue_holders(name),
        queue_publishers(name),
        queue_unlocked(name),
        queue_turn(name),
        job_results(name),
    )


# --- channels ---------------------------------------------------------------


def publish_channel(name: str | bytes) -> bytes:
    return _key(_PUBLISH, name)


def edit_channel(name: str | bytes) -> bytes:
    return _key(_EDIT, name)


def retract_channel(name: str | bytes) -> bytes:
    return _key(_RETRACT, name)


def position_channel(name: str | bytes) -> bytes:
    return _key(_POSITION, name)


def finish_channel(name: str | bytes) -> bytes:
    return _key(_FINISH, name)


def job_put_channel(name: str | bytes) -> bytes:
    """thoonk.py's job-put notice channel (same string as the counter key)."""
    return publishes(name)


def job_claim_channel(name: str | bytes) -> bytes:
    """thoonk.py's job-claim notice channel (same string as the claimed key)."""
    return claimed(name)


def feed_channels(name: str | bytes) -> tuple[bytes, ...]:
    """The per-object channels a listener subscribes for one feed."""
    return (
        publish_channel(name),
        edit_channel(name),
        retract_channel(name),
        position_channel(name),
        finish_channel(name),
    )


def parse_channel(channel: bytes) -> tuple[str, bytes] | None:
    """``feed.publish:news`` → ``("publish", b"news")``; None for other channels.

    The feed name is everything after the first colon, so names containing
    ``:`` survive (thoonk.js truncates them; we do not).
    """
    head, colon, name = channel.partition(b":")
    if not colon:
        return None
    kind = CHANNEL_KINDS.get(head + b":")
    return None if kind is None else (kind, name)


# --- payloads ----------------------------------------------------------------


def join(first: bytes, second: bytes) -> bytes:
    """Join two payload fields with the NUL separator."""
    return first + SEP + second


def split(payload: bytes) -> tuple[bytes, bytes]:
    """Split a payload at the first NUL only; the second part may contain NULs."""
    first, _, second = payload.partition(SEP)
    return first, second


# --- relative positions (sorted feeds) ---------------------------------------

BEGIN: Final = b"begin:"
END: Final = b":end"


def before(item_id: bytes) -> bytes:
    """Position immediately before ``item_id``: ``:<id>``."""
    return b":" + item_id


def after(item_id: bytes) -> bytes:
    """Position immediately after ``item_id``: ``<id>:``."""
    return item_id + b":"


# --- pubsub bridge: our own keys beside the Thoonk ones ------------------------
# Subscriptions, affiliations and delete tombstones of nodes (feeds).  Thoonk
# peers never read them; the feed's own keys stay exactly as the contract says.


def node_subscriptions(name: str | bytes) -> bytes:
    """Hash subid → subscriber JID."""
    return _key(b"thoonkx.pubsub.subs:", name)


def node_affiliations(name: str | bytes) -> bytes:
    """Hash bare JID → affiliation (``none`` is never stored)."""
    return _key(b"thoonkx.pubsub.affs:", name)


def node_subscription_options(name: str | bytes) -> bytes:
    """Hash subid → the subscription's options other than the defaults (JSON; no field:
    all defaults)."""
    return _key(b"thoonkx.pubsub.subopts:", name)


#: Sorted set of the subscriptions that end by themselves (``pubsub#expire``):
#: :func:`subscription_lease` members scored by the epoch ms they end at.
SUBSCRIPTION_LEASES: Final = b"thoonkx.pubsub.leases"


def subscription_lease(node: str | bytes, subid: str | bytes) -> bytes:
    """One member of :data:`SUBSCRIPTION_LEASES`: ``<node>\\0<subid>``."""
    return SEP.join((encode_name(node), encode_name(subid)))


#: Sorted set of the subscriptions with a digest gathering (``pubsub#digest``):
#: :func:`subscription_lease`-like ``<node>\\0<subid>`` members scored by the epoch ms it is due.
DIGESTS_DUE: Final = b"thoonkx.pubsub.digests"


def digest(node: str | bytes, subid: str | bytes) -> bytes:
    """List: the events gathered for one subscription's next digest (JSON each, oldest first)."""
    return _key(b"thoonkx.pubsub.digest:", subscription_lease(node, subid))


#: Buckets the subscription index is spread over (a key per JID costs more than its data).
JID_INDEX_BUCKETS: Final = 1024


def jid_subscriptions(jid: str | bytes) -> bytes:
    """Hash whose fields are the :func:`jid_subscription` entries of the bare JIDs hashed
    to one bucket (values empty): the subscription index by subscriber."""
    bucket = zlib.crc32(encode_name(jid)) % JID_INDEX_BUCKETS
    return b"thoonkx.pubsub.jidsubs.b:" + str(bucket).encode()


def jid_subscription(jid: str | bytes, node: str | bytes, subid: str | bytes) -> bytes:
    """One entry of the subscription index: ``<bare jid>\\0<node>\\0<subid>``."""
    return SEP.join((encode_name(jid), encode_name(node), encode_name(subid)))


#: Keys of the index before it was bucketed (a set of ``<node>\\0<subid>`` per JID),
#: found and moved into the buckets once (``NodeStore.migrate_jid_index``).
LEGACY_JID_SUBSCRIPTIONS: Final = b"thoonkx.pubsub.jidsubs:"


def jid_affiliations(jid: str | bytes) -> bytes:
    """Set of nodes where a bare JID has an affiliation."""
    return _key(b"thoonkx.pubsub.jidaffs:", jid)


def node_pending(name: str | bytes) -> bytes:
    """Hash subid → JID of the subscriptions waiting for an owner's approval (they have
    their :func:`jid_subscription` index entries already, and get no events)."""
    return _key(b"thoonkx.pubsub.pending:", name)


def node_tombstone(name: str | bytes) -> bytes:
    """String (JSON) left briefly by a node delete: redirect and notify_delete."""
    return _key(b"thoonkx.pubsub.tombstone:", name)


def purge_channel(name: str | bytes) -> bytes:
    """Ours: announces a purge (payload: the number of retract notices that follow)."""
    return _key(_PURGE, name)


def trim_channel(name: str | bytes) -> bytes:
    """Ours: announces a publish's trim (payload: the number of retract notices that follow)."""
    return _key(_TRIM, name)


def state_channel(name: str | bytes) -> bytes:
    """Ours: bookkeeping kept beside the feed changed (payload: the writer's instance id,
    then the facts of the change, if any: see :func:`state_payload`)."""
    return _key(_STATE, name)


def state_payload(instance: str | bytes, facts: tuple[tuple[str, str, str], ...] = ()) -> bytes:
    """A state notice's payload: ``<instance>`` alone, or followed by each fact's three
    fields (what happened, a JID, a subid), every field after a NUL."""
    fields = [encode_name(instance)]
    for fact in facts:
        fields += (encode_name(field) for field in fact)
    return SEP.join(fields)


def state_facts(rest: bytes) -> list[tuple[str, str, str]]:
    """The facts of a state notice (its payload after the instance id and its NUL)."""
    if not rest:
        return []
    fields = rest.decode("utf-8", "surrogateescape").split("\x00")
    return [(fields[at], fields[at + 1], fields[at + 2]) for at in range(0, len(fields) - 2, 3)]


def notify_channel(name: str | bytes) -> bytes:
    """Ours: the retract notices that follow were asked to be announced to subscribers
    (payload: how many follow)."""
    return _key(_NOTIFY, name)


def mark_channel(instance: str | bytes) -> bytes:
    """Ours: a delivery mark of one bridge instance (payload: Redis time in ms).

    Every notice published before the mark reaches a subscriber before it, so a
    mark that went through says everything older was handed on.
    """
    return _key(_MARK, instance)


# --- delivery bookkeeping of the pubsub bridge ------------------------------------


#: What every delivery bookkeeping key starts with (the router writes them on its own clock).
DELIVERY_PREFIX: Final = b"thoonkx.delivery."
#: Hash slot number → epoch ms up to which every notice of the slot's nodes was delivered.
DELIVERY_WATERMARKS: Final = DELIVERY_PREFIX + b"watermarks"
#: Sorted set instance id → epoch ms its heartbeat expires.
DELIVERY_INSTANCES: Final = DELIVERY_PREFIX + b"instances"


def delivery_lease(slot: int) -> bytes:
    """String: the instance id that delivers the events of slot ``slot`` (expires)."""
    return DELIVERY_PREFIX + b"lease:" + str(slot).encode()


def delivery_handed(slot: int) -> bytes:
    """String (JSON ``[[node, item id, CRC-32], ...]``): what the instance that handed slot
    ``slot`` over had sent above its watermark; the next holder's catch-up skips it (expires)."""
    return DELIVERY_PREFIX + b"handed:" + str(slot).encode()


# --- XEP-0050 ad-hoc command sessions of the pubsub bridge -------------------------


def command_session(sessionid: str | bytes) -> bytes:
    """String (JSON, expires): one running ad-hoc command session (command, requester,
    stage, answers so far), so any instance can take its next stage."""
    return _key(b"thoonkx.adhoc.session:", sessionid)


# --- job and queue nodes (XEP-0254) ------------------------------------------------


def queue_holders(name: str | bytes) -> bytes:
    """Hash job id → ``<claim time ms>\\0<subscriber JID>``: the XMPP subscriber holding it
    (the claim time tells a hold from a later claim of the same job)."""
    return _key(b"thoonkx.queue.holders:", name)


def queue_publishers(name: str | bytes) -> bytes:
    """Hash job id → ``<put time ms>\\0<JID>``: who published it over XMPP (told of its result)."""
    return _key(b"thoonkx.queue.publishers:", name)


def queue_unlocked(name: str | bytes) -> bytes:
    """Hash job id → the subscriber that last gave it back (it goes to another if one is free)."""
    return _key(b"thoonkx.queue.unlocked:", name)


def queue_turn(name: str | bytes) -> bytes:
    """Counter rotating the choice among equally free subscribers."""
    return _key(b"thoonkx.queue.turn:", name)


def ready_channel(name: str | bytes) -> bytes:
    """Ours: a job or queue node has items or free capacity to hand out (payload: the id of a
    job finished without a result, or empty)."""
    return _key(_READY, name)


# --- what the XMPP server told the pubsub bridge (shared by every instance) -------


#: Prefix of :func:`presence` keys.
PRESENCE: Final = b"thoonkx.presence:"


def presence(bare_jid: str | bytes) -> bytes:
    """Hash: full JID (or the bare JID itself) → show, of the bare JID's available resources.

    Fed by the presence stanzas the component receives (XEP-0356 forwarded presence,
    directed presence); ``online`` stands for available without ``<show/>``.
    """
    return _key(PRESENCE, bare_jid)


#: Hash: XMPP server domain → JSON of the XEP-0356 privileges it granted the component
#: (``{"roster": "get", "presence": "roster", ...}``), as its last advertisement said.
PRIVILEGES: Final = b"thoonkx.privileges"


def roster_reply(query_id: str | bytes) -> bytes:
    """List (expires): the answer to roster query ``query_id``, put there by whichever
    instance the server handed it to, taken by the instance that asked."""
    return _key(b"thoonkx.roster.reply:", query_id)


#: Set of the nodes configured with a ``pubsub#item_expire``: the ones the expiry sweeps.
EXPIRING_NODES: Final = b"thoonkx.pubsub.expiring"
