# Python 2.7 code: no star-unpacking in lists, `unicode` and `object` bases are real.
# ruff: noqa: F821, RUF005, UP004
"""Drive the original thoonk.py 1.0.1.0 (Python 2.7, redis-py 2.4.13) for the interop tests.

Run with that interpreter and PYTHONPATH=.interop/py2:

    python2.7 py2_driver.py <host> <port>

It opens ``Thoonk(host, port, 0, listen=True)``, records every notice its
listener emits, and then reads one JSON command per line on stdin, answering
each with one JSON line on stdout:

    {"call": [target, name, method, args, kwargs]}
        target "thoonk" calls a method of the Thoonk object (name unused);
        "feed"/"sorted_feed"/"queue"/"job" first open that object by name.
        -> {"ok": result} or {"error": exception class name, "message": text}
    {"notices": count, "timeout": seconds}
        waits until ``count`` notices were recorded, returns and forgets them
        -> {"ok": [[event, arg, ...], ...]}  (fewer if the timeout passed)
    {"subscribed": [channel, ...], "timeout": seconds}
        waits until the listener's SUBSCRIBE of each channel is active in Redis
    {"quit": true}

Byte strings that are not UTF-8 travel as {"$b": base64}; so may arguments.
"""

import base64
import json
import sys
import threading
import time
import traceback

from thoonk import Thoonk


def to_json(value):
    if isinstance(value, str):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"$b": base64.b64encode(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_json(v) for v in value)
    if isinstance(value, dict):
        return dict((to_json(k), to_json(v)) for k, v in value.items())
    return value


def from_json(value):
    if isinstance(value, unicode):
        return value.encode("utf-8")
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if list(value.keys()) == ["$b"]:
            return base64.b64decode(value["$b"])
        return dict((from_json(k), from_json(v)) for k, v in value.items())
    return value


class Recorder(object):
    EVENTS = ("create", "delete", "publish", "edit", "retract", "position", "finish")

    def __init__(self, thoonk):
        self.cond = threading.Condition()
        self.seen = []
        for event in self.EVENTS:
            thoonk.register_handler(event, self.handler(event))

    def handler(self, event):
        def record(*args):
            with self.cond:
                self.seen.append([event] + list(args))
                self.cond.notify_all()

        return record

    def take(self, count, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.seen) < count and time.time() < deadline:
                self.cond.wait(0.05)
            taken, self.seen = self.seen[:count], self.seen[count:]
        return taken


def wait_subscribed(thoonk, channels, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        counts = thoonk.redis.execute_command("PUBSUB", "NUMSUB", *channels)
        if all(int(n) > 0 for n in counts[1::2]):
            return True
        time.sleep(0.01)
    return False


def call(thoonk, target, name, method, args, kwargs):
    obj = thoonk if target == "thoonk" else getattr(thoonk, target)(name)
    return getattr(obj, method)(*args, **kwargs)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    thoonk = Thoonk(host, port, 0, listen=True)
    recorder = Recorder(thoonk)
    out = sys.stdout
    out.write(json.dumps({"ready": thoonk.instance}) + "\n")
    out.flush()
    for line in iter(sys.stdin.readline, ""):
        command = json.loads(line)
        try:
            if "quit" in command:
                break
            if "call" in command:
                target, name, method, args, kwargs = from_json(command["call"])
                result = call(thoonk, target, name, method, args, kwargs)
            elif "notices" in command:
                result = recorder.take(command["notices"], command.get("timeout", 10))
            elif "subscribed" in command:
                channels = from_json(command["subscribed"])
                result = wait_subscribed(thoonk, channels, command.get("timeout", 10))
            else:
                raise ValueError("unknown command " + repr(command))
            answer = {"ok": to_json(result)}
        except Exception as exc:
            answer = {
                "error": type(exc).__name__,
                "message": str(exc),
                "trace": traceback.format_exc(),
            }
        out.write(json.dumps(answer) + "\n")
        out.flush()
    thoonk.close()


if __name__ == "__main__":
    main()
