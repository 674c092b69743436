#!/usr/bin/env bash
# Brings a fresh Debian/Ubuntu machine to the point where `make demo` and `make test` can run:
# the OS packages behind the local servers (PostgreSQL + PostGIS, Redis), uv, and the project's
# locked environment in .venv. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
newest_pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1; }

apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    die "missing OS packages; run this once, then try again:
    sudo apt-get update && sudo apt-get install -y $*"
  fi
  say "installing OS packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

ensure_os_packages() {
  command -v dpkg-query >/dev/null || { say "not a Debian/Ubuntu system: install PostgreSQL, PostGIS and Redis yourself"; return; }
  local wanted=()
  if [[ -z "${CROWDSHIP_DATABASE_URL:-}" ]]; then
    local version
    version=$(newest_pg_version)
    if [[ -z "$version" ]]; then
      # The metapackage pulls the PostGIS build that matches the distribution's default PostgreSQL.
      wanted+=(postgresql postgresql-postgis)
    elif ! is_installed "postgresql-$version-postgis-3"; then
      wanted+=("postgresql-$version-postgis-3")
    fi
  fi
  if [[ -z "${CROWDSHIP_REDIS_URL:-}" ]] && ! command -v redis-server >/dev/null; then
    wanted+=(redis-server)
  fi
  # Headless Chromium for the console's browser tests (Playwright drives it; browser downloads are not reachable).
  if ! command -v chromium >/dev/null; then wanted+=(chromium); fi
  if [[ ${#wanted[@]} -gt 0 ]]; then apt_install "${wanted[@]}"; fi
}

# Prints the path of a usable uv, installing it into .local/tools when there is none.
find_or_install_uv() {
  if command -v uv >/dev/null; then command -v uv; return; fi
  local tools=.local/tools
  if [[ ! -x $tools/bin/uv ]]; then
    if ! python3 -m venv "$tools" >/dev/null 2>&1; then
      rm -rf "$tools"
      apt_install python3-venv >&2
      python3 -m venv "$tools" >&2
    fi
    "$tools/bin/python" -m pip install -q uv >&2 || return 1
  fi
  echo "$tools/bin/uv"
}

ensure_python_env() {
  local uv extras=()
  export UV_PYTHON_DOWNLOADS=never  # use the machine's Python; never fetch an interpreter
  # Optional extras, "sim" unless told otherwise: the simulator's Ray, plotly and tqdm. "sim bench" adds
  # PyVRP, the benchmarks' reference peer; CROWDSHIP_EXTRAS="" installs the service alone.
  for extra in ${CROWDSHIP_EXTRAS-sim}; do extras+=(--extra "$extra"); done
  if uv=$(find_or_install_uv); then
    say "syncing .venv from uv.lock with $uv"
    "$uv" sync --locked --quiet "${extras[@]}"
  else
    say "uv could not be installed; falling back to a plain venv (unlocked versions)"
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    .venv/bin/python -m pip install -q -e . --group dev
  fi
}

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is needed (found $(python3 --version))"
ensure_os_packages
ensure_python_env
say "ready"
