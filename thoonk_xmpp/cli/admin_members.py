"""``thoonk-xmpp affiliations get|set`` and ``thoonk-xmpp subscriptions list|remove``."""

from __future__ import annotations

import argparse
from typing import Any

from thoonk_xmpp.service import admin as service_admin
from thoonk_xmpp.service.errors import InvalidSubId, NotSubscribed, SubIdRequired
from thoonk_xmpp.service.model import Subscription, SubscriptionState

from .admin import Admin, admin_options, affiliation_arg, bare_jid_arg, handler, jid_arg
from .common import EXIT_OK

# --- affiliations -------------------------------------------------------------------------


async def _get_affiliations(admin: Admin, args: argparse.Namespace) -> int:
    if args.jid is not None:
        found = await service_admin.jid_affiliations(admin.service, admin.actor, args.jid)
        report: dict[str, Any] = {"jid": args.jid}
    else:
        found = await admin.service.node_affiliations(admin.actor, args.node)
        report = {"node": args.node}
    report["affiliations"] = {name: aff.value for name, aff in found.items()}
    admin.show(report, [f"{name}\t{aff.value}" for name, aff in found.items()])
    return EXIT_OK


async def _set_affiliation(admin: Admin, args: argparse.Namespace) -> int:
    await admin.service.set_affiliations(admin.actor, args.node, {args.jid: args.affiliation})
    report = {"node": args.node, "jid": args.jid, "affiliation": args.affiliation.value}
    admin.show(report, [f"{args.node}\t{args.jid}\t{args.affiliation.value}"])
    return EXIT_OK


def _node_or_jid(parser: argparse.ArgumentParser, jid_type: Any, *, required: bool) -> None:
    which = parser.add_mutually_exclusive_group(required=required)
    which.add_argument("node", metavar="NODE", nargs="?")
    which.add_argument("--jid", metavar="JID", type=jid_type, help="across every node")


def add_affiliations(subparsers: Any) -> None:
    parser = subparsers.add_parser("affiliations", help="read or change who is what on a node")
    commands = parser.add_subparsers(dest="affiliations_command", metavar="COMMAND", required=True)

    get = commands.add_parser("get", help="a node's affiliations, or a JID's on every node")
    _node_or_jid(get, bare_jid_arg, required=True)
    admin_options(get)
    get.set_defaults(handler=handler(_get_affiliations))

    set_ = commands.add_parser("set", help="set a bare JID's affiliation (none removes it)")
    set_.add_argument("node", metavar="NODE")
    set_.add_argument("jid", metavar="JID", type=bare_jid_arg)
    set_.add_argument("affiliation", metavar="AFFILIATION", type=affiliation_arg)
    admin_options(set_)
    set_.set_defaults(handler=handler(_set_affiliation))


# --- subscriptions ------------------------------------------------------------------------


def _subscription_json(sub: Subscription) -> dict[str, str]:
    return {"node": sub.node, "jid": sub.jid, "subid": sub.subid, "subscription": sub.state}


def _subscription_row(sub: Subscription) -> str:
    """Node, JID, subid, and ``pending`` for a request waiting for approval."""
    waiting = "\tpending" if sub.state == SubscriptionState.PENDING else ""
    return f"{sub.node}\t{sub.jid}\t{sub.subid}{waiting}"


async def _list_subscriptions(admin: Admin, args: argparse.Namespace) -> int:
    if args.node is not None:
        subs = await admin.service.node_subscriptions(admin.actor, args.node)
    else:
        subs = await service_admin.all_subscriptions(admin.service, admin.actor, args.jid)
    admin.show(
        [_subscription_json(sub) for sub in subs],
        [_subscription_row(sub) for sub in subs],
    )
    return EXIT_OK


async def _remove_subscription(admin: Admin, args: argparse.Namespace) -> int:
    node, jid, subid = args.node, args.jid, args.subid
    mine = [
        sub
        for sub in await admin.service.node_subscriptions(admin.actor, node)
        if sub.jid == jid and (subid is None or sub.subid == subid)
    ]
    if not mine:
        if subid is not None:
            raise InvalidSubId(node, subid)
        raise NotSubscribed(node, jid)
    if len(mine) > 1:
        raise SubIdRequired(node)
    await admin.service.unsubscribe(admin.actor, node, jid, mine[0].subid)
    admin.show(_subscription_json(mine[0]), [f"removed {node}\t{jid}\t{mine[0].subid}"])
    return EXIT_OK


def add_subscriptions(subparsers: Any) -> None:
    parser = subparsers.add_parser("subscriptions", help="list or remove subscriptions")
    commands = parser.add_subparsers(dest="subscriptions_command", metavar="COMMAND", required=True)

    listing = commands.add_parser(
        "list", help="a node's subscriptions, a JID's on every node, or every one"
    )
    _node_or_jid(listing, jid_arg, required=False)
    admin_options(listing)
    listing.set_defaults(handler=handler(_list_subscriptions))

    remove = commands.add_parser("remove", help="remove a JID's subscription to a node")
    remove.add_argument("node", metavar="NODE")
    remove.add_argument("jid", metavar="JID", type=jid_arg)
    remove.add_argument("--subid", metavar="SUBID", help="which one, when the JID has several")
    admin_options(remove)
    remove.set_defaults(handler=handler(_remove_subscription))
