#!/usr/bin/env bash
# Fetches NVIDIA's own NVML artifacts for the tests, through the ordinary
# package clients, into ~/.cache/gpu-health-agent/nvidia, and prints the path of
# the manifest (artifacts.json) that says where they are:
#   - libnvidia-ml.so.1 of driver branch 535 (the oldest the agent supports), from
#     Debian's non-free component (`apt-get download libnvidia-ml1`, `dpkg -x`;
#     no driver is installed, the machine's own apt sources are left as they are);
#   - nvml.h of the current API (PyPI wheel nvidia-nvml-dev) and nvml.h of the
#     CUDA 12.2 toolkit, the header that came with driver 535 (nvidia-nvml-dev-cu12).
# Nothing of NVIDIA's is committed. Fails loudly (exit 1) when one cannot be had:
# the suites that need them never skip. Cached: a second run asks no registry.
#   scripts/nvidia-artifacts.sh [--refresh]
set -euo pipefail

NVML_DEV="nvidia-nvml-dev==13.5.37 --hash=sha256:7394fcbefa9ba537e8238cbb1caa4cd2db6bbfbff208d217a8a884947113ae6d"
NVML_DEV_R535="nvidia-nvml-dev-cu12==12.2.140 --hash=sha256:5ddaace17f8f38112e20209df738499bbfaac895f40c7f77456242375f6c4bbd"
LIB_PACKAGE=libnvidia-ml1
LIB_BRANCH=535

cache="${GPU_HEALTH_AGENT_CACHE:-$HOME/.cache/gpu-health-agent}/nvidia"
manifest="$cache/artifacts.json"
fail() { echo "nvidia-artifacts.sh: $*" >&2; exit 1; }

mkdir -p "$cache"
# Test files run in parallel; one fetch at a time.
exec 9>"$cache/.lock"
flock 9

if [[ "${1:-}" != "--refresh" && -f "$manifest" ]]; then
  if python3 - "$manifest" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if all(os.path.isfile(m[k]) for k in ("lib", "header", "headerR535")) else 1)
PY
  then echo "$manifest"; exit 0; fi
fi

for tool in apt-get dpkg-deb python3 flock; do
  command -v "$tool" >/dev/null || fail "'$tool' not found (Debian's apt and dpkg, python3 with pip are needed)"
done
python3 -m pip --version >/dev/null 2>&1 || fail "pip not found: install python3-pip (.ci/run does)"

work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- the library: Debian's non-free component, in a private apt configuration ---
# The same archive(s) and keyrings this machine's apt already uses, with the
# component set to non-free. Debian entries only (URI path .../debian or
# .../debian-security, or a snapshot of one); deb822 .sources files and one-line
# sources.list alike.
apt_dir="$work/apt"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
python3 - "$apt_dir/sources.list.d/nonfree.sources" <<'PY'
import glob, re, sys
debian = re.compile(r"^\S+://\S+/debian(-security)?(/\d{8}T\d{6}Z)?/?$")  # snapshot archives too
out = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m: fields[m.group(1).lower()] = m.group(2).strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        uris = [u for u in fields.get("uris", "").split() if debian.match(u)]
        if not uris or not fields.get("suites"):
            continue
        entry = ["Types: deb", f"URIs: {' '.join(uris)}", f"Suites: {fields['suites']}", "Components: non-free"]
        if fields.get("signed-by"): entry.append(f"Signed-By: {fields['signed-by']}")
        out.append("\n".join(entry))
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try: lines = open(path).read().splitlines()
    except FileNotFoundError: continue
    for line in lines:
        m = re.match(r"^deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+", line.strip())
        if not m or not debian.match(m.group(2)): continue
        entry = ["Types: deb", f"URIs: {m.group(2)}", f"Suites: {m.group(3)}", "Components: non-free"]
        signed = re.search(r"signed-by=(\S+?)[\s\]]", m.group(1) or "")
        if signed: entry.append(f"Signed-By: {signed.group(1)}")
        out.append("\n".join(entry))
if not out:
    sys.exit("no Debian archive in this machine's apt sources (/etc/apt/sources.list[.d])")
open(sys.argv[1], "w").write("\n\n".join(out) + "\n")
PY
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
  -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get update of Debian's non-free component failed"; }
(cd "$work" && apt-get "${apt_opts[@]}" -qq download "$LIB_PACKAGE") >>"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get download $LIB_PACKAGE failed (is Debian's non-free component reachable?)"; }
deb="$(ls "$work"/"$LIB_PACKAGE"_*.deb)"
lib_version="$(dpkg-deb -f "$deb" Version)"
[[ "$lib_version" == "$LIB_BRANCH".* ]] || fail "$LIB_PACKAGE is $lib_version here, not driver branch $LIB_BRANCH"
dpkg-deb -x "$deb" "$work/lib"
so="$(find "$work/lib" -name libnvidia-ml.so.1 | head -n 1)"
[[ -n "$so" ]] || fail "$deb holds no libnvidia-ml.so.1"
lib_dir="$cache/libnvidia-ml1_${lib_version}_$(dpkg-deb -f "$deb" Architecture)"
rm -rf "$lib_dir" && mkdir -p "$lib_dir"
cp -a "$(dirname "$so")"/libnvidia-ml.so* "$lib_dir/"

# --- the headers: wheels pinned by version and hash; the header is text, the same on every machine ---
wheel_header() { # REQUIREMENT -> prints the cached nvml.h path
  local req="$1" name version dir
  name="${req%%==*}"; version="${req#*==}"; version="${version%% *}"
  dir="$cache/$name-$version"
  printf '%s\n' "$req" >"$work/req.txt"
  python3 -m pip download -q --no-deps --require-hashes --only-binary=:all: --platform manylinux2014_x86_64 \
    -r "$work/req.txt" -d "$work/wheels" >&2 || fail "pip download $name==$version failed"
  rm -rf "$dir" && mkdir -p "$dir"
  python3 - "$work/wheels" "$name" "$dir" <<'PY' || fail "no nvml.h in the $name wheel"
import glob, sys, zipfile
wheels, name, out = sys.argv[1:]
wheel = glob.glob(f"{wheels}/{name.replace('-', '_')}-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    header = next(n for n in z.namelist() if n.endswith("/include/nvml.h"))
    open(f"{out}/nvml.h", "wb").write(z.read(header))
PY
  echo "$dir/nvml.h"
}
header="$(wheel_header "$NVML_DEV")"
header_r535="$(wheel_header "$NVML_DEV_R535")"

python3 - "$manifest.tmp" "$lib_dir/libnvidia-ml.so.1" "$lib_version" "$header" "${NVML_DEV%% *}" "$header_r535" "${NVML_DEV_R535%% *}" <<'PY'
import json, sys
out, lib, lib_version, header, header_from, r535, r535_from = sys.argv[1:]
json.dump({"lib": lib, "libVersion": lib_version, "libFrom": f"Debian non-free libnvidia-ml1 {lib_version}",
           "header": header, "headerFrom": f"PyPI {header_from}", "headerR535": r535, "headerR535From": f"PyPI {r535_from}"},
          open(out, "w"), indent=2)
PY
mv "$manifest.tmp" "$manifest"
echo "nvidia-artifacts.sh: libnvidia-ml.so.1 $lib_version, nvml.h from ${NVML_DEV%% *} and ${NVML_DEV_R535%% *} in $cache" >&2
echo "$manifest"
