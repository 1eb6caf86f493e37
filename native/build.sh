#!/usr/bin/env bash
# Builds the stand-in DCGM and NVML libraries into native/build/ (git-ignored), or
# into $NATIVE_OUT with the compiler $CC (test/image cross-builds them for arm64).
# Incremental: a library is rebuilt only when one of its sources is newer.
# Fails loudly when no C compiler is present: the tests need these libraries.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${NATIVE_OUT:-$here/build}"
CC="${CC:-gcc}"
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "native/build.sh: C compiler '$CC' not found; install gcc (the DCGM/NVML stand-ins and their tests need it)" >&2
  exit 1
fi
mkdir -p "$out"
CFLAGS=(-std=c11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -pthread)

# build OUTPUT SONAME SOURCE [EXTRA_FLAGS...]
build() {
  local name="$1" target="$out/$1" soname="$2" src="$here/$3"
  shift 3
  local deps=("$src" "$here/build.sh" "$here"/dcgm/*.h "$here"/nvml/*.h)
  local newer=0
  if [[ ! -f "$target" ]]; then newer=1; else
    for d in "${deps[@]}"; do [[ "$d" -nt "$target" ]] && newer=1; done
  fi
  if [[ $newer -eq 0 ]]; then return; fi
  echo "native: building $name"
  "$CC" "${CFLAGS[@]}" "$@" -Wl,-soname,"$soname" -o "$target.tmp" "$src"
  mv "$target.tmp" "$target"
}

build libdcgm.so.4 libdcgm.so.4 dcgm/dcgm_standin.c -DSTANDIN_DCGM_MAJOR=4
# A 3.x-flavoured build (health response v4) to test the binding's version choice.
build libdcgm.so.3 libdcgm.so.3 dcgm/dcgm_standin.c -DSTANDIN_DCGM_MAJOR=3
build libnvidia-ml.so.1 libnvidia-ml.so.1 nvml/nvml_standin.c
