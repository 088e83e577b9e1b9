"""The systemd unit, the Dockerfile and compose.yaml: parsed and cross-checked.

No container engine runs on most test machines, so the image is built only where
``docker info`` succeeds; everything else is checked by reading the files: the unit's
hardening and restart policy (and ``systemd-analyze verify`` where it exists), commands
that ``thoonk-xmpp``'s own parser accepts, a non-root image whose config path the
compose file mounts, and compose services whose files exist in the repository.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from thoonk_xmpp.cli import build_parser
from thoonk_xmpp.settings import SECRET_ENV, Settings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "config" / "systemd" / "thoonk-xmpp.service"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"


# --- systemd ------------------------------------------------------------------------------


def unit_entries(path: Path) -> dict[str, list[tuple[str, str]]]:
    """``[Section]`` → its ``Key=value`` lines in order (keys may repeat, as in systemd)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"{path.name}:{number}: not Key=value: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(entries: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in entries if name == key]


def one(entries: list[tuple[str, str]], key: str) -> str:
    found = values(entries, key)
    assert len(found) == 1, f"{key}= given {len(found)} times"
    return found[0]


def parse_command(argv: list[str]) -> Any:
    """``thoonk-xmpp`` arguments as the real command line parses them (SystemExit if not)."""
    assert PurePosixPath(argv[0]).name == "thoonk-xmpp"
    return build_parser().parse_args(argv[1:])


def test_unit_runs_the_real_command_as_a_dedicated_user() -> None:
    service = unit_entries(UNIT)["Service"]

    assert one(service, "Type") in ("simple", "exec")
    assert one(service, "User") not in ("root", "0")
    run = parse_command(shlex.split(one(service, "ExecStart")))
    assert run.command == "run"
    assert run.config == "/etc/thoonk-xmpp/thoonk_xmpp.toml"
    check = parse_command(shlex.split(one(service, "ExecStartPre")))
    assert check.command == "check-config"
    assert check.config == run.config


def test_unit_restarts_on_failure_but_not_on_bad_settings() -> None:
    service = unit_entries(UNIT)["Service"]

    assert one(service, "Restart") == "on-failure"
    assert float(one(service, "RestartSec")) > 0
    assert one(service, "RestartPreventExitStatus") == "2"  # cli's EXIT_BAD_CONFIG


def test_unit_hardening() -> None:
    service = dict(unit_entries(UNIT)["Service"])

    required = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet": "",
        "RestrictSUIDSGID": "yes",
    }
    assert {key: service.get(key) for key in required} == required


def test_unit_hands_the_secret_to_secret_file() -> None:
    sections = unit_entries(UNIT)
    credential = one(sections["Service"], "LoadCredential")
    name, _, source = credential.partition(":")
    path = f"/run/credentials/{UNIT.name}/{name}"
    text = UNIT.read_text()

    assert source.startswith("/etc/thoonk-xmpp/")
    assert f'secret_file = "{path}"' in text  # what the install notes tell operators
    assert values(sections["Install"], "WantedBy") == ["multi-user.target"]


def test_systemd_analyze_verify_has_nothing_to_say(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the unit was checked by parsing only")
    # verify insists that ExecStart= exists: point it at this venv's thoonk-xmpp.
    command = Path(sys.executable).with_name("thoonk-xmpp")
    assert command.exists(), f"no {command} (pip install -e .)"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/thoonk-xmpp/bin/thoonk-xmpp", str(command)))

    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""


# --- Dockerfile ---------------------------------------------------------------------------


def docker_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1] :]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → repository path of a service's ``./…`` bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_image_is_python_slim_non_root_and_runs_the_mounted_config() -> None:
    stage = final_stage(docker_instructions(DOCKERFILE))

    assert stage[0] == ("FROM", "python:3.11-slim")
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith("0:")
    [cmd] = [args for word, args in stage if word == "CMD"]
    argv = json.loads(cmd)
    run = parse_command(argv)
    assert run.command == "run"
    mounts = bind_mounts(compose()["services"]["thoonk-xmpp"])
    assert run.config in mounts
    assert (ROOT / mounts[run.config]).is_file()


def test_image_copies_files_that_exist() -> None:
    for word, args in docker_instructions(DOCKERFILE):
        if word == "COPY" and not args.startswith("--from"):
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"


