# syntax=docker/dockerfile:1
# gpu-health-agent image, for linux/amd64 and linux/arm64 alike:
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/gpu-health-agent:TAG --push .
# Nothing here is architecture-specific except the choice of koffi's prebuilt
# binary and NVIDIA's package repository path, both keyed on TARGETARCH.
# Without DCGM (kernel log + NVML only, smaller): --build-arg DCGM_PACKAGE=

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile the TypeScript. The output is plain JavaScript, the same for
# every architecture, so this stage runs on the builder's own platform.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Dev dependencies (typescript) only; no install scripts are needed to compile.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY agent ./agent
RUN npm run build

# --- deps: production dependencies only (image/assemble.sh deps: npm ci
# --omit=dev, no install scripts). They are JavaScript plus koffi, which ships a
# prebuilt koffi.node per platform inside its package, so this too can run on the
# builder's platform; only the target's binary is kept.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
ARG TARGETARCH
WORKDIR /app
COPY package.json package-lock.json ./
COPY image/ /image/
RUN sh /image/assemble.sh deps "$TARGETARCH" /app && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ARG TARGETARCH
# DCGM: libdcgm.so.4 for --gpu-backend dcgm, and nv-hostengine for the chart's
# sidecar mode. From NVIDIA's CUDA repository for Debian 12 (x86_64 or sbsa).
# Empty DCGM_PACKAGE builds without it; DCGM_VERSION pins a version (e.g. 1:4.4.1-1).
ARG DCGM_PACKAGE=datacenter-gpu-manager-4-core
ARG DCGM_VERSION=
ARG CUDA_REPO=https://developer.download.nvidia.com/compute/cuda/repos/debian12
RUN set -eux; \
    if [ -n "$DCGM_PACKAGE" ]; then \
      case "$TARGETARCH" in amd64) repo_arch=x86_64 ;; arm64) repo_arch=sbsa ;; \
        *) echo "unsupported TARGETARCH '$TARGETARCH'" >&2; exit 1 ;; esac; \
      apt-get update; \
      apt-get install -y --no-install-recommends ca-certificates curl; \
      curl -fsSL -o /tmp/cuda-keyring.deb "$CUDA_REPO/$repo_arch/cuda-keyring_1.1-1_all.deb"; \
      dpkg -i /tmp/cuda-keyring.deb; \
      rm /tmp/cuda-keyring.deb; \
      apt-get update; \
      apt-get install -y --no-install-recommends "$DCGM_PACKAGE${DCGM_VERSION:+=$DCGM_VERSION}"; \
      apt-get purge -y --auto-remove curl; \
      rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*; \
      ldconfig -p | grep -q 'libdcgm.so.4 '; \
    fi

WORKDIR /app
ENV NODE_ENV=production
# As the shebang of dist/agent/main.js sets it: glibc gives every thread that mallocs an
# arena of its own; two for the agent's dozen threads keep ~5 MiB less resident
# (bench/agent-memory.ts).
ENV MALLOC_ARENA_MAX=2
# Everything the agent adds to the base image is listed in image/contents.txt (the
# build's dist/agent and data files, the deps stage's node_modules, the
# /usr/local/bin/gpu-health-agent link for `kubectl exec`) and laid out by
# image/assemble.sh: test/image/ builds this stage as a root filesystem from the
# same list and runs the chart's container in it. Add files there, not here.
RUN --mount=type=bind,source=image,target=/mnt/image \
    --mount=type=bind,from=build,source=/src,target=/mnt/build \
    --mount=type=bind,from=deps,source=/app,target=/mnt/deps \
    sh /mnt/image/assemble.sh app /mnt/build /mnt/deps /

# root: /dev/kmsg is readable only with CAP_SYSLOG when kernel.dmesg_restrict=1 (the
# default on most distributions) and root-owned besides; the state directory is a
# root-owned host path; NVML opens /dev/nvidia* (root, or the video group per node).
# The chart keeps the root filesystem read-only and every other host path read-only.
# bash (in the base image) runs the chart's exec probes; nothing else is added.
USER root
# The same V8 flags as dist/agent/main.js's shebang (which the gpu-health-agent link
# above runs with; bench/agent-memory.ts): --max-semi-space-size=1, a 1 MiB young
# generation instead of one that grows to 8-16 MiB and stays resident; --no-opt, no
# TurboFan (Maglev still compiles hot code): ~6 MiB less resident, parse rate unchanged.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--no-opt", "/app/dist/agent/main.js"]
CMD ["run"]
