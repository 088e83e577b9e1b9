"""Nothing advertised that does not work: every feature disco#info can show names its tests.

:data:`TESTED` maps each feature the service or one of its nodes can advertise to the
tests that exercise it.  A feature added to ``xmpp/disco.py`` without an entry here, an
entry for a feature no longer advertised, or an entry naming a test that does not exist
fails this module.
"""

from __future__ import annotations

import importlib
import xml.etree.ElementTree as ET
from typing import Final

import pytest

from thoonk_xmpp.service.model import NodeKind, SendLastPublished
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.service.service import NodeMetadata
from thoonk_xmpp.xmpp import disco, mam, ns

_I = "tests/integration/"
_MATRIX = f"{_I}test_access_matrix.py::test_access"
_DISCO = f"{_I}test_xep0060_5_discovery.py::test_service_identity_and_features"
_SUB = f"{_I}test_xep0060_6_subscriber.py::"
_PUB = f"{_I}test_xep0060_7_publisher.py::"
_OWN = f"{_I}test_xep0060_8_owner.py::"
_MANAGE = f"{_I}test_xep0060_8_owner_manage.py::"
_P = f"{ns.PUBSUB}#"

#: Feature → the tests that show it works (``path::function``).
TESTED: Final[dict[str, tuple[str, ...]]] = {
    ns.DISCO_INFO: (
        _DISCO,
        f"{_I}test_xep0060_5_discovery.py::test_node_info_has_leaf_identity_and_metadata_form",
    ),
    ns.DISCO_ITEMS: (f"{_I}test_xep0060_5_discovery.py::test_service_items_list_the_nodes",),
    ns.PUBSUB: (_DISCO,),
    ns.RSM: (
        f"{_I}test_disco.py::test_service_items_are_paged",
        f"{_SUB}test_retrieve_pages_with_rsm",
    ),
    ns.PING: (f"{_I}test_disco.py::test_ping_is_answered_with_an_empty_result",),
    ns.COMMANDS: (
        f"{_I}test_adhoc.py::test_the_service_advertises_commands",
        f"{_I}test_adhoc.py::test_list_nodes",
    ),
    ns.QUEUEING: (
        f"{_I}test_queue_nodes.py::test_disco_advertises_queueing_and_the_node_kind",
        f"{_I}test_queue_nodes.py::test_each_job_goes_to_one_worker_and_results_reach_the_publisher",
        f"{_I}test_queue_nodes.py::test_unlock_gives_the_job_to_another_worker",
    ),
    ns.POSITION: (f"{_I}test_ordered_nodes.py::test_ordered_node_publish_options_and_reads",),
    mam.MAM: (f"{_I}test_mam.py::test_a_client_reads_and_pages_a_node_history_by_time",),
    mam.EXTENDED: (f"{_I}test_mam.py::test_paging_by_id_counts_and_flipped_pages",),
    f"{_P}access-authorize": (
        _MATRIX,
        f"{_I}test_authorize.py::test_an_approved_request_becomes_a_subscription",
    ),
    f"{_P}access-open": (_MATRIX,),
    f"{_P}access-presence": (
        _MATRIX,
        f"{_I}test_roster_access.py::test_a_presence_subscriber_of_the_owner_gets_in",
    ),
    f"{_P}access-roster": (
        _MATRIX,
        f"{_I}test_roster_access.py::test_the_owners_roster_groups_are_the_choices_of_roster_groups_allowed",
    ),
    f"{_P}access-whitelist": (_MATRIX,),
    f"{_P}config-node": (f"{_OWN}test_owner_gets_and_sets_the_configuration",),
    f"{_P}config-node-max": (f"{_OWN}test_owner_gets_and_sets_the_configuration",),
    f"{_P}create-and-configure": (f"{_OWN}test_create_and_configure",),
    f"{_P}create-nodes": (f"{_OWN}test_create_with_default_configuration",),
    f"{_P}delete-items": (f"{_PUB}test_retract_several_items",),
    f"{_P}delete-nodes": (f"{_OWN}test_delete_with_redirect_tells_subscribers",),
    f"{_P}get-pending": (
        f"{_I}test_get_pending.py::test_the_owner_gets_the_forms_again_and_answers_one",
    ),
    f"{_P}instant-nodes": (f"{_OWN}test_create_instant_node_returns_the_generated_id",),
    f"{_P}item-ids": (f"{_PUB}test_publish_with_an_id_stores_and_notifies",),
    f"{_P}last-published": (
        f"{_SUB}test_last_published_item_is_sent_on_subscribe_when_configured",
    ),
    f"{_P}manage-subscriptions": (f"{_MANAGE}test_owner_lists_adds_and_removes_subscriptions",),
    f"{_P}member-affiliation": (_MATRIX,),
    f"{_P}meta-data": (
        f"{_I}test_xep0060_5_discovery.py::test_node_info_has_leaf_identity_and_metadata_form",
    ),
    f"{_P}modify-affiliations": (f"{_MANAGE}test_owner_lists_and_modifies_affiliations",),
    f"{_P}multi-items": (f"{_PUB}test_several_items_in_one_publish",),
    f"{_P}outcast-affiliation": (_MATRIX,),
    f"{_P}persistent-items": (f"{_SUB}test_retrieve_all_items_oldest_first_with_payloads",),
    f"{_P}publish": (f"{_PUB}test_publish_with_an_id_stores_and_notifies",),
    f"{_P}publish-node-full": (
        f"{_I}test_bridging.py::test_discard_oldest_trims_without_retract_events",
        f"{_I}test_bridging.py::test_retract_oldest_trims_with_retract_events",
    ),
    f"{_P}publish-only-affiliation": (_MATRIX,),
    f"{_P}publish-options": (f"{_PUB}test_publish_options_are_strict_preconditions",),
    f"{_P}publisher-affiliation": (_MATRIX,),
    f"{_P}purge-nodes": (f"{_OWN}test_purge_removes_every_item_with_one_event",),
    f"{_P}retract-items": (f"{_PUB}test_retract_notifies_per_node_option_or_notify_attribute",),
    f"{_P}retrieve-affiliations": (
        f"{_I}test_xep0060_5_discovery.py::test_own_affiliations_all_and_per_node",
    ),
    f"{_P}retrieve-default": (f"{_OWN}test_default_configuration",),
    f"{_P}retrieve-default-sub": (
        f"{_I}test_subscription_options.py::test_default_subscription_options",
    ),
    f"{_P}retrieve-items": (
        f"{_SUB}test_retrieve_items_by_id",
        f"{_SUB}test_retrieve_most_recent_items",
    ),
    f"{_P}retrieve-subscriptions": (
        f"{_I}test_xep0060_5_discovery.py::test_own_subscriptions_all_and_per_node",
    ),
    f"{_P}rsm": (f"{_SUB}test_retrieve_pages_with_rsm",),
    f"{_P}subscribe": (f"{_SUB}test_subscribe_returns_the_subscription_with_its_subid",),
    f"{_P}subscription-notifications": (
        f"{_I}test_notify_sub.py::test_owners_hear_of_subscriptions_and_unsubscriptions",
    ),
    f"{_P}subscription-options": (
        f"{_I}test_subscription_options.py::test_options_form_set_and_read_back",
    ),
}


def _features(query: ET.Element) -> set[str]:
    return {f.attrib["var"] for f in query.iter(ns.tag(ns.DISCO_INFO, "feature"))}


def _everything_advertised() -> set[str]:
    """What the service shows with every condition met, and what a node of each kind shows."""
    sending = NodeConfig(send_last_published_item=SendLastPublished.ON_SUB)
    shown = set(disco.service_features(sending, rosters=True))
    for kind in NodeKind:
        meta = NodeMetadata("n", NodeConfig(node_kind=kind), None, None, [], [], 0)
        shown |= _features(disco.node_info(meta))
    return shown


def test_every_advertised_feature_names_its_tests() -> None:
    shown = _everything_advertised()
    assert sorted(shown - TESTED.keys()) == [], "advertised without tests listed here"
    assert sorted(TESTED.keys() - shown) == [], "listed here but never advertised"


@pytest.mark.parametrize("test_id", sorted({t for tests in TESTED.values() for t in tests}))
def test_each_named_test_exists(test_id: str) -> None:
    path, _, function = test_id.partition("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, function, None)), f"{test_id} does not exist"
