#!/usr/bin/env bash
# Run the thoonk-xmpp demo on this machine:
#
#     sudo scripts/demo.sh [demo arguments]
#
# Installs what is missing (redis-server, prosody, the Python environment), starts a
# private redis-server on a free loopback port in a temp dir, runs
# `python -m thoonk_xmpp.demo --redis URL`, and stops Redis when the demo ends, fails
# or is interrupted. Nothing listens on a public interface or a well-known port.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/_setup.sh
source "$root/scripts/_setup.sh"

ensure_packages redis-server:redis-server prosody:prosody
ensure_venv

workdir="$(mktemp -d -t thoonk-demo-XXXXXX)"
redis_pid=""
cleanup() {
    if [[ -n $redis_pid ]] && kill -0 "$redis_pid" 2>/dev/null; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(python -c 'from tools.localservers import free_port; print(free_port())')"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$workdir" --logfile "$workdir/redis.log" &
redis_pid=$!
python -c "from tools.localservers import wait_for_port; wait_for_port($port)"
url="redis://127.0.0.1:$port/0"
say "redis-server at $url (pid $redis_pid)"

if ! python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("thoonk_xmpp.demo") is None)'; then
    echo "demo: thoonk_xmpp/demo.py is not there yet; nothing to run" >&2
    exit 1
fi
say "python -m thoonk_xmpp.demo --redis $url $*"
python -m thoonk_xmpp.demo --redis "$url" "$@"
