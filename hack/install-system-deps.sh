#!/usr/bin/env bash
# Installs the Debian packages the tests need (PostgreSQL server, libfaketime, Chromium for the
# admin UI's browser tests, shellcheck for actionlint's checks of the rendered workflows, promtool
# from prometheus for the alert rules' tests), once.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
command -v faketime >/dev/null || missing+=(faketime)
command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v jq >/dev/null || missing+=(jq)
command -v promtool >/dev/null || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "error: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "[system-deps] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
