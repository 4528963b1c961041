#!/usr/bin/env bash
# Locks the Python dependencies of pyproject.toml, with the hash of every file, for CPython 3.11:
#   requirements/dev.lock      runtime + the `dev` extra: what `make install` installs into .venv
#   requirements/runtime.lock  the `[project] dependencies`: what both images install
# Both also pin the build requirements (setuptools, wheel), so the package itself is built with
# `--no-build-isolation` from locked tools and nothing unlocked is fetched at install time.
#
# The runtime lock is compiled with the dev lock's versions preferred, so every package the two share
# has one version. Existing pins are kept; extra arguments go to the dev compile, e.g.
#   bash hack/lock-dependencies.sh --upgrade                 everything to the newest allowed version
#   bash hack/lock-dependencies.sh --upgrade-package kopf    one package
# pip-tools runs from a throwaway virtualenv at the version pinned here. `make lock` runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_TOOLS_VERSION=7.6.2
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3.11
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  echo "error: $python is Python $version; the images run 3.11, so lock with it (PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "pip-tools==$PIP_TOOLS_VERSION"

compile() {  # compile <output> [pip-compile options...]
  local output=$1
  shift
  CUSTOM_COMPILE_COMMAND="make lock" "$work/venv/bin/pip-compile" --quiet \
    --generate-hashes --allow-unsafe --strip-extras --all-build-deps \
    --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
    --output-file "$output" "$@" pyproject.toml
}

mkdir -p requirements
compile requirements/dev.lock --extra dev "$@"
cp requirements/dev.lock requirements/runtime.lock
compile requirements/runtime.lock
echo "locked: requirements/runtime.lock ($(grep -c '==' requirements/runtime.lock) packages)," \
  "requirements/dev.lock ($(grep -c '==' requirements/dev.lock) packages)"
