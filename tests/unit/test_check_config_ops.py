"""``thoonk-xmpp check-config`` shows the [log] and [metrics] choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from thoonk_xmpp.cli import main


def check(tmp_path: Path, extra: str, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "thoonk_xmpp.toml"
    path.write_text(f'[component]\njid = "pubsub.example.org"\nsecret = "s"\n{extra}')
    assert main(["check-config", "--config", str(path)]) == 0
    return capsys.readouterr().out


def test_defaults_are_plain_info_logs_and_no_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = check(tmp_path, "", capsys)

    assert "log: info, plain\n" in out
    assert "metrics: off\n" in out


def test_enabled_metrics_show_their_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = '[log]\nformat = "json"\n[metrics]\nenabled = true\nhost = "::1"\nport = 9200\n'
    out = check(tmp_path, extra, capsys)

    assert "log: info, json\n" in out
    assert "metrics: http://[::1]:9200/metrics\n" in out
