"""One async function per verb: typed request → service call → reply element.

Handlers never read XML and never catch service errors (the component maps
them through :mod:`thoonk_xmpp.xmpp.errors`); they return a :class:`Reply`
whose payload goes into the iq result and whose ``after`` runs once the
result is sent (the last item for a new subscriber).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from thoonk_xmpp.service.access import ROSTER_MODELS
from thoonk_xmpp.service.direct_events import ON_SUB
from thoonk_xmpp.service.dispatch import QueueDispatcher
from thoonk_xmpp.service.errors import ItemNotFound
from thoonk_xmpp.service.model import (
    Actor,
    Affiliation,
    ItemsPage,
    Subscription,
    SubscriptionState,
)
from thoonk_xmpp.service.policy import DEFAULT_MAX_STANZA_SIZE
from thoonk_xmpp.service.router import EventRouter
from thoonk_xmpp.service.service import PubSubService
from thoonk_xmpp.service.sub_options import is_queue_node

from . import adhoc, disco, forms, mam, ns, payloads, queue_messages, rsm
from . import admin_commands as admin_commands  # declares the service admins' commands
from . import authorization as authorization  # declares get-pending
from .fitting import Listing
from .requests import (
    Create,
    Delete,
    DiscoInfo,
    DiscoItems,
    Execute,
    GetAffiliations,
    GetArchiveForm,
    GetArchiveMetadata,
    GetConfig,
    GetDefault,
    GetItems,
    GetOptions,
    GetSubscribeDefault,
    GetSubscriptions,
    OwnAffiliations,
    OwnSubscriptions,
    Ping,
    Publish,
    Purge,
    QueryArchive,
    Request,
    Retract,
    SetAffiliations,
    SetConfig,
    SetOptions,
    SetSubscriptions,
    Subscribe,
    Unsubscribe,
)

ROSTER_GROUPS: Final = "pubsub#roster_groups_allowed"
#: The access models that need the server's roster privilege, as form values.
ROSTER_MODEL_NAMES: Final = frozenset(model.value for model in ROSTER_MODELS)


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the service, the event router and who is asking."""

    service: PubSubService
    router: EventRouter
    service_jid: str
    sender: str
    actor: Actor
    #: No stanza sent may be bigger, in bytes (``[component] max_stanza_size``).
    max_stanza_size: int = DEFAULT_MAX_STANZA_SIZE
    #: Hands out the items of job and queue nodes (None: no XEP-0254 delivery).
    queues: QueueDispatcher | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The iq result's payload (None: empty result) and work to do once it is sent.

    ``listing`` is the list in it that may be cut to fit the stanza limit (:mod:`.fitting`);
    ``messages`` are stanza texts written just before the result, in the same write.
    """

    payload: ET.Element | None = None
    after: Callable[[], Awaitable[None]] | None = None
    listing: Listing | None = None
    messages: tuple[str, ...] = ()


R = TypeVar("R", bound=Request)
Handler = Callable[[Context, R], Awaitable[Reply]]

#: Request class → handler; filled by :func:`handles`.
HANDLERS: Final[dict[type, Callable[[Context, Any], Awaitable[Reply]]]] = {}


def handles(kind: type[R]) -> Callable[[Handler[R]], Handler[R]]:
    def register(handler: Handler[R]) -> Handler[R]:
        HANDLERS[kind] = handler
        return handler

    return register


async def handle(ctx: Context, request: Request) -> Reply:
    """Run the handler for ``request``."""
    return await HANDLERS[type(request)](ctx, request)


def _pubsub(owner: bool = False) -> ET.Element:
    return ET.Element(ns.tag(ns.PUBSUB_OWNER if owner else ns.PUBSUB, "pubsub"))


def _sub(parent: ET.Element, name: str, attrs: dict[str, str] | None = None) -> ET.Element:
    namespace, _ = ns.split(parent.tag)
    return ET.SubElement(parent, ns.tag(namespace, name), attrs or {})


def _node_attrs(node: str | None) -> dict[str, str]:
    return {} if node is None else {"node": node}


def _subscription(
    parent: ET.Element, sub: Subscription, *, with_node: bool = True, state: str | None = None
) -> None:
    attrs = {"node": sub.node} if with_node else {}
    attrs |= {"jid": sub.jid, "subscription": state or sub.state.value, "subid": sub.subid}
    _sub(parent, "subscription", attrs)


# --- XEP-0199 and XEP-0030 --------------------------------------------------------------


@handles(Ping)
async def ping(ctx: Context, request: Ping) -> Reply:
    return Reply()


@handles(DiscoInfo)
async def disco_info(ctx: Context, request: DiscoInfo) -> Reply:
    if request.node is None:
        rosters = await ctx.service.rosters.offered()
        return Reply(disco.service_info(ctx.service.default_config(), rosters=rosters))
    about_command = await adhoc.command_info(ctx, request.node)
    if about_command is not None:
        return Reply(about_command)
    meta = await ctx.service.metadata(request.node)
    shown = await ctx.service.may_see(ctx.actor, request.node)
    return Reply(disco.node_info(meta, with_metadata=shown))


@handles(DiscoItems)
async def disco_items(ctx: Context, request: DiscoItems) -> Reply:
    if request.node == ns.COMMANDS:
        return Reply(await adhoc.command_items(ctx))
    if request.node is None:
        page = rsm.page_of(await ctx.service.list_nodes(), request.page)
        query = disco.node_items(ctx.service_jid, page.members)
    else:
        ids = await ctx.service.item_ids(ctx.actor, request.node)
        page = rsm.page_of(ids, request.page, request.node)
        query = disco.item_items(ctx.service_jid, request.node, page.members)
    if request.page is not None:
        query.append(rsm.set_element(page.members, page.first_index, page.count))
    return Reply(query, listing=Listing(query, page.members, query, page.first_index, page.count))


# --- owner: nodes (§8.1-8.5) -----------------------------------------------------------


@handles(Create)
async def create(ctx: Context, request: Create) -> Reply:
    node = await ctx.service.create_node(ctx.actor, request.node, request.config)
    pubsub = _pubsub()
    _sub(pubsub, "create", {"node": node})
    return Reply(pubsub)


@handles(GetConfig)
async def get_config(ctx: Context, request: GetConfig) -> Reply:
    config = await ctx.service.get_config(ctx.actor, request.node)
    pubsub = _pubsub(owner=True)
    # the groups of the owner's roster to choose from, beside those already chosen
    groups = await ctx.service.rosters.groups_of(ctx.actor.bare)
    chosen = sorted(set(groups) | set(config.roster_groups_allowed))
    form = forms.node_config_form(
        config, unoffered=await _unoffered(ctx), choices={ROSTER_GROUPS: chosen}
    )
    _sub(pubsub, "configure", {"node": request.node}).append(form)
    return Reply(pubsub)


async def _unoffered(ctx: Context) -> frozenset[str]:
    """Access models not offered: presence and roster while no roster can be read."""
    return frozenset() if await ctx.service.rosters.offered() else ROSTER_MODEL_NAMES


@handles(SetConfig)
async def set_config(ctx: Context, request: SetConfig) -> Reply:
    if request.changes is None:  # cancelled: still only the owner may do even that
        await ctx.service.get_config(ctx.actor, request.node)
    else:
        await ctx.service.configure_node(ctx.actor, request.node, request.changes)
    return Reply()


@handles(GetDefault)
async def get_default(ctx: Context, request: GetDefault) -> Reply:
    pubsub = _pubsub(owner=True)
    groups = {ROSTER_GROUPS: await ctx.service.rosters.groups_of(ctx.actor.bare)}
    config = ctx.service.default_config()
    form = forms.node_config_form(config, unoffered=await _unoffered(ctx), choices=groups)
    _sub(pubsub, "default").append(form)
    return Reply(pubsub)


@handles(Delete)
async def delete(ctx: Context, request: Delete) -> Reply:
    await ctx.service.delete_node(ctx.actor, request.node, request.redirect)
    return Reply()


@handles(Purge)
async def purge(ctx: Context, request: Purge) -> Reply:
    await ctx.service.purge_node(ctx.actor, request.node)
    return Reply()


# --- publisher (§7) ------------------------------------------------------------------------


@handles(Publish)
async def publish(ctx: Context, request: Publish) -> Reply:
    entries = [(item.id, item.payload) for item in request.items]
    if await ctx.service.queue_kind(request.node) is not None:
        ids = await ctx.service.put_queued(
            ctx.actor, ctx.sender, request.node, entries, request.options
        )
    else:
        ids = await ctx.service.publish(ctx.actor, request.node, entries, request.options)
    pubsub = _pubsub()
    published = _sub(pubsub, "publish", {"node": request.node})
    for item_id in ids:
        _sub(published, "item", {"id": item_id})
    return Reply(pubsub)


@handles(Retract)
async def retract(ctx: Context, request: Retract) -> Reply:
    if await ctx.service.queue_kind(request.node) is not None:
        return await queue_handlers.retract_queued(ctx, request)
    await ctx.service.retract(ctx.actor, request.node, request.ids, request.notify)
    return Reply()


# --- subscriber (§6) -----------------------------------------------------------------------


@handles(GetItems)
async def get_items(ctx: Context, request: GetItems) -> Reply:
    service = ctx.service
    try:
        page = await service.get_items(
            ctx.actor,
            request.node,
            request.ids or None,
            request.max_items,
            request.page,
            subid=request.subid,
        )
    except ItemNotFound:
        if not request.ids:
            raise
        page = ItemsPage([], 0, None)  # §6.5.9.11: asked-for items that do not exist
    pubsub = _pubsub()
    items = _sub(pubsub, "items", {"node": request.node})
    for item in page.items:
        entry = _sub(items, "item", {"id": item.id})
        if item.finished:  # a finished job's kept result
            entry.append(queue_messages.result_element(item.payload))
        else:
            entry.append(payloads.to_element(item.payload))
    ids = [item.id for item in page.items]
    if request.page is not None:
        pubsub.append(rsm.set_element(ids, page.first_index, page.count))
    return Reply(pubsub, listing=Listing(items, ids, pubsub, page.first_index, page.count))


@handles(Subscribe)
async def subscribe(ctx: Context, request: Subscribe) -> Reply:
    service = ctx.service
    sub = await service.subscribe(ctx.actor, request.node, request.jid, request.options)
    pubsub = _pubsub()
    _subscription(pubsub, sub)
    config = service.node_config_of(await service.store.config(request.node))
    if request.options is not None:  # §6.3.7: the options that resulted
        _sub(pubsub, "options").append(
            forms.subscribe_options_form(
                sub.options, queue_node=is_queue_node(config), form_type=forms.FormType.RESULT
            )
        )
    if (
        config.send_last_published_item not in ON_SUB
        or config.node_kind.queueing
        or sub.state == SubscriptionState.PENDING  # sent once an owner approves
    ):
        return Reply(pubsub)

    async def send_last() -> None:
        await ctx.router.send_last_item(sub, await service.last_item(sub.node))

    return Reply(pubsub, send_last)


@handles(Unsubscribe)
async def unsubscribe(ctx: Context, request: Unsubscribe) -> Reply:
    mine = [
        sub
        for sub in await ctx.service.own_subscriptions(ctx.actor, request.node)
        if sub.jid == request.jid and request.subid in (None, sub.subid)
    ]
    await ctx.service.unsubscribe(ctx.actor, request.node, request.jid, request.subid)
    if len(mine) != 1:
        return Reply()
    pubsub = _pubsub()
    _subscription(pubsub, mine[0], state=SubscriptionState.NONE.value)
    return Reply(pubsub)


@handles(GetOptions)
async def get_options(ctx: Context, request: GetOptions) -> Reply:
    sub, queue_node = await ctx.service.subscription_options(
        ctx.actor, request.node, request.jid, request.subid
    )
    pubsub = _pubsub()
    attrs = {"node": request.node, "jid": request.jid, "subid": sub.subid}
    options = _sub(pubsub, "options", attrs)
    options.append(forms.subscribe_options_form(sub.options, queue_node=queue_node))
    return Reply(pubsub)


@handles(SetOptions)
async def set_options(ctx: Context, request: SetOptions) -> Reply:
    if request.changes is None:  # cancelled: still only the subscriber may do even that
        await ctx.service.subscription_options(ctx.actor, request.node, request.jid, request.subid)
    else:
        await ctx.service.set_subscription_options(
            ctx.actor, request.node, request.jid, request.subid, request.changes
        )
    return Reply()


@handles(GetSubscribeDefault)
async def get_subscribe_default(ctx: Context, request: GetSubscribeDefault) -> Reply:
    options, queue_node = await ctx.service.default_subscription_options(request.node)
    pubsub = _pubsub()
    _sub(pubsub, "default", _node_attrs(request.node)).append(
        forms.subscribe_options_form(
            options, queue_node=queue_node, form_type=forms.FormType.RESULT
        )
    )
    return Reply(pubsub)


@handles(OwnSubscriptions)
async def own_subscriptions(ctx: Context, request: OwnSubscriptions) -> Reply:
    subs = await ctx.service.own_subscriptions(ctx.actor, request.node)
    pubsub = _pubsub()
    listing = _sub(pubsub, "subscriptions", _node_attrs(request.node))
    by_subid = {sub.subid: sub for sub in subs}
    page = rsm.page_of(list(by_subid), request.page, request.node or "")
    for subid in page.members:
        _subscription(listing, by_subid[subid])
    return _listed(pubsub, listing, page, request.page is not None)


@handles(OwnAffiliations)
async def own_affiliations(ctx: Context, request: OwnAffiliations) -> Reply:
    found = await ctx.service.own_affiliations(ctx.actor, request.node)
    pubsub = _pubsub()
    listing = _sub(pubsub, "affiliations", _node_attrs(request.node))
    page = rsm.page_of(list(found), request.page, request.node or "")
    for node in page.members:
        _sub(listing, "affiliation", {"node": node, "affiliation": found[node].value})
    return _listed(pubsub, listing, page, request.page is not None)


# --- owner: subscriptions and affiliations (§8.8, §8.9) -----------------------------------


@handles(GetSubscriptions)
async def get_subscriptions(ctx: Context, request: GetSubscriptions) -> Reply:
    subs = await ctx.service.node_subscriptions(ctx.actor, request.node)
    pubsub = _pubsub(owner=True)
    listing = _sub(pubsub, "subscriptions", {"node": request.node})
    by_subid = {sub.subid: sub for sub in subs}
    page = rsm.page_of(list(by_subid), request.page, request.node)
    for subid in page.members:
        _subscription(listing, by_subid[subid], with_node=False)
    return _listed(pubsub, listing, page, request.page is not None)


@handles(SetSubscriptions)
async def set_subscriptions(ctx: Context, request: SetSubscriptions) -> Reply:
    await ctx.service.set_subscriptions(ctx.actor, request.node, request.changes)
    return Reply()


@handles(GetAffiliations)
async def get_affiliations(ctx: Context, request: GetAffiliations) -> Reply:
    found = await ctx.service.node_affiliations(ctx.actor, request.node)
    pubsub = _pubsub(owner=True)
    listing = _sub(pubsub, "affiliations", {"node": request.node})
    shown = {jid: a for jid, a in found.items() if a != Affiliation.NONE}
    page = rsm.page_of(list(shown), request.page, request.node)
    for jid in page.members:
        _sub(listing, "affiliation", {"jid": jid, "affiliation": shown[jid].value})
    return _listed(pubsub, listing, page, request.page is not None)


def _listed(pubsub: ET.Element, listing: ET.Element, page: rsm.Page, paged: bool) -> Reply:
    """A list reply: the <set/> when paging was asked for, and its entries cuttable."""
    if paged:
        pubsub.append(rsm.set_element(page.members, page.first_index, page.count))
    return Reply(
        pubsub, listing=Listing(listing, page.members, pubsub, page.first_index, page.count)
    )


@handles(SetAffiliations)
async def set_affiliations(ctx: Context, request: SetAffiliations) -> Reply:
    await ctx.service.set_affiliations(ctx.actor, request.node, dict(request.changes))
    return Reply()


# --- XEP-0050 ad-hoc commands (:mod:`.adhoc`) ---------------------------------------------


@handles(Execute)
async def execute_command(ctx: Context, request: Execute) -> Reply:
    return Reply(await adhoc.execute(ctx, request))


# --- XEP-0313 archives of nodes (XEP-0442) ------------------------------------------------


@handles(QueryArchive)
async def query_archive(ctx: Context, request: QueryArchive) -> Reply:
    page = await ctx.service.archive_page(ctx.actor, request.node, request.query)
    sent = mam.page_messages(
        page,
        node=request.node,
        queryid=request.queryid,
        to=ctx.sender,
        sender=ctx.service_jid,
        limit=ctx.max_stanza_size,
        flip=request.flip,
    )
    return Reply(mam.fin_element(sent, page.count), messages=tuple(sent.messages))


@handles(GetArchiveForm)
async def archive_form(ctx: Context, request: GetArchiveForm) -> Reply:
    await ctx.service.check_archive(ctx.actor, request.node)
    return Reply(mam.form_query(request.node))


@handles(GetArchiveMetadata)
async def archive_metadata(ctx: Context, request: GetArchiveMetadata) -> Reply:
    return Reply(mam.metadata_element(await ctx.service.archive_ends(ctx.actor, request.node)))


# --- the iq around a reply ------------------------------------------------------------------


def result_iq(iq: ET.Element, payload: ET.Element | None) -> ET.Element:
    """The ``result`` answer to request ``iq`` carrying ``payload``."""
    reply = _answer(iq, "result")
    if payload is not None:
        reply.append(payload)
    return reply


def error_iq(iq: ET.Element, error: ET.Element, payload: ET.Element | None = None) -> ET.Element:
    """The ``error`` answer to request ``iq`` carrying the ``<error/>`` element (after
    ``payload``, when the error comes with one)."""
    reply = _answer(iq, "error")
    if payload is not None:
        reply.append(payload)
    reply.append(error)
    return reply


def _answer(iq: ET.Element, kind: str) -> ET.Element:
    attrs = {"type": kind, "id": iq.get("id", "")}
    if iq.get("to"):
        attrs["from"] = iq.get("to", "")
    if iq.get("from"):
        attrs["to"] = iq.get("from", "")
    return ET.Element(ns.tag(ns.STANZA, "iq"), attrs)


# The XEP-0254 handlers (unlock; the retract of a queue node) register themselves here.
from . import queue_handlers as queue_handlers  # noqa: E402
