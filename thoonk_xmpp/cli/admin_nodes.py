"""``thoonk-xmpp nodes list|info|create|delete|purge``: a service admin's node commands."""

from __future__ import annotations

import argparse
from typing import Any

from thoonk_xmpp.service import node_config
from thoonk_xmpp.service.admin import NodeReport, node_report

from .admin import Admin, admin_options, handler
from .common import EXIT_OK

#: Prefix of the XEP-0060 node options; ``--set`` accepts names with or without it.
OPTION_PREFIX = "pubsub#"
#: Our own options (``thoonkx#node_kind``) by their short names.
_OWN_OPTIONS = {
    spec.var.partition("#")[2]: spec.var
    for spec in node_config.FIELDS
    if not spec.var.startswith(OPTION_PREFIX)
}


def option_arg(text: str) -> tuple[str, str]:
    """``max_items=10`` or ``pubsub#max_items=10`` → ``("pubsub#max_items", "10")``;
    ``node_kind=sorted_feed`` → ``("thoonkx#node_kind", "sorted_feed")``."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not OPTION=VALUE")
    if "#" not in name:
        name = _OWN_OPTIONS.get(name, OPTION_PREFIX + name)
    return name, value


def report_json(report: NodeReport) -> dict[str, Any]:
    """The ``--json`` shape of ``nodes info`` and ``nodes create``."""
    return {
        "node": report.node,
        "config": {
            spec.var: node_config.render(report.config, spec) for spec in node_config.FIELDS
        },
        "creator": report.creator,
        "creation_date": report.creation_date,
        "items": report.items,
        "subscriptions": len(report.subscriptions),
        "affiliations": len(report.affiliations),
    }


def _report_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"{field}: {report[field] or ''}".rstrip() for field in ("node", "creator")]
    lines.append(f"created: {report['creation_date'] or ''}".rstrip())
    lines += [f"{field}: {report[field]}" for field in ("items", "subscriptions", "affiliations")]
    lines.append("config:")
    lines += [f"  {var}: {value}".rstrip() for var, value in report["config"].items()]
    return lines


async def _list(admin: Admin, args: argparse.Namespace) -> int:
    nodes = await admin.service.list_nodes()
    admin.show(nodes, nodes)
    return EXIT_OK


async def _info(admin: Admin, args: argparse.Namespace) -> int:
    report = report_json(await node_report(admin.service, admin.actor, args.node))
    admin.show(report, _report_lines(report))
    return EXIT_OK


async def _create(admin: Admin, args: argparse.Namespace) -> int:
    changes: dict[str, list[str]] = {}
    for name, value in args.options:
        changes.setdefault(name, []).append(value)  # given twice: refused by node_config.apply
    created = await admin.service.create_node(admin.actor, args.node, changes)
    report = report_json(await node_report(admin.service, admin.actor, created))
    admin.show(report, _report_lines(report))
    return EXIT_OK


async def _delete(admin: Admin, args: argparse.Namespace) -> int:
    await admin.service.delete_node(admin.actor, args.node, args.redirect)
    admin.show({"node": args.node, "deleted": True}, [f"deleted {args.node}"])
    return EXIT_OK


async def _purge(admin: Admin, args: argparse.Namespace) -> int:
    await admin.service.purge_node(admin.actor, args.node)
    admin.show({"node": args.node, "purged": True}, [f"purged {args.node}"])
    return EXIT_OK


def add_nodes(subparsers: Any) -> None:
    parser = subparsers.add_parser("nodes", help="list, inspect, create, delete or purge nodes")
    commands = parser.add_subparsers(dest="nodes_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="every node's name")
    admin_options(listing)
    listing.set_defaults(handler=handler(_list))

    info = commands.add_parser("info", help="a node's options, item and member counts")
    info.add_argument("node", metavar="NODE")
    admin_options(info)
    info.set_defaults(handler=handler(_info))

    create = commands.add_parser("create", help="create a node (owned by the admin)")
    create.add_argument("node", metavar="NODE")
    create.add_argument(
        "--set",
        dest="options",
        metavar="OPTION=VALUE",
        type=option_arg,
        action="append",
        default=[],
        help="a node option, as in an XMPP configure form (max_items=10, access_model=whitelist)",
    )
    admin_options(create)
    create.set_defaults(handler=handler(_create))

    delete = commands.add_parser(
        "delete", help="delete a node (a running bridge tells subscribers)"
    )
    delete.add_argument("node", metavar="NODE")
    delete.add_argument("--redirect", metavar="URI", help="where subscribers should go instead")
    admin_options(delete)
    delete.set_defaults(handler=handler(_delete))

    purge = commands.add_parser("purge", help="remove every item of a node")
    purge.add_argument("node", metavar="NODE")
    admin_options(purge)
    purge.set_defaults(handler=handler(_purge))
