#!/bin/sh
# Lays out what image/contents.txt lists. The Dockerfile runs it to fill the
# image, test/image/ runs it to fill the same image as a directory tree: one
# list, one way of laying it out.
#
#   assemble.sh deps ARCH DIR         DIR holds package.json and package-lock.json:
#                                     installs the production dependencies there and
#                                     keeps only ARCH's (amd64 | arm64) koffi binary
#   assemble.sh app BUILD DEPS ROOT   lays contents.txt out under ROOT (the image's /):
#                                     `copy` from BUILD (the project after
#                                     `npm run build`), `deps` from DEPS (a deps DIR)
# POSIX sh: it runs in node:24-bookworm-slim's dash as well as on a developer's machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
contents="$here/contents.txt"
fail() { echo "assemble.sh: $*" >&2; exit 1; }

deps() {
  case "$1" in
    amd64) keep=linux_x64 ;;
    arm64) keep=linux_arm64 ;;
    *) fail "unsupported architecture '$1' (amd64 or arm64)" ;;
  esac
  cd "$2"
  # No install scripts: koffi's only checks for its prebuilt binary, and running it
  # on the builder's platform would probe the wrong architecture.
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund
  # koffi ships a koffi.node for every platform; the image needs one.
  test -f "node_modules/koffi/build/koffi/$keep/koffi.node" || fail "koffi has no $keep build"
  find node_modules/koffi/build/koffi -mindepth 1 -maxdepth 1 -type d ! -name "$keep" -exec rm -rf {} +
}

# place FROM TO: copy a file or a tree (symbolic links as they are) to a new path.
place() {
  [ -e "$1" ] || fail "contents.txt names $1, which is missing (build first?)"
  [ ! -e "$2" ] || fail "$2 is already there"
  mkdir -p "$(dirname "$2")"
  cp -R -P "$1" "$2"
}

app() {
  build=$1 depsdir=$2 root=${3%/}
  dir=
  while read -r kind a b extra; do
    case "$kind" in '' | '#'*) continue ;; esac
    case "$kind" in link) fields=2 ;; *) fields=1 ;; esac
    [ -n "$a" ] && [ -z "$extra" ] && { [ "$fields" = 2 ] || [ -z "$b" ]; } && { [ "$fields" = 1 ] || [ -n "$b" ]; } ||
      fail "bad line in contents.txt: $kind $a $b $extra"
    case "$kind" in
      app) dir=$a ;;
      copy) place "$build/$a" "$root$dir/$a" ;;
      deps) place "$depsdir/$a" "$root$dir/$a" ;;
      exec) chmod 0755 "$root$dir/$a" ;;
      link) mkdir -p "$root$(dirname "$a")" && ln -s "$b" "$root$a" ;;
      *) fail "unknown entry '$kind' in contents.txt" ;;
    esac
    [ -n "$dir" ] || fail "contents.txt must start with its app line"
  done <"$contents"
}

case "${1-}" in
  deps) [ $# -eq 3 ] || fail "usage: assemble.sh deps ARCH DIR"; deps "$2" "$3" ;;
  app) [ $# -eq 4 ] || fail "usage: assemble.sh app BUILD DEPS ROOT"; app "$2" "$3" "$4" ;;
  *) fail "usage: assemble.sh deps ARCH DIR | app BUILD DEPS ROOT" ;;
esac
