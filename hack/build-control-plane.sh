#!/usr/bin/env bash
# Builds kube-apiserver and etcd from their Go modules into a cache directory and
# prints that directory. Test infrastructure only: the product never runs Go code.
#
# The cache is reused when both binaries are present, so a warm run costs nothing.
# Versions are pinned here; change them together with docs/testing.md.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
cache_root="${AI_IMPLEMENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai-implement}"
dest="$cache_root/control-plane/k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"

if [ -x "$dest/kube-apiserver" ] && [ -x "$dest/etcd" ]; then
  echo "$dest"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build kube-apiserver and etcd (or set KUBEBUILDER_ASSETS)" >&2; exit 1; }

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log() { echo "[control-plane] $*" >&2; }

build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir" && cd "$dir"
  go mod init ai-implement.dev/build-etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >&2
  go build -trimpath -o "$dest/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
  mv "$dest/etcd.tmp" "$dest/etcd"
}

build_kube_apiserver() {
  local dir="$work/k8s"
  mkdir -p "$dir" && cd "$dir"
  go mod init ai-implement.dev/build-kube-apiserver >/dev/null 2>&1
  # k8s.io/kubernetes points its staging modules at ./staging; replace each with the
  # published v0.x.y twin of the same release.
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  local staging_version="v0.${K8S_VERSION#1.}"
  {
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod" |
      while read -r module; do echo "  $module => $module $staging_version"; done
    echo ")"
  } >>go.mod
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v${K8S_VERSION}" >&2
  local pkg=k8s.io/component-base/version
  go build -trimpath -o "$dest/kube-apiserver.tmp" \
    -ldflags "-X $pkg.gitVersion=v${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${K8S_VERSION#1.} -X $pkg.gitTreeState=clean" \
    k8s.io/kubernetes/cmd/kube-apiserver >&2
  mv "$dest/kube-apiserver.tmp" "$dest/kube-apiserver"
}

[ -x "$dest/etcd" ] || { log "building etcd v${ETCD_VERSION} (first run only)"; build_etcd; }
[ -x "$dest/kube-apiserver" ] || { log "building kube-apiserver v${K8S_VERSION} (first run only, several minutes)"; build_kube_apiserver; }
echo "$dest"
