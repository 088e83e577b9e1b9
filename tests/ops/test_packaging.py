"""``python -m build`` makes an sdist and a wheel that install and run in a fresh venv.

The build runs on a copy of the checkout (nothing is written into it) without build
isolation, with the project venv's setuptools, so that it needs no network; for the same
reason the fresh venv borrows the dependencies (slixmpp, redis, hiredis) from the
project venv through a path file, and ``pip check`` then proves they satisfy the
wheel's requirements. Everything of ours comes from the wheel: the test checks where
the package is imported from, and that its Lua scripts run on a real Redis.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

from thoonk_xmpp import __version__
from tools.localservers import RedisServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".interop", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
LUA = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "thoonk_xmpp").rglob("*.lua"))

#: Run inside the fresh venv: every Lua script is readable, and a publish works.
CHECK = textwrap.dedent(
    """
    import asyncio, sys
    from importlib import resources
    import thoonk_xmpp
    from thoonk_xmpp.thoonk import AsyncThoonk

    def lua(folder):
        for entry in folder.iterdir():
            if entry.is_dir():
                yield from lua(entry)
            elif entry.name.endswith(".lua"):
                yield entry

    async def publish(url):
        async with AsyncThoonk.from_url(url) as thoonk:
            feed = await thoonk.feed("packaging-check")
            item_id = await feed.publish("from the wheel")
            return (await feed.get_all())[item_id]

    print(thoonk_xmpp.__file__)
    print(sum(1 for f in lua(resources.files("thoonk_xmpp")) if f.read_text("utf-8")))
    print(asyncio.run(publish(sys.argv[1])))
    """
)


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    output = work / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", output, source, cwd=work)
    return output


def test_build_makes_an_sdist_and_a_wheel_with_license_and_lua(dist: Path) -> None:
    sdist = dist / f"thoonk_xmpp-{__version__}.tar.gz"
    wheel = dist / f"thoonk_xmpp-{__version__}-py3-none-any.whl"
    assert sorted(p.name for p in dist.iterdir()) == sorted([sdist.name, wheel.name])

    with tarfile.open(sdist) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
    assert {"LICENSE", "README.md", "pyproject.toml", *LUA} <= names
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"thoonk_xmpp-{__version__}.dist-info/METADATA").decode()
    assert {f"thoonk_xmpp-{__version__}.dist-info/licenses/LICENSE", *LUA} <= names
    assert "License-Expression: MIT" in metadata.splitlines()
    assert len(LUA) > 20


def test_wheel_installs_and_runs_in_a_fresh_venv(
    dist: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).strip()
    )
    # The dependencies, from the project venv (a plain path line: its .pth files,
    # such as the editable install of this checkout, are not processed).
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    wheel = next(dist.glob("*.whl"))
    run(python, "-m", "pip", "install", "--no-index", "--no-deps", "-q", wheel, cwd=tmp_path)
    run(python, "-m", "pip", "check", cwd=tmp_path)

    assert (
        run(venv / "bin" / "thoonk-xmpp", "--version", cwd=tmp_path)
        == f"thoonk-xmpp {__version__}\n"
    )
    location, scripts, item = run(python, "-c", CHECK, redis_server.url, cwd=tmp_path).splitlines()
    assert Path(location).is_relative_to(site)
    assert int(scripts) == len(LUA)
    assert item == "from the wheel"


def test_pyproject_license_is_spdx_with_the_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "thoonk-xmpp developers" in (ROOT / "LICENSE").read_text()
