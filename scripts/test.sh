#!/usr/bin/env bash
# Install everything thoonk-xmpp's tests need on a Debian machine, then run every check:
# ruff check, ruff format --check, mypy, lint-imports and pytest.
#
#     sudo scripts/test.sh                  # (or as root) the whole suite
#     scripts/test.sh tests/unit -k toml    # extra arguments go to pytest
#
# Idempotent, and quick when everything is already there: apt runs only for a missing
# package, pip only when pyproject.toml changed. Tests start their own redis-server,
# Prosody and ejabberd on free loopback ports; the packages' system-wide services are kept
# from starting. Every check runs; the script fails at the end if any of them failed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/_setup.sh
source "$root/scripts/_setup.sh"

ensure_packages redis-server:redis-server prosody:prosody ejabberdctl:ejabberd node:nodejs npm:npm \
    /usr/lib/prosody/modules/mod_privilege/mod_privilege.lua:prosody-modules
ensure_venv

failed=()

# The original thoonk.py under Python 2.7, for tests/interop. Without any Python 2.7
# (plain Debian 12) those tests are skipped with one line, except under CI=true, where
# that fails the run (tools/interop.py decides, for pytest too).
say "interop peer: python -m tools.interop"
python -m tools.interop || failed+=("interop peer (tools/interop.py)")
# The original thoonk.js 0.5.5 under Node.js (npm ci in a copy of its snapshot), for
# tests/interop/test_js_*.py: the same rules without Node.js or the snapshot.
say "interop peer: python -m tools.interop js"
python -m tools.interop js || failed+=("thoonk.js interop peer (tools/interop.py js)")

check() {
    say "$*"
    "$@" || failed+=("${*:1:2}")
}
paths=(thoonk_xmpp tests tools bench)
check ruff check "${paths[@]}"
check ruff format --check "${paths[@]}"
check mypy
check lint-imports

say "pytest $*"
status=0
python -m pytest "$@" || status=$?
if ((status == 5)); then
    # No test collected: fine for a filter that matched nothing, fatal for the whole suite.
    if (($#)); then
        echo "pytest: no test matched the arguments given"
    else
        echo "pytest: no tests were collected from the whole suite" >&2
        failed+=("pytest (no tests collected)")
    fi
elif ((status != 0)); then
    failed+=("pytest")
fi

if ((${#failed[@]})); then
    printf '\nFAILED:\n' >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
printf '\nAll checks passed.\n'
