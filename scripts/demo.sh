#!/usr/bin/env bash
# Run the thoonk-xmpp demo on this machine:
#
#     sudo scripts/demo.sh [demo arguments]
#
# Installs what is missing (redis-server, prosody, the Python environment), then starts,
# each on free loopback ports in temp dirs: a private redis-server; a private Prosody
# loading config/prosody/thoonk-xmpp.cfg.lua, with two demo accounts; and the bridge
# itself (`thoonk-xmpp run`). Then it runs `python -m thoonk_xmpp.demo` (two XMPP users
# and a plain Thoonk app on one node) and stops everything when the demo ends, fails or
# is interrupted. Nothing listens on a public interface or a well-known port.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/_setup.sh
source "$root/scripts/_setup.sh"

ensure_packages redis-server:redis-server prosody:prosody
ensure_venv

workdir="$(mktemp -d -t thoonk-demo-XXXXXX)"
redis_pid=""
prosody_pid=""
prosody_dir=""
bridge_pid=""

# stop PID: TERM, then KILL if it is still there after 10 s (it need not be our child).
stop() {
    local pid=$1 tries=0
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((tries++ < 100)); do sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop "$bridge_pid"
    stop "$prosody_pid"
    stop "$redis_pid"
    if [[ -n $prosody_dir ]]; then rm -rf "$prosody_dir"; fi
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

# --- Prosody, with the operator's component file and two demo accounts ----------------
say "starting Prosody (config/prosody/thoonk-xmpp.cfg.lua included)"
prosody_vars="$(python - <<'EOF'
import secrets
import shlex

from tools.localservers import ProsodyServer

server = ProsodyServer()
server.start()
try:
    accounts = []
    for user in ("alice", "bob"):
        password = secrets.token_urlsafe(12)
        accounts.append((server.register(user, password), password))
    assert server.process is not None
except BaseException:
    server.close()
    raise
values = {
    "prosody_pid": server.process.pid,
    "prosody_dir": server.dir,
    "c2s_port": server.c2s_port,
    "component_port": server.component_port,
    "component_jid": server.component_jid,
    "secret": server.secret,
    "alice": accounts[0][0],
    "alice_password": accounts[0][1],
    "bob": accounts[1][0],
    "bob_password": accounts[1][1],
}
for name, value in values.items():
    print(f"{name}={shlex.quote(str(value))}")
EOF
)"
eval "$prosody_vars"
say "Prosody at 127.0.0.1:$c2s_port (components on port $component_port, pid $prosody_pid)"

# --- the bridge: thoonk-xmpp run, with settings for these servers ----------------------
config="$workdir/thoonk_xmpp.toml"
(
    umask 077
    cat >"$config" <<EOF
[component]
jid = "$component_jid"
secret = "$secret"
host = "127.0.0.1"
port = $component_port

[redis]
url = "$url"

[pubsub]
node_creation = "local"

[log]
level = "info"
EOF
)
say "thoonk-xmpp run --config $config"
python -m thoonk_xmpp run --config "$config" 2>"$workdir/bridge.log" &
bridge_pid=$!
for _ in $(seq 300); do
    if grep -q "serving" "$workdir/bridge.log"; then break; fi
    if ! kill -0 "$bridge_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if ! grep -q "serving" "$workdir/bridge.log"; then
    echo "demo: thoonk-xmpp is not serving; its log:" >&2
    cat "$workdir/bridge.log" >&2
    exit 1
fi
say "thoonk-xmpp serves $component_jid (pid $bridge_pid)"

# --- the demo session ----------------------------------------------------------------
say "python -m thoonk_xmpp.demo"
status=0
python -m thoonk_xmpp.demo --redis "$url" --xmpp "127.0.0.1:$c2s_port" \
    --service "$component_jid" --account "$alice" "$alice_password" \
    --account "$bob" "$bob_password" "$@" || status=$?
if ((status != 0)); then
    echo "demo: the bridge's log:" >&2
    cat "$workdir/bridge.log" >&2
fi
exit "$status"
