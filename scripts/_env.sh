# Shared by the scripts: a project virtualenv, (re)installed when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

ensure_venv() {
  local extras="$1" stamp="$VENV/.installed-$1"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/pip" install --quiet --upgrade pip
    if [ "$extras" = "base" ]; then
      "$VENV/bin/pip" install --quiet -e "$ROOT"
    else
      "$VENV/bin/pip" install --quiet -e "$ROOT[$extras]"
    fi
    echo "$want" > "$stamp"
  fi
}
