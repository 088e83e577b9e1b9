"""Handlers of the subscriber's requests (§6): items, subscribe and unsubscribe, options and
their defaults, one's own subscriptions and affiliations.
"""

from __future__ import annotations

from thoonk_xmpp.service.direct_events import ON_SUB
from thoonk_xmpp.service.errors import ItemNotFound
from thoonk_xmpp.service.model import (
    ItemsPage,
    SubscriptionState,
)
from thoonk_xmpp.service.sub_options import is_queue_node

from . import forms, payloads, queue_messages, rsm
from .fitting import Listing
from .handler_registry import Context, Reply, handles
from .reply_elements import add_subscription, listed_reply, node_attrs, pubsub_element, sub_element
from .requests import (
    GetItems,
    GetOptions,
    GetSubscribeDefault,
    OwnAffiliations,
    OwnSubscriptions,
    SetOptions,
    Subscribe,
    Unsubscribe,
)

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
    pubsub = pubsub_element()
    items = sub_element(pubsub, "items", {"node": request.node})
    for item in page.items:
        entry = sub_element(items, "item", {"id": item.id})
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
    pubsub = pubsub_element()
    add_subscription(pubsub, sub)
    config = service.node_config_of(await service.store.config(request.node))
    if request.options is not None:  # §6.3.7: the options that resulted
        sub_element(pubsub, "options").append(
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
    pubsub = pubsub_element()
    add_subscription(pubsub, mine[0], state=SubscriptionState.NONE.value)
    return Reply(pubsub)


@handles(GetOptions)
async def get_options(ctx: Context, request: GetOptions) -> Reply:
    sub, queue_node = await ctx.service.subscription_options(
        ctx.actor, request.node, request.jid, request.subid
    )
    pubsub = pubsub_element()
    attrs = {"node": request.node, "jid": request.jid, "subid": sub.subid}
    options = sub_element(pubsub, "options", attrs)
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
    pubsub = pubsub_element()
    sub_element(pubsub, "default", node_attrs(request.node)).append(
        forms.subscribe_options_form(
            options, queue_node=queue_node, form_type=forms.FormType.RESULT
        )
    )
    return Reply(pubsub)


@handles(OwnSubscriptions)
async def own_subscriptions(ctx: Context, request: OwnSubscriptions) -> Reply:
    subs = await ctx.service.own_subscriptions(ctx.actor, request.node)
    pubsub = pubsub_element()
    listing = sub_element(pubsub, "subscriptions", node_attrs(request.node))
    by_subid = {sub.subid: sub for sub in subs}
    page = rsm.page_of(list(by_subid), request.page, request.node or "")
    for subid in page.members:
        add_subscription(listing, by_subid[subid])
    return listed_reply(pubsub, listing, page, request.page is not None)


@handles(OwnAffiliations)
async def own_affiliations(ctx: Context, request: OwnAffiliations) -> Reply:
    found = await ctx.service.own_affiliations(ctx.actor, request.node)
    pubsub = pubsub_element()
    listing = sub_element(pubsub, "affiliations", node_attrs(request.node))
    page = rsm.page_of(list(found), request.page, request.node or "")
    for node in page.members:
        sub_element(listing, "affiliation", {"node": node, "affiliation": found[node].value})
    return listed_reply(pubsub, listing, page, request.page is not None)
