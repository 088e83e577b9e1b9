#!/usr/bin/env bash
# Run the thoonk-xmpp demo on this machine:
#
#     scripts/demo.sh [demo arguments]      (as root, or as a user who may use sudo)
#
# Installs what is missing (redis-server, prosody, the Python environment; apt through
# sudo only when not root), then tools/demo.py starts, each on free loopback ports in temp
# dirs: a private redis-server; a private Prosody loading config/prosody/thoonk-xmpp.cfg.lua,
# with two demo accounts; and the bridge itself (`thoonk-xmpp run`). Then it runs
# `python -m thoonk_xmpp.demo` (two XMPP users and a plain Thoonk app on one node) and
# stops everything when the demo ends, fails or is interrupted (Ctrl-C: exit status 130).
# Nothing listens on a public interface or a well-known port.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/_setup.sh
source "$root/scripts/_setup.sh"

ensure_packages redis-server:redis-server prosody:prosody
ensure_venv

# Python from here on: it stops the servers in order on any exit, Ctrl-C included.
exec python -m tools.demo "$@"
