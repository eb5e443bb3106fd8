# Shared settings for tests/env/k8s/{build,start,stop}. Sourced, not executed.
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this

K8S_ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

K8S_VERSION="v1.35.4"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.8.0"

MLOPS_CACHE="${MLOPS_CACHE:-${HOME}/.cache/mlops-console}"
K8S_BIN_DIR="${MLOPS_CACHE}/bin/k8s-${K8S_VERSION}"
ETCD_BIN_DIR="${MLOPS_CACHE}/bin/etcd-${ETCD_VERSION}"
KWOK_BIN_DIR="${MLOPS_CACHE}/bin/kwok-${KWOK_VERSION}"
BUILD_LOG_DIR="${MLOPS_CACHE}/logs"

log() { printf '[k8s-env] %s\n' "$*" >&2; }
die() { printf '[k8s-env] ERROR: %s\n' "$*" >&2; exit 1; }
