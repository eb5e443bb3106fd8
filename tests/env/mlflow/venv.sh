#!/usr/bin/env bash
# Ensure the cached MLflow venv exists; prints its path on stdout.
#   $MLOPS_CACHE/venv/mlflow-3.17.2 (rebuilt when requirements.txt changes)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
COMPONENT=mlflow-venv
# shellcheck source=../_lib.sh
. "$HERE/../_lib.sh"

MLFLOW_VERSION=3.17.2
VENV="$MLOPS_CACHE/venv/mlflow-$MLFLOW_VERSION"
REQ="$HERE/requirements.txt"
PY="${MLOPS_PYTHON:-python3}"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [ "$(cat "$VENV/.mlops-requirements.sha256" 2>/dev/null)" = "$want" ] && [ -x "$VENV/bin/mlflow" ]; then
  echo "$VENV"; exit 0
fi

mkdir -p "$MLOPS_CACHE/venv"
exec 9>"$MLOPS_CACHE/venv/.mlflow-$MLFLOW_VERSION.lock"
flock -w 900 9 || die "lock venv" "flock $MLOPS_CACHE/venv/.mlflow-$MLFLOW_VERSION.lock"
# someone else may have finished it while we waited
if [ "$(cat "$VENV/.mlops-requirements.sha256" 2>/dev/null)" = "$want" ] && [ -x "$VENV/bin/mlflow" ]; then
  echo "$VENV"; exit 0
fi

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "check python >= 3.10" "$PY --version"
log "creating venv $VENV (mlflow $MLFLOW_VERSION; takes ~1 min cold)"
rm -rf "$VENV"
plog="$MLOPS_CACHE/venv/mlflow-$MLFLOW_VERSION.pip.log"
"$PY" -m venv "$VENV" >"$plog" 2>&1 || die "create venv" "$PY -m venv $VENV" "$plog"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --no-input -r "$REQ" >>"$plog" 2>&1 \
  || { rm -rf "$VENV"; die "pip install" "$VENV/bin/pip install -r $REQ" "$plog"; }
"$VENV/bin/mlflow" --version >>"$plog" 2>&1 || die "mlflow --version" "$VENV/bin/mlflow --version" "$plog"
echo "$want" >"$VENV/.mlops-requirements.sha256"
log "venv ready"
echo "$VENV"
