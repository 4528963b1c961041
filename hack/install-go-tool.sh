#!/usr/bin/env bash
# Usage: install-go-tool.sh NAME VERSION MODULE
# Builds a Go command (`go install MODULE@vVERSION`) into ~/.cache/ai-implement/tools/NAME-vVERSION/
# once and prints the binary's path. Test infrastructure only (actionlint, kustomize); the product
# never runs Go code. The cache is reused when the binary is present.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 NAME VERSION MODULE" >&2; exit 2; }
name="$1" version="$2" module="$3"
cache_root="${AI_IMPLEMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-implement}"
dest="$cache_root/tools/${name}-v${version}"

if [ -x "$dest/$name" ]; then
  echo "$dest/$name"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build $name" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$dest"
echo "[$name] building v${version}" >&2
GOBIN="$dest" go install -trimpath "${module}@v${version}" >&2
echo "$dest/$name"
