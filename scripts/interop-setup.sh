#!/usr/bin/env bash
# Install the original thoonk.py 1.0.1.0 (with redis-py 2.4.13) for Python 2.7
# into .interop/py2, for the interop tests in tests/interop/ (contract 16.C).
#
# Idempotent: does nothing when the pinned versions are already there.
# The interpreter is $PYTHON2 if set, else `python2.7`, else pyenv's 2.7.18.
# Prints the interpreter path on its last line of output.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/.interop/py2"
stamp="$target/.thoonk-1.0.1.0+redis-2.4.13"

find_python2() {
    local candidate
    if [[ -n "${PYTHON2:-}" ]]; then
        "$PYTHON2" -c 'import sys; assert sys.version_info[:2] == (2, 7)' >/dev/null 2>&1 \
            && { echo "$PYTHON2"; return 0; }
        return 1
    fi
    for candidate in python2.7 python2; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (2, 7)' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        candidate="$(pyenv root)/versions/2.7.18/bin/python2.7"
        if [[ -x "$candidate" ]] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    fi
    return 1
}

if ! python2="$(find_python2)"; then
    echo "interop-setup: no Python 2.7 interpreter found." >&2
    echo "  The interop tests run the original thoonk.py 1.0.1.0, which needs Python 2.7." >&2
    echo "  Install one (e.g. 'pyenv install 2.7.18') or point PYTHON2 at it." >&2
    exit 2
fi

if [[ ! -f "$stamp" ]]; then
    rm -rf "$target"
    mkdir -p "$target"
    # From inside the target: pip must not see this checkout's own package metadata.
    (cd "$target" && PYTHONWARNINGS=ignore "$python2" -m pip install \
        --disable-pip-version-check --no-warn-conflicts --no-compile --quiet \
        --target "$target" 'thoonk==1.0.1.0' 'redis==2.4.13' >&2)
    PYTHONPATH="$target" "$python2" -c 'import thoonk, redis; assert redis.__version__ == "2.4.13"' \
        || { echo "interop-setup: installed packages do not import" >&2; exit 1; }
    touch "$stamp"
fi
echo "$python2"