# --- compose.yaml -------------------------------------------------------------------------


def test_compose_services_mount_files_of_the_repository() -> None:
    services = compose()["services"]

    assert set(services) == {"redis", "prosody", "thoonk-xmpp"}
    for name, service in services.items():
        for target, source in bind_mounts(service).items():
            assert (ROOT / source).is_file(), f"{name}: {source} (for {target}) is missing"
    assert services["thoonk-xmpp"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_compose_redis_keeps_an_append_only_file() -> None:
    command = compose()["services"]["redis"]["command"]

    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] in ("everysec", "always")


def test_compose_prosody_loads_the_operators_component_file() -> None:
    prosody = compose()["services"]["prosody"]
    mounts = bind_mounts(prosody)
    main = mounts["/etc/prosody/prosody.cfg.lua"]
    [component_target] = [
        t for t, s in mounts.items() if s == "./config/prosody/thoonk-xmpp.cfg.lua"
    ]

    assert f'Include "{component_target}"' in (ROOT / main).read_text()
    assert {"THOONK_XMPP_JID", "THOONK_XMPP_SECRET"} <= set(prosody["environment"])
    lua = shutil.which("lua5.4") or shutil.which("lua")
    if lua is not None:  # Prosody's own interpreter: the file must at least parse
        for config in (main, "./config/prosody/thoonk-xmpp.cfg.lua"):
            script = f"assert(loadfile({json.dumps(str(ROOT / config))}))"
            subprocess.run([lua, "-e", script], check=True, timeout=30)


def test_prosody_accepts_the_compose_config(tmp_path: Path) -> None:
    prosodyctl = shutil.which("prosodyctl")
    if prosodyctl is None:
        pytest.skip("prosodyctl is not installed; the compose Prosody config was only parsed")
    # The container's paths, moved into tmp_path; as root Prosody also wants run_as_root.
    mounts = bind_mounts(compose()["services"]["prosody"])
    text = (ROOT / mounts["/etc/prosody/prosody.cfg.lua"]).read_text()
    for target, source in mounts.items():
        text = text.replace(target, str(ROOT / source))
    text = text.replace("/var/run/prosody/", f"{tmp_path}/")
    (tmp_path / "certs").mkdir()
    config = tmp_path / "prosody.cfg.lua"
    config.write_text(f'run_as_root = true\ndata_path = "{tmp_path}"\n' + text)
    environment = compose()["services"]["prosody"]["environment"]

    done = subprocess.run(
        [prosodyctl, "--config", str(config), "check", "config"],
        env={**os.environ, "THOONK_XMPP_JID": environment["THOONK_XMPP_JID"], SECRET_ENV: "x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All checks passed" in done.stdout
    assert str(ROOT / "config/prosody/thoonk-xmpp.cfg.lua") in done.stdout


def test_compose_settings_match_the_stack() -> None:
    data = compose()
    services, secrets = data["services"], data["secrets"]
    mounts = bind_mounts(services["thoonk-xmpp"])
    path = ROOT / mounts["/etc/thoonk-xmpp/thoonk_xmpp.toml"]
    component = tomllib.loads(path.read_text())["component"]
    [secret] = services["thoonk-xmpp"]["secrets"]

    assert secret in secrets
    assert secrets[secret] == {"environment": SECRET_ENV}
    assert component["secret_file"] == f"/run/secrets/{secret}"
    # The rest of the file is valid settings (the secret here from the environment).
    settings = Settings.from_toml(path, {SECRET_ENV: "x"})
    assert settings.component.jid == services["prosody"]["environment"]["THOONK_XMPP_JID"]
    assert settings.component.host == "prosody"
    assert settings.redis.url.startswith("redis://redis:")


# --- building the image -------------------------------------------------------------------


def test_image_builds_where_docker_runs() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "info"], capture_output=True, check=False).returncode
    ):
        pytest.skip("no container engine here (`docker info` fails); the image was not built")
    tag = "thoonk-xmpp:test"
    subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    user = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Config.User}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert user not in ("", "root", "0")
    version = subprocess.run(
        [docker, "run", "--rm", tag, "thoonk-xmpp", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert version.startswith("thoonk-xmpp ")
