"""Admin commands never need the component secret: with the settings of a systemd
install, whose ``secret_file`` exists only inside the service, they still work from an
admin's shell, while ``check-config`` (which may connect) still insists on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from thoonk_xmpp.settings import SECRET_ENV
from tools.localservers import RedisServer

from .admincli import AdminCli
from .eventharness import ADMIN

CREDENTIAL = "/run/credentials/thoonk-xmpp.service/component-secret-absent"


@pytest.fixture
def cli(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AdminCli:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / "thoonk_xmpp.toml"
    path.write_text(
        "[component]\n"
        'jid = "pubsub.example.org"\n'
        f'secret_file = "{CREDENTIAL}"\n'
        "[redis]\n"
        f'url = "{redis_server.url}"\n'
        "[pubsub]\n"
        f'admins = ["{ADMIN.bare}"]\n'
    )
    return AdminCli(path, capsys)


async def test_admin_commands_work_without_the_secret(cli: AdminCli) -> None:
    await cli.ok("nodes", "create", "news")
    assert (await cli.ok("nodes", "list", "--json")).json() == ["news"]
    await cli.ok("jobs", "stats")


async def test_check_config_still_needs_the_secret(cli: AdminCli) -> None:
    outcome = await cli("check-config")

    assert outcome.status == 2
    assert f"component.secret_file: cannot read {CREDENTIAL}" in outcome.err
