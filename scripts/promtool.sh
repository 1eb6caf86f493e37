#!/usr/bin/env bash
# Prints the path of a promtool for the alert tests (promtool check/test rules):
# one on PATH, else the one in Debian's `prometheus` package, unpacked (not
# installed, so no Prometheus service is set up or started) into
# ~/.cache/gpu-health-agent/prometheus the first time.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
CACHE="${GPU_HEALTH_AGENT_CACHE:-$HOME/.cache/gpu-health-agent}/prometheus"
BIN="$CACHE/promtool"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v apt-get >/dev/null || { echo "promtool.sh: no promtool on PATH and no apt-get to fetch Debian's prometheus package" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
if ! apt-get download prometheus >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get download prometheus >/dev/null
fi
dpkg-deb -x prometheus_*.deb unpacked
mkdir -p "$CACHE"
# Only promtool is kept; the rename makes a half-copied binary impossible.
cp unpacked/usr/bin/promtool "$BIN.part"
mv "$BIN.part" "$BIN"
"$BIN" --version >/dev/null
echo "$BIN"
