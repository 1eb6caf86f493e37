// NVIDIA's own NVML artifacts for the tests (libnvidia-ml.so.1 of driver 535,
// nvml.h of today's API and of R535), fetched and cached by
// scripts/nvidia-artifacts.sh. A missing artifact throws: these suites never skip.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorText } from '../../agent/model/text.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface NvidiaArtifacts {
  /** NVIDIA's libnvidia-ml.so.1 (Debian's libnvidia-ml1, driver branch 535). */
  lib: string;
  libVersion: string;
  libFrom: string;
  /** NVIDIA's nvml.h, today's API (PyPI nvidia-nvml-dev). */
  header: string;
  headerFrom: string;
  /** The nvml.h that came with driver 535 (CUDA 12.2, PyPI nvidia-nvml-dev-cu12). */
  headerR535: string;
  headerR535From: string;
}

/** What NVIDIA's library answers nvmlInit_v2 on a machine without its kernel driver, through the binding. */
export const DRIVER_NOT_LOADED = 'nvmlInit_v2: NVML_ERROR_DRIVER_NOT_LOADED (9): Driver Not Loaded';

let cached: NvidiaArtifacts | null = null;

/** Runs the fetch script (a no-op once cached) and reads its manifest. */
export function nvidiaArtifacts(): NvidiaArtifacts {
  if (cached) return cached;
  let manifest: string;
  try {
    manifest = execFileSync('bash', [path.join(ROOT, 'scripts/nvidia-artifacts.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch (e) {
    throw new Error(`NVIDIA's NVML artifacts could not be had (scripts/nvidia-artifacts.sh failed): ${errorText(e)}`);
  }
  const a = JSON.parse(fs.readFileSync(manifest, 'utf8')) as NvidiaArtifacts;
  for (const p of [a.lib, a.header, a.headerR535]) if (!fs.existsSync(p)) throw new Error(`${p} (from ${manifest}) is missing`);
  cached = a;
  return a;
}
