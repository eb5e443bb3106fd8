#!/usr/bin/env bash
# Ensure the cached venv of the drift peer-agreement tests exists; prints its python on stdout.
#   $MLOPS_CACHE/venv/drift-<first 12 hex of sha256(requirements.txt)>/bin/python
# A new requirements.txt gets a new directory, so an unchanged one costs one sha256sum.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
COMPONENT=drift-venv
# shellcheck source=../_lib.sh
. "$HERE/../_lib.sh"

REQ="$HERE/requirements.txt"
PY="${MLOPS_PYTHON:-python3}"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
VENV="$MLOPS_CACHE/venv/drift-${want:0:12}"

ready() {
  [ "$(cat "$VENV/.mlops-requirements.sha256" 2>/dev/null)" = "$want" ] && [ -x "$VENV/bin/python" ]
}
if ready; then
  echo "$VENV/bin/python"; exit 0
fi

mkdir -p "$MLOPS_CACHE/venv"
exec 9>"$MLOPS_CACHE/venv/.drift.lock"
flock -w 900 9 || die "lock venv" "flock $MLOPS_CACHE/venv/.drift.lock"
# someone else may have finished it while we waited
if ready; then
  echo "$VENV/bin/python"; exit 0
fi

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "check python >= 3.10" "$PY --version"
log "creating venv $VENV (evidently, scipy, scikit-learn, statsmodels; ~1-2 min cold)"
rm -rf "$VENV"
plog="$MLOPS_CACHE/venv/drift-${want:0:12}.pip.log"
"$PY" -m venv "$VENV" >"$plog" 2>&1 || die "create venv" "$PY -m venv $VENV" "$plog"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --no-input -r "$REQ" >>"$plog" 2>&1 \
  || { rm -rf "$VENV"; die "pip install" "$VENV/bin/pip install -r $REQ" "$plog"; }
"$VENV/bin/python" -c 'import evidently, scipy, sklearn, statsmodels' >>"$plog" 2>&1 \
  || die "import check" "$VENV/bin/python -c 'import evidently, scipy, sklearn, statsmodels'" "$plog"
echo "$want" >"$VENV/.mlops-requirements.sha256"
# Older venvs of this test are left for `rm -rf $MLOPS_CACHE/venv/drift-*` (another checkout may use them).
log "venv ready"
echo "$VENV/bin/python"
