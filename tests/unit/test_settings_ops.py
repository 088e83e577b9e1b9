"""[metrics] and [log] in thoonk_xmpp.toml: defaults, every key, and errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from thoonk_xmpp.settings import LogSettings, MetricsSettings, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
COMPONENT: dict[str, Any] = {"jid": "pubsub.example.org", "secret": "s3cret-for-ops-tests"}


def load(**tables: Any) -> Settings:
    return Settings.from_mapping({"component": COMPONENT, **tables})


def test_metrics_are_off_on_loopback_by_default_and_logs_plain() -> None:
    settings = load()

    assert settings.metrics == MetricsSettings(
        enabled=False, host="127.0.0.1", port=9108, sample_interval=30.0
    )
    assert settings.log == LogSettings(level="info", format="plain")


def test_every_metrics_and_log_key_is_read() -> None:
    settings = load(
        metrics={"enabled": True, "host": "::1", "port": 19108, "sample_interval": 5},
        log={"level": "debug", "format": "json"},
    )

    assert settings.metrics == MetricsSettings(
        enabled=True, host="::1", port=19108, sample_interval=5.0
    )
    assert isinstance(settings.metrics.sample_interval, float)
    assert settings.metrics.url == "http://[::1]:19108/metrics"
    assert load().metrics.url == "http://127.0.0.1:9108/metrics"
    assert settings.log == LogSettings(level="debug", format="json")


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"metrics": {"enable": True}}, "metrics.enable"),
        ({"metrics": {"path": "/metrics"}}, "metrics.path"),
        ({"log": {"style": "json"}}, "log.style"),
    ],
)
def test_unknown_keys_are_named(tables: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(**tables)

    assert caught.value.key == key
    assert str(caught.value) == f"{key}: unknown key"


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"metrics": {"enabled": "yes"}}, "metrics.enabled"),
        ({"metrics": {"enabled": 1}}, "metrics.enabled"),
        ({"metrics": {"host": ""}}, "metrics.host"),
        ({"metrics": {"host": 127}}, "metrics.host"),
        ({"metrics": {"port": 0}}, "metrics.port"),
        ({"metrics": {"port": 65536}}, "metrics.port"),
        ({"metrics": {"port": "9108"}}, "metrics.port"),
        ({"metrics": {"port": True}}, "metrics.port"),
        ({"metrics": {"sample_interval": 0}}, "metrics.sample_interval"),
        ({"metrics": {"sample_interval": 7200}}, "metrics.sample_interval"),
        ({"metrics": {"sample_interval": "30s"}}, "metrics.sample_interval"),
        ({"metrics": True}, "metrics"),
        ({"log": {"format": "xml"}}, "log.format"),
        ({"log": {"format": ""}}, "log.format"),
        ({"log": {"format": 1}}, "log.format"),
    ],
)
def test_bad_values_are_named(tables: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(**tables)

    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert COMPONENT["secret"] not in str(caught.value)


def test_example_file_shows_metrics_off_and_plain_logs() -> None:
    settings = Settings.from_toml(ROOT / "thoonk_xmpp.toml")
    text = (ROOT / "thoonk_xmpp.toml").read_text()

    assert settings.metrics == MetricsSettings()
    assert settings.log.format == "plain"
    assert "[metrics]" in text
