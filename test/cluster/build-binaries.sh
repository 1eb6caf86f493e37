#!/usr/bin/env bash
# Builds the real Kubernetes binaries the cluster tests need (kube-apiserver,
# kubectl, etcd, helm) from their Go modules through the module proxy, and
# caches them under ~/.cache so later runs take seconds.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the staging
# modules with local paths), so a small wrapper module requires it and points
# each staging module at its published k8s.io/* v0.x twin.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
CACHE="${GPU_HEALTH_AGENT_CACHE:-$HOME/.cache/gpu-health-agent}"
OUT="$CACHE/bin/k8s-$K8S_VERSION"
mkdir -p "$OUT"

have() { [ -x "$OUT/$1" ]; }
if have kube-apiserver && have kubectl && have etcd && have helm; then
  echo "$OUT"; exit 0
fi

export GOFLAGS=-buildvcs=false CGO_ENABLED=0
WRAP="$CACHE/build/k8s-$K8S_VERSION"
mkdir -p "$WRAP"
cd "$WRAP"
staging_minor="v0.${K8S_VERSION#v1.}"
if [ ! -f go.mod ]; then
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  {
    echo "module gpuhealthagent.local/k8sbin"
    echo "go 1.24.0"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging' "$modfile" | awk -v v="$staging_minor" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >/dev/null 2>&1 || go mod tidy
fi
have kube-apiserver || go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#v1.}" -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
have kubectl || go build -trimpath -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl
have etcd || go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
if ! have helm; then
  GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
echo "$OUT"
