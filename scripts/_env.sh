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
