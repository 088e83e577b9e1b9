"""The service admins' ad-hoc commands: the ``thoonk-xmpp`` admin CLI's node operations
over XMPP (list nodes, a node's figures, delete, purge, set an affiliation).

Only ``[pubsub] admins`` see and run them.  Each calls the same service operation as the
CLI, as the admin who asked, so access, announcements and errors are the service's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from thoonk_xmpp.service.admin import node_report
from thoonk_xmpp.service.model import Affiliation

from .adhoc import Answers, CommandField, Outcome, ResultField, command
from .forms import FieldType
from .parsing import normalise_jid

if TYPE_CHECKING:
    from .handlers import Context

#: Prefix of the commands' nodes, and FORM_TYPE of their result forms.
ADMIN: Final = "urn:thoonk-xmpp:admin:0"


async def service_admin(ctx: Context) -> bool:
    """Whether the asker is one of ``[pubsub] admins``."""
    return ctx.service.policy.is_admin(ctx.actor)


def _bare_jid(text: str) -> str:
    jid = normalise_jid(text)  # MalformedJid is a ValueError
    if "/" in jid:
        raise ValueError(f"{text!r} is not a bare JID (no /resource)")
    return jid


_NODE = CommandField("node", FieldType.TEXT_SINGLE, "Node")


@command(f"{ADMIN}#list-nodes", "List nodes", may_run=service_admin)
async def list_nodes(ctx: Context, answers: Answers) -> Outcome:
    nodes = await ctx.service.list_nodes()
    listed = ResultField("nodes", "Nodes", nodes, FieldType.TEXT_MULTI)
    return Outcome(f"{len(nodes)} nodes", (listed,), ADMIN)


@command(f"{ADMIN}#node-stats", "Node statistics", may_run=service_admin, fields=(_NODE,))
async def node_stats(ctx: Context, answers: Answers) -> Outcome:
    report = await node_report(ctx.service, ctx.actor, answers["node"][0])
    subscribers = {sub.jid.partition("/")[0] for sub in report.subscriptions}
    figures = {
        "items": ("Items", report.items),
        "subscribers": ("Subscribers (bare JIDs)", len(subscribers)),
        "subscriptions": ("Subscriptions", len(report.subscriptions)),
        "affiliations": ("Affiliations", len(report.affiliations)),
    }
    fields = [ResultField("node", "Node", [report.node])]
    fields += [ResultField(var, label, [str(n)]) for var, (label, n) in figures.items()]
    return Outcome(f"node {report.node!r}", tuple(fields), ADMIN)


@command(
    f"{ADMIN}#delete-node",
    "Delete a node",
    may_run=service_admin,
    fields=(
        _NODE,
        CommandField("redirect", FieldType.TEXT_SINGLE, "Redirect URI", required=False),
    ),
)
async def delete_node(ctx: Context, answers: Answers) -> Outcome:
    node = answers["node"][0]
    redirect = answers["redirect"][0] if "redirect" in answers else None
    await ctx.service.delete_node(ctx.actor, node, redirect)
    return Outcome(f"deleted {node!r}")


@command(f"{ADMIN}#purge-node", "Purge a node", may_run=service_admin, fields=(_NODE,))
async def purge_node(ctx: Context, answers: Answers) -> Outcome:
    node = answers["node"][0]
    await ctx.service.purge_node(ctx.actor, node)
    return Outcome(f"purged {node!r}")


@command(
    f"{ADMIN}#set-affiliation",
    "Set an affiliation",
    may_run=service_admin,
    fields=(
        _NODE,
        CommandField("jid", FieldType.JID_SINGLE, "Bare JID", check=_bare_jid),
        CommandField(
            "affiliation",
            FieldType.LIST_SINGLE,
            "Affiliation (none removes it)",
            options=tuple(a.value for a in Affiliation),
        ),
    ),
)
async def set_affiliation(ctx: Context, answers: Answers) -> Outcome:
    node, jid = answers["node"][0], answers["jid"][0]
    affiliation = Affiliation(answers["affiliation"][0])
    await ctx.service.set_affiliations(ctx.actor, node, {jid: affiliation})
    return Outcome(f"{jid} is now {affiliation.value} of {node!r}")
