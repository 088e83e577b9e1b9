"""One async function per verb: typed request → service call → reply element.

Handlers never read XML and never catch service errors (the component maps
them through :mod:`thoonk_xmpp.xmpp.errors`); they return a :class:`Reply`
whose payload goes into the iq result and whose ``after`` runs once the
result is sent (the last item for a new subscriber).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from . import adhoc, disco, mam, ns, queue_handlers, rsm
from . import admin_commands as admin_commands  # declares the service admins' commands
from . import authorization as authorization  # declares get-pending
from . import owner_handlers as owner_handlers  # registers the owner's handlers
from . import subscriber_handlers as subscriber_handlers  # registers the subscriber's
from .fitting import Listing
from .handler_registry import HANDLERS as HANDLERS
from .handler_registry import Context as Context
from .handler_registry import Reply as Reply
from .handler_registry import handle as handle
from .handler_registry import handles
from .reply_elements import pubsub_element, sub_element
from .requests import (
    DiscoInfo,
    DiscoItems,
    Execute,
    GetArchiveForm,
    GetArchiveMetadata,
    Ping,
    Publish,
    QueryArchive,
    Retract,
)

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
    pubsub = pubsub_element()
    published = sub_element(pubsub, "publish", {"node": request.node})
    for item_id in ids:
        sub_element(published, "item", {"id": item_id})
    return Reply(pubsub)


@handles(Retract)
async def retract(ctx: Context, request: Retract) -> Reply:
    if await ctx.service.queue_kind(request.node) is not None:
        return await queue_handlers.retract_queued(ctx, request)
    await ctx.service.retract(ctx.actor, request.node, request.ids, request.notify)
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
