# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run): install the Debian
# packages and the Python environment thoonk-xmpp needs. Idempotent and quick when
# everything is there. Expects $root (the repository) to be set.

say() { printf '\n== %s\n' "$*"; }

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root (or sudo) to run: $*" >&2
        exit 1
    fi
}

# ensure_packages BINARY:PACKAGE ... — apt-get install each PACKAGE whose BINARY (or,
# given as an absolute path, whose file) is missing, without letting its service start system-wide; python3-venv comes along
# when `python3 -m venv` would not work.
ensure_packages() {
    local pair binary package missing=()
    for pair in "$@"; do
        binary="${pair%%:*}"
        package="${pair#*:}"
        command -v "$binary" >/dev/null 2>&1 || [[ -x /usr/bin/$binary ]] \
            || [[ -x /usr/sbin/$binary ]] || [[ $binary == /* && -e $binary ]] \
            || missing+=("$package")
    done
    if ! command -v python3 >/dev/null 2>&1; then
        missing+=(python3 python3-venv)
    elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    ((${#missing[@]})) || return 0

    say "installing ${missing[*]}"
    # A policy-rc.d that exits 101 keeps the packages' services (Prosody on 5222/5269,
    # ejabberd on 5222/5269/5280/5443/1883 and epmd on 4369, Redis on 6379) from starting. Ours is removed afterwards; an existing one stays.
    local policy=/usr/sbin/policy-rc.d own_policy=""
    if [[ ! -e $policy ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        own_policy=yes
        trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}"
    if [[ -n $own_policy ]]; then
        as_root rm -f "$policy"
        trap - EXIT
    fi
    # In case a service we just installed started anyway (an init system that ignores
    # policy-rc.d): stop it and keep it from starting at boot.
    local service
    for service in "${missing[@]}"; do
        [[ $service == prosody || $service == redis-server || $service == ejabberd ]] || continue
        if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
            as_root systemctl disable --now "$service" >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/$service ]]; then
            as_root /etc/init.d/"$service" stop >/dev/null 2>&1 || true
            as_root update-rc.d "$service" disable >/dev/null 2>&1 || true
        fi
    done
}

# ensure_venv — $root/.venv with `pip install -e '.[dev]'`, redone only when
# pyproject.toml changes; puts the venv first on PATH. A .venv that is a symlink is
# another checkout's (a git worktree sharing it): used as it is, since installing this
# checkout into it would move that checkout's editable install here.
ensure_venv() {
    local venv="$root/.venv" stamp
    if [[ -L $venv ]]; then
        say "using $venv as it is (shared: $(readlink -f "$venv"))"
    elif [[ ! -x $venv/bin/python ]]; then
        say "creating $venv"
        python3 -m venv "$venv"
    fi
    stamp="$venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
    if [[ ! -L $venv && ! -f $stamp ]]; then
        say "pip install -e '.[dev]'"
        "$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
        (cd "$root" && "$venv/bin/python" -m pip install --disable-pip-version-check -q -e '.[dev]')
        rm -f "$venv"/.installed-*
        touch "$stamp"
    fi
    export VIRTUAL_ENV="$venv"
    export PATH="$venv/bin:$PATH"
}
