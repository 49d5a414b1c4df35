#!/usr/bin/env bash
# One entry point for set-up, tests, the demo and benchmarks. Each sub-command installs what it
# needs first (idempotent), so a fresh Debian machine needs nothing but this repository.
#
#   scripts/dev.sh demo [run_server.py args...]   install, then run the live demo
#   scripts/dev.sh test [pytest args...]          install (incl. redis-server, chromium), lint, test
#   scripts/dev.sh bench NAME [--quick]           run benchmarks.NAME --json
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    say "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

py_install() {
    local extras="$1"
    if [ ! -x "$PY" ]; then
        say "creating virtualenv .venv"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$extras"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        say "installing Python packages ($extras)"
        "$PY" -m pip install -q --upgrade pip >/dev/null
        "$PY" -m pip install -q -e ".[$extras]"
        touch "$stamp"
    fi
}

# The web pages' pinned front-end packages (package-lock.json) into node_modules/, served by the
# server under /vendor/. npm comes from Debian when the machine has none.
npm_install() {
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    local stamp="node_modules/.installed"
    if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
        say "installing front-end packages (npm ci)"
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
        touch "$stamp"
    fi
}

cmd="${1:-}"; shift || true
case "$cmd" in
    demo)
        py_install test
        npm_install
        exec "$PY" run_server.py --demo "$@"
        ;;
    test)
        apt_install redis-server chromium fonts-dejavu-core fonts-noto-cjk graphviz openssl coturn libnss3-tools
        py_install test
        npm_install
        say "ruff (whole tree)"
        "$VENV/bin/ruff" check .
        say "mypy --strict (every package)"
        "$VENV/bin/mypy" config common cti acd crm_core agent_desktop ivr reports whatif server.py run_server.py
        say "pytest"
        exec "$PY" -m pytest "$@"
        ;;
    bench)
        py_install test
        name="${1:?usage: scripts/dev.sh bench NAME [--quick]}"; shift
        exec "$PY" -m "benchmarks.$name" --json "$@"
        ;;
    *)
        echo "usage: scripts/dev.sh {demo|test|bench NAME} [args...]" >&2
        exit 2
        ;;
esac
