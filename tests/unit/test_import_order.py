"""Every module of the package imports on its own, first: no import cycle catches a module
half-initialized (the adapter's modules import one another in several directions)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import thoonk_xmpp

_CHECK = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.startswith("thoonk_xmpp")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {exc!r}")
print("\\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    names = [
        info.name
        for info in pkgutil.walk_packages(thoonk_xmpp.__path__, "thoonk_xmpp.")
        if not info.name.endswith("__main__")
    ]
    assert "thoonk_xmpp.xmpp.notifications" in names
    done = subprocess.run(
        [sys.executable, "-c", _CHECK, *names], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
