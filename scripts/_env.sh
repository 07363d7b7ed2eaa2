# Shared by the scripts: a project virtualenv, (re)installed when pyproject.toml or the lock
# file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

ensure_venv() {
  # Dependencies come from the lock file (hashes checked); the project itself is then installed
  # editable, which also brings in anything pyproject.toml names that the lock does not yet.
  local extras="$1" stamp="$VENV/.installed-$1" lock="$ROOT/requirements-$1.lock"
  if [ "$extras" = "base" ]; then lock="$ROOT/requirements.lock"; fi
  local want
  want="$(cat "$ROOT/pyproject.toml" "$lock" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet --require-hashes --no-deps -r "$lock"
    if [ "$extras" = "base" ]; then
      "$VENV/bin/pip" install --quiet -e "$ROOT"
    else
      "$VENV/bin/pip" install --quiet -e "$ROOT[$extras]"
    fi
    echo "$want" > "$stamp"
  fi
}

ensure_assets() {
  # The web pages' front-end packages, from package-lock.json (npm ci), when the lock changes.
  local stamp="$ROOT/node_modules/.installed" want
  want="$(cat "$ROOT/package.json" "$ROOT/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      if [ "$(id -u)" -ne 0 ]; then echo "install Node.js and npm first (apt-get install nodejs npm)" >&2; exit 1; fi
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}

ensure_chromium() {
  # The browser the end-to-end tests drive; under CI it is installed when missing, so that a
  # missing browser fails the run rather than skipping the tests.
  if [ ! -x /usr/bin/chromium ] && [ "${CI:-}" = "true" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
}
