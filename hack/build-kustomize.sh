#!/usr/bin/env bash
# Builds kustomize into ~/.cache/ai-implement/tools once and prints the binary's path. Test
# infrastructure only: the tests render manifests/ (the base, every overlay and component) with it
# and apply the result to the real API server, as `kubectl apply -k` would. Version pinned here.
set -euo pipefail
exec bash "$(dirname "$0")/install-go-tool.sh" kustomize "${KUSTOMIZE_VERSION:-5.8.0}" \
  sigs.k8s.io/kustomize/kustomize/v5
