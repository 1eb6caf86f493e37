#!/usr/bin/env bash
# Builds node-problem-detector (the peer the peer-npd bench runs) from its Go
# module through the module proxy, as test/cluster/build-binaries.sh builds the
# Kubernetes binaries, and caches it under ~/.cache so later runs take no time.
# CGO off: the journald watcher (a cgo build tag) is not built; the kmsg
# watcher the bench uses is pure Go.
set -euo pipefail

NPD_VERSION="${NPD_VERSION:-v1.34.0}"
CACHE="${GPU_HEALTH_AGENT_CACHE:-$HOME/.cache/gpu-health-agent}"
OUT="$CACHE/bin/npd-$NPD_VERSION"
mkdir -p "$OUT"
if [ ! -x "$OUT/node-problem-detector" ]; then
  export GOFLAGS=-buildvcs=false CGO_ENABLED=0
  # A wrapper module, not `go install module@version`: that asks the proxy for
  # the module's version list (deprecation check), which the proxy here refuses.
  WRAP="$CACHE/build/npd-$NPD_VERSION"
  mkdir -p "$WRAP"
  cd "$WRAP"
  if [ ! -f go.mod ]; then
    printf 'module gpuhealthagent.local/npdbin\ngo 1.24.7\nrequire k8s.io/node-problem-detector %s\n' "$NPD_VERSION" > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/node-problem-detector/cmd/nodeproblemdetector"\n' > tools.go
    go mod tidy >/dev/null 2>&1 || go mod tidy
  fi
  go build -trimpath -ldflags "-s -w -X k8s.io/node-problem-detector/pkg/version.version=$NPD_VERSION" \
    -o "$OUT/node-problem-detector.tmp" k8s.io/node-problem-detector/cmd/nodeproblemdetector
  mv "$OUT/node-problem-detector.tmp" "$OUT/node-problem-detector"
fi
echo "$OUT/node-problem-detector"
