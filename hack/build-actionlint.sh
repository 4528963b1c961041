#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter, which runs shellcheck on every `run:`
# script) from its Go module into a cache directory and prints the binary's path. Test
# infrastructure only: the tests lint the workflows the controller renders for target repositories.
#
# The cache is reused when the binary is present. The version is pinned here.
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.7.12}"
cache_root="${AI_IMPLEMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-implement}"
dest="$cache_root/tools/actionlint-v${ACTIONLINT_VERSION}"

if [ -x "$dest/actionlint" ]; then
  echo "$dest/actionlint"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build actionlint" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$dest"
echo "[actionlint] building v${ACTIONLINT_VERSION}" >&2
GOBIN="$dest" go install -trimpath "github.com/rhysd/actionlint/cmd/actionlint@v${ACTIONLINT_VERSION}" >&2
echo "$dest/actionlint"
