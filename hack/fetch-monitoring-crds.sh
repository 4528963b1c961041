#!/usr/bin/env bash
# Copies the Prometheus Operator's CRDs for ServiceMonitor, PodMonitor and PrometheusRule from its
# Go module (which carries them under example/prometheus-operator-crd/) into a cache directory and
# prints that directory. Test infrastructure only: the tests install them in the test API server so
# that the monitoring component is validated against the real schemas.
#
# The cache is reused when the files are present. The version is pinned here.
set -euo pipefail

PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-0.85.0}"
cache_root="${AI_IMPLEMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-implement}"
dest="$cache_root/tools/prometheus-operator-crds-v${PROMETHEUS_OPERATOR_VERSION}"
kinds=(servicemonitors podmonitors prometheusrules)

complete=1
for kind in "${kinds[@]}"; do
  [ -s "$dest/monitoring.coreos.com_${kind}.yaml" ] || complete=0
done
if [ "$complete" = 1 ]; then
  echo "$dest"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to download the Prometheus Operator's CRDs" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
echo "[monitoring-crds] downloading prometheus-operator v${PROMETHEUS_OPERATOR_VERSION}" >&2
module_dir="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@v${PROMETHEUS_OPERATOR_VERSION}" |
  sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
[ -d "$module_dir" ] || { echo "error: the prometheus-operator module was not downloaded" >&2; exit 1; }
mkdir -p "$dest"
for kind in "${kinds[@]}"; do
  cp "$module_dir/example/prometheus-operator-crd/monitoring.coreos.com_${kind}.yaml" "$dest/"
done
echo "$dest"
