"""``thoonk-xmpp check-config`` with the secret in the environment or in a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from thoonk_xmpp.cli import main
from thoonk_xmpp.settings import SECRET_ENV

FROM_ENV = "env-secret-51d0"
FROM_FILE = "file-secret-0e4b"


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "thoonk_xmpp.toml"
    path.write_text(f'[component]\njid = "pubsub.example.org"\n{extra}')
    return path


def test_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, FROM_ENV)

    assert main(["check-config", "--config", str(config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert (
        "component: pubsub.example.org via 127.0.0.1:5347 (secret from $THOONK_XMPP_SECRET)" in out
    )
    assert FROM_ENV not in out


def test_secret_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret = tmp_path / "secret"
    secret.write_text(FROM_FILE + "\n")

    path = config(tmp_path, f'secret_file = "{secret}"\n')
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"(secret from file {secret})" in out
    assert FROM_FILE not in out


def test_no_secret_anywhere_exits_2_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)

    assert main(["check-config", "--config", str(config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "component.secret: required (or secret_file, or $THOONK_XMPP_SECRET" in err


def test_empty_secret_file_exits_2_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret = tmp_path / "secret"
    secret.write_text("")

    path = config(tmp_path, f'secret_file = "{secret}"\n')
    assert main(["check-config", "--config", str(path)]) == 2
    assert f"component.secret_file: {secret} is empty" in capsys.readouterr().err
