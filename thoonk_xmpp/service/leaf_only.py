"""Every node is a leaf: the XEP-0248 collection fields a configuration form may carry.

Clients resubmit forms they got from other services, so an empty collection field (or
``pubsub#node_type`` = ``leaf``) says nothing and is ignored.  With a value, they are
refused as XEP-0248 says: ``pubsub#children`` or ``pubsub#collection`` on a leaf is
``not-allowed`` + ``invalid-options`` (§6.2), asking for a collection node
``feature-not-implemented`` + ``unsupported`` feature ``collections`` (§6.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .errors import NotACollection, Unsupported


def _refuse_collections(values: Sequence[str]) -> None:
    if any(value.strip() not in ("", "leaf") for value in values):
        raise Unsupported("collections", "every node is a leaf")


def _refuse_children(var: str) -> Callable[[Sequence[str]], None]:
    def refuse(values: Sequence[str]) -> None:
        if any(value.strip() for value in values):
            raise NotACollection(var, "a leaf node has no children and is in no collection")

    return refuse


#: Collection fields (XEP-0248) a form may carry: empty (or leaf) they say nothing and are
#: ignored; with a value they are refused as XEP-0248 says a leaf-only service must.
NOT_SUPPORTED: dict[str, Callable[[Sequence[str]], None]] = {
    "pubsub#node_type": _refuse_collections,
    "pubsub#children": _refuse_children("pubsub#children"),
    "pubsub#collection": _refuse_children("pubsub#collection"),
    "pubsub#children_max": _refuse_collections,
    "pubsub#children_association_policy": _refuse_collections,
    "pubsub#children_association_whitelist": _refuse_collections,
}
