#!/usr/bin/env bash
# Builds kustomize from its Go module into a cache directory and prints the binary's path. Test
# infrastructure only: the tests render manifests/ (the base, every overlay and component) with it
# and apply the result to the real API server, as `kubectl apply -k` would.
#
# The cache is reused when the binary is present. The version is pinned here.
set -euo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-5.8.0}"
cache_root="${AI_IMPLEMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-implement}"
dest="$cache_root/tools/kustomize-v${KUSTOMIZE_VERSION}"

if [ -x "$dest/kustomize" ]; then
  echo "$dest/kustomize"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build kustomize" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$dest"
echo "[kustomize] building v${KUSTOMIZE_VERSION}" >&2
GOBIN="$dest" go install -trimpath "sigs.k8s.io/kustomize/kustomize/v5@v${KUSTOMIZE_VERSION}" >&2
echo "$dest/kustomize"
