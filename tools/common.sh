# Shared by tools/run and tools/test: where things live and how to get them.
# shellcheck shell=bash
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CTI_HOME=${CTI_HOME:-$HOME/.cache/cti_connector}
CTI_VENV=${CTI_VENV:-$CTI_HOME/venv}
PY=$CTI_VENV/bin/python

say() { printf '[cti] %s\n' "$*" >&2; }

need_apt() {
    # Install Debian packages that are missing; quiet and idempotent.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_system_packages() {
    need_apt kamailio kamailio-websocket-modules kamailio-presence-modules kamailio-tls-modules \
        sip-tester baresip openssl \
        libpq-dev libldap2-dev libsasl2-dev postgresql-client
}

# Prints the Odoo 18 source tree to use, or nothing: ODOO_PATH first, then an importable odoo.
find_odoo() {
    local candidate=""
    if [ -n "${ODOO_PATH:-}" ]; then
        candidate=$ODOO_PATH
    else
        candidate=$(cd / && python3 -c 'import importlib.util as u, os; s = u.find_spec("odoo"); print(os.path.dirname(os.path.dirname(s.origin)) if s and s.origin else "")' 2>/dev/null || true)
    fi
    [ -n "$candidate" ] || return 0
    if [ -f "$candidate/odoo/release.py" ] && grep -q "^version_info = (18, 0" "$candidate/odoo/release.py"; then
        echo "$candidate"
    fi
}

pip_quiet() {
    # pip's own notices about unreachable extra indexes are noise here; real errors still show.
    "$PY" -m pip "$@" -q --disable-pip-version-check 2> >(grep -v "is ignored: it is neither" >&2)
}

# Creates or updates the virtualenv; with an Odoo tree, also installs Odoo's own requirements.
ensure_venv() {
    local odoo_path=${1:-}
    mkdir -p "$CTI_HOME"
    [ -x "$PY" ] || python3 -m venv "$CTI_VENV"
    local reqs=("$REPO_DIR/requirements.txt" "$REPO_DIR/requirements-test.txt")
    [ -n "$odoo_path" ] && reqs+=("$odoo_path/requirements.txt" "$REPO_DIR/tools/odoo-constraints.txt")
    local stamp
    stamp=$(cat "${reqs[@]}" | sha256sum | cut -c1-16)
    [ -f "$CTI_VENV/.stamp-$stamp" ] && return 0
    say "installing Python packages into $CTI_VENV (first run takes a few minutes)"
    local constraints=$REPO_DIR/tools/odoo-constraints.txt
    pip_quiet install "setuptools<70" wheel
    if [ -n "$odoo_path" ]; then
        PIP_CONSTRAINT=$constraints pip_quiet install -r "$odoo_path/requirements.txt"
    fi
    pip_quiet install -r "$REPO_DIR/requirements.txt" -r "$REPO_DIR/requirements-test.txt"
    touch "$CTI_VENV/.stamp-$stamp"
}

# Makes sure the local PostgreSQL answers; installs and starts one where there is none.
ensure_postgres() {
    if pg_isready -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" 2>/dev/null; then
        return 0
    fi
    need_apt postgresql
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p 5432 || { say "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
    # Let the current Unix user in as a superuser, as Odoo needs to create databases.
    $sudo -u postgres createuser -s "$(id -un)" 2>/dev/null || \
        su postgres -c "createuser -s $(id -un)" 2>/dev/null || true
}
