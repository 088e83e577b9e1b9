"""Where the component secret comes from, first found wins:

1. the ``THOONK_XMPP_SECRET`` environment variable (Prosody's component file reads it too);
2. the file named by ``[component] secret_file``, without its final line break (for
   systemd credentials and container secrets; relative to the settings file);
3. ``[component] secret``.

A settings file may not give both keys. Errors name the key to blame and never the
secret or any part of a secret file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECRET_ENV = "THOONK_XMPP_SECRET"
#: A secret file longer than this is surely the wrong file.
SECRET_FILE_LIMIT = 4096
#: ``secret_source`` when the secret was not looked for (commands that never connect).
NOT_READ = "nowhere (not needed)"


class SecretError(ValueError):
    """No usable secret; ``key`` is ``component.secret``, ``component.secret_file`` or the
    environment variable."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def component_secret(
    table: Mapping[str, Any], environ: Mapping[str, str], base: Path
) -> tuple[str, str]:
    """The secret for the ``[component]`` table ``table``, and where it came from."""
    if "secret" in table and "secret_file" in table:
        raise SecretError("component.secret_file", "give either secret or secret_file, not both")
    if SECRET_ENV in environ:
        if not environ[SECRET_ENV]:
            raise SecretError(SECRET_ENV, "set but empty")
        return environ[SECRET_ENV], f"${SECRET_ENV}"
    if "secret_file" in table:
        name = table["secret_file"]
        if not isinstance(name, str) or not name.strip():
            raise SecretError("component.secret_file", "must be a file name")
        path = base / name
        return read_secret_file(path), f"file {path}"
    secret = table.get("secret")
    if secret is None:
        raise SecretError(
            "component.secret", f"required (or secret_file, or ${SECRET_ENV} in the environment)"
        )
    if not isinstance(secret, str):
        raise SecretError("component.secret", "must be a string")
    if not secret:
        raise SecretError("component.secret", "must not be empty")
    return secret, "component.secret"


def read_secret_file(path: Path) -> str:
    """One secret from a file (a trailing line break is not part of it)."""
    key = "component.secret_file"
    try:
        with path.open("rb") as file:
            data = file.read(SECRET_FILE_LIMIT + 1)
    except OSError as exc:
        raise SecretError(key, f"cannot read {path}: {exc.strerror}") from None
    if len(data) > SECRET_FILE_LIMIT:
        raise SecretError(key, f"{path} is longer than {SECRET_FILE_LIMIT} bytes")
    try:
        secret = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise SecretError(key, f"{path} is not UTF-8 text") from None
    if not secret:
        raise SecretError(key, f"{path} is empty")
    if "\n" in secret or "\r" in secret:
        raise SecretError(key, f"{path} holds more than one line")
    return secret
