#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter, which runs shellcheck on every `run:`
# script) into ~/.cache/ai-implement/tools once and prints the binary's path. Test infrastructure
# only: the tests lint the workflows the controller renders for target repositories. Version pinned here.
set -euo pipefail
exec bash "$(dirname "$0")/install-go-tool.sh" actionlint "${ACTIONLINT_VERSION:-1.7.12}" \
  github.com/rhysd/actionlint/cmd/actionlint
