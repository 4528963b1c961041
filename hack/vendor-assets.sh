#!/usr/bin/env bash
# Vendors the admin UI's front-end assets from the npm registry at pinned versions, with their
# licences, into webui/static/vendor/ (and the test-only axe-core into tests/browser/vendor/).
# The files are checked in: nothing at run time or in CI needs Node.js or the network.
# Run `make assets` after changing a version here.
set -euo pipefail
cd "$(dirname "$0")/.."

HTMX_VERSION=2.0.11
AXE_VERSION=4.11.4

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch <package> <version>: unpacks the package's tarball into $work/<package>
  local package=$1 version=$2
  mkdir -p "$work/$package"
  (cd "$work/$package" && npm pack --silent "$package@$version" >/dev/null && tar -xzf ./*.tgz)
}

fetch htmx.org "$HTMX_VERSION"
mkdir -p webui/static/vendor/htmx
cp "$work/htmx.org/package/dist/htmx.min.js" webui/static/vendor/htmx/htmx.min.js
cp "$work/htmx.org/package/LICENSE" webui/static/vendor/htmx/LICENSE
echo "htmx.org@$HTMX_VERSION" > webui/static/vendor/htmx/VERSION

fetch axe-core "$AXE_VERSION"
mkdir -p tests/browser/vendor
cp "$work/axe-core/package/axe.min.js" tests/browser/vendor/axe.min.js
cp "$work/axe-core/package/LICENSE" tests/browser/vendor/axe-core.LICENSE
echo "axe-core@$AXE_VERSION" > tests/browser/vendor/axe-core.VERSION
echo "vendored htmx.org@$HTMX_VERSION and axe-core@$AXE_VERSION"
