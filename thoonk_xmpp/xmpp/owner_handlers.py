"""Handlers of the owner's requests: nodes (§8.1-8.5), subscriptions and affiliations
(§8.8, §8.9).
"""

from __future__ import annotations

from typing import Final

from thoonk_xmpp.service.access import ROSTER_MODELS
from thoonk_xmpp.service.model import Affiliation

from . import forms, rsm
from .handler_registry import Context, Reply, handles
from .reply_elements import add_subscription, listed_reply, pubsub_element, sub_element
from .requests import (
    Create,
    Delete,
    GetAffiliations,
    GetConfig,
    GetDefault,
    GetSubscriptions,
    Purge,
    SetAffiliations,
    SetConfig,
    SetSubscriptions,
)

ROSTER_GROUPS: Final = "pubsub#roster_groups_allowed"
#: The access models that need the server's roster privilege, as form values.
ROSTER_MODEL_NAMES: Final = frozenset(model.value for model in ROSTER_MODELS)


# --- owner: nodes (§8.1-8.5) -----------------------------------------------------------


@handles(Create)
async def create(ctx: Context, request: Create) -> Reply:
    node = await ctx.service.create_node(ctx.actor, request.node, request.config)
    pubsub = pubsub_element()
    sub_element(pubsub, "create", {"node": node})
    return Reply(pubsub)


@handles(GetConfig)
async def get_config(ctx: Context, request: GetConfig) -> Reply:
    config = await ctx.service.get_config(ctx.actor, request.node)
    pubsub = pubsub_element(owner=True)
    # the groups of the owner's roster to choose from, beside those already chosen
    groups = await ctx.service.rosters.groups_of(ctx.actor.bare)
    chosen = sorted(set(groups) | set(config.roster_groups_allowed))
    form = forms.node_config_form(
        config, unoffered=await _unoffered(ctx), choices={ROSTER_GROUPS: chosen}
    )
    sub_element(pubsub, "configure", {"node": request.node}).append(form)
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
    pubsub = pubsub_element(owner=True)
    groups = {ROSTER_GROUPS: await ctx.service.rosters.groups_of(ctx.actor.bare)}
    config = ctx.service.default_config()
    form = forms.node_config_form(config, unoffered=await _unoffered(ctx), choices=groups)
    sub_element(pubsub, "default").append(form)
    return Reply(pubsub)


@handles(Delete)
async def delete(ctx: Context, request: Delete) -> Reply:
    await ctx.service.delete_node(ctx.actor, request.node, request.redirect)
    return Reply()


@handles(Purge)
async def purge(ctx: Context, request: Purge) -> Reply:
    await ctx.service.purge_node(ctx.actor, request.node)
    return Reply()


# --- owner: subscriptions and affiliations (§8.8, §8.9) -----------------------------------


@handles(GetSubscriptions)
async def get_subscriptions(ctx: Context, request: GetSubscriptions) -> Reply:
    subs = await ctx.service.node_subscriptions(ctx.actor, request.node)
    pubsub = pubsub_element(owner=True)
    listing = sub_element(pubsub, "subscriptions", {"node": request.node})
    by_subid = {sub.subid: sub for sub in subs}
    page = rsm.page_of(list(by_subid), request.page, request.node)
    for subid in page.members:
        add_subscription(listing, by_subid[subid], with_node=False)
    return listed_reply(pubsub, listing, page, request.page is not None)


@handles(SetSubscriptions)
async def set_subscriptions(ctx: Context, request: SetSubscriptions) -> Reply:
    await ctx.service.set_subscriptions(ctx.actor, request.node, request.changes)
    return Reply()


@handles(GetAffiliations)
async def get_affiliations(ctx: Context, request: GetAffiliations) -> Reply:
    found = await ctx.service.node_affiliations(ctx.actor, request.node)
    pubsub = pubsub_element(owner=True)
    listing = sub_element(pubsub, "affiliations", {"node": request.node})
    shown = {jid: a for jid, a in found.items() if a != Affiliation.NONE}
    page = rsm.page_of(list(shown), request.page, request.node)
    for jid in page.members:
        sub_element(listing, "affiliation", {"jid": jid, "affiliation": shown[jid].value})
    return listed_reply(pubsub, listing, page, request.page is not None)


@handles(SetAffiliations)
async def set_affiliations(ctx: Context, request: SetAffiliations) -> Reply:
    await ctx.service.set_affiliations(ctx.actor, request.node, dict(request.changes))
    return Reply()
