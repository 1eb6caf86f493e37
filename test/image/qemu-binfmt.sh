#!/usr/bin/env bash
# Lets this machine run ARCH's binaries (also inside a chroot): registers Debian's
# qemu-user-static interpreter for ARCH with binfmt_misc, from the definition the
# package ships in /usr/lib/binfmt.d (what systemd-binfmt would load at boot).
# Its 'F' flag opens the interpreter at registration, so a chroot needs no copy.
# Machine-wide and idempotent: a registration already there is left as it is.
# Usage: qemu-binfmt.sh ARCH   (arm64)
set -euo pipefail
case "$1" in
  arm64) name=qemu-aarch64 ;;
  *) echo "qemu-binfmt.sh: no qemu-user interpreter known for '$1'" >&2; exit 2 ;;
esac
conf="/usr/lib/binfmt.d/$name.conf"
[ -f "$conf" ] || { echo "qemu-binfmt.sh: $conf missing: apt-get install qemu-user-static (.ci/run does)" >&2; exit 1; }
misc=/proc/sys/fs/binfmt_misc
[ -e "$misc/register" ] || mount -t binfmt_misc binfmt_misc "$misc"
[ -e "$misc/$name" ] || grep -v '^#' "$conf" >"$misc/register"
grep -qx enabled "$misc/$name" || { echo "qemu-binfmt.sh: $name is registered but disabled in $misc" >&2; exit 1; }
