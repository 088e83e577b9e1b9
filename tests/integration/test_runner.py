"""``thoonk-xmpp run``, ``check-config`` and the demo as real subprocesses on the test servers.

Startup failures must end the process with a non-zero status and one clear
line on stderr, within a bound (the subprocess timeout below is that bound, a
failure limit rather than a speed measurement).  The component secret never
appears in any output, even at log level debug.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.bridge_fixtures import Bridge
from tests.integration.streams import TIMEOUT, Account
from tools.localservers import ProsodyServer, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
MakeAccount = Callable[[], Account]
#: Longest a failing startup may take before the test calls it a hang.
BOUND = 60.0


def write_config(
    path: Path,
    prosody: ProsodyServer,
    redis_url: str,
    *,
    secret: str | None = None,
    port: int | None = None,
    level: str = "info",
) -> Path:
    path.write_text(
        "[component]\n"
        f'jid = "{prosody.component_jid}"\n'
        f'secret = "{prosody.secret if secret is None else secret}"\n'
        'host = "127.0.0.1"\n'
        f"port = {prosody.component_port if port is None else port}\n"
        "[redis]\n"
        f'url = "{redis_url}"\n'
        "[log]\n"
        f'level = "{level}"\n'
    )
    return path


def thoonk_xmpp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thoonk_xmpp", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )


@pytest.fixture
def secret() -> str:
    return f"wrong-{secrets.token_hex(12)}"


def test_wrong_secret_exits_non_zero_with_a_clear_message(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer, secret: str
) -> None:
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url, secret=secret)
    done = thoonk_xmpp("run", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "not-authorized" in done.stderr
    assert "secret (from component.secret)" in done.stderr  # where to look
    assert prosody.component_jid in done.stderr
    assert secret not in done.stdout + done.stderr


def test_a_wrong_secret_from_the_environment_is_named_as_such(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer, secret: str
) -> None:
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url)
    config.write_text(
        "\n".join(line for line in config.read_text().splitlines() if not line.startswith("secret"))
    )
    done = subprocess.run(
        [sys.executable, "-m", "thoonk_xmpp", "run", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
        env={**os.environ, "THOONK_XMPP_SECRET": secret},
    )
    assert done.returncode == 1, done.stderr
    assert "secret (from $THOONK_XMPP_SECRET)" in done.stderr
    assert secret not in done.stdout + done.stderr


def test_unreachable_server_exits_non_zero_with_a_clear_message(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    port = free_port()
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url, port=port)
    done = thoonk_xmpp("run", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert f"cannot connect to the XMPP server at 127.0.0.1:{port}" in done.stderr
    assert prosody.secret not in done.stdout + done.stderr


def test_unreachable_redis_exits_non_zero_with_a_clear_message(
    tmp_path: Path, prosody: ProsodyServer
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    config = write_config(tmp_path / "t.toml", prosody, url)
    done = thoonk_xmpp("run", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert f"cannot use Redis at {url}" in done.stderr
    assert prosody.secret not in done.stdout + done.stderr


def test_bad_settings_exit_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[component]\njid = "pubsub.localhost"\nsecret = "x"\nport = 0\n')
    for command in ("run", "check-config"):
        done = thoonk_xmpp(command, "--config", str(config))
        assert done.returncode == 2, done.stderr
        assert "component.port" in done.stderr
    missing = thoonk_xmpp("run", "--config", str(tmp_path / "nowhere.toml"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr


def test_check_config_reports_without_the_secret(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url)
    done = thoonk_xmpp("check-config", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert f"{config}: OK" in done.stdout
    assert prosody.component_jid in done.stdout
    assert prosody.secret not in done.stdout + done.stderr

    connected = thoonk_xmpp("check-config", "--config", str(config), "--connect")
    assert connected.returncode == 0, connected.stderr
    assert "connected" in connected.stdout


def test_check_config_connect_with_a_wrong_secret_fails(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer, secret: str
) -> None:
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url, secret=secret)
    assert thoonk_xmpp("check-config", "--config", str(config)).returncode == 0
    done = thoonk_xmpp("check-config", "--config", str(config), "--connect")
    assert done.returncode == 1
    assert "not-authorized" in done.stderr
    assert secret not in done.stdout + done.stderr


async def test_run_serves_until_sigterm_and_never_logs_the_secret(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    config = write_config(tmp_path / "t.toml", prosody, redis_server.url, level="debug")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "thoonk_xmpp",
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while not any("serving" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), TIMEOUT)
            assert line, "thoonk-xmpp exited before serving:\n" + "".join(seen)
            seen.append(line.decode())
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), BOUND)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, "".join(seen) + err.decode()
    everything = "".join(seen) + err.decode() + out.decode()
    assert "SEND:" in everything  # debug logging really was on
    assert prosody.secret not in everything


async def test_demo_session_runs_against_a_running_bridge(
    bridge: Bridge, prosody: ProsodyServer, redis_server: RedisServer, make_account: MakeAccount
) -> None:
    alice, bob = make_account(), make_account()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "thoonk_xmpp.demo",
        "--redis",
        redis_server.url,
        "--xmpp",
        f"127.0.0.1:{prosody.c2s_port}",
        "--service",
        bridge.jid,
        "--account",
        *alice,
        "--account",
        *bob,
        "--node",
        "demo-node",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), BOUND)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = out.decode()
    assert process.returncode == 0, output + err.decode()
    assert "Hello from XMPP" in output  # bob got alice's XMPP publish
    assert "a plain Thoonk app heard: publish demo-node id=from-xmpp" in output
    assert "urn:xmpp:json:0" in output  # and the Thoonk app's JSON, wrapped
    assert "items: from-xmpp, from-thoonk-json, from-thoonk-text" in output
    assert '<delete node="demo-node" />' in output
