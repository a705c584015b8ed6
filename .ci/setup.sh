#!/usr/bin/env bash
# Prepare this checkout for running ClinicDesk and its tests on Debian 12 / Ubuntu 22.04+.
#
# Idempotent: installs only the missing apt packages, creates .venv only if absent, then
# (re)installs the project in editable mode with the dev extras. Safe to run before every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Run a noisy command with its output kept in a log; show the log only if it fails.
quietly() {
    local log rc=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        die "failed ($rc): $*"
    fi
    rm -f "$log"
}

# --- Python 3.11-3.13 ------------------------------------------------------------------------
pick_python() {
    if command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    elif command -v python3 >/dev/null 2>&1 \
        && python3 -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'; then
        echo python3
    else
        return 1
    fi
}
PY=$(pick_python) || die "Python 3.11-3.13 is required (python3.11 or python3); install it first."
PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
say "using $PY ($PYVER)"

# --- apt packages ----------------------------------------------------------------------------
# Qt offscreen (STACK_NOTES.md §3a), Qt on a real display / Xvfb (§3b), and objdump for
# PyInstaller. Ubuntu 24.04 renamed some libraries with a t64 suffix; either name counts.
APT_PACKAGES=(
    libgl1 libegl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3
    libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
    xvfb xauth
    fonts-dejavu-core fontconfig-config   # the desk's text (else every glyph is a box)
    fonts-noto-color-emoji                # emoji in the desk (kind words, picker)
    binutils
)

# The PostgreSQL server, for the central server's tests: they start their own throwaway cluster
# (tests/helpers/postgres.py), so any installed major version will do and no system cluster or
# service is wanted. As root, the tests run that cluster as the `postgres` user through runuser.
have_postgres_server() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1
}
have_runuser() { command -v runuser >/dev/null 2>&1 || [ -x /usr/sbin/runuser ]; }

# Installing `postgresql` creates and starts a "main" cluster unless told not to (pg_createcluster
# reads createcluster.d); the tests never use it, so say no before apt-get runs.
no_main_cluster() {
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    printf '%s\n' '# clinicdesk .ci/setup.sh: tests start their own clusters' \
        'create_main_cluster = false' \
        | as_root tee /etc/postgresql-common/createcluster.d/clinicdesk.conf >/dev/null
}

is_installed() {
    local p
    for p in "$1" "$1t64"; do
        dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' && return 0
    done
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo to install: ${MISSING[*]}"
    fi
}

venv_works() {
    local probe
    probe=$(mktemp -d)
    if "$PY" -m venv "$probe/v" >/dev/null 2>&1; then rm -rf "$probe"; return 0; fi
    rm -rf "$probe"
    return 1
}

MISSING=()
if [ ! -x .venv/bin/python ] && ! venv_works; then
    # Debian/Ubuntu split ensurepip out of the interpreter package.
    if [ "$PY" = python3 ]; then MISSING+=(python3-venv); else MISSING+=("python$PYVER-venv"); fi
fi
if command -v dpkg >/dev/null 2>&1; then
    for p in "${APT_PACKAGES[@]}"; do
        is_installed "$p" || MISSING+=("$p")
    done
    have_postgres_server || MISSING+=(postgresql)
    if [ "$(id -u)" -eq 0 ] && ! have_runuser; then MISSING+=(util-linux); fi
else
    say "no dpkg: not a Debian system, skipping apt packages (${APT_PACKAGES[*]} postgresql)"
fi

if [ "${#MISSING[@]}" -gt 0 ]; then
    say "installing apt packages: ${MISSING[*]}"
    if ! have_postgres_server; then no_main_cluster; fi
    quietly as_root apt-get update
    quietly as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${MISSING[@]}"
else
    say "apt packages present"
fi

# --- virtual environment ---------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PY" -m venv .venv
else
    say ".venv exists"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
say "upgrading pip"
quietly .venv/bin/python -m pip install -U pip
say "installing clinicdesk[dev] (editable)"
quietly .venv/bin/python -m pip install -e '.[dev]'
# A smoke check only: a broken command is for the tests to report, not a reason to stop here.
if version=$(.venv/bin/clinicdesk --version 2>/dev/null); then
    say "done: $version"
else
    say "done (warning: '.venv/bin/clinicdesk --version' fails; the tests will say why)"
fi
