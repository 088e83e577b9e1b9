"""The component secret from the environment or from a file reaches the XMPP server.

``check-config --connect`` hand-shakes with the real Prosody: a settings file with no
secret in it works when THOONK_XMPP_SECRET or ``secret_file`` gives the right one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.localservers import ProsodyServer, RedisServer

ROOT = Path(__file__).resolve().parents[2]


def settings_without_secret(path: Path, prosody: ProsodyServer, redis_url: str, extra: str) -> Path:
    path.write_text(
        "[component]\n"
        f'jid = "{prosody.component_jid}"\n'
        f"port = {prosody.component_port}\n"
        f"{extra}"
        "[redis]\n"
        f'url = "{redis_url}"\n'
    )
    return path


def check_config(config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "THOONK_XMPP_SECRET"}
    return subprocess.run(
        [sys.executable, "-m", "thoonk_xmpp", "check-config", "--config", str(config), "--connect"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_secret_from_the_environment_is_accepted_by_the_server(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    config = settings_without_secret(tmp_path / "t.toml", prosody, redis_server.url, "")

    done = check_config(config, THOONK_XMPP_SECRET=prosody.secret)
    assert done.returncode == 0, done.stderr
    assert "(secret from $THOONK_XMPP_SECRET)" in done.stdout
    assert "connected" in done.stdout
    assert prosody.secret not in done.stdout + done.stderr

    assert check_config(config).returncode == 2


def test_secret_from_a_file_is_accepted_by_the_server(
    tmp_path: Path, prosody: ProsodyServer, redis_server: RedisServer
) -> None:
    secret = tmp_path / "component-secret"
    secret.write_text(prosody.secret + "\n")
    extra = f'secret_file = "{secret}"\n'
    config = settings_without_secret(tmp_path / "t.toml", prosody, redis_server.url, extra)

    done = check_config(config)
    assert done.returncode == 0, done.stderr
    assert f"(secret from file {secret})" in done.stdout
    assert "connected" in done.stdout
    assert prosody.secret not in done.stdout + done.stderr
