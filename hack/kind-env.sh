#!/usr/bin/env bash
# Prepares the kind overlay's local environment (manifests/overlays/kind/kind.env and github-app.pem,
# both ignored by git) for `make kind-deploy`, and refuses to go on while something is missing, so the
# deployment never starts without what it needs.
#
# First run: copies kind.env.example to kind.env with fresh random secrets, then stops and says what
# to fill in. Later runs: check that the GitHub App and a ticketing provider are set.
set -euo pipefail

overlay="${KIND_OVERLAY_DIR:-$(dirname "$0")/../manifests/overlays/kind}"
env_file="$overlay/kind.env"
key_file="$overlay/github-app.pem"

if [ ! -f "$env_file" ]; then
  template="$(cat "$overlay/kind.env.example")"
  while [[ "$template" == *generated-by-make-kind-deploy* ]]; do
    template="${template/generated-by-make-kind-deploy/$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
  done
  (umask 077 && printf '%s\n' "$template" >"$env_file")
  echo "error: created $env_file with fresh secrets; fill in GITHUB_APP_ID, a ticketing provider" \
    "(LINEAR_API_KEY, or JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL) and ANTHROPIC_API_KEY, put the" \
    "GitHub App's private key in $key_file, then run make kind-deploy again" >&2
  exit 1
fi

value() { sed -n "s/^$1=//p" "$env_file" | tail -n 1; }
problems=()
[ -n "$(value GITHUB_APP_ID)" ] || problems+=("GITHUB_APP_ID is not set in $env_file")
if [ -z "$(value LINEAR_API_KEY)" ] && { [ -z "$(value JIRA_TOKEN)" ] || [ -z "$(value JIRA_CLOUD_ID)" ] || [ -z "$(value JIRA_SITE_URL)" ]; }; then
  problems+=("no ticketing provider in $env_file: set LINEAR_API_KEY, or JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL")
fi
[ -s "$key_file" ] || problems+=("the GitHub App's private key is missing: put it in $key_file")
if [ ${#problems[@]} -gt 0 ]; then
  for problem in "${problems[@]}"; do
    echo "error: $problem" >&2
  done
  exit 1
fi
