"""thoonk_xmpp.toml parsing: defaults, every table, and errors that name the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from thoonk_xmpp.service.model import (
    AccessModel,
    NodeCreation,
    NotificationType,
    PublishModel,
    SendLastPublished,
)
from thoonk_xmpp.service.node_config import NodeConfig
from thoonk_xmpp.settings import (
    SECRET_ENV,
    SECRET_FILE_LIMIT,
    LogSettings,
    RedisSettings,
    Settings,
    SettingsError,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Zq8-very-private-0451"
MINIMAL: dict[str, Any] = {"component": {"jid": "pubsub.example.org", "secret": SECRET}}
#: An environment without THOONK_XMPP_SECRET, whatever the test runner's has.
NO_ENV: dict[str, str] = {}


def load(**tables: Any) -> Settings:
    """MINIMAL with ``tables`` merged in (a non-table value replaces the table)."""
    data = copy.deepcopy(MINIMAL)
    for name, table in tables.items():
        if isinstance(table, dict):
            data.setdefault(name, {}).update(table)
        else:
            data[name] = table
    return Settings.from_mapping(data, NO_ENV)


def refused(**tables: Any) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        load(**tables)
    assert SECRET not in str(caught.value)
    return caught.value


def test_minimal_file_takes_the_defaults() -> None:
    settings = load()

    assert settings.component.jid == "pubsub.example.org"
    assert settings.component.secret == SECRET
    assert settings.component.host == "127.0.0.1"
    assert settings.component.port == 5347
    assert settings.component.reconnect_max_delay == 60.0
    assert settings.redis == RedisSettings("redis://127.0.0.1:6379/0")
    assert settings.log == LogSettings("info")
    assert settings.pubsub.node_creation is NodeCreation.LOCAL
    assert settings.pubsub.local_domains == {"example.org"}
    assert settings.pubsub.admins == frozenset()
    assert settings.pubsub.max_items_cap is None
    assert settings.pubsub.defaults == NodeConfig()


def test_every_key_is_read() -> None:
    settings = load(
        component={"host": "::1", "port": 15347, "reconnect_max_delay": 5},
        redis={"url": "rediss://cache.example.org:6380/2"},
        pubsub={
            "admins": ["Boss@Example.org"],
            "node_creation": "list",
            "creators": ["alice@example.org", "bob@example.org"],
            "local_domains": ["example.org", "example.net"],
            "max_items_cap": 500,
            "default_node": {
                "title": "News",
                "max_items": 50,
                "access_model": "whitelist",
                "publish_model": "subscribers",
                "send_last_published_item": "on_sub",
                "deliver_payloads": False,
                "notify_retract": False,
                "notification_type": "normal",
                "max_payload_size": 4096,
            },
        },
        log={"level": "debug"},
    )

    assert settings.component.host == "::1"
    assert settings.component.port == 15347
    assert settings.component.reconnect_max_delay == 5.0
    assert isinstance(settings.component.reconnect_max_delay, float)
    assert settings.redis.url == "rediss://cache.example.org:6380/2"
    unix = load(redis={"url": "unix:///run/redis/redis.sock?db=1"})
    assert unix.redis.url == "unix:///run/redis/redis.sock?db=1"
    policy = settings.pubsub
    assert policy.admins == {"boss@example.org"}
    assert policy.node_creation is NodeCreation.LIST
    assert policy.creators == {"alice@example.org", "bob@example.org"}
    assert policy.local_domains == {"example.org", "example.net"}
    assert policy.max_items_cap == 500
    assert policy.defaults == NodeConfig(
        title="News",
        max_items=50,
        access_model=AccessModel.WHITELIST,
        publish_model=PublishModel.SUBSCRIBERS,
        send_last_published_item=SendLastPublished.ON_SUB,
        deliver_payloads=False,
        notify_retract=False,
        notification_type=NotificationType.NORMAL,
        max_payload_size=4096,
    )
    assert settings.log.level == "debug"


def test_max_items_may_be_max() -> None:
    settings = load(pubsub={"default_node": {"max_items": "max"}})

    assert settings.pubsub.defaults.max_items is None


def test_example_file_at_the_root_loads() -> None:
    settings = Settings.from_toml(ROOT / "thoonk_xmpp.toml")

    assert settings.component.jid == "pubsub.localhost"
    assert settings.component.host == "127.0.0.1"
    assert settings.pubsub.local_domains == {"localhost"}
    assert settings.pubsub.max_items_cap is not None
    assert settings.pubsub.defaults.max_items is not None
    assert settings.pubsub.defaults.max_items <= settings.pubsub.max_items_cap


def test_from_toml_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'[component]\njid = "pubsub.example.org"\nsecret = "{SECRET}"\n')

    assert Settings.from_toml(path, NO_ENV) == load()


def test_invalid_toml_is_a_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[component]\njid = "pubsub.example.org"\nsecret = "' + SECRET + "\n")

    with pytest.raises(SettingsError, match="not valid TOML") as caught:
        Settings.from_toml(path)
    assert SECRET not in str(caught.value)


def test_missing_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_toml(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"extra": {"a": 1}}, "extra"),
        ({"component": {"scret": "x"}}, "component.scret"),
        ({"redis": {"host": "x"}}, "redis.host"),
        ({"pubsub": {"admin": []}}, "pubsub.admin"),
        ({"pubsub": {"default_node": {"max_item": 3}}}, "pubsub.default_node.max_item"),
        ({"log": {"file": "x"}}, "log.file"),
    ],
)
def test_unknown_keys_are_named(tables: dict[str, dict[str, Any]], key: str) -> None:
    error = refused(**tables)

    assert error.key == key
    assert str(error).startswith(f"{key}: unknown")


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"component": {"jid": "user@example.org"}}, "component.jid"),
        ({"component": {"jid": "pubsub.example.org/res"}}, "component.jid"),
        ({"component": {"jid": ""}}, "component.jid"),
        ({"component": {"jid": 5}}, "component.jid"),
        ({"component": {"secret": ""}}, "component.secret"),
        ({"component": {"secret": 1234}}, "component.secret"),
        ({"component": {"host": ""}}, "component.host"),
        ({"component": {"port": "5347"}}, "component.port"),
        ({"component": {"port": True}}, "component.port"),
        ({"component": {"port": 0}}, "component.port"),
        ({"component": {"port": 70000}}, "component.port"),
        ({"component": {"reconnect_max_delay": 0}}, "component.reconnect_max_delay"),
        ({"component": {"reconnect_max_delay": "1m"}}, "component.reconnect_max_delay"),
        ({"redis": {"url": "http://127.0.0.1:6379"}}, "redis.url"),
        ({"redis": {"url": "redis://127.0.0.1:notaport"}}, "redis.url"),
        ({"redis": {"url": "redis://"}}, "redis.url"),
        ({"redis": {"url": "unix://"}}, "redis.url"),
        ({"redis": {"url": 6379}}, "redis.url"),
        ({"pubsub": {"admins": "boss@example.org"}}, "pubsub.admins"),
        ({"pubsub": {"admins": ["boss@example.org/phone"]}}, "pubsub.admins"),
        ({"pubsub": {"admins": ["@example.org"]}}, "pubsub.admins"),
        ({"pubsub": {"admins": [3]}}, "pubsub.admins"),
        ({"pubsub": {"node_creation": "everyone"}}, "pubsub.node_creation"),
        ({"pubsub": {"creators": ["alice@example.org"]}}, "pubsub.creators"),
        ({"pubsub": {"local_domains": ["a@example.org"]}}, "pubsub.local_domains"),
        ({"pubsub": {"max_items_cap": 0}}, "pubsub.max_items_cap"),
        ({"pubsub": {"max_items_cap": 1.5}}, "pubsub.max_items_cap"),
        ({"pubsub": {"default_node": []}}, "pubsub.default_node"),
        ({"pubsub": {"default_node": {"max_items": 0}}}, "pubsub.default_node.max_items"),
        ({"pubsub": {"default_node": {"max_items": "lots"}}}, "pubsub.default_node.max_items"),
        (
            {"pubsub": {"max_items_cap": 10, "default_node": {"max_items": 11}}},
            "pubsub.default_node.max_items",
        ),
        (
            {"pubsub": {"default_node": {"access_model": "nobody"}}},
            "pubsub.default_node.access_model",
        ),
        (
            {"pubsub": {"default_node": {"publish_model": "anyone"}}},
            "pubsub.default_node.publish_model",
        ),
        (
            {"pubsub": {"default_node": {"send_last_published_item": "on_presence"}}},
            "pubsub.default_node.send_last_published_item",
        ),
        (
            {"pubsub": {"default_node": {"deliver_payloads": "yes"}}},
            "pubsub.default_node.deliver_payloads",
        ),
        ({"pubsub": {"default_node": {"notify_retract": 1}}}, "pubsub.default_node.notify_retract"),
        ({"pubsub": {"default_node": {"title": 7}}}, "pubsub.default_node.title"),
        (
            {"pubsub": {"default_node": {"max_payload_size": -1}}},
            "pubsub.default_node.max_payload_size",
        ),
        ({"log": {"level": "verbose"}}, "log.level"),
        ({"log": "debug"}, "log"),
    ],
)
def test_bad_values_are_named(tables: dict[str, Any], key: str) -> None:
    error = refused(**tables)

    assert error.key == key
    assert str(error).startswith(f"{key}: ")


@pytest.mark.parametrize("missing", ["jid", "secret"])
def test_component_jid_and_secret_are_required(missing: str) -> None:
    data = copy.deepcopy(MINIMAL)
    del data["component"][missing]

    with pytest.raises(SettingsError, match=rf"^component\.{missing}: required\b"):
        Settings.from_mapping(data, NO_ENV)


def test_component_table_is_required() -> None:
    with pytest.raises(SettingsError, match=r"^component: missing table$"):
        Settings.from_mapping({"redis": {}}, NO_ENV)


def test_secret_is_never_shown() -> None:
    settings = load(redis={"url": "redis://user:hunter2@127.0.0.1:7000/0"})

    for text in (repr(settings), str(settings), repr(settings.component), repr(settings.redis)):
        assert SECRET not in text
        assert "hunter2" not in text
    assert "redis://user:***@127.0.0.1:7000/0" in repr(settings.redis)


def test_redis_password_in_the_query_is_hidden_too() -> None:
    settings = load(redis={"url": "unix:///run/redis.sock?db=2&password=hunter2"})
    assert "hunter2" not in repr(settings)
    assert settings.redis.redacted_url == "unix:///run/redis.sock?db=2&password=***"


def test_redis_password_is_not_echoed_in_errors() -> None:
    error = refused(redis={"url": "http://user:hunter2@127.0.0.1:7000/0"})

    assert "hunter2" not in str(error)


def test_jid_lists_are_lower_cased_and_parent_domain_is_local() -> None:
    settings = load(
        component={"jid": "PubSub.Example.ORG"},
        pubsub={"node_creation": "list", "creators": ["Alice@Example.org"]},
    )

    assert settings.component.jid == "pubsub.example.org"
    assert settings.pubsub.creators == {"alice@example.org"}
    assert settings.pubsub.local_domains == {"example.org"}


def test_settings_module_does_not_import_xmpp_libraries() -> None:
    source = (ROOT / "thoonk_xmpp" / "settings.py").read_text()

    assert "slixmpp" not in source
    assert "aioxmpp" not in source


# --- where the component secret comes from ---------------------------------------------

FROM_ENV = "env-secret-7c1e"
FROM_FILE = "file-secret-93aa"


def component_only(**keys: str) -> dict[str, Any]:
    return {"component": {"jid": "pubsub.example.org", **keys}}


def secret_file(tmp_path: Path, content: bytes = FROM_FILE.encode() + b"\n") -> Path:
    path = tmp_path / "component-secret"
    path.write_bytes(content)
    return path


def test_secret_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_mapping(component_only(), {SECRET_ENV: FROM_ENV})

    assert settings.component.secret == FROM_ENV
    assert settings.component.secret_source == "$THOONK_XMPP_SECRET"


def test_secret_from_a_file_without_its_line_break(tmp_path: Path) -> None:
    path = secret_file(tmp_path)
    settings = Settings.from_mapping(component_only(secret_file=str(path)), NO_ENV)

    assert settings.component.secret == FROM_FILE
    assert settings.component.secret_source == f"file {path}"
    assert FROM_FILE not in repr(settings)


def test_relative_secret_file_is_beside_the_settings_file(tmp_path: Path) -> None:
    secret_file(tmp_path)
    config = tmp_path / "t.toml"
    config.write_text('[component]\njid = "pubsub.example.org"\nsecret_file = "component-secret"\n')

    assert Settings.from_toml(config, NO_ENV).component.secret == FROM_FILE


@pytest.mark.parametrize("keys", ["file", "secret"])
def test_the_environment_comes_first(tmp_path: Path, keys: str) -> None:
    given = {"secret_file": str(secret_file(tmp_path))} if keys == "file" else {"secret": SECRET}
    settings = Settings.from_mapping(component_only(**given), {SECRET_ENV: FROM_ENV})

    assert settings.component.secret == FROM_ENV


def test_secret_and_secret_file_together_are_refused(tmp_path: Path) -> None:
    keys = {"secret": SECRET, "secret_file": str(secret_file(tmp_path))}
    with pytest.raises(SettingsError, match=r"^component\.secret_file: give either") as caught:
        Settings.from_mapping(component_only(**keys), {SECRET_ENV: FROM_ENV})
    assert caught.value.key == "component.secret_file"


def test_no_secret_anywhere_names_every_place() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping(component_only(), NO_ENV)

    assert caught.value.key == "component.secret"
    assert str(caught.value) == (
        "component.secret: required (or secret_file, or $THOONK_XMPP_SECRET in the environment)"
    )


def test_empty_environment_variable_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^THOONK_XMPP_SECRET: set but empty$"):
        Settings.from_mapping(MINIMAL, {SECRET_ENV: ""})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\n", "is empty"),
        (b"\r\n", "is empty"),
        (b"one\ntwo\n", "holds more than one line"),
        (b"\xff\xfe" + FROM_FILE.encode(), "is not UTF-8 text"),
        (b"x" * (SECRET_FILE_LIMIT + 1), f"is longer than {SECRET_FILE_LIMIT} bytes"),
    ],
)
def test_unusable_secret_files_are_named(tmp_path: Path, content: bytes, problem: str) -> None:
    path = secret_file(tmp_path, content)
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping(component_only(secret_file=str(path)), NO_ENV)

    assert caught.value.key == "component.secret_file"
    assert str(caught.value) == f"component.secret_file: {path} {problem}"


@pytest.mark.parametrize(
    ("name", "problem"), [("absent", "No such file or directory"), (".", "Is a directory")]
)
def test_unreadable_secret_file_is_named(tmp_path: Path, name: str, problem: str) -> None:
    path = tmp_path / name
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping(component_only(secret_file=str(path)), NO_ENV)

    assert str(caught.value) == f"component.secret_file: cannot read {path}: {problem}"


@pytest.mark.parametrize("value", ["", 5])
def test_secret_file_must_be_a_path(value: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping(
            {"component": {"jid": "pubsub.example.org", "secret_file": value}}, NO_ENV
        )

    assert caught.value.key == "component.secret_file"


def test_secret_not_looked_for_when_not_needed(tmp_path: Path) -> None:
    keys = {"secret_file": str(tmp_path / "absent")}
    settings = Settings.from_mapping(
        component_only(**keys), {SECRET_ENV: FROM_ENV}, secret_needed=False
    )

    assert settings.component.secret == ""
    assert settings.component.secret_source == "nowhere (not needed)"
    with pytest.raises(SettingsError, match=r"^component\.secret_file: cannot read"):
        Settings.from_mapping(component_only(**keys), NO_ENV)


def test_delivery_and_limits_tables() -> None:
    settings = load(
        delivery={"mark_interval": 0.25, "margin": 2, "catch_up_items": 50, "catch_up_age": 60},
        limits={"pending_per_sender": 5, "pending": 50, "rate": 2.5, "burst": 10},
        pubsub={"max_nodes_per_owner": 3},
    )
    assert (settings.delivery.mark_interval, settings.delivery.margin) == (0.25, 2.0)
    assert (settings.delivery.catch_up_items, settings.delivery.catch_up_age) == (50, 60.0)
    limits = settings.limits
    assert (limits.pending_per_sender, limits.pending, limits.rate, limits.burst) == (
        5,
        50,
        2.5,
        10,
    )
    assert settings.pubsub.max_nodes_per_owner == 3
    defaults = load()
    assert defaults.limits.rate == 0  # no rate limit unless configured
    assert defaults.pubsub.max_nodes_per_owner is None
    assert defaults.delivery.catch_up_items == 10_000


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"delivery": {"mark_interval": 0}}, "delivery.mark_interval"),
        ({"delivery": {"margin": -1}}, "delivery.margin"),
        ({"delivery": {"catch_up_items": 0}}, "delivery.catch_up_items"),
        ({"delivery": {"catch_up_age": "1h"}}, "delivery.catch_up_age"),
        ({"delivery": {"held": 3}}, "delivery.held"),
        ({"limits": {"pending": 0}}, "limits.pending"),
        ({"limits": {"pending_per_sender": -2}}, "limits.pending_per_sender"),
        ({"limits": {"rate": -1}}, "limits.rate"),
        ({"limits": {"burst": 1.5}}, "limits.burst"),
        ({"pubsub": {"max_nodes_per_owner": 0}}, "pubsub.max_nodes_per_owner"),
    ],
)
def test_bad_delivery_and_limits_values_are_named(tables: dict[str, Any], key: str) -> None:
    assert refused(**tables).key == key


def test_instances_share_or_stand_by() -> None:
    settings = load(
        component={"standby": True},
        delivery={"shared": True, "lease_time": 3, "lease_interval": 0.5},
    )
    assert settings.component.standby
    assert (settings.delivery.shared, settings.delivery.lease_time) == (True, 3.0)
    assert settings.delivery.lease_interval == 0.5
    assert not load().component.standby
    assert not load().delivery.shared
    assert refused(delivery={"lease_time": 2, "lease_interval": 1.5}).key == (
        "delivery.lease_interval"
    )
    assert refused(component={"standby": "yes"}).key == "component.standby"
    assert refused(delivery={"shared": 1}).key == "delivery.shared"


def test_stanza_and_payload_limits_default_to_prosodys_and_half_of_it() -> None:
    settings = load()

    assert settings.component.max_stanza_size == 512 * 1024
    assert settings.pubsub.max_payload_size == 256 * 1024
    assert load(component={"max_stanza_size": 65536}).pubsub.max_payload_size == 32768
    explicit = load(component={"max_stanza_size": 1 << 20}, pubsub={"max_payload_size": 900_000})
    assert explicit.pubsub.max_payload_size == 900_000


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"component": {"max_stanza_size": 1000}}, "component.max_stanza_size"),
        ({"component": {"max_stanza_size": "512k"}}, "component.max_stanza_size"),
        ({"pubsub": {"max_payload_size": 0}}, "pubsub.max_payload_size"),
        ({"pubsub": {"max_payload_size": 512 * 1024}}, "pubsub.max_payload_size"),
        (
            {"component": {"max_stanza_size": 65536}, "pubsub": {"max_payload_size": 60000}},
            "pubsub.max_payload_size",
        ),
    ],
)
def test_limits_that_could_not_work_are_named(tables: dict[str, Any], key: str) -> None:
    assert refused(**tables).key == key


def test_redis_through_sentinels() -> None:
    redis = load(
        redis={"sentinels": ["10.0.0.1:26379", "[::1]:26380"], "sentinel_master": "m"}
    ).redis
    assert redis.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert redis.sentinel_master == "m"
    assert load().redis.sentinels == ()
    for bad in (["nohost"], ["h:0"], ["h:port"], "h:1"):
        assert refused(redis={"sentinels": bad}).key == "redis.sentinels"


def test_archive_page_size() -> None:
    assert load().pubsub.max_archive_page == 50
    assert load(pubsub={"max_archive_page": 7}).pubsub.max_archive_page == 7
    for bad in (0, 1001, "10"):
        assert refused(pubsub={"max_archive_page": bad}).key == "pubsub.max_archive_page"
