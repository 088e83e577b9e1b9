"""XEP-0254 requests: unlock, the retract of a queue node, and what their errors carry.

Registered with :func:`~.handlers.handles` like every handler; imported by
:mod:`.handlers` once its names exist.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from thoonk_xmpp.service import sub_options
from thoonk_xmpp.service.errors import ConfigurationRequired

from . import forms, ns
from .handler_registry import Context, Reply, handles
from .requests import Retract, Unlock


async def retract_queued(ctx: Context, request: Retract) -> Reply:
    """The holder's retract finishes its jobs (with their ``<result/>``s; several items
    in one retract: all or none); a publisher's removes them. Only the holder is told
    (XEP-0254 §Deleting an Item), in one message naming every job it finished."""
    service = ctx.service
    done = await service.retract_queued(
        ctx.actor, ctx.sender, request.node, request.ids, dict(request.results)
    )
    queues = ctx.queues
    if not done.finished or queues is None:
        return Reply()

    async def tell_holder() -> None:
        state = await service.store.state(request.node)
        kind = state.config.notification_type
        queues.sink.retracted_to_holder(request.node, ctx.sender, done.finished, kind)

    return Reply(after=tell_holder)


@handles(Unlock)
async def unlock(ctx: Context, request: Unlock) -> Reply:
    await ctx.service.unlock(ctx.actor, ctx.sender, request.node, request.item_id)
    queues = ctx.queues
    if queues is None:
        return Reply()

    async def tell_holder() -> None:  # XEP-0254: notify only this subscriber
        queues.sink.unlocked(request.node, ctx.sender, request.item_id)

    return Reply(after=tell_holder)


def error_payload(iq: ET.Element, error: BaseException) -> ET.Element | None:
    """What an error answer carries besides ``<error/>``: for a subscription to a queue
    node without ``pubsub#queue_requests``, the request and the options form to fill in."""
    if not isinstance(error, ConfigurationRequired):
        return None
    attrs = {"node": error.node, "jid": error.jid}
    pubsub = ET.Element(ns.tag(ns.PUBSUB, "pubsub"))
    ET.SubElement(pubsub, ns.tag(ns.PUBSUB, "subscribe"), attrs)
    options = ET.SubElement(pubsub, ns.tag(ns.PUBSUB, "options"), attrs)
    form = forms.subscribe_options_form(sub_options.DEFAULT, queue_node=True)
    for field in form.iter(ns.tag(ns.DATA, "field")):
        if field.get("var") == "pubsub#queue_requests":
            ET.SubElement(field, ns.tag(ns.DATA, "required"))
    options.append(form)
    return pubsub
