# Sourced by scripts/run and scripts/test: make sure .venv exists and matches pyproject.toml,
# requirements.lock and the version in bot/__init__.py (reinstalls when one changed), then put it
# first on PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY_BOOT=${PYTHON_BOOTSTRAP:-python3}
if ! "$PY_BOOT" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "Roundtable needs Python 3.11 or newer; '$PY_BOOT' is $("$PY_BOOT" --version 2>&1 || echo missing)." >&2
  exit 1
fi
want="$(cat pyproject.toml requirements.lock bot/__init__.py | sha256sum | cut -d' ' -f1)-${1:-runtime}"
stamp=".venv/.roundtable-installed"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Setting up .venv (first run, or dependencies changed)…" >&2
  "$PY_BOOT" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  if [ "${1:-runtime}" = dev ]; then
    .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[dev]" >&2
  else
    .venv/bin/python -m pip install --quiet -c requirements.lock -e . >&2
  fi
  echo "$want" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
