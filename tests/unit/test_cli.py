"""The ``thoonk-xmpp`` command: argv lists against the session's real Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from thoonk_xmpp import __version__
from thoonk_xmpp.cli import build_parser, main
from thoonk_xmpp.thoonk.sync import Thoonk
from tools.localservers import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(redis_server: RedisServer) -> Iterator[str]:
    raw = redis.Redis.from_url(redis_server.url)
    raw.flushall()
    raw.close()
    yield redis_server.url


@pytest.fixture
def thoonk(url: str) -> Iterator[Thoonk]:
    with Thoonk.from_url(url) as client:
        yield client


@pytest.fixture
def own_url() -> Iterator[str]:
    """A Redis of the test's own: :func:`_wait_for_listeners` counts every subscriber of
    the server, and listeners of other tests on the session's Redis would count too."""
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def own_thoonk(own_url: str) -> Iterator[Thoonk]:
    with Thoonk.from_url(own_url) as client:
        yield client


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"thoonk-xmpp {__version__}"


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["thoonk"]) == 2
    assert main(["thoonk", "tail", "f", "--count", "0"]) == 2
    assert main(["nope"]) == 2
    assert "usage: thoonk-xmpp" in capsys.readouterr().err


def test_subcommands_are_pluggable() -> None:
    # Later commands (run, check-config) add themselves the same way.
    parser = build_parser()
    args = parser.parse_args(["thoonk", "feeds", "--redis", "redis://x"])
    assert args.command == "thoonk" and args.thoonk_command == "feeds"
    assert callable(args.handler)


def test_feeds(thoonk: Thoonk, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["thoonk", "feeds", "--redis", url]) == 0
    assert capsys.readouterr().out == ""
    thoonk.create_feed("news")
    thoonk.create_feed("work", {"type": "job"})
    thoonk.sorted_feed("list")
    thoonk.queue("in")
    assert main(["thoonk", "feeds", "--redis", url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "in\tqueue",
        "list\tsorted_feed",
        "news\tfeed",
        "work\tjob",
    ]
    assert main(["thoonk", "feeds", "--redis", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {"name": "in", "type": "queue"}


def test_redis_url_from_environment(
    thoonk: Thoonk, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    thoonk.create_feed("envfeed")
    monkeypatch.setenv("THOONK_REDIS_URL", url)
    assert main(["thoonk", "feeds"]) == 0
    assert capsys.readouterr().out == "envfeed\tfeed\n"


def test_info_feed(thoonk: Thoonk, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    feed = thoonk.feed("news", {"max_length": 10, "title": "News"})
    feed.publish("a", id="1")
    feed.publish("b", id="2")
    feed.publish("a2", id="1")
    assert main(["thoonk", "info", "news", "--redis", url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "name: news",
        "type: feed",
        "config:",
        "  max_length: 10",
        "  title: News",
        "  type: feed",
        "items: 2",
        "publishes: 3",
    ]


def test_info_other_types(thoonk: Thoonk, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    s = thoonk.sorted_feed("s")
    s.append("x")
    q = thoonk.queue("q")
    q.put_many(["a", "b", "c"])
    q.get(block=False)
    job = thoonk.job("j")
    first = job.put("t1")
    job.put("t2")
    job.put("t3")
    claimed = job.get(block=False)
    assert claimed.id == first
    job.stall(first)
    job.get(block=False)
    info = {}
    for name in ("s", "q", "j"):
        assert main(["thoonk", "info", name, "--redis", url, "--json"]) == 0
        info[name] = json.loads(capsys.readouterr().out)
    assert info["s"]["counts"] == {"items": 1, "publishes": 1}
    assert info["q"]["counts"] == {"waiting": 2, "publishes": 3}
    assert info["j"] == {
        "name": "j",
        "type": "job",
        "config": {"type": "job"},
        "counts": {
            "available": 1,
            "claimed": 1,
            "stalled": 1,
            "total": 3,
            "finishes": 0,
            "publishes": 3,
        },
    }


def test_info_unknown_feed(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["thoonk", "info", "nope", "--redis", url]) == 1
    assert "feed 'nope' does not exist" in capsys.readouterr().err


def test_unreachable_redis(capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["thoonk", "feeds", "--redis", dead]) == 1
    assert "cannot reach Redis" in capsys.readouterr().err


#: Upper bound on waits for a condition: a loaded CI machine starts a subprocess slowly.
_PATIENCE = 90


def _wait_for_listeners(url: str, count: int = 1) -> None:
    """Until ``count`` tail commands have subscribed (the only listeners of ``url``'s server).

    A listener pattern-subscribes the feed channels first, then the registry ones.
    """
    raw = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + _PATIENCE
        while raw.pubsub_numsub("conffeed")[0][1] < count:
            if time.monotonic() > deadline:
                pytest.fail("the tail command never subscribed")
            time.sleep(0.02)
    finally:
        raw.close()


def test_tail_count(own_thoonk: Thoonk, own_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    thoonk, url = own_thoonk, own_url
    statuses: list[int] = []
    runner = threading.Thread(
        target=lambda: statuses.append(
            main(["thoonk", "tail", "news", "--redis", url, "--count", "5"])
        )
    )
    runner.start()
    _wait_for_listeners(url)
    feed = thoonk.feed("news")
    other = thoonk.feed("other")
    other.publish("not shown", id="x")
    feed.publish("hello\x00world", id="1")
    feed.publish("again", id="1")
    feed.retract("1")
    feed.publish("never shown", id="2")
    runner.join(_PATIENCE)
    assert statuses == [0]
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"create news instance={thoonk.instance}",
        f"config news instance={thoonk.instance}",
        "publish news id=1 item='hello\\x00world'",
        "edit news id=1 item='again'",
        "retract news id=1",
    ]
    assert "no feed 'news' (yet)" in out.err


def test_tail_json_until_ctrl_c(own_thoonk: Thoonk, own_url: str) -> None:
    thoonk, url = own_thoonk, own_url
    s = thoonk.sorted_feed("s")
    job = thoonk.job("j")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tails = [
        subprocess.Popen(
            [sys.executable, "-m", "thoonk_xmpp", "thoonk", "tail", name, "--json", "--redis", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("s", "j")
    ]
    try:
        _wait_for_listeners(url, 2)
        first = s.append("one")
        job_id = job.put("task")
        job.get(block=False)
        job.finish(job_id, "done")
        lines: dict[str, list[dict[str, object]]] = {}
        for name, tail in zip(("s", "j"), tails, strict=True):
            assert tail.stdout is not None
            wanted = 2 if name == "s" else 3
            lines[name] = [json.loads(tail.stdout.readline()) for _ in range(wanted)]
            tail.send_signal(signal.SIGINT)
            assert tail.wait(_PATIENCE) == 0
            assert "Traceback" not in (tail.stderr.read() if tail.stderr else "")
    finally:
        for tail in tails:
            if tail.poll() is None:
                tail.kill()
                tail.wait()
            for stream in (tail.stdout, tail.stderr):
                if stream is not None:
                    stream.close()
    assert lines["s"] == [
        {"kind": "publish", "feed": "s", "id": first, "item": "one"},
        {"kind": "position", "feed": "s", "id": first, "position": ":end"},
    ]
    assert lines["j"] == [
        {"kind": "job_put", "feed": "j", "id": job_id, "item": "task"},
        {"kind": "job_claim", "feed": "j", "id": job_id},
        {"kind": "finish", "feed": "j", "id": job_id, "result": "done"},
    ]
