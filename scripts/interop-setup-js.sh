#!/usr/bin/env bash
# Install the original thoonk.js 0.5.5 into .interop/js for the interop tests
# (tests/interop/test_js_*.py) and the mixed-worker tests.
#
# The peer is a read-only snapshot of thoonk.js 0.5.5 with its own package-lock.json
# (../shared/peers/thoonk.js beside the checkout, or $THOONK_JS_SOURCE). It is copied
# to .interop/js/thoonk and `npm ci` installs its pinned dependencies there; the
# snapshot itself is never written to.
#
# Idempotent: does nothing when the same snapshot is already installed.
# Node and npm are $NODE / $NPM if set, else `node` / `npm` (Debian: apt install nodejs npm).
# Exit status 2: no usable Node.js or npm, or no snapshot (tools/interop.py: skip the
# tests, or fail under CI=true); 1: the install failed. Prints node's path last.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/.interop/js"
node="${NODE:-node}"
npm="${NPM:-npm}"

missing() {
    echo "interop-setup-js: $1" >&2
    exit 2
}

node_path="$(command -v "$node" 2>/dev/null)" \
    || missing "no Node.js ('$node' not found; apt install nodejs npm, or set NODE)"
"$node_path" -e 'process.exit(parseInt(process.versions.node, 10) >= 12 ? 0 : 1)' \
    >/dev/null 2>&1 || missing "Node.js at $node_path does not run, or is older than 12"
command -v "$npm" >/dev/null 2>&1 \
    || missing "no npm ('$npm' not found; apt install npm, or set NPM)"

find_source() {
    local common
    if [[ -n "${THOONK_JS_SOURCE:-}" ]]; then
        echo "$THOONK_JS_SOURCE"
        return
    fi
    if [[ -d "$root/../shared/peers/thoonk.js" ]]; then
        echo "$root/../shared/peers/thoonk.js"
        return
    fi
    # A git worktree: look beside the main checkout.
    if common="$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)"; then
        echo "$(dirname "$common")/../shared/peers/thoonk.js"
        return
    fi
    echo "$root/../shared/peers/thoonk.js"
}

source_dir="$(find_source)"
[[ -f "$source_dir/thoonk.js" && -f "$source_dir/package-lock.json" ]] \
    || missing "no thoonk.js snapshot at $source_dir (set THOONK_JS_SOURCE)"
source_dir="$(cd "$source_dir" && pwd)"

digest="$(cd "$source_dir" && cat package.json package-lock.json ./*.js | sha256sum | cut -c1-16)"
stamp="$target/.installed-$digest"
if [[ ! -f "$stamp" ]]; then
    # Built beside the target and moved in whole: a concurrent run never sees half of it.
    build="$root/.interop/js.building.$$"
    trap 'rm -rf "$build"' EXIT
    rm -rf "$build"
    mkdir -p "$build"
    cp -R "$source_dir" "$build/thoonk"
    chmod -R u+w "$build/thoonk"
    rm -rf "$build/thoonk/node_modules"
    (cd "$build/thoonk" && "$npm" ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) \
        || { echo "interop-setup-js: npm ci failed for $source_dir" >&2; exit 1; }
    "$node_path" -e 'var t = require(process.argv[1]); if (!t.Thoonk) process.exit(1);' \
        "$build/thoonk" || { echo "interop-setup-js: thoonk.js does not load" >&2; exit 1; }
    touch "$build/.installed-$digest"
    rm -rf "$target"
    mv "$build" "$target"
    trap - EXIT
fi
echo "$node_path"
